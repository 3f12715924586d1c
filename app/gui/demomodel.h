// SPDX-License-Identifier: GPL-3.0-or-later
// The built-in demo models as the app's default: written once into the app-data folder and reused.
#pragma once

#include "sinkscope/demomodels.h"

#include <QString>

/// The folder the app keeps demo model `kind` in:
/// QStandardPaths::AppDataLocation/demo-models/<generator version>/<kind>.
QString demoModelCacheDir(sinkscope::DemoKind kind);

/// Makes sure a complete, current copy of the demo model is in demoModelCacheDir(kind) - written
/// on first use and rewritten when files are missing or damaged - and returns that folder.
/// `baseDir` overrides the app-data folder (tests). Returns "" and sets `error` when it cannot be
/// written. Takes a few milliseconds; the model is ~1 MB.
QString ensureDemoModel(sinkscope::DemoKind kind, QString* error = nullptr, const QString& baseDir = {});

/// Display name for a demo model folder opened in the app: "sinkscope-demo-decoder (synthetic)".
QString demoModelDisplayName(sinkscope::DemoKind kind);
