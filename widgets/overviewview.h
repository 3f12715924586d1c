// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/classify.h"
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

/// One per-head number the overview can show, computed from the run's analysis. Other parts of
/// the program add their own with OverviewView::addMetric before the window is built. (The
/// verdict per head is not one of these: it comes from the classification, see OverviewView.)
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
/// score, the top-attended element's share; and, once CurrentResult holds a classification of
/// the run, the verdict ("verdict": hue = verdict as in the classification view's grid,
/// saturation = confidence; before that the entry is disabled, "Run Classify first"). The
/// current head is outlined; clicking a cell selects that head and opens its heatmap; hovering
/// shows the value; a colour bar is beside (for the verdict it names the categories).
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
    /// One row per head: layer, head, then every available metric's value (and the elements);
    /// for the verdict metric: layer,head,verdict,confidence.
    QByteArray dataCsv() const override;
    QVariantMap saveOptions() const override;
    void restoreOptions(const QVariantMap& options) override;

    /// Shows metric `id`; false when there is no such metric.
    bool setMetric(const QString& id);
    QString metricId() const;
    /// The element k of α_k.
    void setElement(int element);
    int element() const;

    /// The id of the verdict metric.
    static QString verdictMetricId();
    /// The value drawn in cell (layer, head) (NaN outside or without a figure). For the verdict
    /// it is the category index (order of analysis::Verdict) plus a fraction that grows with
    /// the confidence.
    double cellValue(int layer, int head) const;
    /// The colour cell (layer, head) is drawn in (invalid outside or without a figure).
    QColor cellColour(int layer, int head) const;
    /// With the verdict metric shown: head (layer, head)'s verdict and confidence (false otherwise).
    bool cellVerdict(int layer, int head, analysis::Verdict* verdict, double* confidence) const;
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
    bool showsVerdict() const;
    void updateVerdictItem();
    /// The verdict of head (l, h) in m_classification (nullptr when it has none).
    const analysis::HeadVerdict* headVerdict(int layer, int head) const;

    std::shared_ptr<const analysis::RunMetrics> m_metrics;
    std::shared_ptr<const analysis::Classification> m_classification; ///< what the verdict grid shows
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
