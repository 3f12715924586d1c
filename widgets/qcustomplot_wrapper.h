// SPDX-License-Identifier: GPL-3.0-or-later
// The one place that includes QCustomPlot.
//
// The project builds with QT_NO_KEYWORDS (so that torch's `slots` never meets Qt's macro), but
// QCustomPlot's header declares its members with the plain `signals`/`slots`/`emit` spellings and
// uses `foreach` in inline templates. Map them to the Q_ forms for the duration of the include
// only.
#pragma once

#include <QtCore/qglobal.h>

#if defined(signals) || defined(slots) || defined(emit)
#include <qcustomplot.h>
#else
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
#endif
