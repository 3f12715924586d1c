// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/runresult.h"

#include "sinkscope/error.h"

#include <cmath>
#include <limits>

namespace sinkscope {

const float* Tensor::at(std::initializer_list<int64_t> idx) const
{
    if (idx.size() > shape.size())
        throw Error(ErrorCode::InvalidArgument, "Too many indices for a captured tensor.");
    int64_t offset = 0;
    size_t d = 0;
    for (int64_t i : idx) {
        if (i < 0 || i >= shape[d])
            throw Error(ErrorCode::InvalidArgument, "Index " + std::to_string(i) + " is outside a captured tensor.");
        offset = offset * shape[d] + i;
        ++d;
    }
    for (; d < shape.size(); ++d)
        offset *= shape[d];
    return data.data() + offset;
}

namespace {

void checkHead(const RunResult& r, int layer, int head)
{
    if (layer < 0 || layer >= r.model.layers || head < 0 || head >= r.model.heads)
        throw Error(ErrorCode::InvalidArgument, "Layer " + std::to_string(layer) + ", head " + std::to_string(head)
                                                    + " is outside the model.");
}

} // namespace

RowMatrixXf RunResult::attentionLogits(int layer, int head) const
{
    checkHead(*this, layer, head);
    if (queries.empty() || keys.empty())
        throw Error(ErrorCode::InvalidArgument, "This run kept neither the attention maps nor Q and K.");
    const int64_t T = tokens, hd = queries.size(3);
    const int64_t group = model.heads / std::max(1, model.kvHeads);
    const AttentionRecipe recipe = size_t(layer) < recipes.size() ? recipes[size_t(layer)] : AttentionRecipe{};
    const Eigen::Map<const RowMatrixXf> q(queries.at({layer, head}), T, hd);
    const Eigen::Map<const RowMatrixXf> k(keys.at({layer, head / group}), T, hd);
    RowMatrixXf logits = (q * k.transpose()) * float(recipe.scale);
    const float ninf = -std::numeric_limits<float>::infinity();
    for (int64_t t = 0; t < T; ++t)
        for (int64_t s = 0; s < T; ++s) {
            float& v = logits(t, s);
            if (recipe.softcap > 0)
                v = float(recipe.softcap * std::tanh(double(v) / recipe.softcap));
            if (!maskBias.empty())
                v += maskBias[size_t(t * T + s)];
            if ((recipe.causal && s > t) || (recipe.window > 0 && t - s >= recipe.window))
                v = ninf;
        }
    return logits;
}

RowMatrixXf RunResult::attentionMap(int layer, int head) const
{
    checkHead(*this, layer, head);
    const int64_t T = tokens;
    if (hasAttention())
        return Eigen::Map<const RowMatrixXf>(attention.data() + ((int64_t(layer) * model.heads + head) * T * T), T, T);
    RowMatrixXf p = attentionLogits(layer, head);
    for (int64_t t = 0; t < T; ++t) {
        const float mx = p.row(t).maxCoeff();
        if (!std::isfinite(mx)) {
            p.row(t).setZero(); // a fully masked row (cannot happen with a causal mask)
            continue;
        }
        p.row(t) = (p.row(t).array() - mx).exp().matrix();
        p.row(t) /= p.row(t).sum();
    }
    return p;
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
