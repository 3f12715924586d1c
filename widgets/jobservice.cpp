// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobservice.h"

#include <QPointer>

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

} // namespace sinkscope
