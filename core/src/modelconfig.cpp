// SPDX-License-Identifier: GPL-3.0-or-later
// config.json -> ModelConfig for every supported family. Defaults follow the Hugging Face configuration
// classes of each model_type, so a config that omits a key means what it means there.
#include "sinkscope/modelconfig.h"

#include "jsonutil.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"

#include <QJsonArray>
#include <QJsonObject>

#include <cmath>
#include <cstdio>
#include <limits>

namespace sinkscope {

namespace {

// Per model_type defaults and key spellings, as in the Hugging Face configuration classes.
struct FamilyDefaults {
    const char* modelType;
    int maxPositionEmbeddings;
    std::optional<int> numKvHeadsWhenAbsent; // nullopt: same as num_attention_heads
    std::optional<int> headDimWhenAbsent;    // nullopt: hidden_size / num_attention_heads
    std::optional<int> bos;
    std::optional<int> eos;
    std::optional<int> pad;
    bool tie;
    double eps;
    const char* epsKey;                      // nullptr: fixed (OPT's nn.LayerNorm default)
    const char* act;
    NormKind norm;
    PositionKind position;
};

const FamilyDefaults kFamilies[] = {
    {"llama", 2048, std::nullopt, std::nullopt, 1, 2, std::nullopt, false, 1e-6, "rms_norm_eps", "silu",
     NormKind::Rms, PositionKind::Rope},
    {"mistral", 4096 * 32, 8, std::nullopt, 1, 2, std::nullopt, false, 1e-6, "rms_norm_eps", "silu", NormKind::Rms,
     PositionKind::Rope},
    {"qwen2", 32768, 32, std::nullopt, std::nullopt, std::nullopt, std::nullopt, false, 1e-6, "rms_norm_eps", "silu",
     NormKind::Rms, PositionKind::Rope},
    {"qwen3", 32768, 32, 128, std::nullopt, std::nullopt, std::nullopt, false, 1e-6, "rms_norm_eps", "silu",
     NormKind::Rms, PositionKind::Rope},
    {"gemma", 8192, 16, 256, 2, 1, 0, true, 1e-6, "rms_norm_eps", "gelu_pytorch_tanh", NormKind::RmsUnitOffset,
     PositionKind::Rope},
    {"gemma2", 8192, 4, 256, 2, 1, 0, true, 1e-6, "rms_norm_eps", "gelu_pytorch_tanh", NormKind::RmsUnitOffset,
     PositionKind::Rope},
    {"phi3", 4096, std::nullopt, std::nullopt, 1, 32000, 32000, false, 1e-5, "rms_norm_eps", "silu", NormKind::Rms,
     PositionKind::Rope},
    {"gpt2", 1024, std::nullopt, std::nullopt, 50256, 50256, std::nullopt, true, 1e-5, "layer_norm_epsilon",
     "gelu_new", NormKind::Layer, PositionKind::Learned},
    {"gpt_neox", 2048, std::nullopt, std::nullopt, 0, 2, std::nullopt, false, 1e-5, "layer_norm_eps", "gelu",
     NormKind::Layer, PositionKind::Rope},
    {"opt", 2048, std::nullopt, std::nullopt, 2, 2, 1, true, 1e-5, nullptr, "relu", NormKind::Layer,
     PositionKind::Learned},
    {"bert", 512, std::nullopt, std::nullopt, std::nullopt, std::nullopt, 0, true, 1e-12, "layer_norm_eps", "gelu",
     NormKind::Layer, PositionKind::Learned},
    {"roberta", 512, std::nullopt, std::nullopt, 0, 2, 1, true, 1e-12, "layer_norm_eps", "gelu", NormKind::Layer,
     PositionKind::Learned},
};

// Families whose attention has one KV head per query head whatever the config says.
bool hasGqa(const std::string& t)
{
    return t == "llama" || t == "mistral" || t == "qwen2" || t == "qwen3" || t == "gemma" || t == "gemma2"
        || t == "phi3";
}

const char* const kActivations[] = {"silu", "swish", "relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast",
                                    "quick_gelu"};

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
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
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
                             int maxPositionEmbeddings, const std::vector<std::string>& kinds)
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
    for (const std::string& k : kinds)
        known = known || out.type == k;
    if (!known) {
        const bool longrope = out.type == "longrope" || out.type == "su";
        cfg.fail(ErrorCode::Unsupported,
                 "rope_scaling type '" + out.type + "' is not supported (supported: " + joined(kinds) + ")"
                     + (longrope ? "; LongRoPE checkpoints (e.g. Phi-3 128k) cannot be run." : "."),
                 key);
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

const char* positionKindName(PositionKind kind)
{
    switch (kind) {
    case PositionKind::Rope:
        return "rope";
    case PositionKind::Learned:
        return "learned";
    case PositionKind::None:
        return "none";
    case PositionKind::Alibi:
        return "alibi";
    }
    return "none";
}

int ModelConfig::rotaryDim() const
{
    return position == PositionKind::Rope ? int(double(headDim) * rotaryFraction) : 0;
}

double ModelConfig::attentionScale(int layer) const
{
    double scale = 1.0 / std::sqrt(queryPreAttnScalar > 0 ? queryPreAttnScalar : double(headDim));
    if (!scaleAttnWeights)
        scale = 1.0;
    if (scaleAttnByInverseLayerIdx)
        scale /= double(layer + 1);
    return scale;
}

int ModelConfig::windowForLayer(int layer) const
{
    if (!slidingWindow || layer < 0 || size_t(layer) >= slidingLayers.size() || !slidingLayers[size_t(layer)])
        return 0;
    return *slidingWindow;
}

std::vector<std::string> ModelConfig::supportedModelTypes()
{
    std::vector<std::string> out;
    for (const FamilyDefaults& f : kFamilies)
        out.emplace_back(f.modelType);
    return out;
}

std::vector<std::string> ModelConfig::supportedActivations()
{
    return std::vector<std::string>(std::begin(kActivations), std::end(kActivations));
}

namespace {

// The sliding window from "sliding_window": absent -> `absent`, null -> none.
std::optional<int> windowKey(const ConfigReader& cfg, std::optional<int> absent)
{
    if (!cfg.has("sliding_window"))
        return absent;
    if (cfg.value("sliding_window").isNull())
        return std::nullopt;
    return cfg.intFrom(cfg.value("sliding_window"), "sliding_window");
}

// "layer_types" (newer configs): which layers use the sliding window. Empty when absent.
std::vector<bool> layerTypes(const ConfigReader& cfg, int layers)
{
    if (cfg.isNullOrAbsent("layer_types"))
        return {};
    const QJsonValue v = cfg.value("layer_types");
    if (!v.isArray())
        cfg.fail(ErrorCode::Format, "\"layer_types\" must be a list of strings.", "layer_types");
    const QJsonArray a = v.toArray();
    if (a.size() != layers)
        cfg.fail(ErrorCode::Format,
                 "\"layer_types\" lists " + std::to_string(a.size()) + " layers but num_hidden_layers is "
                     + std::to_string(layers) + ".",
                 "layer_types");
    std::vector<bool> out;
    for (const QJsonValue& t : a) {
        const std::string name = t.isString() ? detail::toStd(t.toString()) : std::string();
        if (name == "sliding_attention")
            out.push_back(true);
        else if (name == "full_attention")
            out.push_back(false);
        else
            cfg.fail(ErrorCode::Unsupported,
                     "layer type " + ConfigReader::describe(t)
                         + " is not supported (supported: full_attention, sliding_attention).",
                     "layer_types");
    }
    return out;
}

} // namespace

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
    const std::string& t = c.modelType;
    const bool gpt2 = t == "gpt2", opt = t == "opt", neox = t == "gpt_neox";
    const bool encoder = t == "bert" || t == "roberta";
    const bool gemma = t == "gemma" || t == "gemma2";
    c.norm = family->norm;
    c.position = family->position;
    c.causal = !encoder;

    // GPT-2 spells the sizes its own way; its attribute_map also accepts the common names.
    auto key = [&](const char* own, const char* common) { return cfg.has(own) || !cfg.has(common) ? own : common; };
    const char* hiddenKey = gpt2 ? key("n_embd", "hidden_size") : "hidden_size";
    const char* layersKey = gpt2 ? key("n_layer", "num_hidden_layers") : "num_hidden_layers";
    const char* headsKey = gpt2 ? key("n_head", "num_attention_heads") : "num_attention_heads";
    const char* positionsKey = gpt2 ? key("n_positions", "max_position_embeddings") : "max_position_embeddings";

    c.hiddenSize = cfg.requiredInt(hiddenKey);
    c.numLayers = cfg.requiredInt(layersKey);
    c.numHeads = cfg.requiredInt(headsKey);
    c.vocabSize = cfg.requiredInt("vocab_size");
    cfg.requirePositive(hiddenKey, c.hiddenSize);
    cfg.requirePositive(layersKey, c.numLayers);
    cfg.requirePositive(headsKey, c.numHeads);
    cfg.requirePositive("vocab_size", c.vocabSize);
    if (gpt2) {
        c.intermediateSize = cfg.optionalInt("n_inner", 4 * c.hiddenSize); // null: 4 * n_embd
        cfg.requirePositive("n_inner", c.intermediateSize);
    } else {
        const char* ffnKey = opt ? "ffn_dim" : "intermediate_size";
        c.intermediateSize = cfg.requiredInt(ffnKey);
        cfg.requirePositive(ffnKey, c.intermediateSize);
    }

    const bool gqa = hasGqa(t);
    if (!gqa || cfg.isNullOrAbsent("head_dim")) {
        if (gqa && family->headDimWhenAbsent && !cfg.has("head_dim")) {
            c.headDim = *family->headDimWhenAbsent;
        } else {
            if (c.hiddenSize % c.numHeads != 0) {
                cfg.fail(ErrorCode::Format,
                         std::string(hiddenKey) + " (" + std::to_string(c.hiddenSize) + ") is not divisible by " + headsKey
                             + " (" + std::to_string(c.numHeads) + ")" + (gqa ? " and no head_dim is given." : "."),
                         hiddenKey);
            }
            c.headDim = c.hiddenSize / c.numHeads;
        }
    } else {
        c.headDim = cfg.requiredInt("head_dim");
        cfg.requirePositive("head_dim", c.headDim);
    }

    // HF: an explicit null means "same as the query heads"; an absent key takes the class default.
    bool kvDefaulted = false;
    if (!gqa) {
        c.numKvHeads = c.numHeads;
    } else if (!cfg.has("num_key_value_heads")) {
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

    c.maxPositionEmbeddings = cfg.optionalInt(positionsKey, family->maxPositionEmbeddings);
    cfg.requirePositive(positionsKey, c.maxPositionEmbeddings);

    if (family->epsKey) {
        c.normEps = cfg.optionalNumber(family->epsKey, family->eps);
        if (!(c.normEps > 0))
            cfg.fail(ErrorCode::Format,
                     std::string("\"") + family->epsKey + "\" must be positive, but it is " + numberText(c.normEps) + ".",
                     family->epsKey);
    } else {
        c.normEps = family->eps;
    }

    // RoPE: current configs carry "rope_parameters" (with rope_theta inside); older ones a top-level
    // "rope_theta" (gpt_neox: "rotary_emb_base") and an optional "rope_scaling".
    if (c.position == PositionKind::Rope) {
        std::vector<std::string> kinds(std::begin(kRopeKinds), std::end(kRopeKinds));
        if (t == "phi3")
            kinds = {"default"}; // Phi3Config accepts only the default and LongRoPE
        const char* thetaKey = neox && !cfg.has("rope_theta") ? "rotary_emb_base" : "rope_theta";
        c.ropeTheta = cfg.optionalNumber(thetaKey, 10000.0);
        if (neox)
            c.rotaryFraction = cfg.optionalNumber("rotary_pct", 0.25);
        else if (t == "phi3")
            c.rotaryFraction = cfg.optionalNumber("partial_rotary_factor", 1.0);
        if (!cfg.isNullOrAbsent("rope_parameters")) {
            const QJsonValue rp = cfg.value("rope_parameters");
            if (!rp.isObject())
                cfg.fail(ErrorCode::Format, "\"rope_parameters\" must be an object.", "rope_parameters");
            const QJsonObject o = rp.toObject();
            const QJsonValue theta = o.value(QLatin1String("rope_theta"));
            if (!theta.isUndefined() && !theta.isNull())
                c.ropeTheta = cfg.numberFrom(theta, "rope_parameters.rope_theta");
            const QJsonValue partial = o.value(QLatin1String("partial_rotary_factor"));
            if ((neox || t == "phi3") && !partial.isUndefined() && !partial.isNull())
                c.rotaryFraction = cfg.numberFrom(partial, "rope_parameters.partial_rotary_factor");
            QJsonObject withType = o;
            if (!withType.contains(QLatin1String("rope_type")) && !withType.contains(QLatin1String("type")))
                withType.insert(QLatin1String("rope_type"), QLatin1String("default"));
            c.ropeScaling = parseRopeScaling(cfg, withType, "rope_parameters", c.maxPositionEmbeddings, kinds);
        } else if (!cfg.isNullOrAbsent("rope_scaling")) {
            const QJsonValue rs = cfg.value("rope_scaling");
            if (!rs.isObject())
                cfg.fail(ErrorCode::Format, "\"rope_scaling\" must be an object or null.", "rope_scaling");
            c.ropeScaling = parseRopeScaling(cfg, rs.toObject(), "rope_scaling", c.maxPositionEmbeddings, kinds);
        }
        if (!(c.ropeTheta > 0))
            cfg.fail(ErrorCode::Format,
                     std::string("\"") + thetaKey + "\" must be positive, but it is " + numberText(c.ropeTheta) + ".",
                     thetaKey);
        const int rot = c.rotaryDim();
        if (!(c.rotaryFraction > 0 && c.rotaryFraction <= 1) || rot < 2 || rot % 2 != 0)
            cfg.fail(ErrorCode::Format,
                     "the rotary fraction " + numberText(c.rotaryFraction) + " of head_dim " + std::to_string(c.headDim)
                         + " gives " + std::to_string(rot) + " rotary dimensions; it must be a positive even number.",
                     neox ? "rotary_pct" : "partial_rotary_factor");
    }

    c.tieWordEmbeddings = cfg.optionalBool("tie_word_embeddings", family->tie);

    // The MLP activation. Gemma: "hidden_activation" is what Google's configs use for the
    // tanh-approximated GELU the model was trained with (their "hidden_act" says "gelu").
    if (gpt2 || opt) {
        c.hiddenAct = cfg.optionalString("activation_function", family->act);
    } else if (t == "gemma") {
        c.hiddenAct = cfg.optionalString("hidden_activation", cfg.optionalString("hidden_act", family->act));
    } else if (t == "gemma2") {
        c.hiddenAct = cfg.optionalString("hidden_activation", family->act);
    } else {
        c.hiddenAct = cfg.optionalString("hidden_act", family->act);
    }
    {
        bool known = false;
        for (const char* a : kActivations)
            known = known || c.hiddenAct == a;
        if (!known)
            cfg.fail(ErrorCode::Unsupported,
                     "activation '" + c.hiddenAct + "' is not supported (supported: " + joined(supportedActivations())
                         + ").",
                     gpt2 || opt ? "activation_function" : "hidden_act");
    }

    // Biases, per family as the HF modules create them.
    if (t == "llama") {
        c.attentionBias = c.outputBias = cfg.optionalBool("attention_bias", false);
        c.mlpBias = cfg.optionalBool("mlp_bias", false);
    } else if (t == "qwen2") {
        c.attentionBias = true; // Qwen2 always has q/k/v biases (and none on o_proj)
    } else if (t == "qwen3" || gemma) {
        c.attentionBias = c.outputBias = cfg.optionalBool("attention_bias", false);
    } else if (neox) {
        c.attentionBias = c.outputBias = cfg.optionalBool("attention_bias", true);
        c.mlpBias = true;
    } else if (opt) {
        c.attentionBias = c.outputBias = c.mlpBias = cfg.optionalBool("enable_bias", true);
    } else if (gpt2 || encoder) {
        c.attentionBias = c.outputBias = c.mlpBias = true;
    }
    // Mistral and Phi-3 have no attention biases at all, whatever the config says.

    // Sliding windows.
    c.slidingLayers.assign(size_t(c.numLayers), false);
    std::vector<bool> types;
    if (t == "mistral" || t == "phi3") {
        c.slidingWindow = windowKey(cfg, t == "mistral" ? std::optional<int>(4096) : std::nullopt);
        c.slidingLayers.assign(size_t(c.numLayers), true);
    } else if (t == "qwen2" || t == "qwen3") {
        if (cfg.optionalBool("use_sliding_window", false)) {
            c.slidingWindow = windowKey(cfg, 4096);
            c.slidingWindowFromLayer = cfg.optionalInt("max_window_layers", 28);
            if (c.slidingWindowFromLayer < 0)
                cfg.fail(ErrorCode::Format,
                         "\"max_window_layers\" must not be negative, but it is " +
                             std::to_string(c.slidingWindowFromLayer) + ".",
                         "max_window_layers");
            types = layerTypes(cfg, c.numLayers);
            for (int l = 0; l < c.numLayers; ++l)
                c.slidingLayers[size_t(l)] = types.empty() ? l >= c.slidingWindowFromLayer : bool(types[size_t(l)]);
        }
    } else if (t == "gemma2") {
        c.slidingWindow = windowKey(cfg, 4096);
        types = layerTypes(cfg, c.numLayers);
        for (int l = 0; l < c.numLayers; ++l) // layers 0, 2, 4, ... slide unless layer_types says otherwise
            c.slidingLayers[size_t(l)] = types.empty() ? (l % 2 == 0) : bool(types[size_t(l)]);
    }
    if (c.slidingWindow && *c.slidingWindow <= 0)
        cfg.fail(ErrorCode::Format,
                 "\"sliding_window\" must be positive or null, but it is " + std::to_string(*c.slidingWindow) + ".",
                 "sliding_window");

    if (gemma && cfg.optionalBool("use_bidirectional_attention", false))
        cfg.fail(ErrorCode::Unsupported, "bidirectional Gemma variants (use_bidirectional_attention) are not supported.",
                 "use_bidirectional_attention");
    if (t == "gemma2") {
        c.queryPreAttnScalar = cfg.optionalNumber("query_pre_attn_scalar", 256);
        c.attnSoftcap = cfg.optionalNumber("attn_logit_softcapping", 50.0);
        c.finalSoftcap = cfg.optionalNumber("final_logit_softcapping", 30.0);
        if (cfg.has("attn_logit_softcapping") && cfg.value("attn_logit_softcapping").isNull())
            c.attnSoftcap = 0;
        if (cfg.has("final_logit_softcapping") && cfg.value("final_logit_softcapping").isNull())
            c.finalSoftcap = 0;
        for (const char* k : {"query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping"}) {
            const double v = cfg.optionalNumber(k, 1.0);
            if (!cfg.isNullOrAbsent(k) && !(v > 0))
                cfg.fail(ErrorCode::Format, std::string("\"") + k + "\" must be positive, but it is " + numberText(v) + ".",
                         k);
        }
    }

    if (gpt2) {
        c.scaleAttnWeights = cfg.optionalBool("scale_attn_weights", true);
        c.scaleAttnByInverseLayerIdx = cfg.optionalBool("scale_attn_by_inverse_layer_idx", false);
        c.reorderAndUpcastAttn = cfg.optionalBool("reorder_and_upcast_attn", false);
    }
    if (neox)
        c.parallelResidual = cfg.optionalBool("use_parallel_residual", true);

    if (opt) {
        c.normBefore = cfg.optionalBool("do_layer_norm_before", true);
        c.finalNorm = c.normBefore && !cfg.optionalBool("_remove_final_layer_norm", false);
        c.normAffine = cfg.optionalBool("layer_norm_elementwise_affine", true);
        c.positionOffset = 2; // OPTLearnedPositionalEmbedding
        c.wordEmbedProjDim = cfg.optionalInt("word_embed_proj_dim", c.hiddenSize);
        cfg.requirePositive("word_embed_proj_dim", c.wordEmbedProjDim);
    } else {
        c.wordEmbedProjDim = c.hiddenSize;
    }

    c.bosTokenId = cfg.tokenId("bos_token_id", family->bos);
    c.eosTokenId = cfg.tokenId("eos_token_id", family->eos);
    c.padTokenId = cfg.tokenId("pad_token_id", family->pad);

    if (encoder) {
        c.normBefore = false;
        c.finalNorm = false;
        c.typeVocabSize = cfg.optionalInt("type_vocab_size", 2);
        cfg.requirePositive("type_vocab_size", c.typeVocabSize);
        const std::string pet = cfg.optionalString("position_embedding_type", "absolute");
        if (pet != "absolute")
            cfg.fail(ErrorCode::Unsupported,
                     "position_embedding_type '" + pet + "' is not supported (supported: absolute).",
                     "position_embedding_type");
        if (cfg.optionalBool("is_decoder", false))
            cfg.fail(ErrorCode::Unsupported, "causal " + t + " decoders (is_decoder) are not supported.", "is_decoder");
        if (t == "roberta") {
            // create_position_ids_from_input_ids: positions count from padding_idx + 1.
            if (!c.padTokenId)
                cfg.fail(ErrorCode::Format, "a roberta config needs \"pad_token_id\" (its positions start after it).",
                         "pad_token_id");
            c.positionOffset = *c.padTokenId + 1;
        }
    }

    c.maxTokens = c.maxPositionEmbeddings;
    if (t == "roberta") {
        c.maxTokens = c.maxPositionEmbeddings - c.positionOffset;
        if (c.maxTokens <= 0 || *c.padTokenId < 0)
            cfg.fail(ErrorCode::Format,
                     "max_position_embeddings (" + std::to_string(c.maxPositionEmbeddings)
                         + ") leaves no positions after padding_idx " + std::to_string(*c.padTokenId) + ".",
                     "max_position_embeddings");
    }

    // Newer configs spell it "dtype".
    c.torchDtype = cfg.optionalString("torch_dtype", cfg.optionalString("dtype", "float32"));
    return c;
}

ModelConfig ModelConfig::fromFile(const std::string& path)
{
    return fromJson(readFile(path, files::kConfig), path);
}

} // namespace sinkscope
