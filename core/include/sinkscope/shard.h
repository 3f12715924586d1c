// SPDX-License-Identifier: GPL-3.0-or-later
// Shards of a prompt-set analysis (docs/CLUSTER.md): `analyze --shard I/N` analyses the prompts
// k with k mod N == I (0-based I) and writes a shard folder; `merge` reads N shard folders and
// rebuilds, from the per-prompt metrics in global prompt order, exactly the metrics folder one
// unsharded analyze would have written (the same metricsFiles call on the same PromptRuns).
#pragma once

#include "sinkscope/metricsio.h"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace sinkscope::analysis {

/// "I/N" of --shard: slice `index` (0-based) of `count` interleaved slices.
struct ShardSpec {
    int index = 0;
    int count = 1;
};

/// Parses "I/N": two whole decimal numbers, N >= 1, 0 <= I < N. Throws Error(InvalidArgument)
/// naming what is wrong ("the shard count N must be at least 1", "shard 3/3 does not exist: ...").
ShardSpec parseShardSpec(const std::string& text);

/// The 0-based prompt indices of a shard among `prompts` prompts: I, I + N, I + 2N, ... (empty
/// when I >= prompts).
std::vector<size_t> shardMembers(size_t prompts, const ShardSpec& shard);

/// Everything merge needs from one shard, as written by shardFiles and read by readShardFolder.
struct ShardOutput {
    ShardSpec shard;
    std::string promptFile;            ///< the prompt file's name as given to analyze (for messages)
    std::string promptSha256;          ///< SHA-256 (hex) of the prompt file's bytes
    int promptCount = 0;               ///< usable prompts of the whole file (PromptSet::prompts)
    std::vector<size_t> members;       ///< the global prompt indices of this shard (shardMembers)
    std::vector<size_t> runIndices;    ///< per entry of `runs`: its global prompt index (ascending)
    std::vector<PromptRun> runs;       ///< the analysed prompts of this shard, in global order
    /// model, device, dtype and settings as metrics.json states them (singlePrompt for the whole
    /// file); runJson only in the shard that holds the one prompt of a one-prompt file
    MetricsReport report;
};

/// The files of a shard folder, name -> bytes: "shard.json" (identity and settings, readable)
/// and "shard_runs.bin" (the report and every PromptRun, floats bit for bit; docs/CLUSTER.md).
std::map<std::string, std::string> shardFiles(const ShardOutput& shard);

/// Reads a shard folder written from shardFiles. Throws Error(Format) naming the folder when it
/// is not a shard output (no shard.json, another format, a damaged or truncated shard_runs.bin,
/// shard.json and shard_runs.bin disagreeing), Error(Io) when it cannot be read.
ShardOutput readShardFolder(const std::string& dir);

/// The prompt runs of all shards in global prompt order, with the report of the unsharded run.
struct MergedShards {
    std::vector<PromptRun> runs;
    MetricsReport report;
    size_t prompts = 0;                ///< usable prompts of the file (runs may be fewer: skipped ones)
};

/// Combines one complete set of shards (any order). `names` name the folders in messages (same
/// order as `shards`). Throws Error(InvalidArgument) for: no shards, a duplicate shard, a missing
/// shard, shards of different N, of different prompt files (hash or count), of different models,
/// or of different settings (device, dtype, BOS, length, k, epsilon, thresholds, per-prompt
/// tensors); and when no prompt was analysed at all (as analyze refuses such a set).
MergedShards mergeShards(const std::vector<ShardOutput>& shards, const std::vector<std::string>& names);

} // namespace sinkscope::analysis
