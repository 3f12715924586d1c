// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/fileio.h"
#include "sinkscope/runresult.h"

#include <string>
#include <vector>

namespace sinkscope {

/// The run.json document of the CLI contract (see docs/CLI.md): model facts, device, dtype,
/// bos_added, tokens [{id, text, piece, start, end, special}], first_token_mass [layers][heads].
std::string runJsonText(const RunResult& result);

/// Arrays `saveRun` can write next to run.json.
enum class SaveItem { Attention, Logits, Hidden, Values, QK };

/// Parses a comma list of attention, logits, hidden, values, qk (empty = nothing). Throws Error(InvalidArgument) naming an unknown item.
std::vector<SaveItem> parseSaveList(const std::string& text);

/// Writes OUTDIR/run.json and one .npy per item: attention.npy [L,H,T,T] (probabilities),
/// logits.npy [T,V], hidden.npy [L+1,T,D] ([0] the embedding stage's output, [l+1] the residual
/// stream after block l), values.npy [L,H_kv,T,hd], qk.npy [2,L,H,T,hd] (post-position-encoding
/// q and k, k repeated per query head).
/// All or nothing (StagedFolder): the files are staged beside OUTDIR and published as one folder
/// only when every one was written; on failure OUTDIR is unchanged. A non-empty OUTDIR is refused
/// unless `existing` is Replace (then it is replaced as a whole, so no file of an older run stays
/// beside the new run.json). Throws Error(Io|InvalidArgument).
void saveRun(const RunResult& result, const std::string& outDir, const std::vector<SaveItem>& items,
             ExistingOutput existing = ExistingOutput::Refuse);

} // namespace sinkscope
