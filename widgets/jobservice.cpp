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

} // namespace sinkscope
