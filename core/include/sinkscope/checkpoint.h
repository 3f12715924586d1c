// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/safetensors.h"

#include <memory>
#include <string>
#include <vector>

namespace sinkscope {

/// The files of a Hugging Face model folder, located and checked for presence (not parsed).
struct ModelDirectory {
    std::string dir;
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
