// SPDX-License-Identifier: GPL-3.0-or-later
// Small pieces the GUI benchmarks share: a run with random Q/K and nothing else, the process's
// CPU time and a median.
#pragma once

#include "sinkscope/runresult.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace sinkscope::bench {

/// A causal run of T tokens with standard-normal post-RoPE Q and K ([layers, heads, T, headDim],
/// one KV head per query head, drawn with `seed`), the 1/sqrt(headDim) recipe in every layer and
/// zero first-token masses: what a head map needs, nothing more.
inline std::shared_ptr<RunResult> syntheticQkRun(int T, int layers, int heads, int headDim, unsigned seed = 7)
{
    auto r = std::make_shared<RunResult>();
    r->model.name = "synthetic";
    r->model.attention = "causal";
    r->model.layers = layers;
    r->model.heads = heads;
    r->model.kvHeads = heads;
    r->model.headDim = headDim;
    r->tokens = T;
    r->encoding.tokens.resize(size_t(T));
    for (int i = 0; i < T; ++i) {
        r->encoding.tokens[size_t(i)].id = i % 100;
        r->encoding.tokens[size_t(i)].display = "t" + std::to_string(i % 100);
    }
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (Tensor* t : {&r->queries, &r->keys}) {
        t->shape = {layers, heads, T, headDim};
        t->data.resize(size_t(layers) * size_t(heads) * size_t(T) * size_t(headDim));
        for (float& v : t->data)
            v = n(rng);
    }
    AttentionRecipe recipe;
    recipe.scale = 1.0 / std::sqrt(double(headDim));
    r->recipes.assign(size_t(layers), recipe);
    r->firstTokenMass = RowMatrixXf::Zero(layers, heads);
    return r;
}

/// CPU time of the whole process (all threads) in ms: on a machine shared with other work the
/// wall time says how long the user waited, the CPU time how much work it was.
inline double processCpuMs()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3) + (double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3);
}

/// The upper median of v (NaN when empty).
inline double median(std::vector<double> v)
{
    if (v.empty())
        return std::nan("");
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace sinkscope::bench
