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

void setTokenTicks(QCPAxis* axis, const Encoding& encoding, int offset, int length)
{
    constexpr int kMaxTokenTicks = 32;
    constexpr int kLabelChars = 10;
    if (length > kMaxTokenTicks) {
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        return;
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int i = 0; i < length; ++i)
        if (size_t(offset + i) < encoding.tokens.size())
            ticker->addTick(i, tokenLabelElided(encoding.tokens[size_t(offset + i)], kLabelChars));
    axis->setTicker(ticker);
}

} // namespace sinkscope
