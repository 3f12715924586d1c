// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/modelconfig.h"
#include "sinkscope/runresult.h"
#include "sinkscope/tokenizer.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sinkscope {

namespace detail {
struct ForwardTargets;
}

enum class DevicePreference { Auto, Cpu, Cuda };
enum class DTypePreference { Auto, F32, F16, BF16 };

/// "auto" | "cpu" | "cuda" -> DevicePreference; throws Error(InvalidArgument).
DevicePreference parseDevicePreference(const std::string& text);

/// True when this libtorch build sees a CUDA device.
bool cudaAvailable();

/// Achieved single-precision matrix-multiply rate of this libtorch build on `device`
/// (best of `reps` n x n x n products), in GFLOP/s. For benchmarks: the peak to compare with.
double measureSgemmGflops(DevicePreference device = DevicePreference::Cpu, int n = 1024, int reps = 5);

/// A loaded model: config, tokenizer and weights on a device. Not thread-safe: every call,
/// construction and destruction included, must happen on one thread (torch's per-thread state).
class Model {
public:
    /// Loads a Hugging Face model folder. Throws Error (Io/Format/Unsupported/OutOfMemory).
    static std::unique_ptr<Model> load(const std::string& dir, DevicePreference device = DevicePreference::Auto,
                                       DTypePreference dtype = DTypePreference::Auto);
    ~Model();

    const ModelInfo& info() const;
    const ModelConfig& config() const;
    std::shared_ptr<const Tokenizer> tokenizer() const; ///< null when the folder has no tokenizer.json
    std::string deviceName() const;
    std::string dtypeName() const;

    /// Called after each layer with (layers done, total layers).
    using Progress = std::function<void(int done, int total)>;

    /// Tokenizes `text` for this model: an empty or whitespace-only prompt is refused; the work
    /// stops once the prompt is certainly longer than the positions (the count in the message is
    /// exact up to twice the limit, "more than" beyond); every id is checked against the config's
    /// vocab_size, naming the token. With `truncateTo` > 0 the encoding is cut to that many tokens
    /// instead of being refused (shorter prompts come back whole). Throws
    /// Error(InvalidArgument|Cancelled).
    Encoding encode(const std::string& text, BosPolicy bos, int64_t truncateTo = 0,
                    const std::atomic<bool>* cancel = nullptr) const;

    /// Tokenizes (unless ids are given) and runs one forward pass with the captures asked for.
    /// Checks `cancel` between layers and throws Error(Cancelled) when it is set.
    /// Throws Error(InvalidArgument) for an empty or over-long prompt or ids outside the vocabulary
    /// (any id below vocab_size runs; one the tokenizer has no piece for is shown as "<id 5>").
    std::shared_ptr<RunResult> run(const RunRequest& request, const Progress& progress = {},
                                   const std::atomic<bool>* cancel = nullptr) const;

    /// Runs several prompts as batched forward passes and returns one result per request, in
    /// order, each equal (up to fp32 rounding) to what run() returns for that request alone:
    /// summaries, captures and recipes are per prompt. Consecutive requests whose prompts have the
    /// same number of tokens T form a batch of at most `batchSize` ([B, T] ids through every layer
    /// at once); a request with interventions always runs alone. runMs is the batch's wall time
    /// divided by its prompts. `progress` is called per layer of each batch. The memory pre-flight
    /// covers the whole call (every request's captures plus the largest batch's [B, T] working
    /// set), before anything is allocated. Throws as run() does (for the first bad request, before
    /// anything runs; Error(OutOfMemory) naming the batch), and Error(InvalidArgument) for
    /// batchSize < 1. Prompt sets group prompts by length first (analysis::groupByLength).
    std::vector<std::shared_ptr<RunResult>> runBatch(const std::vector<RunRequest>& requests, int batchSize = 8,
                                                     const Progress& progress = {},
                                                     const std::atomic<bool>* cancel = nullptr) const;

private:
    Model();
    /// Tokenizes and validates `request`, allocates its captures and points `targets` at them.
    std::shared_ptr<RunResult> prepare(const RunRequest& request, detail::ForwardTargets& targets,
                                       const std::atomic<bool>* cancel = nullptr) const;
    /// prepare's first step: tokenizes and validates, sizes nothing (the result has its encoding).
    std::shared_ptr<RunResult> describe(const RunRequest& request, const std::atomic<bool>* cancel) const;
    /// prepare's last step: allocates the captures of `result` and points `targets` at them.
    void allocate(const RunRequest& request, RunResult& result, detail::ForwardTargets& targets) const;
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace sinkscope
