// SPDX-License-Identifier: GPL-3.0-or-later
#include "exportrunner.h"

#include <QMetaObject>
#include <QPointer>
#include <QProgressDialog>
#include <QWidget>

#include <algorithm>
#include <cmath>

ExportRunner::ExportRunner(QWidget* window)
    : QObject(window), m_window(window)
{
    m_pool.setMaxThreadCount(1);
}

ExportRunner::~ExportRunner()
{
    cancel();
    m_pool.waitForDone();
}

bool ExportRunner::start(const QString& what, Work work, Done done)
{
    if (m_busy)
        return false;
    m_busy = true;
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    if (!m_dialog) {
        m_dialog = new QProgressDialog(m_window);
        m_dialog->setWindowModality(Qt::NonModal); // the window stays usable while the file is written
        m_dialog->setRange(0, 1000);
        m_dialog->setAutoClose(false);
        m_dialog->setAutoReset(false);
        connect(m_dialog, &QProgressDialog::canceled, this, &ExportRunner::cancel);
    }
    m_dialog->setWindowTitle(tr("Exporting"));
    m_dialog->setLabelText(what);
    m_dialog->setCancelButtonText(tr("Cancel"));
    m_dialog->reset();
    m_dialog->setValue(0);
    m_dialog->show();

    QPointer<ExportRunner> self(this);
    const std::shared_ptr<std::atomic<bool>> cancelFlag = m_cancel;
    m_pool.start([self, cancelFlag, work = std::move(work), done = std::move(done)] {
        auto progress = [self](double f) {
            QMetaObject::invokeMethod(
                self.data(),
                [self, f] {
                    // Not after Cancel: setValue would show the dialog Cancel has hidden again.
                    if (self && self->m_dialog && self->m_busy && !self->m_cancel->load())
                        self->m_dialog->setValue(int(std::lround(std::clamp(f, 0.0, 1.0) * 1000)));
                },
                Qt::QueuedConnection);
        };
        QString error;
        bool ok = false;
        try {
            ok = work(&error, cancelFlag.get(), progress);
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        if (cancelFlag->load() && !ok && error.isEmpty())
            error = tr("The export was cancelled.");
        // The destructor waits for this task, so `self` is alive while queued calls are made;
        // Qt drops the call when it is gone by the time the event loop runs it.
        QMetaObject::invokeMethod(
            self.data(),
            [self, ok, error, done] {
                if (!self)
                    return;
                self->m_busy = false;
                if (self->m_dialog)
                    self->m_dialog->hide();
                if (done)
                    done(ok, error);
                Q_EMIT self->finished(ok, error);
            },
            Qt::QueuedConnection);
    });
    return true;
}

void ExportRunner::cancel()
{
    if (m_cancel)
        m_cancel->store(true);
}

bool ExportRunner::waitForDone(int ms)
{
    return m_pool.waitForDone(ms);
}

