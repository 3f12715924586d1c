// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QString>

class QCustomPlot;

namespace sinkscope {

/// What File → Export needs from a view that shows one figure: the plot to render, a file name
/// to suggest, and the numbers behind the figure.
class PlotView
{
public:
    virtual ~PlotView() = default;
    /// The plot the view draws into (never null, may be empty).
    virtual QCustomPlot* plot() const = 0;
    /// Whether a figure is currently shown (false while the view shows a placeholder).
    virtual bool hasFigure() const = 0;
    /// Suggested base name for exports, without a suffix ("attention-l3-h5").
    virtual QString defaultFileName() const = 0;
    /// The data behind the current figure as UTF-8 CSV (empty when there is none).
    virtual QByteArray dataCsv() const = 0;
};

} // namespace sinkscope
