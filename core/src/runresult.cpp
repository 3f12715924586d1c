// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/runresult.h"

#include "sinkscope/error.h"

#include "analysis/mapkernel.h"

#include <cmath>
#include <limits>
#include <vector>

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
    const mapkernel::HeadQK h = mapkernel::headOf(*this, layer, head);
    const int64_t T = tokens;
    // A causal block's keys end at its last query; the products after that are masked anyway.
    const int64_t computed = h.recipe.causal ? first + count : T;
    const int64_t ld = mapkernel::paddedStride(computed);
    std::vector<float> buffer(size_t(std::max<int64_t>(count, 1) * ld));
    mapkernel::logitRows(h, mapkernel::PackedKeys(h), first, count, computed, buffer.data(), ld);
    RowMatrixXf logits(count, T);
    logits.rightCols(T - computed).setConstant(-std::numeric_limits<float>::infinity());
    for (int64_t i = 0; i < count; ++i)
        std::copy_n(buffer.data() + i * ld, computed, logits.row(i).data());
    return logits;
}

AttentionRecipe RunResult::recipe(int layer) const
{
    if (layer >= 0 && size_t(layer) < recipes.size())
        return recipes[size_t(layer)];
    AttentionRecipe r;
    r.causal = model.attention != "bidirectional";
    return r;
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
    const AttentionRecipe recipe = this->recipe(layer);
    for (int64_t i = 0; i < count; ++i) {
        // Masked keys are exactly 0 after the softmax; only the visible ones are exponentiated.
        int64_t s0 = 0, s1 = 0;
        mapkernel::visibleKeys(recipe, T, first + i, &s0, &s1);
        float* row = p.row(i).data();
        mapkernel::softmaxRow(row, s0, s1);
        std::fill(row, row + s0, 0.0f);
        std::fill(row + std::max(s0, s1), row + T, 0.0f);
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
