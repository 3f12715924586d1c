// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/safetensors.h"

#include <memory>
#include <string>
#include <vector>

namespace sinkscope {

/// One model snapshot in the local Hugging Face hub cache (models--ORG--NAME/snapshots/REV).
struct CachedModel {
    std::string repo;     ///< "org/name"
    std::string revision; ///< the snapshot folder's name (a commit hash)
    std::string path;     ///< the snapshot folder, which holds config.json
};

/// The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
std::string huggingFaceCacheDir();
/// Snapshots with a config.json under `cacheDir`, sorted by repo; newest snapshot first per repo.
std::vector<CachedModel> findCachedModels(const std::string& cacheDir = huggingFaceCacheDir());
/// "org/name" when `dir` is a cache entry (models--org--name) or one of its snapshots, else "".
std::string cachedRepoName(const std::string& dir);

/// The files of a Hugging Face model folder, located and checked for presence (not parsed).
struct ModelDirectory {
    std::string dir;                 ///< the folder holding config.json (a cache entry's snapshot, resolved)
    std::string name;                ///< "org/name" for a Hugging Face cache entry, else the name of the folder given
    std::string configPath;          ///< config.json
    std::string tokenizerPath;       ///< tokenizer.json ("" when absent)
    std::string tokenizerConfigPath; ///< tokenizer_config.json ("" when absent)
    std::vector<std::string> weightFiles; ///< *.safetensors, from the index when sharded
    std::string indexPath;           ///< model.safetensors.index.json ("" when not sharded)

    /// Locates the files in `dir`. Throws Error(Io) when the folder or config.json is missing, and
    /// Error(Unsupported) when the weights exist only as pickle files (*.bin, *.pt, *.pth, *.ckpt):
    /// those are never unpickled because unpickling can execute code.
    static ModelDirectory locate(const std::string& dir);
};

/// All tensors of a (possibly sharded) safetensors checkpoint, by name.
class Checkpoint {
public:
    /// Opens every weight file of `dir`; a sharded index must name only files that exist and
    /// every tensor it maps must be in the named shard. Throws Error(Io|Format|Unsupported).
    static Checkpoint open(const ModelDirectory& dir);

    Checkpoint(Checkpoint&&) noexcept;
    Checkpoint& operator=(Checkpoint&&) noexcept;
    ~Checkpoint();

    bool contains(const std::string& name) const;
    const TensorInfo* find(const std::string& name) const;
    std::vector<std::string> names() const;
    /// Copies one tensor out. Throws Error(Format) "missing tensor" naming it when absent.
    HostTensor read(const std::string& name) const;
    /// Names of the tensors read() has not returned yet, sorted: after a model is built from the
    /// checkpoint, the tensors it ignores.
    std::vector<std::string> unreadNames() const;

private:
    struct Impl;
    explicit Checkpoint(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> d;
};

} // namespace sinkscope
