// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/engine.h"

#include "engine/jobrunner.h"
#include "sinkscope/threads.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace sinkscope {

namespace {

struct Request {
    enum class Kind { Load, Run, Job } kind = Kind::Run;
    uint64_t id = 0;
    std::string dir;
    DevicePreference device = DevicePreference::Auto;
    DTypePreference dtype = DTypePreference::Auto;
    RunRequest run;
    std::shared_ptr<Job> job;
    JobReply reply;
};



} // namespace

struct Engine::Impl {
    EngineCallbacks callbacks;
    std::thread thread;

    mutable std::mutex mutex;
    std::condition_variable wake;
    std::deque<Request> queue;
    bool stopping = false;
    bool running = false;
    uint64_t nextId = 1;
    uint64_t runningId = 0;
    Request::Kind runningKind = Request::Kind::Run;
    std::atomic<bool> cancelRunning{false};
    int threads = 0;          ///< asked for (guarded by mutex)
    int appliedThreads = -1;  ///< in effect on the engine thread (engine thread only)

    // Owned and used only by the engine thread.
    std::unique_ptr<Model> model;

    void loop();
    void execute(Request& req);
    void fail(uint64_t id, const Error& e)
    {
        if (callbacks.failed)
            callbacks.failed(id, e);
    }
    /// A failure goes to the request's own reply when it has one (jobs).
    void fail(const Request& r, const Error& e)
    {
        if (r.kind == Request::Kind::Job) {
            if (r.reply.failed)
                r.reply.failed(r.id, e);
        } else {
            fail(r.id, e);
        }
    }
};

Engine::Engine(EngineCallbacks callbacks, int threads) : d(std::make_unique<Impl>())
{
    if (threads < 0 || threads > 4096)
        throw Error(ErrorCode::InvalidArgument, "The engine's thread count must be 0 to 4096, not "
                                                    + std::to_string(threads) + ".");
    d->callbacks = std::move(callbacks);
    d->threads = threads;
    d->thread = std::thread([this] { d->loop(); });
}

Engine::~Engine()
{
    std::deque<Request> dropped;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        d->stopping = true;
        d->cancelRunning = true;
        dropped.swap(d->queue);
    }
    d->wake.notify_all();
    d->thread.join();
}

uint64_t Engine::load(const std::string& dir, DevicePreference device, DTypePreference dtype)
{
    Request req;
    req.kind = Request::Kind::Load;
    req.dir = dir;
    req.device = device;
    req.dtype = dtype;
    std::deque<Request> superseded;
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        id = req.id = d->nextId++;
        // A new model makes every queued request and the running run meaningless.
        superseded.swap(d->queue);
        if (d->running && d->runningKind != Request::Kind::Load)
            d->cancelRunning = true;
        d->queue.push_back(std::move(req));
    }
    d->wake.notify_all();
    for (const Request& r : superseded)
        d->fail(r, Error(ErrorCode::Cancelled, "Superseded by loading another model."));
    return id;
}

uint64_t Engine::run(const RunRequest& run)
{
    Request req;
    req.kind = Request::Kind::Run;
    req.run = run;
    std::vector<uint64_t> superseded;
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        id = req.id = d->nextId++;
        for (auto it = d->queue.begin(); it != d->queue.end();) {
            if (it->kind == Request::Kind::Run) {
                superseded.push_back(it->id);
                it = d->queue.erase(it);
            } else {
                ++it;
            }
        }
        if (d->running && d->runningKind == Request::Kind::Run)
            d->cancelRunning = true;
        d->queue.push_back(std::move(req));
    }
    d->wake.notify_all();
    for (uint64_t s : superseded)
        d->fail(s, Error(ErrorCode::Cancelled, "Superseded by a newer run."));
    return id;
}

uint64_t Engine::runJob(std::shared_ptr<Job> job, JobReply reply)
{
    Request req;
    req.kind = Request::Kind::Job;
    req.job = std::move(job);
    req.reply = std::move(reply);
    std::vector<Request> superseded;
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        id = req.id = d->nextId++;
        for (auto it = d->queue.begin(); it != d->queue.end();) {
            if (it->kind == Request::Kind::Job) {
                superseded.push_back(std::move(*it));
                it = d->queue.erase(it);
            } else {
                ++it;
            }
        }
        if (d->running && d->runningKind == Request::Kind::Job)
            d->cancelRunning = true;
        d->queue.push_back(std::move(req));
    }
    d->wake.notify_all();
    for (const Request& r : superseded)
        d->fail(r, Error(ErrorCode::Cancelled, "Superseded by a newer job."));
    return id;
}

void Engine::cancel()
{
    std::vector<Request> dropped;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        for (auto it = d->queue.begin(); it != d->queue.end();) {
            if (it->kind != Request::Kind::Load) {
                dropped.push_back(std::move(*it));
                it = d->queue.erase(it);
            } else {
                ++it;
            }
        }
        if (d->running)
            d->cancelRunning = true;
    }
    for (const Request& r : dropped)
        d->fail(r, Error(ErrorCode::Cancelled, r.kind == Request::Kind::Job ? "The job was cancelled." : "The run was cancelled."));
}

void Engine::cancelJob(uint64_t request)
{
    std::vector<Request> dropped;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        for (auto it = d->queue.begin(); it != d->queue.end();) {
            if (it->kind == Request::Kind::Job && it->id == request) {
                dropped.push_back(std::move(*it));
                it = d->queue.erase(it);
            } else {
                ++it;
            }
        }
        if (d->running && d->runningKind == Request::Kind::Job && d->runningId == request)
            d->cancelRunning = true;
    }
    for (const Request& r : dropped)
        d->fail(r, Error(ErrorCode::Cancelled, "The job was cancelled."));
}

void Engine::setThreads(int threads)
{
    if (threads < 0 || threads > 4096)
        throw Error(ErrorCode::InvalidArgument, "The engine's thread count must be 0 to 4096, not "
                                                    + std::to_string(threads) + ".");
    std::lock_guard<std::mutex> lock(d->mutex);
    d->threads = threads;
}

int Engine::threads() const
{
    std::lock_guard<std::mutex> lock(d->mutex);
    return d->threads;
}

bool Engine::busy() const
{
    std::lock_guard<std::mutex> lock(d->mutex);
    return d->running || !d->queue.empty();
}

void Engine::Impl::loop()
{
    for (;;) {
        Request req;
        int wantedThreads = 0;
        {
            std::unique_lock<std::mutex> lock(mutex);
            wake.wait(lock, [this] { return stopping || !queue.empty(); });
            if (stopping)
                break;
            req = std::move(queue.front());
            queue.pop_front();
            running = true;
            runningId = req.id;
            runningKind = req.kind;
            cancelRunning = false;
            wantedThreads = threads;
        }
        // libtorch's thread count belongs to the calling thread: set it here, not in the caller's.
        if (wantedThreads != appliedThreads) {
            setComputeThreads(wantedThreads);
            appliedThreads = wantedThreads;
        }
        execute(req);
        {
            std::lock_guard<std::mutex> lock(mutex);
            running = false;
            runningId = 0;
        }
    }
    // Torch state (CUDA context, inference mode) belongs to this thread: release the model here.
    model.reset();
}

void Engine::Impl::execute(Request& req)
{
    try {
        if (req.kind == Request::Kind::Load) {
            // Load beside the current model so a failed load leaves the user's model in place.
            std::unique_ptr<Model> loaded = Model::load(req.dir, req.device, req.dtype);
            model = std::move(loaded);
            if (callbacks.modelLoaded)
                callbacks.modelLoaded(req.id, model->info(), model->deviceName(), model->dtypeName());
            return;
        }
        if (!model)
            throw Error(ErrorCode::InvalidArgument, "No model is loaded.");
        if (req.kind == Request::Kind::Job) {
            const uint64_t id = req.id;
            const JobReply& reply = req.reply;
            detail::ModelJobContext context(*model, [&reply, id](const JobProgress& p) {
                if (reply.progress)
                    reply.progress(id, p);
            }, &cancelRunning);
            std::shared_ptr<const JobResult> result = req.job->execute(context);
            if (reply.finished)
                reply.finished(id, std::move(result));
            return;
        }
        auto progress = [&](int done, int total) {
            if (callbacks.progress)
                callbacks.progress(req.id, done, total);
        };
        std::shared_ptr<RunResult> result = model->run(req.run, progress, &cancelRunning);
        result->requestId = req.id;
        if (cancelRunning)
            throw Error(ErrorCode::Cancelled, "The run was cancelled.");
        if (callbacks.runFinished)
            callbacks.runFinished(req.id, std::move(result));
    } catch (const Error& e) {
        fail(req, e);
    } catch (const std::bad_alloc&) {
        fail(req, Error(ErrorCode::OutOfMemory, "Out of host memory."));
    } catch (const std::exception& e) {
        fail(req, Error(ErrorCode::Internal, "Unexpected failure.", e.what()));
    }
}

} // namespace sinkscope
