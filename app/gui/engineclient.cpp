// SPDX-License-Identifier: GPL-3.0-or-later
#include "engineclient.h"

#include <QMetaObject>
#include <QSettings>
#include <QtGlobal>

using namespace sinkscope;

EngineClient::EngineClient(QObject* parent) : JobService(parent)
{
    makeCurrent();
    // Each callback runs on the engine thread; it only queues a call to this object on the GUI
    // thread. The engine is destroyed (thread joined) before `this`, so `this` is alive here.
    EngineCallbacks c;
    c.modelLoaded = [this](uint64_t id, const ModelInfo& info, const std::string& device, const std::string& dtype) {
        QMetaObject::invokeMethod(this, [this, id, info, dev = QString::fromStdString(device),
                                         dt = QString::fromStdString(dtype)] { onLoaded(id, info, dev, dt); },
                                  Qt::QueuedConnection);
    };
    c.progress = [this](uint64_t id, int done, int total) {
        QMetaObject::invokeMethod(this, [this, id, done, total] { onProgress(id, done, total); }, Qt::QueuedConnection);
    };
    c.runFinished = [this](uint64_t id, std::shared_ptr<const RunResult> result) {
        QMetaObject::invokeMethod(this, [this, id, result] { onFinished(id, result); }, Qt::QueuedConnection);
    };
    c.failed = [this](uint64_t id, const Error& e) {
        QMetaObject::invokeMethod(this, [this, id, code = e.code(), msg = QString::fromStdString(e.describe())] {
            onFailed(id, code, msg);
        }, Qt::QueuedConnection);
    };
    int threads = QSettings().value(QLatin1String(kThreadsSettingKey), 0).toInt();
    if (threads < 0 || threads > 4096) {
        qWarning("Setting %s = %d is not a thread count (0..4096); using one thread per physical core.",
                 kThreadsSettingKey, threads);
        threads = 0;
    }
    m_engine = std::make_unique<Engine>(std::move(c), threads);
}

bool EngineClient::setThreads(int threads)
{
    if (threads < 0 || threads > 4096)
        return false;
    m_engine->setThreads(threads);
    QSettings().setValue(QLatin1String(kThreadsSettingKey), threads);
    return true;
}

int EngineClient::threads() const
{
    return m_engine->threads();
}

EngineClient::~EngineClient()
{
    m_engine.reset();
}

void EngineClient::loadModel(const QString& dir, DevicePreference device, DTypePreference dtype)
{
    m_pendingRun = 0;
    m_pendingLoad = m_engine->load(dir.toStdString(), device, dtype);
    Q_EMIT loadStarted(dir);
    Q_EMIT busyChanged(true);
}

void EngineClient::run(const RunRequest& request)
{
    m_pendingRun = m_engine->run(request);
    Q_EMIT runStarted();
    Q_EMIT busyChanged(true);
}

void EngineClient::cancel()
{
    m_engine->cancel();
}

uint64_t EngineClient::runJob(std::shared_ptr<Job> job)
{
    JobReply reply;
    // As for the engine callbacks: queue each reply onto the GUI thread.
    reply.progress = [this](uint64_t id, const JobProgress& p) {
        QMetaObject::invokeMethod(this, [this, id, p] { Q_EMIT jobProgress(id, p); }, Qt::QueuedConnection);
    };
    reply.finished = [this](uint64_t id, std::shared_ptr<const JobResult> r) {
        QMetaObject::invokeMethod(this, [this, id, r] { Q_EMIT jobFinished(id, r); }, Qt::QueuedConnection);
    };
    reply.failed = [this](uint64_t id, const Error& e) {
        QMetaObject::invokeMethod(this, [this, id, msg = QString::fromStdString(e.describe()),
                                         cancelled = e.code() == ErrorCode::Cancelled] {
            Q_EMIT jobFailed(id, msg, cancelled);
        }, Qt::QueuedConnection);
    };
    return m_engine->runJob(std::move(job), std::move(reply));
}

void EngineClient::cancelJob(uint64_t id)
{
    m_engine->cancelJob(id);
}

void EngineClient::onLoaded(uint64_t id, const ModelInfo& info, const QString& device, const QString& dtype)
{
    if (id != m_pendingLoad)
        return;
    m_pendingLoad = 0;
    m_hasModel = true;
    m_info = info;
    m_device = device;
    m_dtype = dtype;
    Q_EMIT modelLoaded(QString::fromStdString(info.name));
    Q_EMIT busyChanged(isBusy());
}

void EngineClient::onProgress(uint64_t id, int done, int total)
{
    if (id == m_pendingRun)
        Q_EMIT progressChanged(done, total);
}

void EngineClient::onFinished(uint64_t id, std::shared_ptr<const RunResult> result)
{
    if (id != m_pendingRun)
        return; // a late result of a superseded run
    m_pendingRun = 0;
    Q_EMIT runFinished(std::move(result));
    Q_EMIT busyChanged(isBusy());
}

void EngineClient::onFailed(uint64_t id, ErrorCode code, const QString& message)
{
    if (id == m_pendingLoad) {
        m_pendingLoad = 0;
        Q_EMIT loadFailed(message);
    } else if (id == m_pendingRun) {
        m_pendingRun = 0;
        if (code == ErrorCode::Cancelled)
            Q_EMIT runCancelled();
        else
            Q_EMIT runFailed(message);
    } else {
        return; // superseded requests end silently
    }
    Q_EMIT busyChanged(isBusy());
}
