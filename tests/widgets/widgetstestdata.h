// SPDX-License-Identifier: GPL-3.0-or-later
// Hand-built run results for the widget tests: no model, no tokenizer files.
#pragma once

#include "sinkscope/runresult.h"

#include <memory>
#include <string>

namespace sinkscope {
class View;
class CurrentResult;
}

namespace sinkscope::test {

struct CannedRun {
    int layers = 3;
    int heads = 4;
    int tokens = 6;
    std::string attention = "causal"; ///< causal | bidirectional
    bool withAttention = true;
    bool bosAdded = true;
    /// Multiplies key 0's weight in every row (layers >= 1): strong sinks with waiver scores.
    double sinkBoost = 1.0;
    /// Values [L, H, T, 8]: element 0 tiny (|v| = 0.01 × the others' pattern), see valueAt().
    bool withValues = false;
    /// Hidden states [L+1, T, 8H]: small values, plus hidden[2][0][3] = 5000 when L >= 2.
    bool withHidden = false;
};

/// The value v[l, g, t, d] that makeCannedRun stores.
float cannedValue(int layer, int kvHead, int element, int dim);
/// The hidden-state entry h[s, t, d] that makeCannedRun stores.
float cannedHidden(int state, int element, int dim);

/// A result whose every head has a different, exactly known map: row q of head (l, h) is a
/// normalised ramp over the keys it may see (k <= q when causal), with extra weight on key 0
/// that grows with the layer. The causal upper triangle is exactly 0. firstTokenMass is derived
/// from the maps the same way the engine does it.
std::shared_ptr<RunResult> makeCannedRun(const CannedRun& spec);

/// Shows `run` in `current` and waits (QSignalSpy, no sleeps) until its analysis is delivered;
/// false when it failed or took more than 10 s.
bool showAnalysed(CurrentResult& current, std::shared_ptr<const RunResult> run);

/// A view that draws a job's outcome (the controls view) gets one made of `run`, without a model:
/// a block:1 whose before and after are both `run` (costs 0). No-op for other views.
void giveCannedJobResult(View* view, std::shared_ptr<const RunResult> run);

/// Tokens "<s>", "·The", "·cat", ",", "·sat", "↵", … (BOS special, offsets into a prompt).
Encoding makeCannedEncoding(int tokens, bool bosAdded);

} // namespace sinkscope::test
