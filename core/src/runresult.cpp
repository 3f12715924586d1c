// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/runresult.h"

#include "sinkscope/error.h"

namespace sinkscope {

Eigen::Map<const RowMatrixXf> RunResult::attentionMap(int layer, int head) const
{
    if (!hasAttention())
        throw Error(ErrorCode::InvalidArgument, "This run did not capture attention maps.");
    if (layer < 0 || layer >= model.layers || head < 0 || head >= model.heads)
        throw Error(ErrorCode::InvalidArgument, "Layer " + std::to_string(layer) + ", head " + std::to_string(head)
                                                    + " is outside the model.");
    const int64_t T = tokens;
    const float* base = attention.data() + ((int64_t(layer) * model.heads + head) * T * T);
    return Eigen::Map<const RowMatrixXf>(base, T, T);
}

float firstTokenMassOf(const Eigen::Ref<const RowMatrixXf>& map)
{
    const Eigen::Index T = map.rows();
    if (T < 2)
        return 0.0f;
    // Row 0 always puts all its mass on element 0 in a causal model; it carries no information.
    double sum = 0.0;
    for (Eigen::Index t = 1; t < T; ++t)
        sum += map(t, 0);
    return float(sum / double(T - 1));
}

} // namespace sinkscope
