// SPDX-License-Identifier: GPL-3.0-or-later
// Analysis jobs: a job is a sequence of forward passes plus an analysis of their results. The
// same job object runs synchronously on a Model (the CLI, runJob) or on the engine thread
// (Engine::runJob, with its own request id and reply). A job sees the model only through a
// JobContext, so the analysis stays in pure functions and the jobs themselves need no torch.
#pragma once

#include "sinkscope/runresult.h"
#include "sinkscope/tokenizer.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sinkscope {

class Model;

/// Where a job stands: run `run` of `runs` (1-based; 0 before the first run starts), `layer` of
/// `layers` done inside it, and what that run is.
struct JobProgress {
    int run = 0;
    int runs = 0;       ///< planned runs (JobContext::plan); may grow when a job adds runs
    int layer = 0;
    int layers = 0;
    std::string label;  ///< e.g. "prompt 3 (line 4)", "probe move"
};

/// Base of every job's outcome. Results are immutable once handed out (shared_ptr<const>).
struct JobResult {
    virtual ~JobResult() = default;
};

/// What a running job may use: the model's description and tokenizer, and forward passes.
class JobContext {
public:
    virtual ~JobContext() = default;
    virtual const ModelInfo& model() const = 0;
    /// The loaded model's tokenizer (never re-read from the folder); null when it has none.
    virtual std::shared_ptr<const Tokenizer> tokenizer() const = 0;
    /// Tokenizes a prompt for the model as Model::encode does (empty / whitespace-only refused,
    /// work bounded by the positions, ids checked against vocab_size, cut to `truncateTo` > 0).
    virtual Encoding encode(const std::string& text, BosPolicy bos, int64_t truncateTo = 0) const = 0;
    virtual std::string device() const = 0;
    virtual std::string dtype() const = 0;
    /// Declares that `runs` more forward passes are coming (for "run i of n").
    virtual void plan(int runs) = 0;
    /// One forward pass, reported as the next run. Throws Error(Cancelled) when cancel is
    /// requested before it starts or between its layers; other errors as Model::run.
    virtual std::shared_ptr<RunResult> run(const RunRequest& request, const std::string& label) = 0;
    /// Several forward passes as batched ones (Model::runBatch): requests of equal length without
    /// interventions run together, at most `batchSize` per [B, T] pass (they are grouped by length
    /// first, so they need not be consecutive); results come back in request order, each equal to
    /// run() of that request up to fp32 rounding. Each request counts as one run of the progress;
    /// the memory pre-flight covers the whole call. Throws as run() does, Error(InvalidArgument)
    /// for batchSize < 1.
    virtual std::vector<std::shared_ptr<RunResult>> runBatch(const std::vector<RunRequest>& requests, int batchSize,
                                                             const std::string& label) = 0;
    /// True once cancel was requested (jobs that keep partial results check it between runs).
    virtual bool cancelRequested() const = 0;
};

/// A sequence of runs plus an analysis.
class Job {
public:
    virtual ~Job() = default;
    /// Short name for messages ("prompt set", "classify", "control").
    virtual std::string name() const = 0;
    /// Runs the job. Throws Error (Cancelled when cancelled, unless the job keeps a partial
    /// result and says so in it).
    virtual std::shared_ptr<const JobResult> execute(JobContext& context) = 0;
};

/// Called with every progress change (after each layer and at the start of each run).
using JobProgressFn = std::function<void(const JobProgress&)>;

/// Runs `job` on `model` on the calling thread (the CLI's path; the engine uses the same
/// context). `cancel`, when given, is checked between runs and layers.
std::shared_ptr<const JobResult> runJob(const Model& model, Job& job, const JobProgressFn& progress = {},
                                        const std::atomic<bool>* cancel = nullptr);

} // namespace sinkscope
