// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/compare.h"
#include "sinkscope/session.h"
#include "viewregistry.h"

#include <QString>

#include <memory>

class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPTextElement;
class QLabel;
class QStackedWidget;

namespace sinkscope {

class BinnedHeadMap;

/// Two runs side by side and their difference: A is the current result, B a run kept for
/// comparison (Run → Keep Run for Comparison, or the first run of a session). A view may also
/// put both sides (setPair: e.g. a prompt before and after a control); that A stays until the
/// next result comes, which becomes A again. Both maps and
/// B − A follow the one shared Selection (layer, head), so navigation is synchronised by
/// construction. The difference covers the aligned positions (compare.h) and uses the diverging
/// colour map, symmetric around zero. The three maps are drawn by BinnedHeadMap at the plot's
/// resolution: when a cell is smaller than a pixel, A and B show block maxima and B − A the block
/// mean of B minus that of A (the mean of the difference over the block); each key axis label
/// says which. A long prompt's maps are binned off the GUI thread (mapsShown() when drawn), and a
/// newer head or run supersedes maps still on their way.
class CompareView : public View
{
    Q_OBJECT
public:
    static ViewSpec spec();
    CompareView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~CompareView() override;

    /// Sets B (a run with a null result clears it).
    void setOther(const SessionRun& other);
    void clearOther();
    /// Shows `a` as A and `b` as B (both with a result); the next current result replaces A.
    void setPair(const SessionRun& a, const SessionRun& b);
    /// The run shown as A: the pinned one of setPair, else the current result.
    std::shared_ptr<const RunResult> runA() const;
    /// B, when set.
    const SessionRun* other() const { return m_other.result ? &m_other : nullptr; }
    /// The A that setPair pinned, until the current result changes (null when A is the current result).
    const SessionRun* pinnedA() const { return m_pinnedA.result ? &m_pinnedA : nullptr; }
    /// The label the title shows for A (0) or B (1): setPair's, "" when none. B's stays when a new
    /// current result replaces a pinned A.
    QString pairLabel(int side) const { return m_pairLabels[side == 0 ? 0 : 1]; }
    /// The alignment of the runs on screen (length 0 when there is no figure).
    const RunAlignment& alignment() const { return m_alignment; }

    bool hasFigure() const override { return m_hasFigure; }
    QCustomPlot* plot() const override { return m_plot; }
    QString defaultFileName() const override;
    /// Long format over the aligned positions: `query_a,key_a,query_b,key_b,a,b,b_minus_a`, every
    /// cell visible in both runs at full resolution (not the blocks the plot draws).
    QByteArray dataCsv() const override;
    DataExport dataExport() const override;

    /// The colour maps of A (0), B (1) and B − A (2), and what draws them.
    QCPColorMap* colorMap(int panel) const { return m_maps[panel]; }
    BinnedHeadMap* binnedMap(int panel) const { return m_binned[panel]; }
    /// True while a long prompt's maps are being binned off the GUI thread.
    bool isComputing() const override;

Q_SIGNALS:
    void otherChanged();
    /// The three maps of the selected head are drawn (or said why not).
    void mapsShown();

private:
    void rebuild();
    void mapsDrawn();
    void updateLabels();
    void showPlaceholder(const QString& text);

    SessionRun m_other;
    SessionRun m_pinnedA; ///< set by setPair until the current result changes
    QString m_pairLabels[2]; ///< setPair's labels of A and B, shown in the title
    RunAlignment m_alignment;
    bool m_hasFigure = false;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPAxisRect* m_rects[3] = {};
    QCPColorMap* m_maps[3] = {};
    BinnedHeadMap* m_binned[3] = {};
    bool m_requesting = false; ///< inside rebuild: a map drawn at once waits for the others
    int m_drawn[2] = {-1, -1}; ///< layer and head of the figure
    QString m_heading; ///< the title's first line (runs, head, alignment)
    QCPColorScale* m_scale = nullptr;
    QCPColorScale* m_diffScale = nullptr;
};

} // namespace sinkscope
