// SPDX-License-Identifier: GPL-3.0-or-later
// The shape of a loaded model, shared by ModelInfo (what a run reports) and RunMetrics (what an
// analysis of it reports), so the dimensions are copied as one value, not field by field.
#pragma once

namespace sinkscope {

/// Dimensions every capture of a run is laid out in ([L, H, T, hd], [L+1, T, D], ...).
struct ModelDimensions {
    int layers = 0;       ///< L
    int heads = 0;        ///< H, query heads per layer
    int kvHeads = 0;      ///< key/value heads per layer (== heads without grouped-query attention)
    int headDim = 0;      ///< hd
    int hiddenSize = 0;   ///< D, the residual stream width
    int vocabSize = 0;    ///< V
    int maxPositions = 0; ///< the longest input the model's positions allow

    ModelDimensions& dimensions() { return *this; }
    const ModelDimensions& dimensions() const { return *this; }
    bool operator==(const ModelDimensions& o) const
    {
        return layers == o.layers && heads == o.heads && kvHeads == o.kvHeads && headDim == o.headDim
            && hiddenSize == o.hiddenSize && vocabSize == o.vocabSize && maxPositions == o.maxPositions;
    }
    bool operator!=(const ModelDimensions& o) const { return !(*this == o); }
};

} // namespace sinkscope
