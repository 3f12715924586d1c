// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/error.h"
#include "sinkscope/jobs.h"
#include "sinkscope/model.h"
#include "sinkscope/runresult.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sinkscope {

/// Callbacks of the Engine. They are invoked on the engine thread; adaptors forward them
/// (e.g. as queued Qt signals). Every request id ends in exactly one of modelLoaded / runFinished /
/// failed (failed with ErrorCode::Cancelled for a cancelled or superseded request).
struct EngineCallbacks {
    std::function<void(uint64_t request, const ModelInfo& info, const std::string& device,
                       const std::string& dtype)> modelLoaded;
    std::function<void(uint64_t request, int done, int total)> progress;
    std::function<void(uint64_t request, std::shared_ptr<const RunResult> result)> runFinished;
    std::function<void(uint64_t request, const Error& error)> failed;
};

/// The reply channel of one job request: every callback runs on the engine thread and carries
/// the job's request id. A job ends in exactly one of finished / failed (failed with
/// ErrorCode::Cancelled when it was cancelled or superseded).
struct JobReply {
    std::function<void(uint64_t request, const JobProgress& progress)> progress;
    std::function<void(uint64_t request, std::shared_ptr<const JobResult> result)> finished;
    std::function<void(uint64_t request, const Error& error)> failed;
};

/// One long-lived thread that owns the model and the device; every torch call happens there.
/// Requests are queued in order. A new run supersedes a queued run and cancels a running one
/// (between layers); a new load supersedes everything queued and cancels a running run or job.
/// Jobs are a purpose of their own: a new job supersedes a queued job and cancels a running one,
/// but runs and jobs do not supersede each other.
class Engine {
public:
    /// Starts the engine thread. `threads` is its CPU intra-op thread count (0: one per physical
    /// core, sinkscope/threads.h), applied on that thread before any request.
    explicit Engine(EngineCallbacks callbacks, int threads = 0);
    /// Cancels what is running, drops the queue and joins the thread (releasing the model there).
    ~Engine();

    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Queues loading a model folder; returns the request id.
    uint64_t load(const std::string& dir, DevicePreference device = DevicePreference::Auto,
                  DTypePreference dtype = DTypePreference::Auto);
    /// Queues a forward pass on the current model; returns the request id.
    uint64_t run(const RunRequest& request);
    /// Queues a job (a sequence of runs plus an analysis) on the current model; its progress and
    /// outcome go to `reply`, not to the engine's callbacks. Returns the request id.
    uint64_t runJob(std::shared_ptr<Job> job, JobReply reply);
    /// Cancels the running request (it stops after the current layer) and drops queued runs and jobs.
    void cancel();
    /// Changes the engine thread's CPU thread count (0: one per physical core); takes effect before
    /// the next request starts. Throws Error(InvalidArgument) for a count setComputeThreads refuses.
    void setThreads(int threads);
    /// The count last asked for (0: one per physical core).
    int threads() const;
    /// Cancels one job: dropped when queued, stopped between runs/layers when running.
    void cancelJob(uint64_t request);
    /// True while a request is running or queued.
    bool busy() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace sinkscope
