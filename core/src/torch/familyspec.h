// SPDX-License-Identifier: GPL-3.0-or-later
// Model families as data: one table row per config.json model_type drives the one generic
// transformer in transformer.cpp. Adding a family is a row here plus a test. What varies with the
// config rather than the family (norm kind, pre/post-LN, parallel residual, biases, windows,
// soft-caps, position offsets) lives in ModelConfig.
#pragma once

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

/// Tensor names and switches of one family. Names are relative to the checkpoint prefix (one of
/// `prefixes`, detected from the embedding) unless marked absolute; "{i}" stands for the layer.
/// A weight name has no ".weight"/".bias": the loader adds them. Empty: the family has no such part.
struct FamilySpec {
    std::string modelType;
    std::vector<std::string> prefixes; ///< candidates, most usual first

    std::string embedTokens;   ///< token embedding matrix (full tensor name without prefix)
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

    bool scaleEmbedding = false;     ///< gemma: embeddings times sqrt(hidden) in the model dtype
    bool paddingAwarePositions = false; ///< roberta: pads get padding_idx, others count from padding_idx + 1
    bool mlmExactGelu = false;       ///< roberta: the MLM transform uses erf GELU whatever hidden_act says
};

/// The row for `modelType`, or nullptr when the family is not supported.
const FamilySpec* findFamily(const std::string& modelType);

/// Replaces "{i}" by the layer index.
std::string layerName(const std::string& pattern, int layer);

} // namespace sinkscope::detail
