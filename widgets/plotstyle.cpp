// SPDX-License-Identifier: GPL-3.0-or-later
#include "plotstyle.h"

#include "colormaps.h"
#include "qcustomplot_wrapper.h"
#include "tokenlabels.h"

#include <QLabel>
#include <QStackedWidget>

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

} // namespace sinkscope
