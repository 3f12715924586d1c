// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/runresult.h"

#include <vector>

namespace sinkscope {

/// Per-layer summary of the attention mass on the first element, across heads.
struct LayerSinkStats {
    std::vector<double> mean; ///< [layers]: mean over heads of firstTokenMass[l, h]
    std::vector<double> std;  ///< [layers]: population standard deviation over heads (divides by H)
};

/// Mean and population standard deviation (sum of squared deviations / H, not H - 1) over the
/// heads of each layer of a [layers, heads] matrix. The heads of a layer are the whole
/// population being described, not a sample of a larger one, hence the population form.
/// A matrix with zero heads gives zeros.
LayerSinkStats layerSinkStats(const RowMatrixXf& firstTokenMass);

} // namespace sinkscope
