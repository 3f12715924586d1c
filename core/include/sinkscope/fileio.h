// SPDX-License-Identifier: GPL-3.0-or-later
// The one place where the core touches files: every input goes through one checked open (a
// regular file, a size limit per kind, never blocking on a FIFO), every output is written
// atomically, and a multi-file result is staged and published all or nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sinkscope {

/// Size limits of the files the program reads, in bytes. Each lies far above the largest real
/// file of its kind and far below what would exhaust memory; a larger file is refused before a
/// byte of it is read (docs/RELIABILITY.md).
namespace limits {
constexpr uint64_t kConfigBytes = 16ull << 20;     ///< config.json, tokenizer_config.json
constexpr uint64_t kIndexBytes = 64ull << 20;      ///< model.safetensors.index.json
constexpr uint64_t kTokenizerBytes = 256ull << 20; ///< tokenizer.json (the largest public ones are ~35 MB)
constexpr uint64_t kRefBytes = 4096;               ///< refs/main of a Hugging Face cache entry
constexpr uint64_t kPromptBytes = 4ull << 20;      ///< one prompt: --prompt, --text-file, one line of --prompts
constexpr uint64_t kPromptFileBytes = 256ull << 20; ///< a prompt-set file (--prompts)
constexpr uint64_t kNpyBytes = 64ull << 30;        ///< a .npy file read back
constexpr uint64_t kSessionBytes = 64ull << 30;    ///< a saved session (captures of every run)
constexpr uint64_t kShardBytes = 64ull << 30;      ///< shard_runs.bin of analyze --shard (per-prompt metrics)
} // namespace limits

/// What kind of file a read is for: it names the file in messages and picks the size limit.
struct FileKind {
    const char* what;  ///< "config file", "tokenizer file", ... (used as "The <what> PATH ...")
    uint64_t maxBytes; ///< refuse larger files
};
namespace files {
constexpr FileKind kConfig{"config file", limits::kConfigBytes};
constexpr FileKind kTokenizerConfig{"tokenizer configuration", limits::kConfigBytes};
constexpr FileKind kIndex{"shard index", limits::kIndexBytes};
constexpr FileKind kTokenizer{"tokenizer file", limits::kTokenizerBytes};
constexpr FileKind kRef{"cache reference", limits::kRefBytes};
constexpr FileKind kText{"text file", limits::kPromptBytes};
constexpr FileKind kPrompts{"prompt file", limits::kPromptFileBytes};
constexpr FileKind kNpy{".npy file", limits::kNpyBytes};
constexpr FileKind kSession{"session file", limits::kSessionBytes};
constexpr FileKind kShardData{"shard data file", limits::kShardBytes};
constexpr FileKind kShardInfo{"shard description", limits::kConfigBytes};
constexpr FileKind kWeights{"weight file", uint64_t(1) << 62}; ///< memory-mapped, not read whole
constexpr FileKind kAny{"file", uint64_t(1) << 62};
} // namespace files

/// "a folder", "a FIFO (named pipe)", "a character device", "a block device", "a socket",
/// "a regular file" or "a special file" for a stat mode.
std::string fileTypeName(unsigned mode);

/// Checks that `path` names an existing regular file (symbolic links followed) of at most
/// kind.maxBytes and returns its size. Never opens it, so a FIFO or a device cannot block or
/// react. Throws Error(Io) with a message naming the path and what it is instead: empty path,
/// missing, a symbolic link loop, "exists but is a FIFO (named pipe), not a regular file", too large.
uint64_t checkRegularFile(const std::string& path, const FileKind& kind);

/// Like checkRegularFile for a folder ("exists but is a regular file, not a folder"). `what`
/// names it ("model folder"). Throws Error(Io).
void checkFolder(const std::string& path, const std::string& what);

/// Reads a whole regular file through the checked open: stat, then open with O_NONBLOCK (a file
/// swapped for a FIFO in between cannot block), fstat again, read at most kind.maxBytes (a file
/// that grows while it is read is refused, not followed). Throws Error(Io) naming the file.
std::string readFile(const std::string& path, const FileKind& kind = files::kAny);

/// Opens a regular file read-only through the checked open (as readFile) and returns the
/// descriptor (the caller closes it); for files that are memory-mapped. Throws Error(Io).
int openRegularFile(const std::string& path, const FileKind& kind);

/// True when `path` exists in any form (a dangling link counts); for "optional file" checks that
/// must then go through readFile so that a FIFO is reported rather than skipped.
bool pathExists(const std::string& path);

/// Writes one file atomically: a temporary file beside the target, flushed and checked, then
/// renamed over it. A crash or a full disk leaves the previous file (or none), never a short one.
class AtomicFileWriter {
public:
    /// Opens the temporary file. Throws Error(Io) "Could not write PATH: why.".
    explicit AtomicFileWriter(const std::string& path);
    ~AtomicFileWriter(); ///< an uncommitted writer removes its temporary file
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    /// Appends bytes. Throws Error(Io).
    void write(const char* data, std::size_t size);
    /// Flushes, checks and renames into place. Throws Error(Io).
    void commit();

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// Writes bytes to `path` atomically (AtomicFileWriter). Throws Error(Io).
void writeFileAtomically(const std::string& path, const std::string& bytes);

/// What publishing a result folder does when the target already holds files.
enum class ExistingOutput {
    Refuse, ///< an absent or empty target is filled; a non-empty one is an error (nothing is touched)
    Replace ///< the target is replaced as a whole (the old folder is removed after the swap)
};

/// A multi-file result written all or nothing: files go into a hidden staging folder beside the
/// target, and publish() puts the whole folder in place with one rename (an atomic exchange when
/// replacing). The target never holds a mix of two results. An unpublished staging folder is
/// removed when this object is destroyed.
class StagedFolder {
public:
    /// Checks the target (an existing non-folder, or a non-empty folder under Refuse, is an
    /// Error(Io) before anything is written) and creates the staging folder beside it.
    StagedFolder(const std::string& target, ExistingOutput policy);
    ~StagedFolder();
    StagedFolder(const StagedFolder&) = delete;
    StagedFolder& operator=(const StagedFolder&) = delete;

    /// Path of `name` inside the staging folder (for writers that take a path).
    std::string path(const std::string& name) const;
    /// Writes one file into the staging folder. Throws Error(Io).
    void write(const std::string& name, const std::string& bytes);
    /// Puts the staged folder in place. Throws Error(Io); on failure the target is unchanged.
    void publish();

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// Checks, before any work, that `target` may receive a result under `policy` (the same check
/// StagedFolder makes). Throws Error(Io).
void checkOutputFolder(const std::string& target, ExistingOutput policy);

/// Test hook: the named step of StagedFolder::publish fails as if the file system refused it
/// ("" = none). Steps: "stage" (writing a file), "swap" (the rename into place), "cleanup"
/// (removing the replaced folder, which must not fail the publish).
void setPublishFaultForTesting(const std::string& step);

} // namespace sinkscope
