// SPDX-License-Identifier: GPL-3.0-or-later
// The memory pre-flight of Model::run (docs/RELIABILITY.md): the decision is a pure function of the
// run's estimated working set and of what the machine reports (host MemAvailable and the cgroup
// limit; on CUDA also the device's free memory), so it is tested with injected numbers.
#pragma once

#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>

namespace sinkscope {

/// Test hook: the pre-flight assumes at most `bytes` are available (0: what the machine reports),
/// so a test can check the refusal without a machine that small.
void setHostMemoryLimitForTesting(double bytes);

/// The working set of one forward pass beyond the weights, in bytes, split as messages name it:
/// the largest per-layer attention working set, the MLP's, and the captures kept after the pass
/// (which always live in host memory).
struct RunMemoryEstimate {
    double attention = 0; ///< one layer's attention scores, mask and probabilities
    double mlp = 0;       ///< one layer's MLP activations
    double captures = 0;  ///< everything the run keeps (maps, Q/K, hidden states, summaries)
    int64_t batch = 1;    ///< prompts in the [B, T] pass the working set is for (Model::runBatch)
    size_t requests = 1;  ///< requests whose captures are counted (a batched call holds all of them)
    double total() const { return attention + mlp + captures; }
};

/// What the machine reports as available for the run, in bytes; 0 means unknown (not checked).
struct MemoryAvailable {
    double hostBytes = 0;
    std::string hostSource;      ///< "MemAvailable", "the cgroup memory limit", ...
    bool onDevice = false;       ///< the pass runs on a CUDA device
    std::string deviceName;      ///< "cuda:0"
    double deviceFreeBytes = 0;  ///< free on the device, plus what the caching allocator holds unused
    double deviceTotalBytes = 0;
};

/// The pre-flight decision: nullopt when the run fits, else the text of the OutOfMemory refusal.
/// On the CPU the whole estimate must fit in 90 % of the host's available memory. On a device the
/// per-layer working set (attention + MLP) must fit in 90 % of the device's free memory, and the
/// captures (copied to the host) in 90 % of the host's. `tokens` is T, for the message. With a
/// batch or several requests the message says "This batched run" and names the largest batch.
std::optional<std::string> preflightRefusal(const RunMemoryEstimate& estimate, int64_t tokens,
                                            const MemoryAvailable& available);

/// "1.23 GiB": how the pre-flight messages write a byte count.
std::string gibText(double bytes);

} // namespace sinkscope
