// SPDX-License-Identifier: GPL-3.0-or-later
// A JobService for widget tests: it runs each job at once on a Model in this thread (no engine
// thread) and delivers the replies later, from the event loop, as the GUI's engine adaptor does.
// With m_holdForCancel set, a job is only recorded, so that a test can cancel it.
#pragma once

#include "jobservice.h"

#include "sinkscope/error.h"
#include "sinkscope/model.h"

#include <QTimer>

#include <vector>

namespace sinkscope {

// Runs each job at once on `model` and delivers the replies later, from the event loop.
class ModelJobService final : public JobService {
public:
    /// Jobs started so far (a view that must not re-run can be checked against it).
    int started() const { return int(m_next); }
    explicit ModelJobService(const Model* model) : m_model(model) {}
    bool canRun() const override { return m_model != nullptr; }
    uint64_t startJob(std::shared_ptr<Job> job) override
    {
        const uint64_t id = ++m_next;
        if (m_holdForCancel) {
            m_held = id;
            return id;
        }
        std::vector<JobProgress> progress;
        std::shared_ptr<const JobResult> r;
        QString error;
        try {
            r = runJob(*m_model, *job, [&](const JobProgress& p) { progress.push_back(p); });
        } catch (const Error& e) {
            error = QString::fromStdString(e.describe());
        }
        QTimer::singleShot(0, this, [this, id, progress, r, error] {
            for (const JobProgress& p : progress)
                Q_EMIT jobProgress(id, p);
            if (r)
                Q_EMIT jobFinished(id, r);
            else
                Q_EMIT jobFailed(id, error, false);
        });
        return id;
    }
    void cancelJob(uint64_t id) override
    {
        if (id == m_held)
            QTimer::singleShot(0, this, [this, id] { Q_EMIT jobFailed(id, QStringLiteral("The job was cancelled."), true); });
    }
    bool m_holdForCancel = false;

private:
    const Model* m_model;
    uint64_t m_next = 0, m_held = 0;
};


} // namespace sinkscope
