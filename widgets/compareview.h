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

/// Two runs side by side and their difference: A is the current result, B a run kept for
/// comparison (Run → Keep Run for Comparison, or the first run of a session). A view may also
/// put both sides (setPair: e.g. a prompt before and after a control); that A stays until the
/// next result comes, which becomes A again. Both maps and
/// B − A follow the one shared Selection (layer, head), so navigation is synchronised by
/// construction. The difference covers the aligned positions (compare.h) and uses the diverging
/// colour map, symmetric around zero.
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
    /// The alignment of the runs on screen (length 0 when there is no figure).
    const RunAlignment& alignment() const { return m_alignment; }

    bool hasFigure() const override { return m_hasFigure; }
    QCustomPlot* plot() const override { return m_plot; }
    QString defaultFileName() const override;
    /// Long format over the aligned positions: `query_a,key_a,query_b,key_b,a,b,b_minus_a`.
    QByteArray dataCsv() const override;

Q_SIGNALS:
    void otherChanged();

private:
    void rebuild();
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
    QCPColorScale* m_scale = nullptr;
    QCPColorScale* m_diffScale = nullptr;
};

} // namespace sinkscope
