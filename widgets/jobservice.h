// SPDX-License-Identifier: GPL-3.0-or-later
// Where views start analysis jobs (sinkscope/jobs.h). The application provides the one service
// (the GUI's engine adaptor registers itself); views only see this interface, so they stay free
// of the engine and tests can provide a service of their own.
#pragma once

#include "sinkscope/jobs.h"

#include <QObject>
#include <QString>

#include <memory>

class QLabel;
class QProgressBar;

namespace sinkscope {

class JobService : public QObject
{
    Q_OBJECT
public:
    explicit JobService(QObject* parent = nullptr);
    ~JobService() override;

    /// The service views use (nullptr: none, e.g. a headless figure export).
    static JobService* current();
    /// Makes this the service views use (the newest one registered wins).
    void makeCurrent();

    /// True when a job can run now (a model is loaded).
    virtual bool canRun() const = 0;
    /// Starts a job; its outcome comes back as jobFinished / jobFailed with the returned id.
    virtual uint64_t startJob(std::shared_ptr<Job> job) = 0;
    /// Cancels one job (between its runs and layers).
    virtual void cancelJob(uint64_t id) = 0;

Q_SIGNALS:
    void jobProgress(quint64 id, const sinkscope::JobProgress& progress);
    void jobFinished(quint64 id, std::shared_ptr<const sinkscope::JobResult> result);
    /// `cancelled`: the job was cancelled or superseded.
    void jobFailed(quint64 id, const QString& message, bool cancelled);
};

/// "Run 2 of 7: probe move (layer 3 of 4)": a job's progress for a status line.
QString jobProgressText(const JobProgress& progress);

/// How a view that runs jobs shows one: the bar at "run i of n" and `status` with
/// jobProgressText(); showJobEnded() fills the bar when the job is over.
void showJobProgress(QProgressBar* bar, QLabel* status, const JobProgress& progress);
void showJobEnded(QProgressBar* bar);

} // namespace sinkscope
