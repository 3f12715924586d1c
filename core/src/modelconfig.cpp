// SPDX-License-Identifier: GPL-3.0-or-later
// config.json -> ModelConfig for every supported family. Defaults follow the Hugging Face configuration
// classes of each model_type, so a config that omits a key means what it means there.
#include "sinkscope/modelconfig.h"

#include "familyspec.h"
#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace sinkscope {

namespace {

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
    ConfigReader(json::Document doc, std::string source)
        : m_doc(std::move(doc)), m_root(m_doc.root()), m_source(std::move(source))
    {
    }

    [[noreturn]] void fail(ErrorCode code, const std::string& what, const std::string& key = {}) const
    {
        throw Error(code, m_source + ": " + what, key.empty() ? m_source : key);
    }

    bool has(const char* key) const { return m_root.contains(key); }
    bool isNullOrAbsent(const char* key) const { return m_root.find(key).isAbsentOrNull(); }
    json::Value value(const char* key) const { return m_root.find(key); }

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

    int intFrom(json::Value v, const std::string& key) const
    {
        const auto i = v.integer();
        if (!i) {
            fail(ErrorCode::Format,
                 "\"" + key + "\" must be an integer, but it is " + describe(v) + ".", key);
        }
        if (*i > std::numeric_limits<int>::max() || *i < std::numeric_limits<int>::min())
            fail(ErrorCode::Format, "\"" + key + "\" is " + std::to_string(*i) + ", which is too large.", key);
        return static_cast<int>(*i);
    }

    double numberFrom(json::Value v, const std::string& key) const
    {
        if (!v.isNumber() || !std::isfinite(v.number()))
            fail(ErrorCode::Format, "\"" + key + "\" must be a number, but it is " + describe(v) + ".", key);
        return v.number();
    }

    double optionalNumber(const char* key, double fallback) const
    {
        return isNullOrAbsent(key) ? fallback : numberFrom(value(key), key);
    }

    bool optionalBool(const char* key, bool fallback) const
    {
        if (isNullOrAbsent(key))
            return fallback;
        const json::Value v = value(key);
        if (!v.isBool())
            fail(ErrorCode::Format, std::string("\"") + key + "\" must be true or false, but it is " + describe(v) + ".",
                 key);
        return v.boolean();
    }

    std::string optionalString(const char* key, const std::string& fallback) const
    {
        if (isNullOrAbsent(key))
            return fallback;
        const json::Value v = value(key);
        if (!v.isString())
            fail(ErrorCode::Format, std::string("\"") + key + "\" must be a string, but it is " + describe(v) + ".", key);
        return v.str();
    }

    // A token id, possibly given as a list (Llama 3 lists several eos ids): the first one.
    std::optional<int> tokenId(const char* key, std::optional<int> fallback) const
    {
        if (!has(key))
            return fallback;
        const json::Value v = value(key);
        if (v.isNull())
            return std::nullopt;
        if (v.isArray()) {
            const std::vector<json::Value> a = v.array();
            if (a.empty())
                return std::nullopt;
            return intFrom(a.front(), key);
        }
        return intFrom(v, key);
    }

    void requirePositive(const char* key, int v) const
    {
        if (v <= 0)
            fail(ErrorCode::Format, std::string("\"") + key + "\" must be positive, but it is " + std::to_string(v) + ".",
                 key);
    }

    static std::string describe(json::Value v)
    {
        if (v.isString())
            return "the string \"" + v.str() + "\"";
        if (v.isNumber())
            return numberText(v.number());
        if (v.isBool())
            return v.boolean() ? "true" : "false";
        return v.kindName();
    }

    json::Value root() const { return m_root; }
    const std::string& source() const { return m_source; }

private:
    json::Document m_doc;
    json::Value m_root;
    std::string m_source;
};

// `defaultType`, when given, is the type of an object that has neither "rope_type" nor "type".
RopeScaling parseRopeScaling(const ConfigReader& cfg, json::Value rs, const std::string& key,
                             int maxPositionEmbeddings, const std::vector<std::string>& kinds,
                             const char* defaultType = nullptr)
{
    RopeScaling out;
    // "rope_type" is the current spelling; "type" is the legacy one.
    json::Value typeValue = rs.find("rope_type");
    if (defaultType != nullptr && !typeValue && !rs.contains("type")) {
        out.type = defaultType;
    } else {
        if (typeValue.isAbsentOrNull())
            typeValue = rs.find("type");
        if (typeValue.isAbsentOrNull())
            cfg.fail(ErrorCode::Format, "\"" + key + "\" has no \"rope_type\" (or legacy \"type\").", key);
        if (!typeValue.isString())
            cfg.fail(ErrorCode::Format, "\"" + key + "\".rope_type must be a string.", key);
        out.type = typeValue.str();
    }

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
        const json::Value v = rs.find(name);
        if (v.isAbsentOrNull()) {
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
        const json::Value v = rs.find("original_max_position_embeddings");
        out.originalMaxPositionEmbeddings = v.isAbsentOrNull()
                                                ? maxPositionEmbeddings
                                                : cfg.intFrom(v, key + ".original_max_position_embeddings");
        positive("original_max_position_embeddings", out.originalMaxPositionEmbeddings);
    }
    if (out.type == "llama3") {
        out.lowFreqFactor = number("low_freq_factor");
        out.highFreqFactor = number("high_freq_factor");
        number("original_max_position_embeddings"); // present and numeric; must also be whole:
        out.originalMaxPositionEmbeddings = cfg.intFrom(rs.find("original_max_position_embeddings"),
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

ModelDimensions ModelConfig::dimensions() const
{
    ModelDimensions d;
    d.layers = numLayers;
    d.heads = numHeads;
    d.kvHeads = numKvHeads;
    d.headDim = headDim;
    d.hiddenSize = hiddenSize;
    d.vocabSize = vocabSize;
    d.maxPositions = maxTokens;
    return d;
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
    for (const detail::FamilySpec& f : detail::familyTable())
        out.push_back(f.modelType);
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
    const json::Value v = cfg.value("layer_types");
    if (!v.isArray())
        cfg.fail(ErrorCode::Format, "\"layer_types\" must be a list of strings.", "layer_types");
    const std::vector<json::Value> a = v.array();
    if (a.size() != std::size_t(layers))
        cfg.fail(ErrorCode::Format,
                 "\"layer_types\" lists " + std::to_string(a.size()) + " layers but num_hidden_layers is "
                     + std::to_string(layers) + ".",
                 "layer_types");
    std::vector<bool> out;
    for (const json::Value t : a) {
        const std::string name = t.isString() ? t.str() : std::string();
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
    const ConfigReader cfg(json::parseObject(jsonText, source), source);
    ModelConfig c;

    if (cfg.isNullOrAbsent("model_type"))
        cfg.fail(ErrorCode::Format, "the key \"model_type\" is missing, so the architecture is unknown.", "model_type");
    c.modelType = cfg.optionalString("model_type", {});
    const detail::FamilySpec* found = detail::findFamily(c.modelType);
    if (!found) {
        cfg.fail(ErrorCode::Unsupported,
                 "model_type '" + c.modelType + "' is not supported (supported: " + joined(supportedModelTypes()) + ").",
                 "model_type");
    }
    const detail::FamilySpec& f = *found;
    c.norm = f.norm;
    c.position = f.position;
    c.causal = f.causal;

    // A family's own spelling wins; the common one is accepted when only it is present (GPT-2's
    // attribute_map).
    auto key = [&](const std::string& own, const char* common) {
        return cfg.has(own.c_str()) || !cfg.has(common) ? own : std::string(common);
    };
    const std::string hiddenKey = key(f.hiddenKey, "hidden_size");
    const std::string layersKey = key(f.layersKey, "num_hidden_layers");
    const std::string headsKey = key(f.headsKey, "num_attention_heads");
    const std::string positionsKey = key(f.positionsKey, "max_position_embeddings");

    c.hiddenSize = cfg.requiredInt(hiddenKey.c_str());
    c.numLayers = cfg.requiredInt(layersKey.c_str());
    c.numHeads = cfg.requiredInt(headsKey.c_str());
    c.vocabSize = cfg.requiredInt("vocab_size");
    cfg.requirePositive(hiddenKey.c_str(), c.hiddenSize);
    cfg.requirePositive(layersKey.c_str(), c.numLayers);
    cfg.requirePositive(headsKey.c_str(), c.numHeads);
    cfg.requirePositive("vocab_size", c.vocabSize);
    c.intermediateSize = f.ffnTimesHiddenWhenAbsent > 0
                             ? cfg.optionalInt(f.ffnKey.c_str(), f.ffnTimesHiddenWhenAbsent * c.hiddenSize)
                             : cfg.requiredInt(f.ffnKey.c_str());
    cfg.requirePositive(f.ffnKey.c_str(), c.intermediateSize);

    const bool gqa = f.gqa;
    if (!gqa || cfg.isNullOrAbsent("head_dim")) {
        if (gqa && f.headDimWhenAbsent && !cfg.has("head_dim")) {
            c.headDim = *f.headDimWhenAbsent;
        } else {
            if (c.hiddenSize % c.numHeads != 0) {
                cfg.fail(ErrorCode::Format,
                         hiddenKey + " (" + std::to_string(c.hiddenSize) + ") is not divisible by " + headsKey + " ("
                             + std::to_string(c.numHeads) + ")" + (gqa ? " and no head_dim is given." : "."),
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
        c.numKvHeads = f.numKvHeadsWhenAbsent.value_or(c.numHeads);
        kvDefaulted = f.numKvHeadsWhenAbsent.has_value();
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

    c.maxPositionEmbeddings = cfg.optionalInt(positionsKey.c_str(), f.maxPositionEmbeddings);
    cfg.requirePositive(positionsKey.c_str(), c.maxPositionEmbeddings);

    if (!f.epsKey.empty()) {
        c.normEps = cfg.optionalNumber(f.epsKey.c_str(), f.eps);
        if (!(c.normEps > 0))
            cfg.fail(ErrorCode::Format, "\"" + f.epsKey + "\" must be positive, but it is " + numberText(c.normEps) + ".",
                     f.epsKey);
    } else {
        c.normEps = f.eps;
    }

    // RoPE: current configs carry "rope_parameters" (with rope_theta inside); older ones a top-level
    // "rope_theta" (or the family's legacy spelling) and an optional "rope_scaling".
    if (c.position == PositionKind::Rope) {
        std::vector<std::string> kinds(std::begin(kRopeKinds), std::end(kRopeKinds));
        if (f.ropeScalingDefaultOnly)
            kinds = {"default"};
        const std::string thetaKey
            = !f.ropeThetaLegacyKey.empty() && !cfg.has("rope_theta") ? f.ropeThetaLegacyKey : std::string("rope_theta");
        c.ropeTheta = cfg.optionalNumber(thetaKey.c_str(), 10000.0);
        if (!f.rotaryKey.empty())
            c.rotaryFraction = cfg.optionalNumber(f.rotaryKey.c_str(), f.rotaryDefault);
        if (!cfg.isNullOrAbsent("rope_parameters")) {
            const json::Value rp = cfg.value("rope_parameters");
            if (!rp.isObject())
                cfg.fail(ErrorCode::Format, "\"rope_parameters\" must be an object.", "rope_parameters");
            const json::Value theta = rp.find("rope_theta");
            if (!theta.isAbsentOrNull())
                c.ropeTheta = cfg.numberFrom(theta, "rope_parameters.rope_theta");
            const json::Value partial = rp.find("partial_rotary_factor");
            if (!f.rotaryKey.empty() && !partial.isAbsentOrNull())
                c.rotaryFraction = cfg.numberFrom(partial, "rope_parameters.partial_rotary_factor");
            c.ropeScaling = parseRopeScaling(cfg, rp, "rope_parameters", c.maxPositionEmbeddings, kinds, "default");
        } else if (!cfg.isNullOrAbsent("rope_scaling")) {
            const json::Value rs = cfg.value("rope_scaling");
            if (!rs.isObject())
                cfg.fail(ErrorCode::Format, "\"rope_scaling\" must be an object or null.", "rope_scaling");
            c.ropeScaling = parseRopeScaling(cfg, rs, "rope_scaling", c.maxPositionEmbeddings, kinds);
        }
        if (!(c.ropeTheta > 0))
            cfg.fail(ErrorCode::Format, "\"" + thetaKey + "\" must be positive, but it is " + numberText(c.ropeTheta) + ".",
                     thetaKey);
        const int rot = c.rotaryDim();
        if (!(c.rotaryFraction > 0 && c.rotaryFraction <= 1) || rot < 2 || rot % 2 != 0)
            cfg.fail(ErrorCode::Format,
                     "the rotary fraction " + numberText(c.rotaryFraction) + " of head_dim " + std::to_string(c.headDim)
                         + " gives " + std::to_string(rot) + " rotary dimensions; it must be a positive even number.",
                     f.rotaryKey.empty() ? std::string("partial_rotary_factor") : f.rotaryKey);
    }

    c.tieWordEmbeddings = cfg.optionalBool("tie_word_embeddings", f.tie);

    // The MLP activation, under the family's key (and its fallback key when that is absent).
    const std::string actKey = f.actFallbackKey.empty() || !cfg.isNullOrAbsent(f.actKey.c_str()) ? f.actKey : f.actFallbackKey;
    c.hiddenAct = cfg.optionalString(actKey.c_str(), f.act);
    {
        bool known = false;
        for (const char* a : kActivations)
            known = known || c.hiddenAct == a;
        if (!known)
            cfg.fail(ErrorCode::Unsupported,
                     "activation '" + c.hiddenAct + "' is not supported (supported: " + joined(supportedActivations())
                         + ").",
                     actKey);
    }

    auto read = [&](const detail::BoolSwitch& s) { return s.key.empty() ? s.value : cfg.optionalBool(s.key.c_str(), s.value); };
    c.attentionBias = read(f.qkvBias);
    c.outputBias = read(f.outBias);
    c.mlpBias = read(f.mlpBias);

    // Sliding windows: "sliding_window" absent takes the family default, null means none.
    c.slidingLayers.assign(size_t(c.numLayers), false);
    std::vector<bool> types;
    switch (f.windowLayers) {
    case detail::WindowLayers::None:
        break;
    case detail::WindowLayers::All:
        c.slidingWindow = windowKey(cfg, f.windowWhenAbsent);
        c.slidingLayers.assign(size_t(c.numLayers), true);
        break;
    case detail::WindowLayers::FromLayer:
        if (cfg.optionalBool("use_sliding_window", false)) {
            c.slidingWindow = windowKey(cfg, f.windowWhenAbsent);
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
        break;
    case detail::WindowLayers::Even:
        c.slidingWindow = windowKey(cfg, f.windowWhenAbsent);
        types = layerTypes(cfg, c.numLayers);
        for (int l = 0; l < c.numLayers; ++l) // layers 0, 2, 4, ... slide unless layer_types says otherwise
            c.slidingLayers[size_t(l)] = types.empty() ? (l % 2 == 0) : bool(types[size_t(l)]);
        break;
    }
    if (c.slidingWindow && *c.slidingWindow <= 0)
        cfg.fail(ErrorCode::Format,
                 "\"sliding_window\" must be positive or null, but it is " + std::to_string(*c.slidingWindow) + ".",
                 "sliding_window");

    for (const detail::RefusedFlag& r : f.refused)
        if (cfg.optionalBool(r.key.c_str(), false))
            cfg.fail(ErrorCode::Unsupported, r.message, r.key);

    // Gemma 2's logit scaling and soft-caps: a key set to null turns a cap off.
    auto positiveOrNull = [&](const char* k, std::optional<double> fallback, bool nullMeansOff) -> double {
        if (!fallback)
            return 0.0;
        if (nullMeansOff && cfg.has(k) && cfg.value(k).isNull())
            return 0.0;
        const double v = cfg.optionalNumber(k, *fallback);
        if (!cfg.isNullOrAbsent(k) && !(v > 0))
            cfg.fail(ErrorCode::Format, std::string("\"") + k + "\" must be positive, but it is " + numberText(v) + ".", k);
        return v;
    };
    c.queryPreAttnScalar = positiveOrNull("query_pre_attn_scalar", f.queryPreAttnScalar, false);
    c.attnSoftcap = positiveOrNull("attn_logit_softcapping", f.attnSoftcap, true);
    c.finalSoftcap = positiveOrNull("final_logit_softcapping", f.finalSoftcap, true);

    c.scaleAttnWeights = read(f.scaleAttnWeights);
    c.scaleAttnByInverseLayerIdx = read(f.scaleByInverseLayer);
    c.reorderAndUpcastAttn = read(f.upcastAttn);
    c.parallelResidual = read(f.parallelResidual);

    c.normBefore = read(f.normBefore);
    c.finalNorm = c.normBefore && !(!f.removeFinalNormKey.empty() && cfg.optionalBool(f.removeFinalNormKey.c_str(), false));
    c.normAffine = read(f.normAffine);
    c.positionOffset = f.learnedOffset;
    c.wordEmbedProjDim = c.hiddenSize;
    if (!f.wordEmbedProjKey.empty()) {
        c.wordEmbedProjDim = cfg.optionalInt(f.wordEmbedProjKey.c_str(), c.hiddenSize);
        cfg.requirePositive(f.wordEmbedProjKey.c_str(), c.wordEmbedProjDim);
    }

    c.bosTokenId = cfg.tokenId("bos_token_id", f.bos);
    c.eosTokenId = cfg.tokenId("eos_token_id", f.eos);
    c.padTokenId = cfg.tokenId("pad_token_id", f.pad);

    if (f.typeVocabDefault > 0) {
        c.typeVocabSize = cfg.optionalInt("type_vocab_size", f.typeVocabDefault);
        cfg.requirePositive("type_vocab_size", c.typeVocabSize);
    }
    if (f.absolutePositionsOnly) {
        const std::string pet = cfg.optionalString("position_embedding_type", "absolute");
        if (pet != "absolute")
            cfg.fail(ErrorCode::Unsupported,
                     "position_embedding_type '" + pet + "' is not supported (supported: absolute).",
                     "position_embedding_type");
    }

    c.maxTokens = c.maxPositionEmbeddings;
    if (f.offsetFromPad) {
        if (!c.padTokenId)
            cfg.fail(ErrorCode::Format,
                     "a " + c.modelType + " config needs \"pad_token_id\" (its positions start after it).",
                     "pad_token_id");
        c.positionOffset = *c.padTokenId + 1;
        c.maxTokens = c.maxPositionEmbeddings - c.positionOffset;
        if (c.maxTokens <= 0 || *c.padTokenId < 0)
            cfg.fail(ErrorCode::Format,
                     "max_position_embeddings (" + std::to_string(c.maxPositionEmbeddings)
                         + ") leaves no positions after padding_idx " + std::to_string(*c.padTokenId) + ".",
                     "max_position_embeddings");
    }

    // Newer configs spell it "dtype".
    c.torchDtype = cfg.optionalString("torch_dtype", cfg.optionalString("dtype", "float32"));

    // The demo generator's marker (any kind or version): ModelInfo::synthetic.
    c.syntheticDemo = cfg.value("sinkscope_demo").find("synthetic").boolean();
    return c;
}

ModelConfig ModelConfig::fromFile(const std::string& path)
{
    return fromJson(readFile(path, files::kConfig), path);
}

} // namespace sinkscope
