// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "viewregistry.h"

#include <memory>

class QCPAxisRect;
class QCPBars;
class QCPColorMap;
class QCPGraph;
class QCPTextElement;
class QLabel;
class QStackedWidget;

namespace sinkscope {

/// Hidden-state dimensions (massive activations, Sun et al. 2024), from analysis::RunMetrics:
///  - per hidden state (0 = embedding output, l + 1 = after block l) the top-1, top-2, top-3 and
///    median |h| on a log axis;
///  - for the selected layer (the stream after block l), max over elements of |h| per dimension,
///    the massive activations labelled "d<dim> @ <element>";
///  - an element × dimension map of |h| for that hidden state (log colours);
///  - ‖h‖, ‖k‖ and ‖v‖ per layer for the first element against the mean of the others.
class HiddenView : public View
{
    Q_OBJECT
public:
    /// Registry entry "hidden".
    static ViewSpec spec();

    HiddenView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~HiddenView() override;

    bool hasFigure() const override { return m_hasFigure; }
    QCustomPlot* plot() const override { return m_plot; }
    QString defaultFileName() const override;
    /// state,top1,top2,top3,median,h_first,h_others,k_first,k_others,v_first,v_others, then after
    /// a blank line dim,max_abs,element of the selected state, then the massive activations.
    QByteArray dataCsv() const override;
    QString placeholderText() const;

    /// The hidden-state index shown in the per-dimension plots (-1 without a figure).
    int shownState() const { return m_state; }
    QCPGraph* topGraph(int rank) const { return m_top[rank]; }
    QCPGraph* medianGraph() const { return m_median; }
    QCPBars* dimBars() const { return m_dimBars; }
    QCPColorMap* magnitudeMap() const { return m_map; }
    /// Labels drawn on the massive dimensions ("d3 @ 0").
    QStringList massiveLabels() const;
    QCPGraph* normGraph(int which, bool first) const { return m_norms[which][first ? 0 : 1]; }

private:
    void rebuild();
    void rebuildState();

    std::shared_ptr<const RunResult> m_result;
    std::shared_ptr<const analysis::RunMetrics> m_metrics;
    bool m_hasFigure = false;
    int m_state = -1;
    QStringList m_labels;

    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPAxisRect* m_layersRect = nullptr;
    QCPAxisRect* m_dimsRect = nullptr;
    QCPAxisRect* m_mapRect = nullptr;
    QCPAxisRect* m_normsRect = nullptr;
    QCPGraph* m_top[3] = {nullptr, nullptr, nullptr};
    QCPGraph* m_median = nullptr;
    QCPBars* m_dimBars = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPGraph* m_norms[3][2] = {};
};

} // namespace sinkscope
