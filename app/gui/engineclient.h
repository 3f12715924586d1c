// SPDX-License-Identifier: GPL-3.0-or-later
// The Qt adaptor around sinkscope::Engine: engine-thread callbacks become signals delivered on
// the GUI thread, and results of anything but the newest request are dropped.
#pragma once

#include "sinkscope/engine.h"
#include "jobservice.h"

#include <QObject>
#include <QString>

#include <memory>

/// Also the application's JobService: views start analysis jobs through it (the newest
/// EngineClient is the current service).
class EngineClient : public sinkscope::JobService {
    Q_OBJECT

public:
    explicit EngineClient(QObject* parent = nullptr);
    /// Stops the engine thread (cancelling what runs) before the QObject goes away.
    ~EngineClient() override;

    /// QSettings key of the engine thread's CPU thread count (int; 0 or absent: one per physical core).
    static constexpr const char* kThreadsSettingKey = "engine/threads";
    /// Sets the engine thread's CPU thread count (0: one per physical core), stores it under
    /// kThreadsSettingKey, and applies it before the next request. False (nothing changed) for a
    /// count outside 0..4096.
    bool setThreads(int threads);
    /// The stored thread count (0: one per physical core).
    int threads() const;

    void loadModel(const QString& dir, sinkscope::DevicePreference device = sinkscope::DevicePreference::Auto,
                   sinkscope::DTypePreference dtype = sinkscope::DTypePreference::Auto);
    void run(const sinkscope::RunRequest& request);
    void cancel();
    /// Queues a job on the engine thread; its progress and outcome come back as jobProgress /
    /// jobFinished / jobFailed carrying the returned id (each consumer keeps its own id).
    uint64_t runJob(std::shared_ptr<sinkscope::Job> job);
    /// Cancels one job (between its runs and layers).
    void cancelJob(uint64_t id) override;

    // JobService
    bool canRun() const override { return m_hasModel; }
    uint64_t startJob(std::shared_ptr<sinkscope::Job> job) override { return runJob(std::move(job)); }

    bool hasModel() const { return m_hasModel; }
    bool isBusy() const { return m_pendingLoad != 0 || m_pendingRun != 0; }
    const sinkscope::ModelInfo& modelInfo() const { return m_info; }
    QString device() const { return m_device; }
    QString dtype() const { return m_dtype; }

Q_SIGNALS:
    void loadStarted(const QString& dir);
    void modelLoaded(const QString& name);
    void loadFailed(const QString& message);
    void runStarted();
    void progressChanged(int done, int total);
    void runFinished(std::shared_ptr<const sinkscope::RunResult> result);
    void runFailed(const QString& message);
    void runCancelled();
    /// Emitted whenever isBusy() may have changed.
    void busyChanged(bool busy);

private:
    void onLoaded(uint64_t id, const sinkscope::ModelInfo& info, const QString& device, const QString& dtype);
    void onProgress(uint64_t id, int done, int total);
    void onFinished(uint64_t id, std::shared_ptr<const sinkscope::RunResult> result);
    void onFailed(uint64_t id, sinkscope::ErrorCode code, const QString& message);

    std::unique_ptr<sinkscope::Engine> m_engine;
    // Generation counters: only the newest load / run may update the GUI.
    uint64_t m_pendingLoad = 0;
    uint64_t m_pendingRun = 0;
    bool m_hasModel = false;
    sinkscope::ModelInfo m_info;
    QString m_device, m_dtype;
};
