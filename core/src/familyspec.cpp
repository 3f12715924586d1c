// SPDX-License-Identifier: GPL-3.0-or-later
// One row per family: the module names of the Hugging Face implementation and the attributes and
// defaults of its configuration class. Rows that share a design are built from one another.
#include "familyspec.h"

namespace sinkscope::detail {

namespace {

// LlamaForCausalLM and the families that share its module names: pre-RMSNorm blocks, rotate-half
// RoPE, gated MLP, grouped-query attention.
FamilySpec llamaLike(const std::string& type)
{
    FamilySpec s;
    s.modelType = type;
    s.gqa = true;
    s.epsKey = "rms_norm_eps";
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

FamilySpec llama()
{
    FamilySpec s = llamaLike("llama");
    s.bos = 1, s.eos = 2;
    s.qkvBias = s.outBias = {"attention_bias", false};
    s.mlpBias = {"mlp_bias", false};
    return s;
}

FamilySpec mistral()
{
    FamilySpec s = llamaLike("mistral");
    s.maxPositionEmbeddings = 4096 * 32;
    s.numKvHeadsWhenAbsent = 8;
    s.bos = 1, s.eos = 2;
    s.windowLayers = WindowLayers::All;
    s.windowWhenAbsent = 4096;
    return s; // no attention biases at all, whatever the config says
}

FamilySpec qwen2()
{
    FamilySpec s = llamaLike("qwen2");
    s.maxPositionEmbeddings = 32768;
    s.numKvHeadsWhenAbsent = 32;
    s.qkvBias = {{}, true}; // always q/k/v biases, none on o_proj
    s.windowLayers = WindowLayers::FromLayer;
    s.windowWhenAbsent = 4096;
    return s;
}

FamilySpec qwen3()
{
    FamilySpec s = llamaLike("qwen3");
    s.maxPositionEmbeddings = 32768;
    s.numKvHeadsWhenAbsent = 32;
    s.headDimWhenAbsent = 128;
    s.qkvBias = s.outBias = {"attention_bias", false};
    s.windowLayers = WindowLayers::FromLayer;
    s.windowWhenAbsent = 4096;
    s.qNorm = "layers.{i}.self_attn.q_norm";
    s.kNorm = "layers.{i}.self_attn.k_norm";
    return s;
}

FamilySpec gemma(const std::string& type)
{
    FamilySpec s = llamaLike(type);
    s.maxPositionEmbeddings = 8192;
    s.numKvHeadsWhenAbsent = type == "gemma2" ? 4 : 16;
    s.headDimWhenAbsent = 256;
    s.bos = 2, s.eos = 1, s.pad = 0;
    s.tie = true;
    s.norm = NormKind::RmsUnitOffset;
    // "hidden_activation" is what Google's configs use for the tanh-approximated GELU the model was
    // trained with (their "hidden_act" says "gelu"); GemmaConfig still falls back to hidden_act.
    s.act = "gelu_pytorch_tanh";
    s.actKey = "hidden_activation";
    s.actFallbackKey = type == "gemma2" ? "" : "hidden_act";
    s.qkvBias = s.outBias = {"attention_bias", false};
    s.refused = {{"use_bidirectional_attention",
                  "bidirectional Gemma variants (use_bidirectional_attention) are not supported."}};
    s.scaleEmbedding = true;
    if (type == "gemma2") {
        s.windowLayers = WindowLayers::Even;
        s.windowWhenAbsent = 4096;
        s.queryPreAttnScalar = 256;
        s.attnSoftcap = 50.0;
        s.finalSoftcap = 30.0;
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
    s.maxPositionEmbeddings = 4096;
    s.bos = 1, s.eos = 32000, s.pad = 32000;
    s.eps = 1e-5;
    s.rotaryKey = "partial_rotary_factor";
    s.ropeScalingDefaultOnly = true; // Phi3Config accepts only the default and LongRoPE
    s.windowLayers = WindowLayers::All;
    s.qkv = QkvLayout::FusedConcat;
    s.qkvProj = "layers.{i}.self_attn.qkv_proj";
    s.mlp = MlpKind::GatedFused;
    s.gateUpProj = "layers.{i}.mlp.gate_up_proj";
    return s; // no biases
}

// Starcoder2: Llama's module names for attention and the norms, but LayerNorm with biases,
// biased projections (use_bias), and a plain c_fc/c_proj MLP.
FamilySpec starcoder2()
{
    FamilySpec s = llamaLike("starcoder2");
    s.maxPositionEmbeddings = 4096;
    s.numKvHeadsWhenAbsent = 2;
    s.bos = 50256, s.eos = 50256;
    s.tie = true;
    s.eps = 1e-5;
    s.epsKey = "norm_epsilon";
    s.act = "gelu_pytorch_tanh";
    s.norm = NormKind::Layer;
    s.qkvBias = s.outBias = s.mlpBias = {"use_bias", true};
    s.windowLayers = WindowLayers::All;
    s.mlp = MlpKind::Plain;
    s.gateProj.clear();
    s.upProj = "layers.{i}.mlp.c_fc";
    s.downProj = "layers.{i}.mlp.c_proj";
    return s;
}

FamilySpec gpt2()
{
    FamilySpec s;
    s.modelType = "gpt2";
    // GPT-2 spells the sizes its own way; its attribute_map also accepts the common names.
    s.hiddenKey = "n_embd";
    s.layersKey = "n_layer";
    s.headsKey = "n_head";
    s.positionsKey = "n_positions";
    s.ffnKey = "n_inner";
    s.ffnTimesHiddenWhenAbsent = 4;
    s.epsKey = "layer_norm_epsilon";
    s.actKey = "activation_function";
    s.maxPositionEmbeddings = 1024;
    s.bos = 50256, s.eos = 50256;
    s.tie = true;
    s.eps = 1e-5;
    s.act = "gelu_new";
    s.norm = NormKind::Layer;
    s.position = PositionKind::Learned;
    s.qkvBias = s.outBias = s.mlpBias = {{}, true};
    s.scaleAttnWeights = {"scale_attn_weights", true};
    s.scaleByInverseLayer = {"scale_attn_by_inverse_layer_idx", false};
    s.upcastAttn = {"reorder_and_upcast_attn", false};

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
    s.epsKey = "layer_norm_eps";
    s.bos = 0, s.eos = 2;
    s.eps = 1e-5;
    s.act = "gelu";
    s.norm = NormKind::Layer;
    s.ropeThetaLegacyKey = "rotary_emb_base";
    s.rotaryKey = "rotary_pct";
    s.rotaryDefault = 0.25;
    s.qkvBias = s.outBias = {"attention_bias", true};
    s.mlpBias = {{}, true};
    s.parallelResidual = {"use_parallel_residual", true};

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
    s.ffnKey = "ffn_dim";
    s.actKey = "activation_function";
    s.bos = 2, s.eos = 2, s.pad = 1;
    s.tie = true;
    s.eps = 1e-5; // nn.LayerNorm's default: OPTConfig has no eps
    s.act = "relu";
    s.norm = NormKind::Layer;
    s.position = PositionKind::Learned;
    s.qkvBias = s.outBias = s.mlpBias = {"enable_bias", true};
    s.normBefore = {"do_layer_norm_before", true};
    s.removeFinalNormKey = "_remove_final_layer_norm";
    s.normAffine = {"layer_norm_elementwise_affine", true};
    s.learnedOffset = 2; // OPTLearnedPositionalEmbedding
    s.wordEmbedProjKey = "word_embed_proj_dim";

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
    s.epsKey = "layer_norm_eps";
    s.maxPositionEmbeddings = 512;
    s.tie = true;
    s.eps = 1e-12;
    s.act = "gelu";
    s.norm = NormKind::Layer;
    s.position = PositionKind::Learned;
    s.causal = false;
    s.normBefore = {{}, false};
    s.qkvBias = s.outBias = s.mlpBias = {{}, true};
    s.typeVocabDefault = 2;
    s.absolutePositionsOnly = true;
    s.refused = {{"is_decoder", "causal " + type + " decoders (is_decoder) are not supported."}};

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
        s.pad = 0;
        s.lmHead = "cls.predictions.decoder";
        s.lmHeadBias = "cls.predictions.bias";
        s.lmHeadBiasAlt = "cls.predictions.decoder.bias";
        s.mlmDense = "cls.predictions.transform.dense";
        s.mlmNorm = "cls.predictions.transform.LayerNorm";
    } else {
        s.bos = 0, s.eos = 2, s.pad = 1;
        s.offsetFromPad = true; // create_position_ids_from_input_ids: positions count from padding_idx + 1
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

} // namespace

const std::vector<FamilySpec>& familyTable()
{
    static const std::vector<FamilySpec> rows = {
        llama(),         mistral(), qwen2(), qwen3(), gemma("gemma"),    gemma("gemma2"),
        phi3(),          gpt2(),    gptNeox(), opt(), bertLike("bert"), bertLike("roberta"),
        starcoder2(),
    };
    return rows;
}

const FamilySpec* findFamily(const std::string& modelType)
{
    for (const FamilySpec& s : familyTable())
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
