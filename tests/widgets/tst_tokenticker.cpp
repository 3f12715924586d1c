// SPDX-License-Identifier: GPL-3.0-or-later
// TokenTicker: a map axis's token labels are thinned to the axis's laid-out length, on screen
// after a resize and in an exported figure of another size; and every view's figure fits the
// print presets.
#include "widgetstests.h"

#include "compareview.h"
#include "currentresult.h"
#include "figureexport.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenlabels.h"
#include "tokenticker.h"
#include "viewregistry.h"
#include "widgetstestdata.h"

#include "sinkscope/session.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
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
// rotated labels along a horizontal axis, their widths for upright ones); the step is 1, 2 or 5
// times a power of ten.
QString spacingProblem(QCPAxis* axis)
{
    const QVector<double> t = axis->tickVector();
    const QVector<QString> labels = axis->tickVectorLabels();
    const QFontMetricsF fm(axis->tickLabelFont());
    const double rotation = std::abs(axis->tickLabelRotation()) * M_PI / 180.0;
    const bool upright = axis->orientation() == Qt::Horizontal && rotation < 1e-3;
    for (int i = 1; i < t.size(); ++i) {
        // Upright labels along the axis: half of each neighbour's width.
        double need = upright ? (fm.horizontalAdvance(labels.value(i)) + fm.horizontalAdvance(labels.value(i - 1))) / 2 : fm.height();
        if (axis->orientation() == Qt::Horizontal && !upright)
            need /= std::sin(rotation);
        if (std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1])) < need)
            return QStringLiteral("labels %1 and %2 are %3 px apart, under %4 px")
                .arg(t[i - 1]).arg(t[i]).arg(std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1]))).arg(need);
    }
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

    // An axis whose cell 0 is element 100 (compare's aligned positions): a thinned label shows
    // the element's index, as the CSV does.
    const Encoding e = test::makeCannedEncoding(140, true);
    setTokenTicks(plot->yAxis, e, 100, 40);
    plot->yAxis->setRange(-0.5, 39.5);
    plot->resize(900, 120);
    plot->replot();
    QCoreApplication::processEvents();
    const int step = stepOf(plot->yAxis);
    QVERIFY(step > 1);
    QCOMPARE(plot->yAxis->tickVectorLabels().value(0), QStringLiteral("100 %1").arg(tokenLabel(e.tokens[100])));
    QCOMPARE(plot->yAxis->tickVectorLabels().value(1), QStringLiteral("%1 %2").arg(100 + step).arg(tokenLabel(e.tokens[size_t(100 + step)])));

    // Upright labels along a horizontal axis are kept their width apart, at any length.
    for (const int n : {24, 8192}) {
        const Encoding upright = test::makeCannedEncoding(n, true);
        setTokenTicks(plot->xAxis, upright, 0, n);
        plot->xAxis->setTickLabelRotation(0);
        plot->xAxis->setRange(-0.5, n - 0.5);
        plot->resize(400, 400);
        plot->replot();
        QCoreApplication::processEvents();
        QVERIFY2(spacingProblem(plot->xAxis).isEmpty(), qPrintable(QStringLiteral("%1 tokens: %2").arg(n).arg(spacingProblem(plot->xAxis))));
        QVERIFY(plot->xAxis->tickVector().size() >= 2);
    }

    // No elements: no ticks; one: its label.
    for (const int n : {0, 1}) {
        setTokenTicks(plot->yAxis, test::makeCannedEncoding(n, true), 0, n);
        plot->yAxis->setRange(-0.5, std::max(n, 1) - 0.5);
        plot->replot();
        QCOMPARE(int(plot->yAxis->tickVector().size()), n);
    }

    // An axis squeezed to nothing keeps the fewest labels, not a small plot's.
    setTokenTicks(plot->yAxis, test::makeCannedEncoding(200, true), 0, 200);
    plot->yAxis->setRange(-0.5, 199.5);
    plot->resize(900, 40); // less than the margins: the rect has no height
    plot->replot();
    QCoreApplication::processEvents();
    QVERIFY2(plot->yAxis->tickVector().size() <= 2, qPrintable(QString::number(plot->yAxis->tickVector().size())));
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
    // The figure's axes: thinned, so their labels carry their index; no plain label is left.
    QVERIFY2(svg.contains(">0 &lt;s&gt;<"), svg.left(400).constData());
    QVERIFY(!svg.contains(">·sat<")); // element 4 (<s> The cat , sat ...) as the screen labels it
    QCoreApplication::processEvents();
    QCOMPARE(stepOf(plot->yAxis), 1);
    QCOMPARE(plot->yAxis->tickVector().size(), 24);
}

void TestWidgets::everyFigureFitsItsPreset_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("preset");
    QTest::addColumn<int>("tokens");
    // The views drawn as one plot (the classification view is a PNG of the window).
    Selection selection;
    CurrentResult current(&selection);
    for (const QString& name : ViewRegistry::global().names())
        if (std::unique_ptr<View>(ViewRegistry::global().find(name)->create(&current, &selection, nullptr))->plot())
            for (const QString& preset : {QStringLiteral("one-column"), QStringLiteral("two-column")})
                for (const int tokens : {12, 40})
                    QTest::newRow(qPrintable(QStringLiteral("%1, %2, %3 tokens").arg(name, preset).arg(tokens))) << name << preset << tokens;
}

void TestWidgets::everyFigureFitsItsPreset()
{
    // Every view drawn as a plot, laid out as its figure is drawn at a print preset (its fonts,
    // its size): no axis title is longer than its axis (QCustomPlot centres a title and lets it
    // run past both ends), and no two token labels are closer than a line of text.
    QFETCH(QString, name);
    QFETCH(QString, preset);
    QFETCH(int, tokens);
    Selection selection;
    CurrentResult current(&selection);
    std::unique_ptr<View> view(ViewRegistry::global().find(name)->create(&current, &selection, nullptr));
    if (auto* compare = qobject_cast<CompareView*>(view.get())) {
        SessionRun other;
        other.result = test::makeCannedRun({3, 4, tokens - 1, "causal", true, true});
        compare->setOther(other);
    }
    const std::optional<FigurePreset> p = parseFigurePreset(preset);
    QVERIFY(p);
    const FigureExportOptions options = printFigureOptions(*p);
    view->resize(options.size);
    view->setAttribute(Qt::WA_DontShowOnScreen);
    view->show();
    auto run = test::makeCannedRun({3, 4, tokens, "causal", true, true, 1.0, true, true});
    QVERIFY(test::showAnalysed(current, run));
    test::giveCannedJobResult(view.get(), run);
    QVERIFY(waitUntilComputed(view.get()));
    QCustomPlot* plot = view->plot();
    QVERIFY(plot);
    QVERIFY(view->hasFigure());
    {
        // A preset too small for the view's panels is refused, and says so.
        QTemporaryDir dir;
        QString error;
        const bool drawn = sinkscope::exportFigure(plot, dir.filePath(QStringLiteral("f.png")), FigureFormat::Png, &error, options);
        const FigureStyle style(plot, options);
        layOutAt(plot, options.size);
        const QString why = figureTooSmall(plot);
        QCOMPARE(drawn, why.isEmpty());
        // Three maps (compare) or two maps and their curves (controls) never fit one column.
        if (preset == QStringLiteral("one-column") && (name == QStringLiteral("compare") || name == QStringLiteral("controls")))
            QVERIFY2(!drawn, "drawn at one column");
        if (!drawn) {
            QVERIFY2(error.contains(QStringLiteral("too small")) && error.contains(QStringLiteral("two-column")), qPrintable(error));
            QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("f.png"))));
            // Only a view of several panels, at a preset smaller than its own.
            QVERIFY2(preset == QStringLiteral("one-column") && ViewRegistry::global().find(name)->figurePreset == QStringLiteral("two-column"),
                     qPrintable(why));
            return;
        }
    }
    // For a look at the figures: SINKSCOPE_TEST_KEEP_DIR=/some/dir keeps each one as a PNG.
    if (const QString keep = qEnvironmentVariable("SINKSCOPE_TEST_KEEP_DIR"); !keep.isEmpty())
        QVERIFY(sinkscope::exportFigure(plot, QDir(keep).filePath(QStringLiteral("fit-%1-%2-%3.png").arg(name, preset).arg(tokens)),
                                        FigureFormat::Png, nullptr, options));
    FigureStyle style(plot, options); // what exportFigure does before it draws
    layOutAt(plot, options.size);
    style.fitTicks(plot, options.size);
    style.placeLegends(plot, options.size);
    for (QCPAxisRect* rect : plot->axisRects()) {
        if (!rect->layout() || !rect->visible())
            continue;
        for (QCPAxis* axis : rect->axes()) {
            if (!axis->visible())
                continue;
            // Centred on its axis, a title may use the rect's margins on both sides, not more
            // (beyond them lie the neighbouring panel or the figure's edge).
            const bool vertical = axis->orientation() == Qt::Vertical;
            const int length = vertical ? rect->outerRect().height() : rect->outerRect().width();
            const double title = QFontMetricsF(axis->labelFont()).horizontalAdvance(axis->label());
            QVERIFY2(title <= length + 1, qPrintable(QStringLiteral("'%1': %2 px beside %3 px").arg(axis->label()).arg(title).arg(length)));
            if (qSharedPointerDynamicCast<TokenTicker>(axis->ticker())) {
                QVERIFY2(spacingProblem(axis).isEmpty(), qPrintable(QStringLiteral("'%1': %2").arg(axis->label(), spacingProblem(axis))));
                continue;
            }
            // Numeric labels: a space between neighbours along a horizontal axis, a text line
            // on a vertical one.
            const QVector<double> t = axis->tickVector();
            const QVector<QString> labels = axis->tickVectorLabels();
            const QFontMetricsF fm(axis->tickLabelFont());
            for (int i = 1; i < t.size() && i < labels.size(); ++i) {
                const double gap = std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1]));
                const double need = !vertical ? (fm.horizontalAdvance(labels[i]) + fm.horizontalAdvance(labels[i - 1])) / 2 : fm.height();
                QVERIFY2(gap >= need, qPrintable(QStringLiteral("'%1': labels %2 and %3 %4 px apart").arg(axis->label(), labels[i - 1], labels[i]).arg(gap)));
            }
        }
        // A legend lies inside its panel (QCustomPlot rounds a corner by a pixel).
        for (QCPLayoutElement* e : rect->insetLayout()->elements(false))
            if (auto* legend = qobject_cast<QCPLegend*>(e); legend && legend->visible())
                QVERIFY2(rect->rect().adjusted(-1, -1, 1, 1).contains(legend->outerRect()),
                         qPrintable(QStringLiteral("a legend of %1 x %2 px at %5,%6 in a panel of %3 x %4 px at %7,%8")
                                        .arg(legend->outerRect().width()).arg(legend->outerRect().height())
                                        .arg(rect->width()).arg(rect->height()).arg(legend->outerRect().x()).arg(legend->outerRect().y()).arg(rect->left()).arg(rect->top())));
    }
}
