// SPDX-License-Identifier: GPL-3.0-or-later
// config.json -> ModelConfig for the Llama family. Defaults follow the Hugging Face configuration
// classes of each model_type, so a config that omits a key means what it means there.
#include "sinkscope/modelconfig.h"

#include "jsonutil.h"
#include "sinkscope/error.h"
#include "sinkscope/npy.h"

#include <QJsonArray>
#include <QJsonObject>

#include <cmath>
#include <limits>

namespace sinkscope {

namespace {

// Per model_type defaults, as in the Hugging Face configuration classes.
struct FamilyDefaults {
    const char* modelType;
    int maxPositionEmbeddings;
    std::optional<int> numKvHeadsWhenAbsent; // nullopt: same as num_attention_heads
    std::optional<int> bos;
    std::optional<int> eos;
};

const FamilyDefaults kFamilies[] = {
    {"llama", 2048, std::nullopt, 1, 2},
    {"mistral", 4096 * 32, 8, 1, 2},
    {"qwen2", 32768, 32, std::nullopt, std::nullopt},
};

const char* const kRopeKinds[] = {"default", "linear", "dynamic", "llama3"};

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + items[i];
    return out;
}

std::string numberText(double v)
{
    if (std::floor(v) == v && std::fabs(v) < 1e15)
        return std::to_string(static_cast<long long>(v));
    std::string s = std::to_string(v);
    return s;
}

class ConfigReader {
public:
    ConfigReader(QJsonObject root, std::string source) : m_root(std::move(root)), m_source(std::move(source)) {}

    [[noreturn]] void fail(ErrorCode code, const std::string& what, const std::string& key = {}) const
    {
        throw Error(code, m_source + ": " + what, key.empty() ? m_source : key);
    }

    bool has(const char* key) const { return m_root.contains(QLatin1String(key)); }
    bool isNullOrAbsent(const char* key) const
    {
        return !has(key) || m_root.value(QLatin1String(key)).isNull();
    }
    QJsonValue value(const char* key) const { return m_root.value(QLatin1String(key)); }

    int requiredInt(const char* key) const
    {
        if (isNullOrAbsent(key))
            fail(ErrorCode::Format, std::string("the required key \"") + key + "\" is missing.", key);
        return intFrom(value(key), key);
    }

    int optionalInt(const char* key, int fallback) const
    {
        return isNullOrAbsent(key) ? fallback : intFrom(value(key), key);
    }

    int intFrom(const QJsonValue& v, const std::string& key) const
    {
        const auto i = detail::jsonInteger(v);
        if (!i) {
            fail(ErrorCode::Format,
                 "\"" + key + "\" must be an integer, but it is " + describe(v) + ".", key);
        }
        if (*i > std::numeric_limits<int>::max() || *i < std::numeric_limits<int>::min())
            fail(ErrorCode::Format, "\"" + key + "\" is " + std::to_string(*i) + ", which is too large.", key);
        return static_cast<int>(*i);
    }

    double numberFrom(const QJsonValue& v, const std::string& key) const
    {
        if (!v.isDouble() || !std::isfinite(v.toDouble()))
            fail(ErrorCode::Format, "\"" + key + "\" must be a number, but it is " + describe(v) + ".", key);
        return v.toDouble();
    }

    double optionalNumber(const char* key, double fallback) const
    {
        return isNullOrAbsent(key) ? fallback : numberFrom(value(key), key);
    }

    bool optionalBool(const char* key, bool fallback) const
    {
        if (isNullOrAbsent(key))
            return fallback;
        const QJsonValue v = value(key);
        if (!v.isBool())
            fail(ErrorCode::Format, std::string("\"") + key + "\" must be true or false, but it is " + describe(v) + ".",
                 key);
        return v.toBool();
    }

    std::string optionalString(const char* key, const std::string& fallback) const
    {
        if (isNullOrAbsent(key))
            return fallback;
        const QJsonValue v = value(key);
        if (!v.isString())
            fail(ErrorCode::Format, std::string("\"") + key + "\" must be a string, but it is " + describe(v) + ".", key);
        return detail::toStd(v.toString());
    }

    // A token id, possibly given as a list (Llama 3 lists several eos ids): the first one.
    std::optional<int> tokenId(const char* key, std::optional<int> fallback) const
    {
        if (!has(key))
            return fallback;
        const QJsonValue v = value(key);
        if (v.isNull())
            return std::nullopt;
        if (v.isArray()) {
            const QJsonArray a = v.toArray();
            if (a.isEmpty())
                return std::nullopt;
            return intFrom(a.at(0), key);
        }
        return intFrom(v, key);
    }

    void requirePositive(const char* key, int v) const
    {
        if (v <= 0)
            fail(ErrorCode::Format, std::string("\"") + key + "\" must be positive, but it is " + std::to_string(v) + ".",
                 key);
    }

    static std::string describe(const QJsonValue& v)
    {
        if (v.isString())
            return "the string \"" + detail::toStd(v.toString()) + "\"";
        if (v.isDouble())
            return numberText(v.toDouble());
        if (v.isBool())
            return v.toBool() ? "true" : "false";
        return detail::jsonKindName(v);
    }

    const QJsonObject& root() const { return m_root; }
    const std::string& source() const { return m_source; }

private:
    QJsonObject m_root;
    std::string m_source;
};

RopeScaling parseRopeScaling(const ConfigReader& cfg, const QJsonObject& rs, const std::string& key,
                             int maxPositionEmbeddings)
{
    RopeScaling out;
    // "rope_type" is the current spelling; "type" is the legacy one.
    QJsonValue typeValue = rs.value(QLatin1String("rope_type"));
    if (typeValue.isUndefined() || typeValue.isNull())
        typeValue = rs.value(QLatin1String("type"));
    if (typeValue.isUndefined() || typeValue.isNull())
        cfg.fail(ErrorCode::Format, "\"" + key + "\" has no \"rope_type\" (or legacy \"type\").", key);
    if (!typeValue.isString())
        cfg.fail(ErrorCode::Format, "\"" + key + "\".rope_type must be a string.", key);
    out.type = detail::toStd(typeValue.toString());

    bool known = false;
    for (const char* k : kRopeKinds)
        known = known || out.type == k;
    if (!known) {
        std::vector<std::string> kinds(std::begin(kRopeKinds), std::end(kRopeKinds));
        cfg.fail(ErrorCode::Unsupported,
                 "rope_scaling type '" + out.type + "' is not supported (supported: " + joined(kinds) + ").", key);
    }

    auto number = [&](const char* name) -> double {
        const QJsonValue v = rs.value(QLatin1String(name));
        if (v.isUndefined() || v.isNull()) {
            cfg.fail(ErrorCode::Format,
                     "\"" + key + "\" of type '" + out.type + "' is missing \"" + name + "\".", key);
        }
        return cfg.numberFrom(v, key + "." + name);
    };
    auto positive = [&](const char* name, double v) {
        if (!(v > 0))
            cfg.fail(ErrorCode::Format, "\"" + key + "." + name + "\" must be positive, but it is " + numberText(v) + ".",
                     key);
    };

    if (out.type == "linear" || out.type == "dynamic" || out.type == "llama3") {
        out.factor = number("factor");
        positive("factor", out.factor);
    }
    if (out.type == "dynamic") {
        const QJsonValue v = rs.value(QLatin1String("original_max_position_embeddings"));
        out.originalMaxPositionEmbeddings = (v.isUndefined() || v.isNull())
                                                ? maxPositionEmbeddings
                                                : cfg.intFrom(v, key + ".original_max_position_embeddings");
        positive("original_max_position_embeddings", out.originalMaxPositionEmbeddings);
    }
    if (out.type == "llama3") {
        out.lowFreqFactor = number("low_freq_factor");
        out.highFreqFactor = number("high_freq_factor");
        number("original_max_position_embeddings"); // present and numeric; must also be whole:
        out.originalMaxPositionEmbeddings = cfg.intFrom(rs.value(QLatin1String("original_max_position_embeddings")),
                                                        key + ".original_max_position_embeddings");
        positive("low_freq_factor", out.lowFreqFactor);
        positive("original_max_position_embeddings", out.originalMaxPositionEmbeddings);
        // The llama3 ramp divides by (high - low).
        if (!(out.highFreqFactor > out.lowFreqFactor)) {
            cfg.fail(ErrorCode::Format,
                     "\"" + key + "\" has high_freq_factor " + numberText(out.highFreqFactor) +
                         " not above low_freq_factor " + numberText(out.lowFreqFactor) + ".",
                     key);
        }
    }
    return out;
}

} // namespace

std::vector<std::string> ModelConfig::supportedModelTypes()
{
    std::vector<std::string> out;
    for (const FamilyDefaults& f : kFamilies)
        out.emplace_back(f.modelType);
    return out;
}

ModelConfig ModelConfig::fromJson(const std::string& jsonText, const std::string& source)
{
    const ConfigReader cfg(detail::parseJsonObject(QByteArray::fromStdString(jsonText), source), source);
    ModelConfig c;

    if (cfg.isNullOrAbsent("model_type"))
        cfg.fail(ErrorCode::Format, "the key \"model_type\" is missing, so the architecture is unknown.", "model_type");
    c.modelType = cfg.optionalString("model_type", {});
    const FamilyDefaults* family = nullptr;
    for (const FamilyDefaults& f : kFamilies) {
        if (c.modelType == f.modelType)
            family = &f;
    }
    if (!family) {
        cfg.fail(ErrorCode::Unsupported,
                 "model_type '" + c.modelType + "' is not supported (supported: " + joined(supportedModelTypes()) + ").",
                 "model_type");
    }

    c.hiddenSize = cfg.requiredInt("hidden_size");
    c.numLayers = cfg.requiredInt("num_hidden_layers");
    c.numHeads = cfg.requiredInt("num_attention_heads");
    c.vocabSize = cfg.requiredInt("vocab_size");
    c.intermediateSize = cfg.requiredInt("intermediate_size");
    cfg.requirePositive("hidden_size", c.hiddenSize);
    cfg.requirePositive("num_hidden_layers", c.numLayers);
    cfg.requirePositive("num_attention_heads", c.numHeads);
    cfg.requirePositive("vocab_size", c.vocabSize);
    cfg.requirePositive("intermediate_size", c.intermediateSize);

    if (cfg.isNullOrAbsent("head_dim")) {
        if (c.hiddenSize % c.numHeads != 0) {
            cfg.fail(ErrorCode::Format,
                     "hidden_size (" + std::to_string(c.hiddenSize) + ") is not divisible by num_attention_heads (" +
                         std::to_string(c.numHeads) + ") and no head_dim is given.",
                     "hidden_size");
        }
        c.headDim = c.hiddenSize / c.numHeads;
    } else {
        c.headDim = cfg.requiredInt("head_dim");
        cfg.requirePositive("head_dim", c.headDim);
    }

    // HF: an explicit null means "same as the query heads"; an absent key takes the class default.
    bool kvDefaulted = false;
    if (!cfg.has("num_key_value_heads")) {
        c.numKvHeads = family->numKvHeadsWhenAbsent.value_or(c.numHeads);
        kvDefaulted = family->numKvHeadsWhenAbsent.has_value();
    } else {
        c.numKvHeads = cfg.optionalInt("num_key_value_heads", c.numHeads);
    }
    cfg.requirePositive("num_key_value_heads", c.numKvHeads);
    if (c.numHeads % c.numKvHeads != 0) {
        cfg.fail(ErrorCode::Format,
                 "num_attention_heads (" + std::to_string(c.numHeads) + ") is not divisible by num_key_value_heads (" +
                     std::to_string(c.numKvHeads) + ")" +
                     (kvDefaulted ? ", the " + c.modelType + " default when the key is absent" : std::string()) + ".",
                 "num_key_value_heads");
    }

    c.maxPositionEmbeddings = cfg.optionalInt("max_position_embeddings", family->maxPositionEmbeddings);
    cfg.requirePositive("max_position_embeddings", c.maxPositionEmbeddings);

    c.normEps = cfg.optionalNumber("rms_norm_eps", 1e-6);
    if (!(c.normEps > 0))
        cfg.fail(ErrorCode::Format, "\"rms_norm_eps\" must be positive, but it is " + numberText(c.normEps) + ".",
                 "rms_norm_eps");

    // RoPE: current configs carry "rope_parameters" (with rope_theta inside); older ones a top-level
    // "rope_theta" and an optional "rope_scaling".
    c.ropeTheta = cfg.optionalNumber("rope_theta", 10000.0);
    if (!cfg.isNullOrAbsent("rope_parameters")) {
        const QJsonValue rp = cfg.value("rope_parameters");
        if (!rp.isObject())
            cfg.fail(ErrorCode::Format, "\"rope_parameters\" must be an object.", "rope_parameters");
        const QJsonObject o = rp.toObject();
        const QJsonValue theta = o.value(QLatin1String("rope_theta"));
        if (!theta.isUndefined() && !theta.isNull())
            c.ropeTheta = cfg.numberFrom(theta, "rope_parameters.rope_theta");
        QJsonObject withType = o;
        if (!withType.contains(QLatin1String("rope_type")) && !withType.contains(QLatin1String("type")))
            withType.insert(QLatin1String("rope_type"), QLatin1String("default"));
        c.ropeScaling = parseRopeScaling(cfg, withType, "rope_parameters", c.maxPositionEmbeddings);
    } else if (!cfg.isNullOrAbsent("rope_scaling")) {
        const QJsonValue rs = cfg.value("rope_scaling");
        if (!rs.isObject())
            cfg.fail(ErrorCode::Format, "\"rope_scaling\" must be an object or null.", "rope_scaling");
        c.ropeScaling = parseRopeScaling(cfg, rs.toObject(), "rope_scaling", c.maxPositionEmbeddings);
    }
    if (!(c.ropeTheta > 0))
        cfg.fail(ErrorCode::Format, "\"rope_theta\" must be positive, but it is " + numberText(c.ropeTheta) + ".",
                 "rope_theta");

    c.tieWordEmbeddings = cfg.optionalBool("tie_word_embeddings", false);
    c.hiddenAct = cfg.optionalString("hidden_act", "silu");

    if (c.modelType == "llama") {
        c.attentionBias = cfg.optionalBool("attention_bias", false);
        c.mlpBias = cfg.optionalBool("mlp_bias", false);
    } else if (c.modelType == "qwen2") {
        c.attentionBias = true; // Qwen2 always has q/k/v biases (and none on o_proj)
    }
    // Mistral's attention has no biases at all, whatever the config says.

    if (c.modelType == "mistral") {
        // Absent: 4096 (the class default); null: no window.
        if (!cfg.has("sliding_window"))
            c.slidingWindow = 4096;
        else if (!cfg.value("sliding_window").isNull())
            c.slidingWindow = cfg.intFrom(cfg.value("sliding_window"), "sliding_window");
    } else if (c.modelType == "qwen2") {
        if (cfg.optionalBool("use_sliding_window", false)) {
            if (!cfg.has("sliding_window"))
                c.slidingWindow = 4096;
            else if (!cfg.value("sliding_window").isNull())
                c.slidingWindow = cfg.intFrom(cfg.value("sliding_window"), "sliding_window");
            c.slidingWindowFromLayer = cfg.optionalInt("max_window_layers", 28);
            if (c.slidingWindowFromLayer < 0)
                cfg.fail(ErrorCode::Format,
                         "\"max_window_layers\" must not be negative, but it is " +
                             std::to_string(c.slidingWindowFromLayer) + ".",
                         "max_window_layers");
        }
    }
    if (c.slidingWindow && *c.slidingWindow <= 0)
        cfg.fail(ErrorCode::Format,
                 "\"sliding_window\" must be positive or null, but it is " + std::to_string(*c.slidingWindow) + ".",
                 "sliding_window");

    c.bosTokenId = cfg.tokenId("bos_token_id", family->bos);
    c.eosTokenId = cfg.tokenId("eos_token_id", family->eos);
    // Newer configs spell it "dtype".
    c.torchDtype = cfg.optionalString("torch_dtype", cfg.optionalString("dtype", "float32"));
    return c;
}

ModelConfig ModelConfig::fromFile(const std::string& path)
{
    return fromJson(readFile(path), path);
}

} // namespace sinkscope
