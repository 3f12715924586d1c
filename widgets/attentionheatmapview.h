// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/mapbins.h"
#include "sinkscope/runresult.h"
#include "viewregistry.h"

#include <QThreadPool>
#include <QWidget>

#include <atomic>
#include <memory>
#include <vector>

class QAction;
class QCheckBox;
class QComboBox;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPTextElement;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;
class QStackedWidget;

namespace sinkscope {

/// One head's attention map: query rows (row 0 at the top) × key columns, token labels on both
/// axes (thinned to what fits), a colour bar. For causal models the cells the model cannot attend
/// to are drawn in a neutral grey rather than as zeros.
///
/// Display options (each also a View-menu action with a key): probabilities or pre-softmax logits
/// (L), log colour scale for probabilities (G), colour range clipped at a percentile, the sink
/// column (the key receiving the largest share, analysis::topElement) excluded from the colour
/// range (X), per-row normalisation (R: probabilities divided by the row maximum, logits scaled
/// to the row's min..max), auto range. Zoom and pan with the mouse (wheel, drag) or keys (+, -,
/// Shift+arrows, 0 resets). The view never holds a T x T map: it asks the core for the visible
/// window at screen resolution (binAttentionMap). When a cell would be smaller than a pixel, each
/// drawn cell is the maximum of a block of cells (so a sink stripe stays visible); zoomed in far
/// enough the cells are exact. The colour range, the sink column and the percentile come from the
/// same pass over the whole map. Hover text always gives the exact value of the cell under the
/// mouse. For prompts longer than asyncTokens() the head's map is binned on a worker thread (so are
/// large zoom windows): the window stays responsive, the previous map stays on screen until the
/// new one is drawn (mapShown()), and a newer selection supersedes a map still being computed.
///
/// Shows the layer/head of the shared Selection; spin boxes and the keyboard (Left/Right: head,
/// Up/Down and PageUp/PageDown: layer, Home/End: first/last head) change it. Clicking a cell picks
/// its query and key (the token strip highlights both); a query picked in the strip frames its
/// row. With grouped-query attention the title names the KV head and the query heads sharing it.
class AttentionHeatmapView : public View
{
    Q_OBJECT
public:
    enum class Quantity { Probabilities, Logits };

    /// Registry entry "heatmap".
    static ViewSpec spec();

    AttentionHeatmapView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~AttentionHeatmapView() override;

    /// The result on display (the CurrentResult's).
    std::shared_ptr<const RunResult> result() const { return m_result; }

    /// Colour range from the shown values' own minimum/maximum instead of the fixed 0..1.
    void setAutoRange(bool on);
    bool autoRange() const { return m_autoRange; }
    /// Probabilities or logits (logits need the run's Q and K; otherwise refused with false).
    bool setQuantity(Quantity quantity);
    Quantity quantity() const { return m_quantity; }
    /// Logarithmic colour scale (probabilities only; with logits the scale stays linear).
    void setLogScale(bool on);
    bool logScale() const { return m_logScale; }
    /// Upper end of the colour range at this percentile of the shown values (100: the maximum).
    void setClipPercentile(double percentile);
    double clipPercentile() const { return m_clipPercentile; }
    /// Leave the sink column out of the colour range.
    void setExcludeSink(bool on);
    bool excludeSink() const { return m_excludeSink; }
    /// The sink column of the shown head (-1 without a map).
    int sinkColumn() const { return m_sinkColumn; }
    /// Scale each row to its own range.
    void setRowNormalised(bool on);
    bool rowNormalised() const { return m_rowNormalised; }

    /// Shows keys [k0, k1] and queries [q0, q1] (clamped to the map); resetZoom shows everything.
    void zoomTo(double k0, double k1, double q0, double q1);
    void resetZoom();
    /// Scales the visible range around its centre (factor < 1 zooms in).
    void zoomBy(double factor);
    /// Moves the visible range by a fraction of its size.
    void panBy(double dxFraction, double dyFraction);
    bool isZoomed() const;
    /// Prompts longer than this get their maps computed off the GUI thread (BinnedHeadMap's
    /// threshold: one for every view that bins maps).
    static int asyncTokens();
    /// True while a map is being computed on the worker thread.
    bool isComputing() const override { return m_computing || m_windowPending; }
    /// True while neighbouring heads of a long prompt (the ones the arrow keys lead to) are being
    /// binned ahead in the background; switching to one of them afterwards needs no computation.
    bool isPrefetching() const { return m_prefetchRunning > 0; }
    /// Cells per drawn block along keys and queries (1 × 1: exact cells).
    int blockKeys() const { return m_block[0]; }
    int blockQueries() const { return m_block[1]; }

    // View
    QCustomPlot* plot() const override { return m_plot; }
    bool hasFigure() const override;
    QString defaultFileName() const override;
    QByteArray dataCsv() const override;
    DataExport dataExport() const override;
    QVariantMap saveOptions() const override;
    void restoreOptions(const QVariantMap& options) override;

    QCPColorMap* colorMap() const { return m_map; }
    QCPColorScale* colorScale() const { return m_scale; }
    QSpinBox* layerSpinBox() const { return m_layerSpin; }
    QSpinBox* headSpinBox() const { return m_headSpin; }

    /// Layer and head of the map on display (-1 when none).
    int shownLayer() const { return m_shownLayer; }
    int shownHead() const { return m_shownHead; }
    /// "Layer l · Head h" (plus the KV group with grouped-query attention; "· logits" for
    /// logits), or "" when no map is shown.
    QString title() const;
    /// The text shown instead of the plot, or "" while a map is shown.
    QString placeholderText() const;
    /// Whether a cell is hidden by the causal mask (key after query in a causal model).
    bool isMasked(int query, int key) const;
    /// The exact value of a cell in the shown quantity, before row normalisation (NaN: masked).
    double cellValue(int query, int key) const;
    /// Tooltip text for a cell ("query 'The' (1) → key '<s>' (0): 0.8123"), "" outside the map.
    QString hoverText(int query, int key) const;
    /// The cell under a position in plot() coordinates; false outside the map.
    bool cellAt(const QPointF& plotPos, int* query, int* key) const;
    /// Centre of a cell in plot() coordinates (for tests and tooltips).
    QPointF cellCenter(int query, int key) const;
    /// Elements from one query-axis label to the next at the last layout (1: every element).
    int labelStep() const;

    QAction* logitsAction() const { return m_logitsAction; }
    QAction* logScaleAction() const { return m_logAction; }

Q_SIGNALS:
    /// The mouse is over a cell (-1, -1 when it left the map).
    void cellHovered(int query, int key);
    /// A new map (head, quantity or normalisation) has been drawn.
    void mapShown();

protected:
    void keyPressEvent(QKeyEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void buildActions();
    void rebuildMap();
    void applyMap(int layer, int head, std::shared_ptr<const MapBins> bins);
    MapBinning shownBinning() const;
    std::shared_ptr<const MapBins> prefetched(int layer, int head, const MapBinning& binning) const;
    void prefetchNeighbours();
    void cancelPrefetch();
    void applyWindow(MapBins bins);
    /// What every request of the view shares: the quantity, row normalisation, maxima only and
    /// the percentile sample size.
    MapBinning baseBinning() const;
    MapBinning binningFor(bool wholeMap, bool fullWindow) const;
    bool isCheap(const MapBinning& binning) const;
    void drawBins();
    void updateDisplay();
    void scheduleDisplay();
    void updateSelectionMarker();
    void updateTickers();
    void updateColorRange();
    void updateSpinBoxes();
    void syncControls();
    void onSelectionChanged();
    void onResultChanged();
    void onRangeChanged();
    void onPlotMouseMove(QMouseEvent* event);
    void onPlotMousePress(QMouseEvent* event);
    int tokenCount() const;
    QString tokenText(int index, int maxChars = 0) const;

    std::shared_ptr<const RunResult> m_result;
    bool m_autoRange = false;
    Quantity m_quantity = Quantity::Probabilities;
    bool m_logScale = false;
    double m_clipPercentile = 100.0;
    bool m_excludeSink = false;
    bool m_rowNormalised = false;
    int m_shownLayer = -1;
    int m_shownHead = -1;
    int m_sinkColumn = -1;
    int m_block[2] = {1, 1};
    bool m_displayPending = false;
    bool m_settingRange = false;
    std::shared_ptr<const MapBins> m_stats; ///< the shown head's whole-map pass (colour range, sink column, percentile)
    MapBins m_bins;  ///< the drawn window's bins (no statistics)
    int m_hovered[2] = {-1, -1};

    QSpinBox* m_layerSpin = nullptr;
    QSpinBox* m_headSpin = nullptr;
    QComboBox* m_quantityBox = nullptr;
    QCheckBox* m_logBox = nullptr;
    QCheckBox* m_autoRangeBox = nullptr;
    QCheckBox* m_excludeBox = nullptr;
    QCheckBox* m_rowBox = nullptr;
    QDoubleSpinBox* m_clipSpin = nullptr;
    QAction* m_logitsAction = nullptr;
    QAction* m_logAction = nullptr;
    QAction* m_excludeAction = nullptr;
    QAction* m_rowAction = nullptr;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPItemRect* m_marker = nullptr;

    bool m_computing = false;
    bool m_windowPending = false; ///< a zoom window is being binned on the worker
    MapBinning m_windowRequest;   ///< that window
    int m_pending[2] = {-1, -1};
    bool m_pendingLogits = false;
    std::shared_ptr<const RunResult> m_pendingResult;
    // Bumped by every map request; a worker whose map is no longer wanted drops it.
    std::shared_ptr<std::atomic<uint64_t>> m_mapGeneration = std::make_shared<std::atomic<uint64_t>>(0);
    QThreadPool m_mapPool;

    // Neighbouring heads binned ahead (long prompts), valid for one result and one request.
    struct Prefetched {
        int layer = -1;
        int head = -1;
        std::shared_ptr<const MapBins> bins;
    };
    std::vector<Prefetched> m_prefetched;
    std::shared_ptr<const RunResult> m_prefetchResult;
    MapBinning m_prefetchBinning;
    std::shared_ptr<std::atomic<bool>> m_prefetchCancel;
    int m_prefetchRunning = 0;
    QThreadPool m_prefetchPool;
};

} // namespace sinkscope
