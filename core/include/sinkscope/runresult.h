// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/modeldimensions.h"
#include "sinkscope/tokens.h"

#include <Eigen/Core>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace sinkscope {

/// Row-major float matrix, the layout of every map we hand out (row = query, column = key).
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// What the views and exports need to know about the model that produced a result.
struct ModelInfo : ModelDimensions {
    std::string name;      ///< "org/name" for a Hugging Face cache entry, else the folder name (or demo model name)
    std::string dir;       ///< the folder config.json was read from (a cache entry resolved to its snapshot)
    std::string modelType; ///< config.json model_type
    std::string position = "rope";    ///< rope | learned | none | alibi
    std::string attention = "causal"; ///< causal | bidirectional
    bool synthetic = false;           ///< a generated demo model, not a trained one
    std::vector<std::string> notes;   ///< things the user should know about the load (ignored tensors, ...)
};

/// A float32 array with its shape, row-major. Empty (no shape) when not captured.
struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
    bool empty() const { return data.empty(); }
    int64_t size(int dim) const { return shape.at(size_t(dim)); }
    /// Pointer to the first element of index prefix `idx` (e.g. {layer, head} of [L, H, T, d]).
    const float* at(std::initializer_list<int64_t> idx) const;
};

/// How one layer's attention logits are formed, so that any head's map can be recomputed from
/// the captured post-position-encoding Q and K without the model (identical to the forward pass).
struct AttentionRecipe {
    double scale = 1.0;      ///< logits = scale * q . k
    double softcap = 0.0;    ///< > 0: logits = softcap * tanh(logits / softcap) (gemma2)
    bool causal = true;      ///< mask keys after the query
    int window = 0;          ///< > 0: also mask keys with t - s >= window (sliding window)
};

/// Interventions applied inside the forward pass (hooks; the classification views use them).
struct Interventions {
    /// Replace the position ids (size T) used by RoPE / learned positions. Empty: 0..T-1.
    std::vector<int64_t> positionIds;
    /// Added to every layer's attention logits before softmax: [T, T] row-major (use -inf to
    /// block a key). Empty: none.
    std::vector<float> maskBias;
    /// Overwrite hidden dimensions at the input of a layer (the residual stream entering it).
    struct DimOverwrite {
        int layer = 0;      ///< 0..L (L: the stream leaving the last block, before the final norm)
        int dim = 0;
        int token = -1;     ///< -1: every token
        float value = 0.0f;
    };
    std::vector<DimOverwrite> dims;
    /// Overwrite one token's whole hidden state at the input of a layer.
    struct TokenOverwrite {
        int layer = 0;
        int token = 0;
        std::vector<float> hidden; ///< size D
    };
    std::vector<TokenOverwrite> tokens;
    bool any() const { return !positionIds.empty() || !maskBias.empty() || !dims.empty() || !tokens.empty(); }
};

/// What to run.
struct RunRequest {
    std::string text;             ///< UTF-8 prompt (used when `useIds` is false)
    std::vector<int32_t> ids;     ///< explicit ids, run exactly as given (no BOS added)
    bool useIds = false;
    BosPolicy bos = BosPolicy::Auto;
    bool captureAttention = true; ///< keep all L x H x T x T probabilities (after a memory estimate)
    /// With captureAttention: keep them only when all of them take at most this many bytes (0: no
    /// limit). A longer prompt's run keeps none (hasAttention() false) and every map is recomputed
    /// per head from Q and K, as captureAttention = false gives. kInteractiveMapBytes is the
    /// GUI's and `sinkscope-cli figure`'s limit.
    int64_t keepAttentionUpTo = 0;
    static constexpr int64_t kInteractiveMapBytes = int64_t(256) << 20;
    bool captureLogits = true;    ///< keep the [T, vocab] logits
    bool captureHidden = true;    ///< residual stream [L+1, T, D]
    bool captureQK = true;        ///< post-position-encoding Q [L,H,T,hd] and K [L,Hkv,T,hd] (needed for maps on demand)
    bool captureValues = true;    ///< V [L, Hkv, T, hd]
    bool captureHeadOutputs = false; ///< per-head A.V before o_proj [L, H, T, hd]
    bool computeSummaries = true; ///< the O(L.H.T) summaries; off only to time the bare forward pass
    /// Query rows per attention block of the forward pass (0: chosen so that one block of
    /// probabilities stays near 16 MiB). Results do not depend on it beyond fp32 rounding.
    int64_t attentionBlockRows = 0;
    Interventions interventions;
};

/// Immutable outcome of one forward pass; shared between threads as shared_ptr<const RunResult>.
struct RunResult {
    uint64_t requestId = 0;
    ModelInfo model;
    std::string device;   ///< "cpu" or "cuda:0"
    std::string dtype;    ///< compute dtype of the matmuls: "float32", "bfloat16", ...
    int threads = 0;      ///< CPU intra-op threads the pass ran with (sinkscope/threads.h)
    Encoding encoding;    ///< tokens the model saw, and whether BOS was added
    int64_t tokens = 0;   ///< T
    double runMs = 0.0;   ///< wall time of the forward pass including captures

    std::vector<float> attention; ///< [layers, heads, T, T] probabilities, empty when not captured
    std::vector<float> logits;    ///< [T, vocab], empty when not captured
    Tensor hidden;                ///< [L+1, T, D]: [0] embedding output, [l+1] after block l
    Tensor queries;               ///< [L, H, T, hd] post-position-encoding
    Tensor keys;                  ///< [L, Hkv, T, hd] post-position-encoding
    Tensor values;                ///< [L, Hkv, T, hd]
    Tensor headOutputs;           ///< [L, H, T, hd] A.V per head, before the output projection
    std::vector<AttentionRecipe> recipes; ///< per layer
    std::vector<float> maskBias;  ///< [T, T] the intervention's additive logit bias, when one was used

    // Summaries, always computed on the device during the pass (O(L.H.T)):
    RowMatrixXf firstTokenMass;   ///< [layers, heads]: mean over queries t >= 1 of A[l,h,t,0] (0 when T == 1)
    Tensor firstMassPerQuery;     ///< [L, H, T]: A[l,h,t,0]
    Tensor received;              ///< [L, H, T]: alpha_k = mean over queries t that can see k of A[t,k] (Gu et al.)
    Tensor entropy;               ///< [L, H, T]: row entropy of A[t,:] in nats
    Tensor valueNorms;            ///< [L, Hkv, T]: ||v_j||
    Tensor contributionNorms;     ///< [L, H, T]: ||v_j W_O^h|| (the element's output through head h)
    Tensor writtenNorms;          ///< [L, H, T]: sum over queries t of ||A[t,j] v_j W_O^h||

    bool hasAttention() const { return !attention.empty(); }
    /// Layer `layer`'s recipe; a run without recipes (none kept) gets the defaults with the
    /// model's causality (ModelInfo::attention). What every recomputed map and mask uses.
    AttentionRecipe recipe(int layer) const;
    /// True when maps can be produced: stored, or recomputable from Q/K.
    bool canMakeMaps() const { return hasAttention() || (!queries.empty() && !keys.empty()); }
    /// One head's T x T probabilities (row = query, column = key): the stored map, or recomputed
    /// from Q/K with the layer's recipe (fp32, same as the forward pass up to rounding).
    RowMatrixXf attentionMap(int layer, int head) const;
    /// One head's T x T logits (scaled, soft-capped, masked entries -inf). Requires Q/K.
    RowMatrixXf attentionLogits(int layer, int head) const;
    /// Rows [first, first + count) of one head's map: [count, T], the same numbers attentionMap has
    /// there. Recomputed from Q/K it needs memory for these rows only, so a long prompt's map can
    /// be walked block by block (the analysis does; views can aggregate blocks for drawing).
    /// Throws Error(InvalidArgument) for a head outside the model or rows outside 0..T.
    RowMatrixXf attentionRows(int layer, int head, int64_t first, int64_t count) const;
    /// Rows [first, first + count) of attentionLogits: [count, T].
    RowMatrixXf attentionLogitRows(int layer, int head, int64_t first, int64_t count) const;
    /// Query rows per block when walking maps with attentionRows: about 16 MiB of fp32 per block.
    int64_t mapBlockRows() const;
};

/// mean over t >= 1 of A[t, 0] for a T x T map (0 when T < 2).
float firstTokenMassOf(const Eigen::Ref<const RowMatrixXf>& map);

} // namespace sinkscope
