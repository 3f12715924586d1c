// SPDX-License-Identifier: GPL-3.0-or-later
// The one place where a head's attention logits and probabilities are formed from the kept Q and
// K on the host: RunResult::attentionRows / attentionLogitRows and the screen-resolution binning
// (sinkscope/mapbins.h) both call it, so the map, the hover value and the drawn blocks are the same
// floats. x86-64 machines with AVX2 and FMA get a packed micro-kernel and a vectorised exp,
// chosen at run time (the build itself targets the baseline ISA); other machines use Eigen.
#pragma once

#include "sinkscope/runresult.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sinkscope::mapkernel {

/// One head's inputs: q [T, hd] of the query head, k [T, hd] of its KV head (row-major), the
/// layer's recipe and the optional additive bias [T, T] of an intervention.
struct HeadQK {
    const float* q = nullptr;
    const float* k = nullptr;
    int64_t tokens = 0;
    int64_t headDim = 0;
    AttentionRecipe recipe;
    const float* maskBias = nullptr;
};

/// The head of `r` as HeadQK. Throws Error(InvalidArgument) without Q/K or for a head outside the model.
HeadQK headOf(const RunResult& r, int layer, int head);

/// Keys [s0, s1) visible to query t (causal mask and sliding window): masked keys lie outside.
inline void visibleKeys(const AttentionRecipe& recipe, int64_t tokens, int64_t t, int64_t* s0, int64_t* s1)
{
    *s0 = recipe.window > 0 ? std::max<int64_t>(0, t - recipe.window + 1) : 0;
    *s1 = recipe.causal ? t + 1 : tokens;
}

/// K transposed into panels of 16 keys ([ceil(T/16)][hd][16], zero padded), built once per head.
class PackedKeys
{
public:
    explicit PackedKeys(const HeadQK& head);
    const float* panel(int64_t p) const { return m_data.data() + p * m_panelSize; }
    bool packed() const { return !m_data.empty(); }

private:
    std::vector<float> m_data;
    int64_t m_panelSize = 0;
};

/// Padded row stride (a multiple of 16) for buffers that logitRows writes.
inline int64_t paddedStride(int64_t cols) { return (cols + 15) / 16 * 16; }

/// Logits of queries [t0, t0 + n) for keys [0, cols) into out (row stride ld >= paddedStride(cols)):
/// scale * q.k, soft-capped, plus the bias; keys outside visibleKeys are -inf. cols must cover
/// every visible key of these rows (T, or t0 + n for a causal recipe).
void logitRows(const HeadQK& head, const PackedKeys& keys, int64_t t0, int64_t n, int64_t cols, float* out, int64_t ld);

/// In place: row[s0, s1) (logits) becomes softmax probabilities over those keys; a row whose keys
/// are all -inf becomes zeros. Entries outside [s0, s1) are not touched.
void softmaxRow(float* row, int64_t s0, int64_t s1);

/// softmaxRow without its last step: row[s0, s1) becomes exp(row - row max) and the return value is
/// the factor (1 / sum) that turns them into the probabilities softmaxRow gives, bit for bit; a row
/// whose keys are all -inf becomes zeros and returns 0.
float softmaxRowUnscaled(float* row, int64_t s0, int64_t s1);

/// Largest element of x[0, n) (-inf for n = 0; NaN entries are ignored).
float maxOf(const float* x, int64_t n);

/// Threads the host map computations use by default: up to 4, at most the hardware's.
int defaultThreads();

} // namespace sinkscope::mapkernel
