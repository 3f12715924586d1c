// SPDX-License-Identifier: GPL-3.0-or-later
// Comparing two runs (two prompts, two models, BOS on and off, a control applied or not): which
// positions correspond, and the difference of one head's attention over them.
#pragma once

#include "sinkscope/runresult.h"

#include <string>

namespace sinkscope {

/// Which positions of runs A and B are compared: A's [offsetA, offsetA + length) against B's
/// [offsetB, offsetB + length).
struct RunAlignment {
    int offsetA = 0;
    int offsetB = 0;
    int length = 0;
    /// "same tokens", "end" (the shorter run's tokens are the longer one's last ones, e.g. BOS on
    /// vs off) or "start" (the common length from the first position).
    std::string rule;
};

/// Aligns two token-id sequences: identical ones position by position; when the shorter one is
/// a suffix of the longer (a BOS added in one run only), by their ends; otherwise from the start
/// over min(T_A, T_B) positions.
RunAlignment alignRuns(const std::vector<int32_t>& idsA, const std::vector<int32_t>& idsB);

/// D = A_B - A_A for one head over the aligned positions: D(q, k) = map_B(offsetB + q, offsetB + k)
/// - map_A(offsetA + q, offsetA + k), [length, length]. Requires both runs to make maps and the
/// layer/head to exist in both. Throws Error(InvalidArgument) otherwise.
RowMatrixXf attentionDifference(const RunResult& a, const RunResult& b, const RunAlignment& alignment, int layer,
                                int head);

} // namespace sinkscope
