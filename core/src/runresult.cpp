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


void checkRows(const RunResult& r, int64_t first, int64_t count)
{
    if (first < 0 || count < 0 || first + count > r.tokens)
        throw Error(ErrorCode::InvalidArgument, "Rows " + std::to_string(first) + ".." + std::to_string(first + count)
                                                    + " are outside the " + std::to_string(r.tokens) + " queries.");
}

} // namespace

RowMatrixXf RunResult::attentionLogitRows(int layer, int head, int64_t first, int64_t count) const
{
    checkHead(*this, layer, head);
    checkRows(*this, first, count);
    if (queries.empty() || keys.empty())
        throw Error(ErrorCode::InvalidArgument, "This run kept neither the attention maps nor Q and K.");
    const int64_t T = tokens, hd = queries.size(3);
    const int64_t group = model.heads / std::max(1, model.kvHeads);
    const AttentionRecipe recipe = size_t(layer) < recipes.size() ? recipes[size_t(layer)] : AttentionRecipe{};
    const Eigen::Map<const RowMatrixXf> q(queries.at({layer, head}) + first * hd, count, hd);
    const Eigen::Map<const RowMatrixXf> k(keys.at({layer, head / group}), T, hd);
    const float ninf = -std::numeric_limits<float>::infinity();
    // A causal block's keys end at its last query; the products after that are masked anyway.
    const int64_t computed = recipe.causal ? first + count : T;
    RowMatrixXf logits(count, T);
    // Straight into the result (no temporary for the product), then scaled.
    logits.leftCols(computed).noalias() = q * k.topRows(computed).transpose();
    logits.leftCols(computed) *= float(recipe.scale);
    logits.rightCols(T - computed).setConstant(ninf);
    for (int64_t i = 0; i < count; ++i) {
        const int64_t t = first + i;
        float* row = logits.row(i).data();
        if (recipe.softcap > 0 || !maskBias.empty())
            for (int64_t s = 0; s < computed; ++s) {
                float& v = row[s];
                if (recipe.softcap > 0)
                    v = float(recipe.softcap * std::tanh(double(v) / recipe.softcap));
                if (!maskBias.empty())
                    v += maskBias[size_t(t * T + s)];
            }
        // Masked keys: after the query (causal) and at or beyond the window behind it.
        for (int64_t s = recipe.causal ? t + 1 : computed; s < computed; ++s)
            row[s] = ninf;
        if (recipe.window > 0)
            for (int64_t s = 0; s <= t - recipe.window && s < computed; ++s)
                row[s] = ninf;
    }
    return logits;
}

RowMatrixXf RunResult::attentionRows(int layer, int head, int64_t first, int64_t count) const
{
    checkHead(*this, layer, head);
    checkRows(*this, first, count);
    const int64_t T = tokens;
    if (hasAttention())
        return Eigen::Map<const RowMatrixXf>(attention.data() + ((int64_t(layer) * model.heads + head) * T * T), T, T)
            .middleRows(first, count);
    RowMatrixXf p = attentionLogitRows(layer, head, first, count);
    const bool causal = size_t(layer) < recipes.size() ? recipes[size_t(layer)].causal : true;
    for (int64_t t = 0; t < count; ++t) {
        // A causal row's keys after the query are -inf: exactly 0 after the softmax, so only the
        // prefix up to the query is exponentiated.
        const int64_t keys = causal ? first + t + 1 : T;
        auto row = p.row(t).head(keys);
        p.row(t).tail(T - keys).setZero();
        const float mx = row.maxCoeff();
        if (!std::isfinite(mx)) {
            row.setZero(); // a fully masked row (cannot happen with a causal mask)
            continue;
        }
        row = (row.array() - mx).exp().matrix();
        row /= row.sum();
    }
    return p;
}

int64_t RunResult::mapBlockRows() const
{
    return std::max<int64_t>(16, (int64_t(4) << 20) / std::max<int64_t>(1, tokens));
}

RowMatrixXf RunResult::attentionLogits(int layer, int head) const
{
    return attentionLogitRows(layer, head, 0, tokens);
}

RowMatrixXf RunResult::attentionMap(int layer, int head) const
{
    checkHead(*this, layer, head);
    const int64_t T = tokens;
    if (hasAttention())
        return Eigen::Map<const RowMatrixXf>(attention.data() + ((int64_t(layer) * model.heads + head) * T * T), T, T);
    // Block by block: the logits of one block at a time beside the result.
    RowMatrixXf map(T, T);
    const int64_t rows = mapBlockRows();
    for (int64_t t0 = 0; t0 < T; t0 += rows) {
        const int64_t n = std::min(rows, T - t0);
        map.middleRows(t0, n) = attentionRows(layer, head, t0, n);
    }
    return map;
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
