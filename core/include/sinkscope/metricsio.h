// SPDX-License-Identifier: GPL-3.0-or-later
// metrics.json and the CSV tables of the analysis layer (keys and columns in docs/METRICS.md),
// shared by `sinkscope-cli analyze` and the GUI's prompt-set results. Prompts of different
// lengths are never averaged together: they are grouped by T.
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/fileio.h"
#include "sinkscope/runresult.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sinkscope::analysis {

/// The metrics of one prompt of a prompt set with where it came from.
struct PromptRun {
    int line = 0;                    ///< 1-based line in the prompt file (0: a single prompt)
    std::string text;
    std::vector<std::string> tokens; ///< display strings of the elements
    RunMetrics metrics;
};

/// Prompt runs grouped by their length T (indices into the run list, in order).
struct LengthGroups {
    std::map<int64_t, std::vector<size_t>> groups;
    int64_t mainLength = 0; ///< the largest group's T (ties: the longer T); 0 when there are no runs
};
/// Groups runs by metrics.tokens.
LengthGroups groupByLength(const std::vector<PromptRun>& runs);

/// What metrics.json says about where the numbers come from.
struct MetricsReport {
    ModelInfo model;
    std::string device, dtype;
    std::string bos = "auto";  ///< BOS policy name
    int64_t length = 0;        ///< the T prompts were truncated to; 0 = not truncated
    Options options;
    bool promptSet = false;    ///< from a prompt file: std, per_prompt and per_prompt.csv are written
    bool singlePrompt = false; ///< exactly one prompt: its tokens label the tables
    /// per_prompt entries keep the tensors that grow with T (the [L, H, T] tables, the sink curve,
    /// per-dimension statistics); off: they hold what grows with L x H only (docs/METRICS.md)
    bool perPromptTensors = false;
    std::string runJson;       ///< written as run.json when not empty
};

/// Every file of a metrics folder, name -> bytes: metrics.json (the top level holds the main
/// length group; with several lengths every group is under "groups") and one CSV file per table.
/// `mainOut`, when given, receives the main group's mean metrics. Throws Error(InvalidArgument)
/// for an empty run list.
std::map<std::string, std::string> metricsFiles(const std::vector<PromptRun>& runs, const MetricsReport& report,
                                                RunMetrics* mainOut = nullptr);

/// Writes the files as the folder `outDir`, all or nothing (StagedFolder): staged beside it and
/// published as a whole only when every one was written. A non-empty `outDir` is refused unless
/// `existing` is Replace, which replaces the folder as a whole. Throws Error(Io).
void writeMetricsFolder(const std::string& outDir, const std::map<std::string, std::string>& files,
                        ExistingOutput existing = ExistingOutput::Refuse);

} // namespace sinkscope::analysis
