// SPDX-License-Identifier: GPL-3.0-or-later
// TokenTicker: a map axis's token labels are thinned to the axis's laid-out length, on screen
// after a resize and in an exported figure of another size.
#include "widgetstests.h"

#include "figureexport.h"
#include "qcustomplot_wrapper.h"
#include "tokenlabels.h"
#include "tokenticker.h"
#include "widgetstestdata.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace sinkscope;

namespace {

// A plot whose left and bottom axes name `tokens` elements, as a map's do.
std::unique_ptr<QCustomPlot> tokenPlot(int tokens, QSize size)
{
    auto plot = std::make_unique<QCustomPlot>();
    const Encoding e = test::makeCannedEncoding(tokens, true);
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        setTokenTicks(axis, e, 0, tokens);
        axis->setRange(-0.5, tokens - 0.5);
    }
    plot->xAxis->setTickLabelRotation(60);
    plot->resize(size);
    plot->setAttribute(Qt::WA_DontShowOnScreen);
    plot->show();
    plot->replot();
    QCoreApplication::processEvents();
    return plot;
}

int stepOf(QCPAxis* axis)
{
    return qSharedPointerDynamicCast<TokenTicker>(axis->ticker())->step();
}

// No two labels of `axis` closer than the spacing its labels need (one text line, more for
// rotated labels along a horizontal axis); the step is 1, 2 or 5 times a power of ten.
QString spacingProblem(QCPAxis* axis)
{
    const QVector<double> t = axis->tickVector();
    double need = QFontMetricsF(axis->tickLabelFont()).height();
    if (axis->orientation() == Qt::Horizontal)
        need /= std::sin(std::abs(axis->tickLabelRotation()) * M_PI / 180.0);
    for (int i = 1; i < t.size(); ++i)
        if (std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1])) < need)
            return QStringLiteral("labels %1 and %2 are %3 px apart, under %4 px")
                .arg(t[i - 1]).arg(t[i]).arg(std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1]))).arg(need);
    const int step = stepOf(axis);
    int m = step;
    while (m % 10 == 0)
        m /= 10;
    if (m != 1 && m != 2 && m != 5)
        return QStringLiteral("step %1").arg(step);
    return {};
}

} // namespace

void TestWidgets::tokenTicksFollowTheAxis()
{
    // 24 elements: every label on a tall axis; fewer, with their index, on shorter ones.
    auto plot = tokenPlot(24, QSize(900, 900));
    QCOMPARE(stepOf(plot->yAxis), 1);
    QCOMPARE(plot->yAxis->tickVector().size(), 24);
    QCOMPARE(plot->yAxis->tickVectorLabels().value(1), QStringLiteral("·The"));
    int previous = 1;
    for (const int height : {400, 200, 120}) {
        // One replot after the resize: its ticks were made for the old length; the plot lays
        // itself out again (queued) when the step does not fit.
        plot->resize(900, height);
        plot->replot();
        QCoreApplication::processEvents();
        for (QCPAxis* axis : {plot->xAxis, plot->yAxis})
            QVERIFY2(spacingProblem(axis).isEmpty(), qPrintable(QStringLiteral("height %1: %2").arg(height).arg(spacingProblem(axis))));
        const int step = stepOf(plot->yAxis);
        QVERIFY2(step >= previous, qPrintable(QStringLiteral("height %1: step %2 after %3").arg(height).arg(step).arg(previous)));
        previous = step;
        QVERIFY(!tokenTicksStale(plot.get()));
    }
    QVERIFY(previous > 1);
    const QVector<QString> labels = plot->yAxis->tickVectorLabels();
    QCOMPARE(labels.value(0), QStringLiteral("0 <s>"));
    QCOMPARE(labels.value(1), QStringLiteral("%1 %2").arg(previous).arg(tokenLabel(test::makeCannedEncoding(24, true).tokens[size_t(previous)])));

    // A zoomed axis labels the multiples of its step that are visible.
    plot->resize(900, 900);
    plot->replot();
    QCoreApplication::processEvents();
    plot->yAxis->setRange(9.5, 14.5);
    plot->replot();
    QCOMPARE(plot->yAxis->tickVector(), QVector<double>({10, 11, 12, 13, 14}));
}

void TestWidgets::tokenTicksInAFigure()
{
    // Every label fits on screen; a figure a fifth of the height is thinned for its own size,
    // and the screen is laid out as before afterwards.
    auto plot = tokenPlot(24, QSize(900, 900));
    QCOMPARE(stepOf(plot->yAxis), 1);
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("f.svg"));
    FigureExportOptions options;
    options.size = QSize(200, 180);
    QString error;
    QVERIFY2(sinkscope::exportFigure(plot.get(), file, FigureFormat::Svg, &error, options), qPrintable(error));
    QFile f(file);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray svg = f.readAll();
    // The figure's query axis: thinned, so its labels carry their index. "·sat" is element 4
    // (<s> The cat , sat ...), which no step above 2 labels.
    QVERIFY2(svg.contains(">0 &lt;s&gt;<"), svg.left(400).constData());
    QVERIFY(!svg.contains(">·sat<"));
    QCoreApplication::processEvents();
    QCOMPARE(stepOf(plot->yAxis), 1);
    QCOMPARE(plot->yAxis->tickVector().size(), 24);
}
