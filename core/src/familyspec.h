// SPDX-License-Identifier: GPL-3.0-or-later
// Model families as data. One FamilySpec row per config.json model_type carries everything that
// differs between families: the config key spellings and the defaults of the Hugging Face
// configuration class (read by the generic ModelConfig::fromJson), the switches of the forward
// pass, and the tensor names (read by the generic transformer in src/torch). No torch and no Qt
// here, so both the config reader (sinkscope_base) and the forward pass (sinkscope_model) use it.
// Adding a family is one row in familyspec.cpp plus its reference test (docs/ARCHITECTURE.md).
#pragma once

#include "sinkscope/modelconfig.h"

#include <optional>
#include <string>
#include <vector>

namespace sinkscope::detail {

/// How q, k and v are stored.
enum class QkvLayout {
    Separate,     ///< q_proj, k_proj, v_proj
    FusedConcat,  ///< one [q | k | v] projection (phi3 qkv_proj; gpt2 c_attn, as Conv1D)
    FusedPerHead, ///< one projection laid out per head as [H, 3, head_dim] (gpt_neox query_key_value)
};

/// How the MLP is built.
enum class MlpKind {
    Gated,      ///< down(act(gate x) * up x)
    GatedFused, ///< the same with gate and up stored as one [gate | up] matrix (phi3 gate_up_proj)
    Plain,      ///< fc2(act(fc1 x))
};

/// Which layers use the sliding window.
enum class WindowLayers {
    None,      ///< the family has no sliding window
    All,       ///< every layer (mistral, phi3, starcoder2)
    FromLayer, ///< only with "use_sliding_window": layers >= "max_window_layers" or "layer_types" (qwen2, qwen3)
    Even,      ///< layers 0, 2, 4, ... unless "layer_types" says otherwise (gemma2)
};

/// A boolean the family either fixes or reads from config.json: `key` empty means `value` always,
/// otherwise the key's value with `value` as the default when absent or null.
struct BoolSwitch {
    std::string key;
    bool value = false;
};

/// A config flag whose `true` the build refuses with `message` (Error(Unsupported), context `key`).
struct RefusedFlag {
    std::string key;
    std::string message;
};

/// One family. Tensor names are relative to the checkpoint prefix (one of `prefixes`, detected
/// from the embedding) unless marked absolute; "{i}" stands for the layer. A weight name has no
/// ".weight"/".bias": the loader adds them. An empty name: the family has no such part.
struct FamilySpec {
    std::string modelType;

    // ---- config.json: key spellings (a family's own spelling wins; the common one is accepted too)
    std::string hiddenKey = "hidden_size";
    std::string layersKey = "num_hidden_layers";
    std::string headsKey = "num_attention_heads";
    std::string positionsKey = "max_position_embeddings";
    std::string ffnKey = "intermediate_size";
    int ffnTimesHiddenWhenAbsent = 0;  ///< 0: ffnKey is required; else absent/null means this * hidden (gpt2 n_inner)
    std::string epsKey;                ///< empty: the eps is fixed (OPT's nn.LayerNorm default)
    std::string actKey = "hidden_act";
    std::string actFallbackKey;        ///< read when actKey is absent (gemma: hidden_activation, then hidden_act)

    // ---- config.json: defaults of the HF configuration class
    int maxPositionEmbeddings = 2048;
    bool gqa = false;                  ///< reads num_key_value_heads and head_dim (else one KV head per query head)
    std::optional<int> numKvHeadsWhenAbsent; ///< nullopt: same as the query heads
    std::optional<int> headDimWhenAbsent;    ///< nullopt: hidden / heads
    std::optional<int> bos, eos, pad;
    bool tie = false;
    double eps = 1e-6;
    std::string act = "silu";

    // ---- structure and the switches read from config.json
    NormKind norm = NormKind::Rms;
    PositionKind position = PositionKind::Rope;
    bool causal = true;                ///< false: bidirectional encoder
    BoolSwitch normBefore{{}, true};   ///< pre-LN (opt do_layer_norm_before; encoders: post-LN)
    std::string removeFinalNormKey;    ///< opt _remove_final_layer_norm
    BoolSwitch normAffine{{}, true};   ///< opt layer_norm_elementwise_affine
    BoolSwitch parallelResidual{{}, false}; ///< gpt_neox use_parallel_residual
    BoolSwitch qkvBias, outBias, mlpBias;   ///< biases as the HF modules create them
    BoolSwitch scaleAttnWeights{{}, true};  ///< gpt2 scale_attn_weights
    BoolSwitch scaleByInverseLayer;         ///< gpt2 scale_attn_by_inverse_layer_idx
    BoolSwitch upcastAttn;                  ///< gpt2 reorder_and_upcast_attn
    std::string ropeThetaLegacyKey;    ///< read when "rope_theta" is absent (gpt_neox rotary_emb_base)
    std::string rotaryKey;             ///< partial rotary fraction key (gpt_neox rotary_pct, phi3 partial_rotary_factor)
    double rotaryDefault = 1.0;
    bool ropeScalingDefaultOnly = false; ///< phi3: only the default kind (and LongRoPE, which is refused)
    WindowLayers windowLayers = WindowLayers::None;
    std::optional<int> windowWhenAbsent; ///< "sliding_window" absent (null always means none)
    std::optional<double> queryPreAttnScalar; ///< gemma2: read "query_pre_attn_scalar" with this default
    std::optional<double> attnSoftcap;   ///< gemma2: read "attn_logit_softcapping" (null: none)
    std::optional<double> finalSoftcap;  ///< gemma2: read "final_logit_softcapping" (null: none)
    int learnedOffset = 0;             ///< opt: positions + 2, and the table has 2 rows more than max_position_embeddings
    bool offsetFromPad = false;        ///< roberta: positions count from pad_token_id + 1 (required)
    std::string wordEmbedProjKey;      ///< opt word_embed_proj_dim (default hidden)
    int typeVocabDefault = 0;          ///< encoders: "type_vocab_size" (0: no token types)
    bool absolutePositionsOnly = false; ///< encoders: "position_embedding_type" must be "absolute"
    std::vector<RefusedFlag> refused;  ///< flags whose true value names a variant this build cannot run

    // ---- tensor names
    std::vector<std::string> prefixes; ///< candidates, most usual first
    std::string embedTokens;   ///< token embedding matrix
    std::string positionTable; ///< learned absolute positions
    std::string tokenTypeTable; ///< token-type embeddings (type 0 is added)
    std::string embedNorm;     ///< norm after the embedding sum (bert, roberta)
    std::string projectIn, projectOut; ///< opt word_embed_proj_dim != hidden_size
    std::string finalNorm;
    std::string lmHead;        ///< absolute; absent from the checkpoint: tied to embedTokens
    std::string lmHeadBias;    ///< absolute tensor name(s), first found: MLM decoder bias
    std::string lmHeadBiasAlt;
    std::string mlmDense, mlmNorm; ///< absolute: the MLM head's transform; absent: no logits

    std::string attnNorm;      ///< pre-LN: before attention; post-LN: after attention + residual
    std::string mlpNorm;       ///< pre-LN: before the MLP; post-LN: after MLP + residual
    std::string attnOutNorm, mlpOutNorm; ///< gemma2: on the sub-layer outputs before the residual add
    QkvLayout qkv = QkvLayout::Separate;
    std::string qProj, kProj, vProj; ///< Separate
    std::string qkvProj;       ///< fused layouts
    std::string oProj;
    std::string qNorm, kNorm;  ///< qwen3: RMSNorm over each head's q and k before RoPE
    bool conv1d = false;       ///< gpt2: projection weights stored [in, out]
    MlpKind mlp = MlpKind::Gated;
    std::string gateProj, upProj, gateUpProj, downProj; ///< Plain: upProj = fc1, downProj = fc2

    // ---- forward-pass switches that are fixed per family
    bool scaleEmbedding = false;     ///< gemma: embeddings times sqrt(hidden) in the model dtype
    bool paddingAwarePositions = false; ///< roberta: pads get padding_idx, others count from padding_idx + 1
    bool mlmExactGelu = false;       ///< roberta: the MLM transform uses erf GELU whatever hidden_act says
};

/// The row for `modelType`, or nullptr when the family is not supported.
const FamilySpec* findFamily(const std::string& modelType);

/// Every row, in the order supportedModelTypes() lists them.
const std::vector<FamilySpec>& familyTable();

/// Replaces "{i}" by the layer index.
std::string layerName(const std::string& pattern, int layer);

} // namespace sinkscope::detail
