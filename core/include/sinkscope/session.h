// SPDX-License-Identifier: GPL-3.0-or-later
// Session files: one file holding the runs on screen (model reference, prompt, settings, the
// summaries and captures every view redraws from), reopened without the model. Format in
// docs/SESSION.md: a fixed header, a JSON manifest, then little-endian float32 blobs.
#pragma once

#include "sinkscope/runresult.h"
#include "sinkscope/tokenizer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sinkscope {

/// Where a model came from, as recorded in sessions and figure sidecars.
struct ModelReference {
    std::string path;     ///< absolute folder the model was loaded from
    std::string hfRepo;   ///< "org/name" when `path` is a Hugging Face cache snapshot, else ""
    std::string hfRevision; ///< the snapshot's folder name (the commit hash), else ""
};

/// Describes a model folder: for `.../models--ORG--NAME/snapshots/REV[/]` the repo ORG/NAME and
/// revision REV (the Hugging Face hub cache layout); otherwise only the path. Pure string work:
/// the folder need not exist.
ModelReference describeModelFolder(const std::string& dir);

/// One run kept in a session.
struct SessionRun {
    std::string label;          ///< "" for the main run; the side's name in a comparison ("A", "B")
    ModelReference model;
    std::string prompt;         ///< the prompt text ("" when the run was given explicit ids)
    BosPolicy bos = BosPolicy::Auto; ///< the BOS policy the run was asked with
    std::shared_ptr<const RunResult> result; ///< never null in a loaded session
};

/// The two sides of the Compare view when a view put both of them (CompareView::setPair, e.g.
/// the run before a control and the run with it): indices into Session::runs. Their runs' labels
/// are the pair's labels. Side A may be the main run (a = 0) or a run of its own.
struct SessionPair {
    int a = 0; ///< index of side A in Session::runs
    int b = 1; ///< index of side B in Session::runs (the program writes 1, see docs/SESSION.md)
};

/// Everything a session file holds.
struct Session {
    /// The newest format version this build writes and reads.
    static constexpr int kFormatVersion = 1;

    std::vector<SessionRun> runs; ///< at least one; runs[0] is the main run
    /// The Compare view's pair; nullopt when Compare shows the main run as A and runs[1] (when
    /// present) as B. When set, a and b are different indices into `runs`.
    std::optional<SessionPair> pair;
    std::string view;             ///< the registered name of the view on screen ("" = default)
    int layer = 0, head = 0;      ///< the selection
    int query = -1, key = -1;     ///< -1 = none selected
    /// Settings of the program and its views as one JSON object's text ("{}" when none); the
    /// loader checks that it is a JSON object and otherwise leaves it to its writer.
    std::string settingsJson = "{}";
    std::string appVersion;       ///< the program that wrote it (set by saveSession)
    std::string created;          ///< UTC time of writing, ISO 8601 (set by saveSession)
};

/// The Compare view's sides of `session`, A then B: the pair's runs when it has a pair, else
/// runs[0] and runs[1]; only runs[0] when it holds one run and no pair.
std::vector<SessionRun> comparedRuns(const Session& session);

/// What saveSession keeps of each run's captures (the summaries are always kept).
struct SessionSaveOptions {
    bool attentionMaps = true; ///< stored [L,H,T,T] maps (when the run has them); without them maps are recomputed from Q/K
    bool logits = true;        ///< [T, vocab] logits (when the run has them)
};

/// Writes `session` to `path` atomically (a temporary file renamed into place). Sets the file's
/// app version and time. Throws Error(InvalidArgument) for an empty session, a pair whose sides
/// are not two different runs of it, or a run whose captures do not match its model's dimensions, Error(Io) when the file cannot be written.
void saveSession(const Session& session, const std::string& path, const SessionSaveOptions& options = {});

/// The bytes saveSession would write (for tests and size estimates).
std::string encodeSession(const Session& session, const SessionSaveOptions& options = {});

/// Reads a session file. Every size, offset and shape is checked before use; the data checksum is
/// verified. Throws Error(Io) when the file cannot be read, Error(Format) for a file that is not a
/// session, truncated or corrupt, Error(Unsupported) for a newer format version, each naming the file.
Session loadSession(const std::string& path);

/// Decodes session bytes (as loadSession; `source` names them in messages).
Session decodeSession(const std::string& bytes, const std::string& source);

} // namespace sinkscope
