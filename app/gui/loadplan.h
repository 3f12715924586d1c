// SPDX-License-Identifier: GPL-3.0-or-later
// What the window checks before it asks the engine to load a folder: that it can be used from the
// window at all (a tokenizer, the device asked for), and how much memory its weights will take on
// that device in the dtype it will compute in. Nothing here loads weights.
#pragma once

#include "sinkscope/model.h"

#include <QString>

#include <cstdint>

struct LoadPlan {
    /// Set when the folder must not be loaded; the sentence to show (the current model stays).
    QString error;
    /// False when the folder's files could not be read here; the load reports why.
    bool checked = false;
    /// The device and dtype the model will compute on ("cpu", "float32").
    QString device;
    QString dtype;
    /// A sentence for the user when the dtype asked for is not the one used (CPU: float32).
    QString dtypeNote;
    int64_t parameters = 0;     ///< elements in the weight files
    double weightBytes = 0;     ///< parameters × bytes of the compute dtype
    double availableBytes = 0;  ///< MemAvailable for the CPU (0: unknown, e.g. a GPU)
    /// "≈ 1.2 MB of weights (300,000 parameters) as float32 on cpu; 12.3 GB available".
    QString summary() const;
    /// "≈ 1.2 MB (float32)".
    QString weightsText() const;
};

/// The plan for loading `dir`. Refused (error set) when CUDA is asked for and this build sees
/// none, the folder has no tokenizer.json, or its weights need more memory than is available.
/// A folder whose files cannot be located or parsed is left to the engine's load (checked false).
LoadPlan planLoad(const QString& dir, sinkscope::DevicePreference device, sinkscope::DTypePreference dtype);

/// "auto", "float32", "float16", "bfloat16" for a preference.
QString dtypePreferenceName(sinkscope::DTypePreference dtype);
