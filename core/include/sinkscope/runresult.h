// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/tokenizer.h"

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace sinkscope {

/// Row-major float matrix, the layout of every map we hand out (row = query, column = key).
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// What the views and exports need to know about the model that produced a result.
struct ModelInfo {
    std::string name;      ///< folder name (or demo model name)
    std::string dir;       ///< folder it was loaded from
    std::string modelType; ///< config.json model_type
    int layers = 0;
    int heads = 0;
    int kvHeads = 0;
    int headDim = 0;
    int hiddenSize = 0;
    int vocabSize = 0;
    int maxPositions = 0;
    std::string position = "rope";    ///< rope | learned | none | alibi
    std::string attention = "causal"; ///< causal | bidirectional
    bool synthetic = false;           ///< a generated demo model, not a trained one
};

/// What to run.
struct RunRequest {
    std::string text;             ///< UTF-8 prompt (used when `useIds` is false)
    std::vector<int32_t> ids;     ///< explicit ids, run exactly as given (no BOS added)
    bool useIds = false;
    BosPolicy bos = BosPolicy::Auto;
    bool captureAttention = true; ///< keep all L x H x T x T probabilities
    bool captureLogits = true;    ///< keep the [T, vocab] logits
};

/// Immutable outcome of one forward pass; shared between threads as shared_ptr<const RunResult>.
struct RunResult {
    uint64_t requestId = 0;
    ModelInfo model;
    std::string device;   ///< "cpu" or "cuda:0"
    std::string dtype;    ///< compute dtype of the matmuls: "float32", "bfloat16", ...
    Encoding encoding;    ///< tokens the model saw, and whether BOS was added
    int64_t tokens = 0;   ///< T
    double runMs = 0.0;   ///< wall time of the forward pass including captures

    std::vector<float> attention; ///< [layers, heads, T, T] probabilities, empty when not captured
    std::vector<float> logits;    ///< [T, vocab], empty when not captured
    RowMatrixXf firstTokenMass;   ///< [layers, heads]: mean over queries t >= 1 of A[l,h,t,0] (0 when T == 1)

    bool hasAttention() const { return !attention.empty(); }
    /// One head's T x T map (row = query, column = key). Requires hasAttention().
    Eigen::Map<const RowMatrixXf> attentionMap(int layer, int head) const;
};

/// mean over t >= 1 of A[t, 0] for a T x T map (0 when T < 2).
float firstTokenMassOf(const Eigen::Ref<const RowMatrixXf>& map);

} // namespace sinkscope
