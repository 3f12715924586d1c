// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenticker.h"

#include "tokenlabels.h"

#include "sinkscope/tokens.h"

#include <QFontMetricsF>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

namespace sinkscope {

namespace {

// An axis that has not been laid out yet has no length: assume a small plot's.
constexpr double kUnlaidPixels = 256.0;
// Corrective layouts in a row at one viewport size: labels whose own length moved the axis
// back and forth keep the last layout's step.
constexpr int kMaxFixes = 2;
const char* const kHooked = "sinkscopeTokenTicksHooked";
const char* const kFixSize = "sinkscopeTokenTicksSize";
const char* const kFixes = "sinkscopeTokenTicksFixes";
// What a token axis names: a hash of its tokens, offset, length and elision.
const char* const kLabelsKey = "sinkscopeTokenTicksLabels";

// The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `x`.
int niceStep(double x)
{
    if (!(x > 1.0))
        return 1;
    double magnitude = 1.0;
    while (magnitude * 10.0 < x)
        magnitude *= 10.0;
    for (const double m : {1.0, 2.0, 5.0})
        if (m * magnitude >= x)
            return int(std::min(m * magnitude, 1e9));
    return int(std::min(10.0 * magnitude, 1e9));
}

void layOutPasses(QCustomPlot* plot, int passes)
{
    for (int pass = 0; pass < passes; ++pass)
        for (const auto phase : {QCPLayoutElement::upPreparation, QCPLayoutElement::upMargins, QCPLayoutElement::upLayout})
            plot->plotLayout()->update(phase);
}

void watch(QCustomPlot* plot)
{
    if (!plot || plot->property(kHooked).toBool())
        return;
    plot->setProperty(kHooked, true);
    // QCustomPlot makes the ticks before it lays the axes out, from the lengths of the previous
    // layout: after a resize they would be thinned for the old size. A layout pass at the
    // current size first gives the replot's own pass the new lengths.
    QObject::connect(plot, &QCustomPlot::beforeReplot, plot, [plot] { layOutPasses(plot, 1); });
    // Labels whose own length moved an axis: lay out once more after the replot.
    QObject::connect(plot, &QCustomPlot::afterReplot, plot, [plot] {
        const QSize size = plot->viewport().size();
        if (plot->property(kFixSize).toSize() != size) {
            plot->setProperty(kFixSize, size);
            plot->setProperty(kFixes, 0);
        }
        if (!tokenTicksStale(plot)) {
            plot->setProperty(kFixes, 0);
            return;
        }
        const int fixes = plot->property(kFixes).toInt();
        if (fixes >= kMaxFixes)
            return;
        plot->setProperty(kFixes, fixes + 1);
        // Not from inside the replot: QCustomPlot ignores a replot asked for during one.
        QTimer::singleShot(0, plot, [plot] { plot->replot(); });
    });
}

} // namespace

TokenTicker::TokenTicker(QCPAxis* axis, QStringList labels, int offset)
    : m_axis(axis), m_labels(std::move(labels)), m_offset(offset)
{
}

QString TokenTicker::labelOf(int index, int step) const
{
    const QString& text = m_labels[index];
    return step > 1 ? QString::number(m_offset + index) + QLatin1Char(' ') + text : text;
}

int TokenTicker::stepFor(const QCPRange& range) const
{
    const int n = int(m_labels.size());
    if (n <= 1 || !m_axis || !m_axis->axisRect())
        return 1;
    const bool horizontal = m_axis->orientation() == Qt::Horizontal;
    const QRect rect = m_axis->axisRect()->rect();
    // Before its first layout a rect has no size; one squeezed to nothing gets the fewest labels.
    const double pixels = rect.isNull() ? kUnlaidPixels : std::max(1.0, double(horizontal ? rect.width() : rect.height()));
    const double span = std::max(range.size(), 1.0);
    const double cellPixels = pixels / span;
    const QFontMetricsF fm(m_axis->tickLabelFont());
    const double rotation = std::abs(m_axis->tickLabelRotation()) * M_PI / 180.0;
    auto stepForSpacing = [&](double spacing) { return niceStep(spacing / cellPixels); };
    if (!horizontal || rotation > 1e-3) {
        // Labels side by side across their text lines.
        const double line = fm.height();
        return stepForSpacing(horizontal ? line / std::sin(rotation) : line);
    }
    // Upright labels along a horizontal axis need their width: the smallest step whose visible
    // labels fit, measuring only those (a step too small even for one-character labels is
    // passed over unmeasured, so a long prompt's axis costs a few dozen measurements).
    const int first = std::clamp(int(std::ceil(range.lower)), 0, n - 1);
    const int last = std::clamp(int(std::floor(range.upper)), first, n - 1);
    const double space = fm.horizontalAdvance(QLatin1Char(' '));
    const double narrowest = fm.horizontalAdvance(QLatin1Char('0')) + space;
    for (int step = 1;; step = niceStep(step + 0.5)) {
        if (step >= n)
            return step;
        if (step * cellPixels < narrowest)
            continue;
        double widest = 0.0;
        for (int i = (first + step - 1) / step * step; i <= last; i += step)
            widest = std::max(widest, fm.horizontalAdvance(labelOf(i, step)));
        if (step * cellPixels >= widest + space)
            return step;
    }
}

void TokenTicker::generate(const QCPRange& range, const QLocale&, QChar, int, QVector<double>& ticks,
                           QVector<double>* subTicks, QVector<QString>* tickLabels)
{
    ticks.clear();
    if (subTicks)
        subTicks->clear();
    if (tickLabels)
        tickLabels->clear();
    const int n = int(m_labels.size());
    if (n == 0)
        return;
    m_step = stepFor(range);
    const int first = std::clamp(int(std::ceil(range.lower)), 0, n);
    const int last = std::clamp(int(std::floor(range.upper)), -1, n - 1);
    for (int i = (first + m_step - 1) / m_step * m_step; i <= last; i += m_step) {
        ticks.push_back(i);
        if (tickLabels)
            tickLabels->push_back(labelOf(i, m_step));
    }
}

void setTokenTicks(QCPAxis* axis, const Encoding& encoding, int offset, int length, int maxChars)
{
    // A head switch of the same run keeps its labels: T label strings per axis are not made
    // again. Keyed by the tokens themselves (a new run's encoding may reuse an old one's address).
    size_t h = std::hash<int>()(offset) ^ (std::hash<int>()(length) << 1) ^ (std::hash<int>()(maxChars) << 2);
    for (int i = 0; i < length; ++i) {
        const size_t e = size_t(offset + i);
        const size_t t = offset + i < 0 || e >= encoding.tokens.size()
            ? 0
            : std::hash<std::string>()(encoding.tokens[e].display) ^ (std::hash<std::string>()(encoding.tokens[e].piece) << 1);
        h = h * 1000003u ^ t;
    }
    const QString key = QString::number(qulonglong(h));
    if (auto t = qSharedPointerDynamicCast<TokenTicker>(axis->ticker()); t && axis->property(kLabelsKey).toString() == key &&
        int(t->labels().size()) == length)
        return;
    axis->setProperty(kLabelsKey, key);
    QStringList labels;
    labels.reserve(std::max(length, 0));
    for (int i = 0; i < length; ++i) {
        const size_t e = size_t(offset + i);
        if (offset + i < 0 || e >= encoding.tokens.size())
            labels.push_back(QStringLiteral("?"));
        else
            labels.push_back(maxChars > 0 ? tokenLabelElided(encoding.tokens[e], maxChars) : tokenLabel(encoding.tokens[e]));
    }
    axis->setTicker(QSharedPointer<TokenTicker>::create(axis, std::move(labels), offset));
    watch(axis->parentPlot());
}

bool tokenTicksStale(QCustomPlot* plot)
{
    if (!plot)
        return false;
    for (QCPAxisRect* rect : plot->axisRects())
        for (QCPAxis* axis : rect->axes())
            if (auto t = qSharedPointerDynamicCast<TokenTicker>(axis->ticker()); t && axis->visible() &&
                t->stepFor(axis->range()) != t->step())
                return true;
    return false;
}

void layOutAt(QCustomPlot* plot, QSize size)
{
    if (!plot || size.isEmpty())
        return;
    const QRect old = plot->viewport();
    plot->setViewport(QRect(QPoint(0, 0), size));
    // Twice: the first pass gives each axis its length at this size, the second thins its token
    // labels for that length (QCustomPlot makes the ticks before it lays the axes out).
    layOutPasses(plot, 2);
    plot->setViewport(old);
}

} // namespace sinkscope
