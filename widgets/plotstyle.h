// SPDX-License-Identifier: GPL-3.0-or-later
// Shared look of the views: one colour map, one placeholder page, one number format for CSV. A
// head's map is drawn by BinnedHeadMap (binnedheadmap.h), its token labels by TokenTicker
// (tokenticker.h).
#pragma once

#include <QByteArray>
#include <QColor>
#include <QString>

#include "sinkscope/runresult.h"

class QCPAxisRect;
class QCPColorGradient;
class QCPLegend;
class QCustomPlot;
class QLabel;
class QStackedWidget;
class QWidget;

namespace sinkscope {

/// Grey drawn for cells that hold no value (masked keys, missing metrics).
QColor noValueColor();
/// Viridis (perceptually uniform, readable in grey scale), NaN drawn as noValueColor().
QCPColorGradient viridisGradient();
/// A stacked page of a placeholder label (index 0) and `content` (index 1).
QStackedWidget* makePlaceholderStack(QWidget* content, QLabel** placeholder, QWidget* parent);
/// A number for CSV: 9 significant digits (float32 round-trips), "" for NaN.
QByteArray csvNumber(double value);
/// True for the cells a run's attention cannot reach (key after the query of a causal model).
bool isMaskedCell(const RunResult& run, int query, int key);
/// Puts `legend` (inset in `rect`, in a corner) into the corner of `rect` where it covers the
/// fewest points of the rect's visible graphs, the top right when several tie. The legend's
/// share of the rect is taken from the last layout: a figure export places every corner legend
/// again at the figure's size (FigureStyle).
void placeLegendWhereFewestPoints(QCPAxisRect* rect, QCPLegend* legend);

} // namespace sinkscope
