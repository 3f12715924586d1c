// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/runresult.h"
#include "viewregistry.h"

#include <QPointer>
#include <QWidget>

#include <memory>

class QCheckBox;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPTextElement;
class QLabel;
class QSpinBox;
class QStackedWidget;

namespace sinkscope {

/// One head's attention map: query rows (row 0 at the top) × key columns, one flat cell per
/// element pair (no interpolation), token labels on both axes (thinned to what fits), and a colour
/// bar fixed to 0..1 unless auto range is on. For causal models the cells above the diagonal,
/// which the model cannot attend to, are drawn in a neutral grey rather than as zeros.
///
/// Shows the layer/head of the shared Selection; spin boxes and the keyboard (Left/Right: head,
/// Up/Down and PageUp/PageDown: layer) change it. Clicking a cell picks its query and key;
/// hovering shows "query 'tok' (t) → key 'tok' (k): value".
class AttentionHeatmapView : public View
{
    Q_OBJECT
public:
    /// Registry entry "heatmap".
    static ViewSpec spec();

    AttentionHeatmapView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~AttentionHeatmapView() override;

    /// The result on display (the CurrentResult's).
    std::shared_ptr<const RunResult> result() const { return m_result; }

    /// Colour range from the shown map's own minimum/maximum instead of the fixed 0..1.
    void setAutoRange(bool on);
    bool autoRange() const { return m_autoRange; }

    // View
    QCustomPlot* plot() const override { return m_plot; }
    bool hasFigure() const override;
    QString defaultFileName() const override;
    QByteArray dataCsv() const override;

    QCPColorMap* colorMap() const { return m_map; }
    QCPColorScale* colorScale() const { return m_scale; }
    QSpinBox* layerSpinBox() const { return m_layerSpin; }
    QSpinBox* headSpinBox() const { return m_headSpin; }

    /// Layer and head of the map on display (-1 when none).
    int shownLayer() const { return m_shownLayer; }
    int shownHead() const { return m_shownHead; }
    /// "Layer l · Head h", or "" when no map is shown.
    QString title() const;
    /// The text shown instead of the plot, or "" while a map is shown.
    QString placeholderText() const;
    /// Whether a cell is hidden by the causal mask (key after query in a causal model).
    bool isMasked(int query, int key) const;
    /// Tooltip text for a cell ("query 'The' (1) → key '<s>' (0): 0.8123"), "" outside the map.
    QString hoverText(int query, int key) const;
    /// The cell under a position in plot() coordinates; false outside the map.
    bool cellAt(const QPointF& plotPos, int* query, int* key) const;
    /// Centre of a cell in plot() coordinates (for tests and tooltips).
    QPointF cellCenter(int query, int key) const;
    /// How many axis labels are drawn per axis (the rest are thinned out).
    int labelStep() const { return m_labelStep; }

Q_SIGNALS:
    /// The mouse is over a cell (-1, -1 when it left the map).
    void cellHovered(int query, int key);

protected:
    void keyPressEvent(QKeyEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuildMap();
    void updateSelectionMarker();
    void updateTickers();
    void updateColorRange();
    void updateSpinBoxes();
    void onSelectionChanged();
    void onResultChanged();
    void onPlotMouseMove(QMouseEvent* event);
    void onPlotMousePress(QMouseEvent* event);
    int tokenCount() const;
    QString tokenText(int index, int maxChars = 0) const;

    std::shared_ptr<const RunResult> m_result;
    bool m_autoRange = false;
    int m_shownLayer = -1;
    int m_shownHead = -1;
    int m_labelStep = 1;
    RowMatrixXf m_shownMap; ///< the shown head's probabilities (row = query)
    int m_hovered[2] = {-1, -1};

    QSpinBox* m_layerSpin = nullptr;
    QSpinBox* m_headSpin = nullptr;
    QCheckBox* m_autoRangeBox = nullptr;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPItemRect* m_marker = nullptr;
};

} // namespace sinkscope
