// SPDX-License-Identifier: GPL-3.0-or-later
// The per-query and per-key summaries of one block of attention probabilities, in one pass over
// the block, and the norms of the heads' value vectors through W_O (host memory, no torch: the
// forward pass calls them per head on the CPU).
#pragma once

#include <cstdint>

namespace sinkscope::detail {

/// Summaries of one head's probabilities p [rows, keys] (row-major, contiguous; each row one
/// softmax over `keys` >= 1 keys). For every row r:
///   entropy[r] = -sum_k p[r,k] ln p[r,k] (natural log; terms with p < FLT_MIN, i.e. zeros of
///                masked keys and subnormals, count 0), summed in fp64 and rounded to fp32 once;
///   first[r]   = p[r, 0];
/// and for every key k: columns[k] += sum_r p[r,k], in fp64.
/// entropy and first have `rows` entries, columns `keys`; any of them may be null (not computed).
/// `simd` false forces the portable scalar code; true uses AVX2 where the CPU has it.
void summarizeProbabilityBlock(const float* p, int64_t rows, int64_t keys, float* entropy, float* first,
                               double* columns, bool simd = true);

/// ||v_t W|| for `rows` vectors v_t of hd floats (the t-th at v + t * stride) as sqrt(v_t G v_t^T),
/// with G = W W^T [hd, hd] (fp64, row-major, symmetric): out[t], in fp64 (a sum that rounding
/// makes negative counts as 0) and rounded to fp32 once. `simd` as for summarizeProbabilityBlock.
void gramNorms(const float* v, int64_t rows, int64_t stride, const double* gram, int64_t hd, float* out,
               bool simd = true);

/// Whether summarizeProbabilityBlock and gramNorms (simd = true) run vectorised code on this CPU.
bool probabilityBlockSimd();

} // namespace sinkscope::detail
