// SPDX-License-Identifier: GPL-3.0-or-later
// One head's attention map at a requested resolution: the heatmap draws a long prompt's map from
// this, never from a T x T matrix. Definitions: docs/METRICS.md, "Binned head maps".
#pragma once

#include "sinkscope/runresult.h"

#include <Eigen/Core>

#include <atomic>
#include <cstdint>
#include <vector>

namespace sinkscope {

/// What the cells of a binned map hold.
enum class MapQuantity {
    Probabilities, ///< softmax probabilities A[t, s]
    Logits,        ///< pre-softmax logits (scaled, soft-capped, plus any mask bias); needs Q/K
};

/// The request: which cells, how coarsely, and in which quantity.
struct MapBinning {
    MapQuantity quantity = MapQuantity::Probabilities;
    /// Each row scaled to its own range over its visible keys: probabilities / row maximum,
    /// logits (v - row min) / (row max - row min) (1 when the row is constant).
    bool rowNormalised = false;
    /// Window of queries [q0, q1) x keys [k0, k1); q1 / k1 = -1 mean T.
    int64_t q0 = 0, q1 = -1, k0 = 0, k1 = -1;
    /// Cells per bin along queries and keys (>= 1); the last bin of each axis may be partial.
    int binQueries = 1, binKeys = 1;
    /// Also the whole-map statistics of MapBins (a pass over every query row, not just the window).
    bool wholeMap = true;
    /// Also MapBins::mean (false: `mean` is left empty, and the pass does less per cell).
    bool means = true;
    /// Percentile sample size: every ceil(T*T / sampleCells)-th cell in row-major order.
    int64_t sampleCells = int64_t(1) << 20;
    /// Worker threads; 0: the default (up to 4, at most the hardware's).
    int threads = 0;
    /// When set (by another thread), the pass stops after the current block of rows and
    /// binAttentionMap throws Error(Cancelled). Null: not cancellable.
    const std::atomic<bool>* cancel = nullptr;
};

/// A head's map binned: `max` and `mean` are [ceil((q1-q0)/binQueries), ceil((k1-k0)/binKeys)]
/// (row = query bin), the maximum and the mean of the value (quantity, row-normalised if asked)
/// over the bin's visible cells (keys not masked by the recipe, finite values); NaN for a bin with
/// none. Bin (i, j) covers queries [q0 + i*binQueries, min(q0 + (i+1)*binQueries, q1)) and keys
/// likewise. With wholeMap, the statistics below cover every visible cell of the T x T map.
struct MapBins {
    int64_t tokens = 0;
    int64_t q0 = 0, q1 = 0, k0 = 0, k1 = 0;
    int binQueries = 1, binKeys = 1;
    RowMatrixXf max;  ///< [query bins, key bins]
    RowMatrixXf mean; ///< [query bins, key bins]; empty unless MapBinning::means

    bool hasWholeMap = false;
    /// [T] sum_t A[t, k] / T of the probabilities (analysis::receivedShare of the full map).
    Eigen::VectorXf share;
    /// [T] per key over its visible cells: max, min and smallest positive value (NaN, NaN, +inf
    /// for a key with none).
    Eigen::VectorXf columnMax, columnMin, columnMinPositive;
    /// Values of the visible cells at flat indices c = t*T + s with c % sampleStride == 0, and
    /// their key s (sampleKey[i] belongs to sample[i]); order unspecified.
    std::vector<float> sample;
    std::vector<int32_t> sampleKey;
    int64_t sampleStride = 1;
};

/// Bins one head's map of `run`: from its stored maps when it has them (Logits then still need
/// Q/K), else recomputed from Q/K with the layer's AttentionRecipe and the run's mask bias, the
/// same floats as RunResult::attentionRows. Works through query rows in blocks on `threads`
/// threads, in memory O(threads * block * T), skipping the keys a causal recipe masks.
/// Throws Error(InvalidArgument) for a head outside the model, a window outside 0..T, bins < 1,
/// or a quantity the run cannot give; Error(Cancelled) when binning.cancel was set.
MapBins binAttentionMap(const RunResult& run, int layer, int head, const MapBinning& binning);

} // namespace sinkscope
