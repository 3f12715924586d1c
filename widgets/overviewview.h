// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "viewregistry.h"

#include <functional>
#include <memory>
#include <vector>

class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPTextElement;
class QComboBox;
class QLabel;
class QSpinBox;
class QStackedWidget;

namespace sinkscope {

/// One per-head number the overview can show. Other parts of the program add their own (for
/// example a verdict per head) with OverviewView::addMetric before the window is built.
struct OverviewMetric {
    QString id;    ///< stable key: settings, CSV column ("first_element_mass")
    QString label; ///< combo-box text and colour-bar label
    /// Whether the metric exists for this analysis (e.g. waiver scores need value norms).
    std::function<bool(const analysis::RunMetrics&)> available;
    /// The value of head (l, h). `element` is the overview's chosen element k (for α_k).
    std::function<double(const analysis::RunMetrics&, int layer, int head, int element)> value;
    /// Text for the hover line of head (l, h); empty: the value with 4 decimals.
    std::function<QString(const analysis::RunMetrics&, int layer, int head, int element)> describe;
    bool usesElement = false; ///< the element spin box applies
    bool unitRange = true;    ///< colours span 0..1 (else the values' own minimum..maximum)
};

/// The layer × head grid of one per-head metric (rows = layers, layer 0 at the top; columns =
/// heads): first-element mass, α_k of a chosen element, mean row entropy, the head's top waiver
/// score, the top-attended element's share. The current head is outlined; clicking a cell
/// selects that head and opens its heatmap; hovering shows the value; a colour bar is beside.
class OverviewView : public View
{
    Q_OBJECT
public:
    /// Registry entry "overview".
    static ViewSpec spec();
    /// The built-in metrics followed by the added ones, in combo-box order.
    static std::vector<OverviewMetric>& metrics();
    /// Adds a metric to every overview created afterwards (false: the id is taken).
    static bool addMetric(OverviewMetric metric);

    OverviewView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~OverviewView() override;

    bool hasFigure() const override { return m_hasFigure; }
    QCustomPlot* plot() const override { return m_plot; }
    QString defaultFileName() const override;
    /// One row per head: layer, head, then every available metric's value (and the elements).
    QByteArray dataCsv() const override;
    QVariantMap saveOptions() const override;
    void restoreOptions(const QVariantMap& options) override;

    /// Shows metric `id`; false when there is no such metric.
    bool setMetric(const QString& id);
    QString metricId() const;
    /// The element k of α_k.
    void setElement(int element);
    int element() const;

    /// The value drawn in cell (layer, head) (NaN outside or without a figure).
    double cellValue(int layer, int head) const;
    /// The colour bar's range.
    double rangeLower() const;
    double rangeUpper() const;
    /// "L2 H3 · first-element mass 0.8123", "" outside.
    QString hoverText(int layer, int head) const;
    bool cellAt(const QPointF& plotPos, int* layer, int* head) const;
    QPointF cellCenter(int layer, int head) const;
    /// The outlined head (-1, -1 when none).
    int outlinedLayer() const { return m_outlined[0]; }
    int outlinedHead() const { return m_outlined[1]; }
    QComboBox* metricBox() const { return m_metricBox; }
    QSpinBox* elementSpinBox() const { return m_elementSpin; }
    QString placeholderText() const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();
    void updateOutline();
    void fillMetricBox();
    const OverviewMetric* currentMetric() const;

    std::shared_ptr<const analysis::RunMetrics> m_metrics;
    bool m_hasFigure = false;
    int m_outlined[2] = {-1, -1};
    QString m_wantedMetric;

    QComboBox* m_metricBox = nullptr;
    QSpinBox* m_elementSpin = nullptr;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPItemRect* m_outline = nullptr;
};

} // namespace sinkscope
