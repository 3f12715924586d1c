// SPDX-License-Identifier: GPL-3.0-or-later
// The prompt-set job: every prompt of a set tokenized with the loaded model's tokenizer,
// optionally truncated to T tokens, run once and analysed (analysis::analyzeRun); the metrics are
// grouped by T and averaged per group. `sinkscope-cli analyze` runs it on a Model, the GUI on the
// engine thread; both write the same metrics folder (metricsio).
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/jobs.h"
#include "sinkscope/metricsio.h"

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace sinkscope::analysis {

/// Settings of a prompt set.
struct PromptSetSettings {
    BosPolicy bos = BosPolicy::Auto;
    int64_t length = 0;       ///< truncate every prompt to T tokens (shorter ones are skipped); 0: group by T
    Options options;
    /// true: the first prompt the model refuses ends the job with that error (the CLI);
    /// false: it is recorded as an issue and the set goes on (the GUI).
    bool stopOnFailure = false;
    /// Prompts of equal length run together, at most this many per [B, T] forward pass
    /// (JobContext::runBatch); 1 runs them one by one. The metrics are per prompt either way.
    int batchSize = 8;
};

/// What happened to one prompt, as it happens (for live messages). Tokenization outcomes come in
/// set order; analysed prompts come batch by batch, grouped by length.
struct PromptEvent {
    enum class Kind { Analysed, TooShort, Failed } kind = Kind::Analysed;
    size_t index = 0;        ///< 0-based index into the set's prompts
    size_t count = 0;        ///< prompts in the set
    size_t done = 0;         ///< prompts settled so far, this one included (progress: done of count)
    int line = 0;            ///< the prompt's line (0: a single prompt)
    int64_t tokens = 0;      ///< its token count (before truncation for TooShort)
    std::string message;     ///< Failed: the error
};

/// The outcome of a prompt set: complete, or what was done before a cancel.
struct PromptSetResult : JobResult {
    int total = 0;                        ///< usable prompts of the set
    bool cancelled = false;
    std::vector<PromptRun> runs;          ///< per-prompt metrics, in set order
    std::vector<size_t> promptIndex;      ///< per entry of runs: its 0-based index into the set's prompts
    std::vector<PromptIssue> issues;      ///< the set's bad lines, then prompts that could not be used
    std::vector<std::string> notes;       ///< what the job changed on its way (a failed batch run again one by one)
    LengthGroups groups;                  ///< runs by T
    std::map<int64_t, RunMetrics> means;      ///< per T: mean over the group
    std::map<int64_t, MetricsSpread> spreads; ///< per T: population std over the group
    MetricsReport report;                 ///< model, device, dtype, settings (for metrics.json)
    std::shared_ptr<const RunResult> single; ///< the run itself when the set has exactly one prompt
};

/// Runs a parsed prompt set. The set's own issues are copied into the result's issues.
class PromptSetJob final : public Job {
public:
    /// `onEvent`, when given, is called on the job's thread after each prompt.
    PromptSetJob(PromptSet set, PromptSetSettings settings, std::function<void(const PromptEvent&)> onEvent = {});
    std::string name() const override { return "prompt set"; }
    /// Throws Error(InvalidArgument) when the set is empty, k >= T, the batch size is below 1 or
    /// the model has no tokenizer;
    /// a cancel ends it with a partial result (cancelled = true) instead of an error.
    std::shared_ptr<const JobResult> execute(JobContext& context) override;

private:
    PromptSet m_set;
    PromptSetSettings m_settings;
    std::function<void(const PromptEvent&)> m_onEvent;
};

} // namespace sinkscope::analysis
