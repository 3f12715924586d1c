// SPDX-License-Identifier: GPL-3.0-or-later
// Tiny random checkpoints of every supported family, with the exact Hugging Face tensor names and
// config.json keys, and an independent double-precision reference forward pass for each, written
// from the HF module definitions with plain loops (no torch, nothing shared with the core).
#pragma once

#include "tinymodels.h"

#include <QString>

#include <cstdint>
#include <string>
#include <vector>

namespace sinkscope::test {

/// A tiny model of one family. Fields a family does not have are ignored for it.
struct TinyFamilySpec {
    std::string modelType = "gpt2"; ///< llama mistral qwen2 qwen3 gemma gemma2 phi3 gpt2 gpt_neox opt bert roberta starcoder2
    int layers = 2;
    int hidden = 16;
    int heads = 4;
    int kvHeads = 4;           ///< GQA families only
    int headDim = 0;           ///< 0: hidden / heads; else written as "head_dim" (GQA families)
    int ffn = 24;
    int vocab = 40;
    int maxPositions = 32;     ///< max_position_embeddings / n_positions
    double eps = 1e-5;
    double ropeTheta = 10000.0;
    double rotaryFraction = 1.0; ///< gpt_neox rotary_pct, phi3 partial_rotary_factor
    bool tied = true;          ///< no separate output matrix in the checkpoint
    std::string prefix = "default"; ///< "default": the family's usual (HF *ForCausalLM / *ForMaskedLM) prefix
    bool attnBias = false;     ///< llama/qwen3/gemma attention_bias, gpt_neox attention_bias, opt enable_bias, starcoder2 use_bias
    bool parallelResidual = true; ///< gpt_neox use_parallel_residual
    bool normBefore = true;    ///< opt do_layer_norm_before
    bool normAffine = true;    ///< opt layer_norm_elementwise_affine (false: no LayerNorm tensors)
    int wordEmbedProjDim = 0;  ///< opt word_embed_proj_dim (0: hidden)
    bool mlmHead = true;       ///< bert/roberta: write cls.predictions.* / lm_head.*
    bool legacyNormNames = false; ///< bert: LayerNorm.gamma/.beta as in old TF-converted checkpoints
    int typeVocab = 2;         ///< bert/roberta type_vocab_size
    int padTokenId = 1;        ///< roberta padding_idx
    double attnSoftcap = 50.0; ///< gemma2 (0: null)
    double finalSoftcap = 30.0; ///< gemma2 (0: null)
    double queryPreAttnScalar = 0; ///< gemma2 (0: head_dim)
    int slidingWindow = 0;     ///< mistral/phi3/starcoder2 all layers, qwen2/qwen3 from windowFromLayer, gemma2 even layers
    int windowFromLayer = 0;   ///< qwen2/qwen3 max_window_layers
    bool scaleByInverseLayer = false; ///< gpt2 scale_attn_by_inverse_layer_idx
    bool upcastAttn = false;   ///< gpt2 reorder_and_upcast_attn (same numbers, q.k in fp32)
    std::string act;           ///< "": the family's default activation
    uint32_t seed = 1;
    float scale = 1.0f;        ///< weights ~ U(-scale, scale) / sqrt(fan_in)
};

/// Resolved defaults: head_dim, the checkpoint prefix, the activation.
int tinyHeadDim(const TinyFamilySpec& s);
std::string tinyPrefix(const TinyFamilySpec& s);
std::string tinyActivation(const TinyFamilySpec& s);
/// Row of the learned position table for position p (OPT + 2, RoBERTa + padding_idx + 1).
int tinyPositionRow(const TinyFamilySpec& s, int p);
/// Name of the learned position table (empty for RoPE families).
std::string tinyPositionTable(const TinyFamilySpec& s);
/// Name of the input embedding matrix.
std::string tinyEmbeddingName(const TinyFamilySpec& s);
/// Name of the separate output matrix when untied.
std::string tinyOutputName(const TinyFamilySpec& s);

/// Random weights for `spec` (deterministic in spec.seed), named as in HF checkpoints.
TinyWeights makeTinyWeights(const TinyFamilySpec& spec);
/// The config.json text for `spec`.
std::string tinyConfigJson(const TinyFamilySpec& spec);
/// Writes config.json and model.safetensors into `dir` (created).
void writeTinyModel(const QString& dir, const TinyFamilySpec& spec, const TinyWeights& weights);

/// What the reference computes. Logits are empty for an encoder without its MLM head.
struct FamilyReference {
    std::vector<double> attention; ///< [L][H][T][T]
    std::vector<double> logits;    ///< [T][V]
    std::vector<double> hidden;    ///< [L+1][T][D]: embedding output, then after each block
    std::vector<double> values;    ///< [L][Hkv][T][hd]
    std::vector<double> scales;    ///< [L]: factor on q.k
};

/// The reference forward pass. `positions` (size T) replaces the family's default position ids
/// (0..T-1 before any table offset; RoBERTa: the padding-aware count) when not empty.
FamilyReference referenceFamilyForward(const TinyFamilySpec& spec, const TinyWeights& w,
                                       const std::vector<int32_t>& ids, const std::vector<int64_t>& positions = {});

} // namespace sinkscope::test
