// SPDX-License-Identifier: GPL-3.0-or-later
#include "plotstyle.h"

#include "qcustomplot_wrapper.h"

#include <QLabel>
#include <QStackedWidget>

#include <cmath>

namespace sinkscope {

QColor noValueColor()
{
    return QColor(0xdc, 0xdc, 0xdc);
}

QCPColorGradient viridisGradient()
{
    // The dark low end stays distinct from the light grey of cells without a value.
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.000, QColor(0x44, 0x01, 0x54));
    g.setColorStopAt(0.125, QColor(0x48, 0x28, 0x78));
    g.setColorStopAt(0.250, QColor(0x3e, 0x4a, 0x89));
    g.setColorStopAt(0.375, QColor(0x31, 0x68, 0x8e));
    g.setColorStopAt(0.500, QColor(0x26, 0x82, 0x8e));
    g.setColorStopAt(0.625, QColor(0x1f, 0x9e, 0x89));
    g.setColorStopAt(0.750, QColor(0x35, 0xb7, 0x79));
    g.setColorStopAt(0.875, QColor(0x6e, 0xce, 0x58));
    g.setColorStopAt(1.000, QColor(0xfd, 0xe7, 0x25));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(noValueColor());
    g.setLevelCount(256);
    return g;
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

} // namespace sinkscope
