// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "viewregistry.h"

#include <QPointer>
#include <QWidget>

#include <memory>

class QCPErrorBars;
class QCPGraph;
class QCPItemRect;
class QCPTextElement;
class QLabel;
class QStackedWidget;

namespace sinkscope {

/// The sink curve: for each layer, the mean over heads of the attention mass on the first
/// element (analysis::sinkCurve of the current analysis) with ±1 population standard deviation
/// across heads as error bars, and each head as a faint dot. x = layer, y = mass in [0, 1]. The
/// selection's layer is highlighted; clicking a layer's column selects that layer.
class SinkCurveView : public View
{
    Q_OBJECT
public:
    /// Registry entry "sinks".
    static ViewSpec spec();

    SinkCurveView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~SinkCurveView() override;

    // View
    QCustomPlot* plot() const override { return m_plot; }
    bool hasFigure() const override { return m_hasFigure; }
    QString defaultFileName() const override;
    QByteArray dataCsv() const override;

    /// The curve on display (empty vectors without a figure).
    const analysis::SinkCurve& curve() const { return m_curve; }
    QCPGraph* meanGraph() const { return m_meanGraph; }
    QCPGraph* headsGraph() const { return m_headsGraph; }
    QCPErrorBars* errorBars() const { return m_errorBars; }
    /// The highlighted layer (-1 when none).
    int highlightedLayer() const { return m_highlighted; }
    QString placeholderText() const;

    /// The layer whose column holds `plotPos` (plot() coordinates), or -1.
    int layerAt(const QPointF& plotPos) const;
    /// The mean's point of a layer in plot() coordinates.
    QPointF layerPoint(int layer) const;
    /// "layer 3: 0.8123 ± 0.0456 over 8 heads".
    QString hoverText(int layer) const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();
    int layerCount() const { return int(m_curve.mean.size()); }
    void updateHighlight();
    void onPlotMousePress(QMouseEvent* event);

    std::shared_ptr<const RunResult> m_result;
    std::shared_ptr<const analysis::RunMetrics> m_metrics;
    analysis::SinkCurve m_curve;
    bool m_hasFigure = false;
    int m_highlighted = -1;

    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPGraph* m_headsGraph = nullptr;
    QCPGraph* m_meanGraph = nullptr;
    QCPGraph* m_highlightGraph = nullptr;
    QCPErrorBars* m_errorBars = nullptr;
    QCPItemRect* m_band = nullptr;
};

} // namespace sinkscope
