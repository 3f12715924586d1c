// SPDX-License-Identifier: GPL-3.0-or-later
#include "hfcache.h"

#include <QDir>
#include <QFileInfo>
#include <QProcessEnvironment>

#include <algorithm>

QString huggingFaceCacheDir()
{
    const QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (env.contains(QStringLiteral("HF_HUB_CACHE")))
        return env.value(QStringLiteral("HF_HUB_CACHE"));
    if (env.contains(QStringLiteral("HF_HOME")))
        return QDir(env.value(QStringLiteral("HF_HOME"))).filePath(QStringLiteral("hub"));
    return QDir::home().filePath(QStringLiteral(".cache/huggingface/hub"));
}

QList<CachedModel> findCachedModels(const QString& cacheDir)
{
    QList<CachedModel> out;
    const QDir cache(cacheDir);
    for (const QFileInfo& repoDir : cache.entryInfoList({QStringLiteral("models--*")}, QDir::Dirs | QDir::NoDotAndDotDot)) {
        // "models--org--name" -> "org/name" (the cache replaces '/' by "--")
        const QString repo = repoDir.fileName().mid(8).replace(QLatin1String("--"), QLatin1String("/"));
        QFileInfoList snaps = QDir(repoDir.filePath() + QStringLiteral("/snapshots"))
                                  .entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Time);
        for (const QFileInfo& snap : snaps) {
            if (!QFileInfo::exists(QDir(snap.filePath()).filePath(QStringLiteral("config.json"))))
                continue;
            out.append({repo, snap.fileName(), snap.filePath()});
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const CachedModel& a, const CachedModel& b) { return a.repo < b.repo; });
    return out;
}
