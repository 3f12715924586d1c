// SPDX-License-Identifier: GPL-3.0-or-later
#include "torch/familyspec.h"

namespace sinkscope::detail {

namespace {

FamilySpec llamaLike(const std::string& type)
{
    // LlamaForCausalLM and the families that share its module names (MistralForCausalLM,
    // Qwen2ForCausalLM): pre-RMSNorm blocks, rotate-half RoPE, SiLU-gated MLP.
    FamilySpec s;
    s.modelType = type;
    s.embedTokens = "model.embed_tokens.weight";
    s.finalNorm = "model.norm.weight";
    s.lmHead = "lm_head.weight";
    s.inputNorm = "model.layers.{i}.input_layernorm.weight";
    s.postAttnNorm = "model.layers.{i}.post_attention_layernorm.weight";
    s.qProj = "model.layers.{i}.self_attn.q_proj";
    s.kProj = "model.layers.{i}.self_attn.k_proj";
    s.vProj = "model.layers.{i}.self_attn.v_proj";
    s.oProj = "model.layers.{i}.self_attn.o_proj";
    s.gateProj = "model.layers.{i}.mlp.gate_proj";
    s.upProj = "model.layers.{i}.mlp.up_proj";
    s.downProj = "model.layers.{i}.mlp.down_proj";
    return s;
}

const std::vector<FamilySpec>& table()
{
    static const std::vector<FamilySpec> rows = {llamaLike("llama"), llamaLike("mistral"), llamaLike("qwen2")};
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
