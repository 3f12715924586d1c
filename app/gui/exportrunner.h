// SPDX-License-Identifier: GPL-3.0-or-later
// Exports that take long (the CSV of a long prompt's maps: tens of millions of rows) run here,
// one at a time, on a worker thread, while the window stays usable; a progress dialog shows how
// far it is and can cancel it (a cancelled file is never left half written).
#pragma once

#include <QObject>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <functional>
#include <memory>

class QProgressDialog;
class QWidget;

class ExportRunner : public QObject {
    Q_OBJECT
public:
    /// The job: writes its files, polls `cancel`, reports fractions 0..1; false with `error` set
    /// on failure (a cancelled job fails with Error(Cancelled)'s text).
    using Work = std::function<bool(QString* error, const std::atomic<bool>* cancel, const std::function<void(double)>& progress)>;
    /// `done` runs on the GUI thread when the job has ended.
    using Done = std::function<void(bool ok, const QString& error)>;

    explicit ExportRunner(QWidget* window);
    /// Cancels a running job and waits for it.
    ~ExportRunner() override;

    bool busy() const { return m_busy; }
    /// Starts `work` (refused, false, while another job runs). `what` titles the progress dialog.
    bool start(const QString& what, Work work, Done done);
    /// Asks the running job to stop; its `done` gets ok = false.
    void cancel();
    /// Waits until no job runs (ms < 0: as long as it takes); true when none does.
    bool waitForDone(int ms = -1);

Q_SIGNALS:
    /// After `done` ran.
    void finished(bool ok, const QString& error);

private:
    QWidget* m_window;
    QThreadPool m_pool;
    QProgressDialog* m_dialog = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    bool m_busy = false;
};

