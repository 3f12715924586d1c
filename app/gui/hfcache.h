// SPDX-License-Identifier: GPL-3.0-or-later
// Model folders in the local Hugging Face hub cache (models--ORG--NAME/snapshots/REV).
#pragma once

#include <QList>
#include <QString>

struct CachedModel {
    QString repo;     ///< "org/name"
    QString revision; ///< snapshot folder name (commit hash)
    QString path;     ///< the snapshot folder, which holds config.json
};

/// The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
QString huggingFaceCacheDir();
/// Snapshots with a config.json under `cacheDir`, sorted by repo; newest snapshot first per repo.
QList<CachedModel> findCachedModels(const QString& cacheDir = huggingFaceCacheDir());
