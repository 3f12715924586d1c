// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "viewregistry.h"

#include <memory>

class QCPAxisRect;
class QCPBars;
class QCPGraph;
class QCPItemStraightLine;
class QCPTextElement;
class QComboBox;
class QLabel;
class QStackedWidget;

namespace sinkscope {

/// Value statistics of the selected layer and head (its KV head with grouped-query attention):
///  - per-dimension bars of the value vectors (mean, std or max |v|, chosen in the bar), the
///    waiver elements (analysis::ValueDims::waiverElements: score >= the waiver threshold for a
///    head of the group) apart from the rest;
///  - ‖v_j‖, ‖v_j W_O^h‖ and the written norm Σ_t ‖A[t,j] v_j W_O^h‖ of each element against the
///    attention it receives (α_j): sinks receive much and write little;
///  - the waiver score of each element, with the threshold line.
/// All numbers come from the current analysis::RunMetrics.
class ValuesView : public View
{
    Q_OBJECT
public:
    enum class Statistic { Mean, Std, MaxAbs };

    /// Registry entry "values".
    static ViewSpec spec();

    ValuesView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~ValuesView() override;

    bool hasFigure() const override { return m_hasFigure; }
    QCustomPlot* plot() const override { return m_plot; }
    QString defaultFileName() const override;
    /// element,alpha,value_norm,contribution_norm,written_norm,waiver_score then, after a blank
    /// line, dim,rest_mean,rest_std,rest_max_abs,waiver_mean,waiver_std,waiver_max_abs.
    QByteArray dataCsv() const override;
    QVariantMap saveOptions() const override;
    void restoreOptions(const QVariantMap& options) override;

    void setStatistic(Statistic statistic);
    Statistic statistic() const;
    QString placeholderText() const;

    /// The layer / head / KV head shown (-1 without a figure).
    int shownLayer() const { return m_layer; }
    int shownHead() const { return m_head; }
    int shownKvHead() const { return m_kvHead; }
    /// The waiver elements of the shown group.
    const std::vector<int>& waiverElements() const { return m_waiverElements; }
    QCPBars* restBars() const { return m_restBars; }
    QCPBars* waiverBars() const { return m_waiverBars; }
    QCPGraph* valueNormGraph() const { return m_valueNorm; }
    QCPGraph* contributionGraph() const { return m_contribution; }
    QCPGraph* writtenGraph() const { return m_written; }
    QCPBars* scoreBars() const { return m_scoreBars; }

private:
    void rebuild();
    const analysis::ValueDims* shownDims() const;

    std::shared_ptr<const analysis::RunMetrics> m_metrics;
    bool m_hasFigure = false;
    int m_layer = -1;
    int m_head = -1;
    int m_kvHead = -1;
    std::vector<int> m_waiverElements;

    QComboBox* m_statBox = nullptr;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPAxisRect* m_dimsRect = nullptr;
    QCPAxisRect* m_normsRect = nullptr;
    QCPAxisRect* m_scoreRect = nullptr;
    QCPBars* m_restBars = nullptr;
    QCPBars* m_waiverBars = nullptr;
    QCPGraph* m_valueNorm = nullptr;
    QCPGraph* m_contribution = nullptr;
    QCPGraph* m_written = nullptr;
    QCPBars* m_scoreBars = nullptr;
    QCPItemStraightLine* m_threshold = nullptr;
};

} // namespace sinkscope
