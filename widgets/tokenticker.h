// SPDX-License-Identifier: GPL-3.0-or-later
// Token labels on the axes of a map, thinned to the axis as it is laid out: the one rule for how
// many labels a map's axis shows, on screen and in an exported figure.
#pragma once

#include "qcustomplot_wrapper.h"

#include <QPointer>
#include <QSize>
#include <QStringList>

namespace sinkscope {

struct Encoding;

/// Ticks of an axis whose cells are elements (cell i centred on i). Shown: the multiples of a
/// step within the visible range (element 0, the usual sink, whenever it is visible), where the
/// step is the smallest of 1, 2, 5, 10, 20, 50, … that keeps neighbouring labels apart on the
/// axis at its laid-out length: one text line on a vertical axis or for rotated
/// labels (divided by the sine of the angle), the widest label plus a space for upright labels
/// on a horizontal one. Once labels are skipped each starts with its element's index
/// ("40 ·the"). The step is chosen each time QCustomPlot lays the axis out, so a figure drawn
/// at another size than the screen gets its own.
class TokenTicker : public QCPAxisTicker
{
public:
    /// `labels[i]` names cell i of `axis`, which is element `offset + i` (the index a thinned
    /// label shows). A ticker outliving its axis makes no ticks.
    TokenTicker(QCPAxis* axis, QStringList labels, int offset = 0);

    /// The step of the last layout (1 before the first).
    int step() const { return m_step; }
    /// The step the axis's current length and `range` give.
    int stepFor(const QCPRange& range) const;
    const QStringList& labels() const { return m_labels; }

    void generate(const QCPRange& range, const QLocale& locale, QChar formatChar, int precision,
                  QVector<double>& ticks, QVector<double>* subTicks, QVector<QString>* tickLabels) override;

private:
    QString labelOf(int index, int step) const;

    QPointer<QCPAxis> m_axis;
    QStringList m_labels;
    int m_offset = 0;
    int m_step = 1;
};

/// Gives `axis` a TokenTicker naming elements offset .. offset + length - 1 of `encoding`
/// (cell i is element offset + i; labels elided to `maxChars`, 0: whole). Nothing is rebuilt
/// when the axis already names those elements of that encoding. The axis's plot is
/// laid out again after a replot whose layout changed a token axis's step (a resize: QCustomPlot
/// generates ticks before it lays the axes out).
void setTokenTicks(QCPAxis* axis, const Encoding& encoding, int offset, int length, int maxChars = 10);
/// True when a token axis of `plot` would get another step at its current length than it has.
bool tokenTicksStale(QCustomPlot* plot);
/// Lays `plot` out at `size` without drawing, so that its token axes are thinned for that size
/// when it is drawn there next (QCustomPlot::toPainter). Leaves the plot's viewport as it was.
void layOutAt(QCustomPlot* plot, QSize size);

} // namespace sinkscope
