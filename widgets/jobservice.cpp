// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobservice.h"

#include <QLabel>
#include <QPointer>
#include <QProgressBar>

#include <algorithm>

namespace sinkscope {

namespace {
QPointer<JobService>& currentService()
{
    static QPointer<JobService> service;
    return service;
}
} // namespace

JobService::JobService(QObject* parent) : QObject(parent) {}

JobService::~JobService() = default;

JobService* JobService::current()
{
    return currentService().data();
}

void JobService::makeCurrent()
{
    currentService() = this;
}

QString jobProgressText(const JobProgress& p)
{
    return QObject::tr("Run %1 of %2: %3 (layer %4 of %5)")
        .arg(p.run)
        .arg(p.runs)
        .arg(QString::fromStdString(p.label))
        .arg(p.layer)
        .arg(p.layers);
}

void showJobProgress(QProgressBar* bar, QLabel* status, const JobProgress& p)
{
    bar->setRange(0, std::max(1, p.runs));
    bar->setValue(std::max(0, p.run - 1));
    bar->setFormat(QObject::tr("run %1 of %2").arg(p.run).arg(p.runs));
    status->setText(jobProgressText(p));
}

void showJobEnded(QProgressBar* bar)
{
    bar->setRange(0, 1);
    bar->setValue(1);
}

} // namespace sinkscope
