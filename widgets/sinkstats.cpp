// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkstats.h"

#include <cmath>

namespace sinkscope {

LayerSinkStats layerSinkStats(const RowMatrixXf& firstTokenMass)
{
    const Eigen::Index layers = firstTokenMass.rows();
    const Eigen::Index heads = firstTokenMass.cols();
    LayerSinkStats out;
    out.mean.assign(size_t(layers), 0.0);
    out.std.assign(size_t(layers), 0.0);
    if (heads == 0)
        return out;
    for (Eigen::Index l = 0; l < layers; ++l) {
        // Two passes in double: the values are in [0, 1] and H is small, but the one-pass
        // E[x²] - E[x]² form loses the std entirely when all heads agree to float precision.
        double sum = 0.0;
        for (Eigen::Index h = 0; h < heads; ++h)
            sum += firstTokenMass(l, h);
        const double mean = sum / double(heads);
        double sq = 0.0;
        for (Eigen::Index h = 0; h < heads; ++h) {
            const double d = firstTokenMass(l, h) - mean;
            sq += d * d;
        }
        out.mean[size_t(l)] = mean;
        out.std[size_t(l)] = std::sqrt(sq / double(heads));
    }
    return out;
}

} // namespace sinkscope
