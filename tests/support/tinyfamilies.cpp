// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint side of the tiny family models: tensor names and config keys as the Hugging Face
// modules and configuration classes spell them. The reference forward is in familyreference.cpp.
#include "tinyfamilies.h"

#include "sinkscope/safetensors.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <random>
#include <stdexcept>

namespace sinkscope::test {

namespace {

bool llamaLike(const std::string& t)
{
    return t == "llama" || t == "mistral" || t == "qwen2" || t == "qwen3" || t == "gemma" || t == "gemma2";
}

bool gqaFamily(const std::string& t)
{
    return llamaLike(t) || t == "phi3" || t == "starcoder2";
}

} // namespace

int tinyHeadDim(const TinyFamilySpec& s)
{
    return s.headDim > 0 && gqaFamily(s.modelType) ? s.headDim : s.hidden / s.heads;
}

std::string tinyPrefix(const TinyFamilySpec& s)
{
    if (s.prefix != "default")
        return s.prefix;
    const std::string& t = s.modelType;
    if (t == "gpt2")
        return "transformer.";
    if (t == "gpt_neox")
        return "gpt_neox.";
    if (t == "opt")
        return "model.";
    if (t == "bert")
        return "bert.";
    if (t == "roberta")
        return "roberta.";
    return "model.";
}

std::string tinyActivation(const TinyFamilySpec& s)
{
    if (!s.act.empty())
        return s.act;
    const std::string& t = s.modelType;
    if (t == "gemma" || t == "gemma2" || t == "starcoder2")
        return "gelu_pytorch_tanh";
    if (t == "gpt2")
        return "gelu_new";
    if (t == "opt")
        return "relu";
    if (t == "gpt_neox" || t == "bert" || t == "roberta")
        return "gelu";
    return "silu";
}

int tinyPositionRow(const TinyFamilySpec& s, int p)
{
    if (s.modelType == "opt")
        return p + 2;
    if (s.modelType == "roberta")
        return p + s.padTokenId + 1;
    return p;
}

std::string tinyPositionTable(const TinyFamilySpec& s)
{
    const std::string p = tinyPrefix(s), &t = s.modelType;
    if (t == "gpt2")
        return p + "wpe.weight";
    if (t == "opt")
        return p + "decoder.embed_positions.weight";
    if (t == "bert" || t == "roberta")
        return p + "embeddings.position_embeddings.weight";
    return {};
}

std::string tinyEmbeddingName(const TinyFamilySpec& s)
{
    const std::string p = tinyPrefix(s), &t = s.modelType;
    if (t == "gpt2")
        return p + "wte.weight";
    if (t == "gpt_neox")
        return p + "embed_in.weight";
    if (t == "opt")
        return p + "decoder.embed_tokens.weight";
    if (t == "bert" || t == "roberta")
        return p + "embeddings.word_embeddings.weight";
    return p + "embed_tokens.weight";
}

std::string tinyOutputName(const TinyFamilySpec& s)
{
    const std::string& t = s.modelType;
    if (t == "gpt_neox")
        return "embed_out.weight";
    if (t == "bert")
        return "cls.predictions.decoder.weight";
    if (t == "roberta")
        return "lm_head.decoder.weight";
    return "lm_head.weight";
}

TinyWeights makeTinyWeights(const TinyFamilySpec& s)
{
    TinyWeights w;
    std::mt19937 rng(s.seed);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float offset = 0.0f) {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        for (float& x : v)
            x = offset + scale * uni(rng);
        w.values[name] = std::move(v);
        w.shapes[name] = std::move(shape);
    };
    const std::string& t = s.modelType;
    const std::string p = tinyPrefix(s);
    const int D = s.hidden, F = s.ffn, V = s.vocab, H = s.heads, hd = tinyHeadDim(s);
    const int Hkv = gqaFamily(t) ? s.kvHeads : s.heads;
    const float a = s.scale;
    auto lin = [&](const std::string& name, int out, int in, bool bias) {
        add(name + ".weight", {out, in}, a / std::sqrt(float(in)));
        if (bias)
            add(name + ".bias", {out}, 0.3f);
    };
    // GPT-2's Conv1D stores the weight as [in, out].
    auto conv1d = [&](const std::string& name, int in, int out) {
        add(name + ".weight", {in, out}, a / std::sqrt(float(in)));
        add(name + ".bias", {out}, 0.3f);
    };
    const bool gemma = t == "gemma" || t == "gemma2";
    // Gemma norms multiply by (1 + w) and are initialised at zero; the others at one.
    auto norm = [&](const std::string& name, int dim) { add(name, {dim}, 0.2f, gemma ? 0.0f : 1.0f); };
    auto layerNorm = [&](const std::string& name, int dim) {
        if (!s.normAffine && t == "opt")
            return;
        const bool legacy = s.legacyNormNames && (t == "bert" || t == "roberta");
        add(name + (legacy ? ".gamma" : ".weight"), {dim}, 0.2f, 1.0f);
        add(name + (legacy ? ".beta" : ".bias"), {dim}, 0.2f);
    };

    if (llamaLike(t) || t == "phi3") {
        add(p + "embed_tokens.weight", {V, D}, 1.0f);
        for (int l = 0; l < s.layers; ++l) {
            const std::string L = p + "layers." + std::to_string(l) + ".";
            norm(L + "input_layernorm.weight", D);
            norm(L + "post_attention_layernorm.weight", D);
            if (t == "gemma2") {
                norm(L + "pre_feedforward_layernorm.weight", D);
                norm(L + "post_feedforward_layernorm.weight", D);
            }
            if (t == "phi3") {
                lin(L + "self_attn.qkv_proj", (H + 2 * Hkv) * hd, D, false);
                lin(L + "self_attn.o_proj", D, H * hd, false);
                lin(L + "mlp.gate_up_proj", 2 * F, D, false);
                lin(L + "mlp.down_proj", D, F, false);
                continue;
            }
            const bool qkvBias = t == "qwen2" || (s.attnBias && t != "mistral");
            const bool oBias = s.attnBias && t != "mistral" && t != "qwen2";
            lin(L + "self_attn.q_proj", H * hd, D, qkvBias);
            lin(L + "self_attn.k_proj", Hkv * hd, D, qkvBias);
            lin(L + "self_attn.v_proj", Hkv * hd, D, qkvBias);
            lin(L + "self_attn.o_proj", D, H * hd, oBias);
            if (t == "qwen3") {
                norm(L + "self_attn.q_norm.weight", hd);
                norm(L + "self_attn.k_norm.weight", hd);
            }
            lin(L + "mlp.gate_proj", F, D, false);
            lin(L + "mlp.up_proj", F, D, false);
            lin(L + "mlp.down_proj", D, F, false);
        }
        norm(p + "norm.weight", D);
        if (!s.tied)
            lin("lm_head", V, D, false);
    } else if (t == "starcoder2") {
        // Starcoder2Model: nn.LayerNorm (always with a bias), q/k/v/o and c_fc/c_proj biased by use_bias.
        add(p + "embed_tokens.weight", {V, D}, 1.0f);
        for (int l = 0; l < s.layers; ++l) {
            const std::string L = p + "layers." + std::to_string(l) + ".";
            layerNorm(L + "input_layernorm", D);
            lin(L + "self_attn.q_proj", H * hd, D, s.attnBias);
            lin(L + "self_attn.k_proj", Hkv * hd, D, s.attnBias);
            lin(L + "self_attn.v_proj", Hkv * hd, D, s.attnBias);
            lin(L + "self_attn.o_proj", D, H * hd, s.attnBias);
            layerNorm(L + "post_attention_layernorm", D);
            lin(L + "mlp.c_fc", F, D, s.attnBias);
            lin(L + "mlp.c_proj", D, F, s.attnBias);
        }
        layerNorm(p + "norm", D);
        if (!s.tied)
            lin("lm_head", V, D, false);
    } else if (t == "gpt2") {
        add(p + "wte.weight", {V, D}, 1.0f);
        add(p + "wpe.weight", {s.maxPositions, D}, 0.7f);
        for (int l = 0; l < s.layers; ++l) {
            const std::string L = p + "h." + std::to_string(l) + ".";
            layerNorm(L + "ln_1", D);
            conv1d(L + "attn.c_attn", D, 3 * D);
            conv1d(L + "attn.c_proj", D, D);
            layerNorm(L + "ln_2", D);
            conv1d(L + "mlp.c_fc", D, F);
            conv1d(L + "mlp.c_proj", F, D);
        }
        layerNorm(p + "ln_f", D);
        if (!s.tied)
            lin("lm_head", V, D, false);
    } else if (t == "gpt_neox") {
        add(p + "embed_in.weight", {V, D}, 1.0f);
        for (int l = 0; l < s.layers; ++l) {
            const std::string L = p + "layers." + std::to_string(l) + ".";
            layerNorm(L + "input_layernorm", D);
            layerNorm(L + "post_attention_layernorm", D);
            lin(L + "attention.query_key_value", 3 * D, D, s.attnBias);
            lin(L + "attention.dense", D, D, s.attnBias);
            lin(L + "mlp.dense_h_to_4h", F, D, true);
            lin(L + "mlp.dense_4h_to_h", D, F, true);
        }
        layerNorm(p + "final_layer_norm", D);
        if (!s.tied)
            lin("embed_out", V, D, false);
    } else if (t == "opt") {
        const int P = s.wordEmbedProjDim > 0 ? s.wordEmbedProjDim : D;
        add(p + "decoder.embed_tokens.weight", {V, P}, 1.0f);
        add(p + "decoder.embed_positions.weight", {s.maxPositions + 2, D}, 0.7f);
        if (P != D) {
            lin(p + "decoder.project_in", D, P, false);
            lin(p + "decoder.project_out", P, D, false);
        }
        for (int l = 0; l < s.layers; ++l) {
            const std::string L = p + "decoder.layers." + std::to_string(l) + ".";
            for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"})
                lin(L + "self_attn." + proj, D, D, s.attnBias);
            layerNorm(L + "self_attn_layer_norm", D);
            lin(L + "fc1", F, D, s.attnBias);
            lin(L + "fc2", D, F, s.attnBias);
            layerNorm(L + "final_layer_norm", D);
        }
        if (s.normBefore)
            layerNorm(p + "decoder.final_layer_norm", D);
        if (!s.tied)
            lin("lm_head", V, P, false);
    } else if (t == "bert" || t == "roberta") {
        add(p + "embeddings.word_embeddings.weight", {V, D}, 1.0f);
        add(p + "embeddings.position_embeddings.weight", {s.maxPositions, D}, 0.7f);
        add(p + "embeddings.token_type_embeddings.weight", {s.typeVocab, D}, 0.7f);
        layerNorm(p + "embeddings.LayerNorm", D);
        for (int l = 0; l < s.layers; ++l) {
            const std::string L = p + "encoder.layer." + std::to_string(l) + ".";
            lin(L + "attention.self.query", D, D, true);
            lin(L + "attention.self.key", D, D, true);
            lin(L + "attention.self.value", D, D, true);
            lin(L + "attention.output.dense", D, D, true);
            layerNorm(L + "attention.output.LayerNorm", D);
            lin(L + "intermediate.dense", F, D, true);
            lin(L + "output.dense", D, F, true);
            layerNorm(L + "output.LayerNorm", D);
        }
        // A pooler, present in BERT checkpoints and not part of the MLM path: must be ignored.
        if (t == "bert")
            lin(p + "pooler.dense", D, D, true);
        if (s.mlmHead) {
            const std::string m = t == "bert" ? "cls.predictions." : "lm_head.";
            const std::string tr = t == "bert" ? "cls.predictions.transform." : "lm_head.";
            lin(tr + "dense", D, D, true);
            layerNorm(tr + (t == "bert" ? "LayerNorm" : "layer_norm"), D);
            add(m + "bias", {V}, 0.3f);
            if (!s.tied)
                lin(m + "decoder", V, D, false);
        }
    } else {
        throw std::runtime_error("no tiny model for " + t);
    }
    return w;
}

std::string tinyConfigJson(const TinyFamilySpec& s)
{
    const std::string& t = s.modelType;
    QJsonObject c;
    c["model_type"] = QString::fromStdString(t);
    c["vocab_size"] = s.vocab;
    c["tie_word_embeddings"] = s.tied;
    c["torch_dtype"] = "float32";
    const QString act = QString::fromStdString(tinyActivation(s));
    if (t == "gpt2") {
        c["n_embd"] = s.hidden;
        c["n_layer"] = s.layers;
        c["n_head"] = s.heads;
        c["n_positions"] = s.maxPositions;
        c["n_ctx"] = s.maxPositions;
        c["n_inner"] = s.ffn;
        c["layer_norm_epsilon"] = s.eps;
        c["activation_function"] = act;
        c["scale_attn_weights"] = true;
        c["scale_attn_by_inverse_layer_idx"] = s.scaleByInverseLayer;
        c["reorder_and_upcast_attn"] = s.upcastAttn;
        c["bos_token_id"] = 0;
        c["eos_token_id"] = 0;
        return QJsonDocument(c).toJson().toStdString();
    }
    c["hidden_size"] = s.hidden;
    c["num_hidden_layers"] = s.layers;
    c["num_attention_heads"] = s.heads;
    c["max_position_embeddings"] = s.maxPositions;
    if (t == "opt") {
        c["ffn_dim"] = s.ffn;
        c["activation_function"] = act;
        c["do_layer_norm_before"] = s.normBefore;
        c["word_embed_proj_dim"] = s.wordEmbedProjDim > 0 ? s.wordEmbedProjDim : s.hidden;
        c["enable_bias"] = s.attnBias;
        c["layer_norm_elementwise_affine"] = s.normAffine;
        c["pad_token_id"] = 1;
        c["bos_token_id"] = 2;
        c["eos_token_id"] = 2;
        return QJsonDocument(c).toJson().toStdString();
    }
    c["intermediate_size"] = s.ffn;
    if (t == "gpt_neox") {
        c["hidden_act"] = act;
        c["layer_norm_eps"] = s.eps;
        c["rotary_pct"] = s.rotaryFraction;
        c["rotary_emb_base"] = s.ropeTheta;
        c["use_parallel_residual"] = s.parallelResidual;
        c["attention_bias"] = s.attnBias;
        c["bos_token_id"] = 0;
        c["eos_token_id"] = 0;
        return QJsonDocument(c).toJson().toStdString();
    }
    if (t == "starcoder2") {
        // Starcoder2Config: no head_dim, norm_epsilon, one use_bias for every linear layer.
        c["num_key_value_heads"] = s.kvHeads;
        c["hidden_act"] = act;
        c["norm_epsilon"] = s.eps;
        c["rope_theta"] = s.ropeTheta;
        c["use_bias"] = s.attnBias;
        if (s.headDim > 0)
            c["head_dim"] = s.headDim; // not a Starcoder2Config attribute, but the attention reads it when set
        c["sliding_window"] = s.slidingWindow > 0 ? QJsonValue(s.slidingWindow) : QJsonValue(QJsonValue::Null);
        c["bos_token_id"] = 0;
        c["eos_token_id"] = 0;
        c["norm_type"] = "layer_norm"; // in the released configs, not read by the HF model
        return QJsonDocument(c).toJson().toStdString();
    }
    if (t == "bert" || t == "roberta") {
        c["hidden_act"] = act;
        c["layer_norm_eps"] = s.eps;
        c["type_vocab_size"] = s.typeVocab;
        c["position_embedding_type"] = "absolute";
        c["pad_token_id"] = t == "roberta" ? s.padTokenId : 0;
        if (t == "roberta") {
            c["bos_token_id"] = 0;
            c["eos_token_id"] = 2;
        }
        return QJsonDocument(c).toJson().toStdString();
    }
    // Llama-like and Phi-3.
    c["num_key_value_heads"] = s.kvHeads;
    // Qwen3 and Gemma default head_dim to 128 / 256, not hidden / heads: always say it.
    c["head_dim"] = tinyHeadDim(s);
    c["rms_norm_eps"] = s.eps;
    c["rope_theta"] = s.ropeTheta;
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    if (t == "gemma" || t == "gemma2") {
        // What Google's configs carry: "hidden_act" says gelu, "hidden_activation" is the one used.
        c["hidden_act"] = "gelu";
        c["hidden_activation"] = act;
        c["pad_token_id"] = 0;
    } else {
        c["hidden_act"] = act;
    }
    if (t == "llama" || t == "qwen3" || t == "gemma" || t == "gemma2")
        c["attention_bias"] = s.attnBias;
    if (t == "gemma2") {
        c["query_pre_attn_scalar"] = s.queryPreAttnScalar > 0 ? s.queryPreAttnScalar : double(tinyHeadDim(s));
        c["attn_logit_softcapping"] = s.attnSoftcap > 0 ? QJsonValue(s.attnSoftcap) : QJsonValue(QJsonValue::Null);
        c["final_logit_softcapping"] = s.finalSoftcap > 0 ? QJsonValue(s.finalSoftcap) : QJsonValue(QJsonValue::Null);
        c["sliding_window"] = s.slidingWindow > 0 ? QJsonValue(s.slidingWindow) : QJsonValue(QJsonValue::Null);
        c["cache_implementation"] = "hybrid";
    }
    if (t == "mistral" || t == "phi3")
        c["sliding_window"] = s.slidingWindow > 0 ? QJsonValue(s.slidingWindow) : QJsonValue(QJsonValue::Null);
    if (t == "qwen2" || t == "qwen3") {
        c["use_sliding_window"] = s.slidingWindow > 0;
        c["sliding_window"] = s.slidingWindow > 0 ? QJsonValue(s.slidingWindow) : QJsonValue(QJsonValue::Null);
        c["max_window_layers"] = s.windowFromLayer;
    }
    if (t == "phi3") {
        c["partial_rotary_factor"] = s.rotaryFraction;
        c["original_max_position_embeddings"] = s.maxPositions;
        c["rope_scaling"] = QJsonValue(QJsonValue::Null);
        c["pad_token_id"] = 0;
    }
    return QJsonDocument(c).toJson().toStdString();
}

void writeTinyModel(const QString& dir, const TinyFamilySpec& spec, const TinyWeights& weights)
{
    writeCheckpointDir(dir, tinyConfigJson(spec), weights);
}

} // namespace sinkscope::test
