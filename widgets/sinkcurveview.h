// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "viewregistry.h"

#include <QPointer>
#include <QWidget>

#include <memory>
#include <vector>

class QCPErrorBars;
class QCPGraph;
class QCPItemRect;
class QCPTextElement;
class QLabel;
class QStackedWidget;

namespace sinkscope {

/// The sink curves, per layer, mean ± population std over heads (analysis::sinkCurve of the current
/// analysis): the mass on the first element averaged over queries (each head also as a faint dot),
/// the last query's mass on the first element (StreamingLLM's view), and α_w of the current waiver
/// element w (the selected head's top waiver element, element 0 when the run has no waiver
/// scores). Overlays of CurrentResult (other runs: a pinned prompt, a prompt set's mean, another
/// model) are drawn as dashed first-element curves, each named in the legend. x = layer, y in
/// [0, 1]. The selection's layer is highlighted; clicking a layer's column selects that layer.
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
    QCPGraph* lastQueryGraph() const { return m_lastGraph; }
    QCPErrorBars* lastQueryErrorBars() const { return m_lastErrors; }
    QCPGraph* waiverGraph() const { return m_waiverGraph; }
    /// The element w whose α_w is drawn.
    int waiverElement() const { return m_waiverElement; }
    int overlayCount() const { return int(m_overlayGraphs.size()); }
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
    void rebuildWaiver();
    void rebuildOverlays();
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
    QCPGraph* m_lastGraph = nullptr;
    QCPErrorBars* m_lastErrors = nullptr;
    QCPGraph* m_waiverGraph = nullptr;
    QCPErrorBars* m_waiverErrors = nullptr;
    std::vector<QCPGraph*> m_overlayGraphs;
    int m_waiverElement = 0;
    std::vector<double> m_waiverMean, m_waiverStd;
    QCPItemRect* m_band = nullptr;
};

} // namespace sinkscope
