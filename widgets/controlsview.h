// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/controls.h"
#include "sinkscope/session.h"
#include "viewregistry.h"

#include <QPointer>

#include <memory>

class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCPLayoutGrid;
class QCPLegend;
class QCPTextElement;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;

namespace sinkscope {

class BinnedHeadMap;
class JobService;

/// The controls panel (docs/METHODS.md, "Controls"): pick a control (block:J, designate:J,
/// positions:shift=D, positions:J=0, evict:K,W) and its element J (a click on a token of the
/// strip picks it, through the shared Selection's query or key, or the J box), and Apply runs the
/// core ControlJob on the tokens on screen through the JobService, with progress and Cancel. The
/// figure shows the selected head's map before and after side by side, the sink curve (mean over
/// heads of the first-element mass per layer) before and after, the per-position KL, and for
/// evict the NLL against position (full, evicted, window only, designated waiver). The cost (NLL
/// before/after, mean KL) is written above. Selecting another head redraws the maps from the kept
/// runs; a failed control (J outside the prompt, K + W too small) is said and the previous result
/// stays. The maps are drawn by BinnedHeadMap at the plot's resolution (block maxima, said in the
/// key axis labels, when a cell is smaller than a pixel); a long prompt's maps are binned off the
/// GUI thread and a newer head supersedes maps still on their way (mapsShown() when drawn).
class ControlsView : public View
{
    Q_OBJECT
public:
    /// Registry entry "controls".
    static ViewSpec spec();

    ControlsView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~ControlsView() override;

    bool hasFigure() const override { return bool(m_result); }
    QCustomPlot* plot() const override { return m_plot; }
    QString defaultFileName() const override;
    /// Long format: `series,layer,head,position,key,value` with the series nll_before, nll_after,
    /// kl_mean (scalars), kl (per position), first_mass_before / first_mass_after (per layer and
    /// head), sink_before / sink_after (per layer, mean over heads), map_before / map_after (the
    /// selected head's every visible cell at full resolution, whatever blocks the plot draws;
    /// position = query), and for evict nll_full, nll_evicted, nll_window_only,
    /// nll_designated (per predicting position).
    QByteArray dataCsv() const override;
    DataExport dataExport() const override;

    /// The SPEC the widgets describe now ("block:3", "evict:1,4", ...).
    QString specText() const;
    /// Sets the widgets from a SPEC, parsed by the core's parser (analysis::parseControlSpec).
    /// A bad SPEC changes nothing and returns false with the parser's reason in `error`.
    bool setControl(const QString& spec, QString* error = nullptr);
    /// The element J the widgets hold.
    int element() const;

    /// The result on screen (null before the first control).
    std::shared_ptr<const analysis::ControlResult> result() const { return m_result; }
    /// Shows a result made elsewhere (e.g. by a test's own job); null clears.
    void setResult(std::shared_ptr<const analysis::ControlResult> result);
    bool isRunning() const { return m_job != 0; }

    /// The selected head's maps [T, T] before and after (empty without a result), formed here at
    /// full resolution (the CSV's numbers; the plot draws from bins instead).
    RowMatrixXf beforeMap() const;
    RowMatrixXf afterMap() const;
    /// "NLL before 4.1234, after 4.5678 (+0.4444) · mean KL 0.0123 nats".
    QString costText() const;
    QString statusText() const;

    QComboBox* kindBox() const { return m_kind; }
    QSpinBox* elementBox() const { return m_element; }
    QPushButton* applyButton() const { return m_apply; }
    QPushButton* cancelButton() const { return m_cancel; }
    QPushButton* compareButton() const { return m_compare; }
    QProgressBar* progressBar() const { return m_progress; }
    /// The colour maps of the maps before (0) and after (1), and what draws them.
    QCPColorMap* colorMap(int side) const { return m_maps[side]; }
    BinnedHeadMap* binnedMap(int side) const { return m_binned[side]; }
    /// True while a long prompt's maps are being binned off the GUI thread.
    bool isComputing() const override;

public Q_SLOTS:
    /// Runs the control the widgets describe on the run on screen (no-op while one runs). A bad
    /// SPEC or a missing run / service is said in the status line.
    void apply();
    void cancel();
    /// Asks for the compare view with the run before the control as A and after it as B.
    void sendToCompare();

Q_SIGNALS:
    /// A control finished and its result is on screen.
    void controlFinished();
    /// Both maps of the selected head are drawn (after a result or a head change).
    void mapsShown();
    /// A control could not be applied (bad SPEC, the job's error, cancelled); the message is in
    /// the status line and the previous result stays.
    void controlFailed(const QString& message);

private:
    void onProgress(quint64 id, const JobProgress& p);
    void onFinished(quint64 id, std::shared_ptr<const JobResult> r);
    void onFailed(quint64 id, const QString& message, bool cancelled);
    void fail(const QString& message);
    void updateInputs();
    void updateButtons();
    void rebuild();
    void drawMaps();
    void mapsDrawn();
    /// Puts the NLL panel (evict only) into the curves row or takes it out.
    void showNllPanel(bool show);
    void updateMapTitle();
    void showPlaceholder();

    std::shared_ptr<const analysis::ControlResult> m_result;
    QPointer<JobService> m_service;
    uint64_t m_job = 0;
    int m_drawn[2] = {-1, -1}; ///< layer and head the maps show

    QComboBox* m_kind = nullptr;
    QSpinBox* m_element = nullptr;
    QSpinBox* m_shift = nullptr;
    QSpinBox* m_sinks = nullptr;
    QSpinBox* m_window = nullptr;
    QLabel* m_elementLabel = nullptr;
    QLabel* m_shiftLabel = nullptr;
    QLabel* m_sinksLabel = nullptr;
    QLabel* m_windowLabel = nullptr;
    QLabel* m_specLabel = nullptr;
    QPushButton* m_apply = nullptr;
    QPushButton* m_cancel = nullptr;
    QPushButton* m_compare = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_cost = nullptr;

    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPAxisRect* m_mapRects[2] = {};
    QCPColorMap* m_maps[2] = {};
    BinnedHeadMap* m_binned[2] = {};
    bool m_requesting = false; ///< inside drawMaps: a map drawn at once waits for the other
    QCPColorScale* m_scale = nullptr;
    QCPLayoutGrid* m_curves = nullptr;
    QCPAxisRect* m_sinkRect = nullptr;
    QCPAxisRect* m_klRect = nullptr;
    QCPAxisRect* m_nllRect = nullptr;
    QCPTextElement* m_nllTitle = nullptr; ///< over m_nllRect (both in the layout for evict only)
    QCPLegend* m_sinkLegend = nullptr;
    QCPGraph* m_sinkGraphs[2] = {};
    QCPGraph* m_klGraph = nullptr;
    QCPGraph* m_nllGraphs[4] = {};
    QCPLegend* m_nllLegend = nullptr;
};

} // namespace sinkscope
