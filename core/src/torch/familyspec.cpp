// SPDX-License-Identifier: GPL-3.0-or-later
// One row per family, with the module names of the Hugging Face implementation.
#include "torch/familyspec.h"

namespace sinkscope::detail {

namespace {

// LlamaForCausalLM and the families that share its module names: pre-RMSNorm blocks, rotate-half
// RoPE, gated MLP.
FamilySpec llamaLike(const std::string& type)
{
    FamilySpec s;
    s.modelType = type;
    s.prefixes = {"model.", ""};
    s.embedTokens = "embed_tokens";
    s.finalNorm = "norm";
    s.lmHead = "lm_head";
    s.attnNorm = "layers.{i}.input_layernorm";
    s.mlpNorm = "layers.{i}.post_attention_layernorm";
    s.qProj = "layers.{i}.self_attn.q_proj";
    s.kProj = "layers.{i}.self_attn.k_proj";
    s.vProj = "layers.{i}.self_attn.v_proj";
    s.oProj = "layers.{i}.self_attn.o_proj";
    s.gateProj = "layers.{i}.mlp.gate_proj";
    s.upProj = "layers.{i}.mlp.up_proj";
    s.downProj = "layers.{i}.mlp.down_proj";
    return s;
}

FamilySpec qwen3()
{
    FamilySpec s = llamaLike("qwen3");
    s.qNorm = "layers.{i}.self_attn.q_norm";
    s.kNorm = "layers.{i}.self_attn.k_norm";
    return s;
}

FamilySpec gemma(const std::string& type)
{
    FamilySpec s = llamaLike(type);
    s.scaleEmbedding = true;
    if (type == "gemma2") {
        // Sandwich norms: input_layernorm -> attn -> post_attention_layernorm -> + residual;
        // pre_feedforward_layernorm -> mlp -> post_feedforward_layernorm -> + residual.
        s.attnOutNorm = "layers.{i}.post_attention_layernorm";
        s.mlpNorm = "layers.{i}.pre_feedforward_layernorm";
        s.mlpOutNorm = "layers.{i}.post_feedforward_layernorm";
    }
    return s;
}

FamilySpec phi3()
{
    FamilySpec s = llamaLike("phi3");
    s.qkv = QkvLayout::FusedConcat;
    s.qkvProj = "layers.{i}.self_attn.qkv_proj";
    s.mlp = MlpKind::GatedFused;
    s.gateUpProj = "layers.{i}.mlp.gate_up_proj";
    return s;
}

FamilySpec gpt2()
{
    FamilySpec s;
    s.modelType = "gpt2";
    s.prefixes = {"transformer.", ""};
    s.embedTokens = "wte";
    s.positionTable = "wpe";
    s.finalNorm = "ln_f";
    s.lmHead = "lm_head";
    s.attnNorm = "h.{i}.ln_1";
    s.mlpNorm = "h.{i}.ln_2";
    s.qkv = QkvLayout::FusedConcat;
    s.qkvProj = "h.{i}.attn.c_attn";
    s.oProj = "h.{i}.attn.c_proj";
    s.conv1d = true;
    s.mlp = MlpKind::Plain;
    s.upProj = "h.{i}.mlp.c_fc";
    s.downProj = "h.{i}.mlp.c_proj";
    return s;
}

FamilySpec gptNeox()
{
    FamilySpec s;
    s.modelType = "gpt_neox";
    s.prefixes = {"gpt_neox.", ""};
    s.embedTokens = "embed_in";
    s.finalNorm = "final_layer_norm";
    s.lmHead = "embed_out";
    s.attnNorm = "layers.{i}.input_layernorm";
    s.mlpNorm = "layers.{i}.post_attention_layernorm";
    s.qkv = QkvLayout::FusedPerHead;
    s.qkvProj = "layers.{i}.attention.query_key_value";
    s.oProj = "layers.{i}.attention.dense";
    s.mlp = MlpKind::Plain;
    s.upProj = "layers.{i}.mlp.dense_h_to_4h";
    s.downProj = "layers.{i}.mlp.dense_4h_to_h";
    return s;
}

FamilySpec opt()
{
    FamilySpec s;
    s.modelType = "opt";
    // OPTForCausalLM saves "model.decoder.*"; checkpoints saved from OPTModel have "decoder.*".
    s.prefixes = {"model.decoder.", "decoder."};
    s.embedTokens = "embed_tokens";
    s.positionTable = "embed_positions";
    s.projectIn = "project_in";
    s.projectOut = "project_out";
    s.finalNorm = "final_layer_norm";
    s.lmHead = "lm_head";
    s.attnNorm = "layers.{i}.self_attn_layer_norm";
    s.mlpNorm = "layers.{i}.final_layer_norm";
    s.qProj = "layers.{i}.self_attn.q_proj";
    s.kProj = "layers.{i}.self_attn.k_proj";
    s.vProj = "layers.{i}.self_attn.v_proj";
    s.oProj = "layers.{i}.self_attn.out_proj";
    s.mlp = MlpKind::Plain;
    s.upProj = "layers.{i}.fc1";
    s.downProj = "layers.{i}.fc2";
    return s;
}

FamilySpec bertLike(const std::string& type)
{
    FamilySpec s;
    s.modelType = type;
    s.prefixes = {type + ".", ""};
    s.embedTokens = "embeddings.word_embeddings";
    s.positionTable = "embeddings.position_embeddings";
    s.tokenTypeTable = "embeddings.token_type_embeddings";
    s.embedNorm = "embeddings.LayerNorm";
    s.attnNorm = "encoder.layer.{i}.attention.output.LayerNorm";
    s.mlpNorm = "encoder.layer.{i}.output.LayerNorm";
    s.qProj = "encoder.layer.{i}.attention.self.query";
    s.kProj = "encoder.layer.{i}.attention.self.key";
    s.vProj = "encoder.layer.{i}.attention.self.value";
    s.oProj = "encoder.layer.{i}.attention.output.dense";
    s.mlp = MlpKind::Plain;
    s.upProj = "encoder.layer.{i}.intermediate.dense";
    s.downProj = "encoder.layer.{i}.output.dense";
    if (type == "bert") {
        s.lmHead = "cls.predictions.decoder";
        s.lmHeadBias = "cls.predictions.bias";
        s.lmHeadBiasAlt = "cls.predictions.decoder.bias";
        s.mlmDense = "cls.predictions.transform.dense";
        s.mlmNorm = "cls.predictions.transform.LayerNorm";
    } else {
        s.lmHead = "lm_head.decoder";
        s.lmHeadBias = "lm_head.bias";
        s.lmHeadBiasAlt = "lm_head.decoder.bias";
        s.mlmDense = "lm_head.dense";
        s.mlmNorm = "lm_head.layer_norm";
        s.paddingAwarePositions = true;
        s.mlmExactGelu = true;
    }
    return s;
}

const std::vector<FamilySpec>& table()
{
    static const std::vector<FamilySpec> rows = {
        llamaLike("llama"), llamaLike("mistral"), llamaLike("qwen2"), qwen3(),        gemma("gemma"),
        gemma("gemma2"),    phi3(),               gpt2(),             gptNeox(),      opt(),
        bertLike("bert"),   bertLike("roberta"),
    };
    return rows;
}

} // namespace

const FamilySpec* findFamily(const std::string& modelType)
{
    for (const FamilySpec& s : table())
        if (s.modelType == modelType)
            return &s;
    return nullptr;
}

std::string layerName(const std::string& pattern, int layer)
{
    std::string out = pattern;
    const std::string key = "{i}";
    const auto pos = out.find(key);
    if (pos != std::string::npos)
        out.replace(pos, key.size(), std::to_string(layer));
    return out;
}

} // namespace sinkscope::detail
