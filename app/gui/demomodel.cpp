// SPDX-License-Identifier: GPL-3.0-or-later
#include "demomodel.h"

#include "sinkscope/error.h"

#include <QDir>
#include <QStandardPaths>
#include <QUuid>

using namespace sinkscope;

namespace {

QString cacheDirUnder(const QString& base, DemoKind kind)
{
    return QDir(base).filePath(QStringLiteral("demo-models/%1/%2")
                                   .arg(QString::fromStdString(demoModelVersion()), QLatin1String(demoKindName(kind))));
}

} // namespace

QString demoModelCacheDir(DemoKind kind)
{
    return cacheDirUnder(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation), kind);
}

QString ensureDemoModel(DemoKind kind, QString* error, const QString& baseDir)
{
    const QString dir = baseDir.isEmpty() ? demoModelCacheDir(kind) : cacheDirUnder(baseDir, kind);
    if (isDemoModelDir(kind, dir.toStdString()))
        return dir;
    // Write a complete copy next to the final folder, then swap it in, so a crash or a second
    // instance never leaves a half-written model where the app looks for one.
    const QString staging = dir + QStringLiteral(".tmp-") + QUuid::createUuid().toString(QUuid::Id128);
    try {
        writeDemoModel(kind, staging.toStdString());
        if (isDemoModelDir(kind, dir.toStdString())) { // another instance finished first
            QDir(staging).removeRecursively();
            return dir;
        }
        QDir old(dir);
        if (old.exists() && !old.removeRecursively())
            throw Error(ErrorCode::Io, "Cannot replace the damaged demo model folder.", dir.toStdString());
        if (!QDir().rename(staging, dir) && !isDemoModelDir(kind, dir.toStdString()))
            throw Error(ErrorCode::Io, "Cannot move the demo model into place.", dir.toStdString());
    } catch (const std::exception& e) {
        QDir(staging).removeRecursively();
        if (error)
            *error = QString::fromUtf8(e.what());
        return {};
    }
    QDir(staging).removeRecursively(); // left over when another instance won the rename
    return dir;
}

QString demoModelDisplayName(DemoKind kind)
{
    return QStringLiteral("%1 (synthetic)").arg(QString::fromStdString(demoModelName(kind)));
}
