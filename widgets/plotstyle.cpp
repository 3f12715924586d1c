// SPDX-License-Identifier: GPL-3.0-or-later
#include "plotstyle.h"

#include "colormaps.h"
#include "qcustomplot_wrapper.h"
#include "tokenlabels.h"

#include <QLabel>
#include <QStackedWidget>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

QColor noValueColor()
{
    return QColor(0xdc, 0xdc, 0xdc);
}

QCPColorGradient viridisGradient()
{
    // The dark low end stays distinct from the light grey of cells without a value.
    return colorMapGradient(ColorMap::Viridis, noValueColor());
}

QStackedWidget* makePlaceholderStack(QWidget* content, QLabel** placeholder, QWidget* parent)
{
    auto* label = new QLabel(parent);
    label->setAlignment(Qt::AlignCenter);
    label->setWordWrap(true);
    label->setForegroundRole(QPalette::PlaceholderText);
    auto* stack = new QStackedWidget(parent);
    stack->addWidget(label);
    stack->addWidget(content);
    *placeholder = label;
    return stack;
}

QByteArray csvNumber(double value)
{
    return std::isnan(value) ? QByteArray() : QByteArray::number(value, 'g', 9);
}

bool isMaskedCell(const RunResult& run, int query, int key)
{
    return run.model.attention == "causal" && key > query;
}

void placeLegendWhereFewestPoints(QCPAxisRect* rect, QCPLegend* legend)
{
    if (!legend || rect->width() <= 0 || rect->height() <= 0)
        return;
    const QSize size = legend->minimumOuterSizeHint();
    const double fw = std::min(1.0, double(size.width()) / rect->width());
    const double fh = std::min(1.0, double(size.height()) / rect->height());
    const QCPRange xr = rect->axis(QCPAxis::atBottom)->range(), yr = rect->axis(QCPAxis::atLeft)->range();
    const Qt::Alignment corners[4] = {Qt::AlignTop | Qt::AlignRight, Qt::AlignTop | Qt::AlignLeft,
                                      Qt::AlignBottom | Qt::AlignRight, Qt::AlignBottom | Qt::AlignLeft};
    int covered[4] = {0, 0, 0, 0};
    for (QCPGraph* g : rect->graphs()) {
        if (!g->visible())
            continue;
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
            const double u = (it->key - xr.lower) / xr.size(), v = (it->value - yr.lower) / yr.size();
            for (int c = 0; c < 4; ++c) {
                const bool right = corners[c] & Qt::AlignRight, top = corners[c] & Qt::AlignTop;
                if ((right ? u >= 1.0 - fw : u <= fw) && (top ? v >= 1.0 - fh : v <= fh))
                    ++covered[c];
            }
        }
    }
    const int best = int(std::min_element(covered, covered + 4) - covered);
    QCPLayoutInset* inset = rect->insetLayout();
    for (int i = 0; i < inset->elementCount(); ++i)
        if (inset->elementAt(i) == legend && inset->insetPlacement(i) == QCPLayoutInset::ipBorderAligned)
            inset->setInsetAlignment(i, corners[best]);
}

} // namespace sinkscope
