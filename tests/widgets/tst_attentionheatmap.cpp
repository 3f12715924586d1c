// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "attentionheatmapview.h"
#include "figureexport.h"
#include "qcustomplot_wrapper.h"
#include "currentresult.h"
#include "selection.h"
#include "tokenlabels.h"
#include "viewregistry.h"
#include "widgetstestdata.h"

#include <QApplication>
#include <QDir>
#include <QHelpEvent>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QToolTip>
#include <QTest>

#include <cmath>

using namespace sinkscope;

void TestWidgets::heatmapShowsSelectedHead_data()
{
    QTest::addColumn<int>("layers");
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("tokens");
    QTest::addColumn<QString>("attention");
    QTest::addColumn<int>("layer");
    QTest::addColumn<int>("head");
    QTest::newRow("causal first head") << 3 << 4 << 6 << "causal" << 0 << 0;
    QTest::newRow("causal middle head") << 3 << 4 << 6 << "causal" << 1 << 2;
    QTest::newRow("causal last head") << 3 << 4 << 9 << "causal" << 2 << 3;
    QTest::newRow("bidirectional") << 2 << 3 << 7 << "bidirectional" << 1 << 1;
    QTest::newRow("two tokens") << 1 << 2 << 2 << "causal" << 0 << 1;
}

void TestWidgets::heatmapShowsSelectedHead()
{
    QFETCH(int, layers);
    QFETCH(int, heads);
    QFETCH(int, tokens);
    QFETCH(QString, attention);
    QFETCH(int, layer);
    QFETCH(int, head);

    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto result = test::makeCannedRun({layers, heads, tokens, attention.toStdString(), true, true});
    current.setResult(result);
    selection.setLayerHead(layer, head);

    QVERIFY(view.hasFigure());
    QCOMPARE(view.shownLayer(), layer);
    QCOMPARE(view.shownHead(), head);
    QCOMPARE(view.title(), QStringLiteral("Layer %1 · Head %2").arg(layer).arg(head));
    QVERIFY(!view.colorMap()->interpolate());

    QCPColorMapData* data = view.colorMap()->data();
    QCOMPARE(data->keySize(), tokens);
    QCOMPARE(data->valueSize(), tokens);
    const auto map = result->attentionMap(layer, head);
    const bool causal = attention == QLatin1String("causal");
    int masked = 0;
    for (int q = 0; q < tokens; ++q) {
        for (int k = 0; k < tokens; ++k) {
            const double cell = data->cell(k, q); // key along x, query along y
            // Coordinate look-up agrees with the cell index (row q at value q).
            QCOMPARE(data->data(k, q), cell);
            if (causal && k > q) {
                QVERIFY2(std::isnan(cell), qPrintable(QStringLiteral("q %1 k %2 not masked").arg(q).arg(k)));
                QVERIFY(view.isMasked(q, k));
                ++masked;
            } else {
                QVERIFY(!view.isMasked(q, k));
                QCOMPARE(cell, double(map(q, k)));
            }
        }
    }
    QCOMPARE(masked, causal ? tokens * (tokens - 1) / 2 : 0);
    // Masked cells get the neutral NaN colour, not the colour of 0.
    QCOMPARE(view.colorMap()->gradient().nanHandling(), QCPColorGradient::nhNanColor);
    QCPColorGradient shown = view.colorMap()->gradient();
    QVERIFY(shown.nanColor().rgb() != shown.color(0.0, QCPRange(0, 1)));
    // Row 0 at the top.
    QVERIFY(view.plot()->yAxis->rangeReversed());

    // What is drawn: the colour of each sampled cell, and grey (not the colour of 0) where masked.
    view.resize(700, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.plot()->replot();
    const QImage image = view.plot()->grab().toImage();
    QCPColorGradient gradient = view.colorMap()->gradient();
    const QPoint topRight = view.cellCenter(0, tokens - 1).toPoint();
    const QPoint bottomLeft = view.cellCenter(tokens - 1, 0).toPoint();
    QCOMPARE(image.pixelColor(bottomLeft).rgb(), gradient.color(map(tokens - 1, 0), QCPRange(0, 1)));
    QCOMPARE(image.pixelColor(topRight).rgb(),
             causal ? gradient.nanColor().rgb() : gradient.color(map(0, tokens - 1), QCPRange(0, 1)));
}

void TestWidgets::heatmapFollowsSelection()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto result = test::makeCannedRun({});
    current.setResult(result);
    QCOMPARE(view.shownLayer(), 0);
    QCOMPARE(view.shownHead(), 0);
    selection.setLayerHead(2, 1);
    QCOMPARE(view.shownLayer(), 2);
    QCOMPARE(view.shownHead(), 1);
    QCOMPARE(view.layerSpinBox()->value(), 2);
    QCOMPARE(view.headSpinBox()->value(), 1);
    QCOMPARE(view.layerSpinBox()->maximum(), 2);
    QCOMPARE(view.headSpinBox()->maximum(), 3);
    QCOMPARE(view.colorMap()->data()->cell(0, 3), double(result->attentionMap(2, 1)(3, 0)));
    QCOMPARE(view.defaultFileName(), QStringLiteral("canned-test-attention-l2-h1"));
}

void TestWidgets::heatmapKeyboard_data()
{
    QTest::addColumn<int>("key");
    QTest::addColumn<int>("layer");
    QTest::addColumn<int>("head");
    QTest::addColumn<int>("expectedLayer");
    QTest::addColumn<int>("expectedHead");
    // 3 layers × 4 heads
    QTest::newRow("right: next head") << int(Qt::Key_Right) << 1 << 1 << 1 << 2;
    QTest::newRow("right wraps into next layer") << int(Qt::Key_Right) << 0 << 3 << 1 << 0;
    QTest::newRow("right stops at the last head") << int(Qt::Key_Right) << 2 << 3 << 2 << 3;
    QTest::newRow("left: previous head") << int(Qt::Key_Left) << 1 << 1 << 1 << 0;
    QTest::newRow("left wraps into previous layer") << int(Qt::Key_Left) << 1 << 0 << 0 << 3;
    QTest::newRow("left stops at the first head") << int(Qt::Key_Left) << 0 << 0 << 0 << 0;
    QTest::newRow("down: next layer") << int(Qt::Key_Down) << 0 << 2 << 1 << 2;
    QTest::newRow("down clamps") << int(Qt::Key_Down) << 2 << 2 << 2 << 2;
    QTest::newRow("up: previous layer") << int(Qt::Key_Up) << 2 << 0 << 1 << 0;
    QTest::newRow("up clamps") << int(Qt::Key_Up) << 0 << 0 << 0 << 0;
    QTest::newRow("page down") << int(Qt::Key_PageDown) << 1 << 3 << 2 << 3;
    QTest::newRow("page up") << int(Qt::Key_PageUp) << 1 << 3 << 0 << 3;
}

void TestWidgets::heatmapKeyboard()
{
    QFETCH(int, key);
    QFETCH(int, layer);
    QFETCH(int, head);
    QFETCH(int, expectedLayer);
    QFETCH(int, expectedHead);
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    current.setResult(test::makeCannedRun({3, 4, 5, "causal", true, true}));
    selection.setLayerHead(layer, head);
    QTest::keyClick(&view, Qt::Key(key));
    QCOMPARE(selection.layer(), expectedLayer);
    QCOMPARE(selection.head(), expectedHead);
    QCOMPARE(view.shownLayer(), expectedLayer);
    QCOMPARE(view.shownHead(), expectedHead);

    // Keys typed into the plot reach the view too.
    selection.setLayerHead(layer, head);
    QTest::keyClick(view.plot(), Qt::Key(key));
    QCOMPARE(view.shownLayer(), expectedLayer);
    QCOMPARE(view.shownHead(), expectedHead);
}

void TestWidgets::heatmapSpinBoxes()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    current.setResult(test::makeCannedRun({}));
    view.layerSpinBox()->setValue(2);
    view.headSpinBox()->setValue(3);
    QCOMPARE(selection.layer(), 2);
    QCOMPARE(selection.head(), 3);
    QCOMPARE(view.title(), QStringLiteral("Layer 2 · Head 3"));
}

void TestWidgets::heatmapHoverText_data()
{
    QTest::addColumn<QString>("attention");
    QTest::addColumn<int>("query");
    QTest::addColumn<int>("key");
    QTest::addColumn<QString>("expected"); // %1 = the value with 4 decimals
    QTest::newRow("onto BOS") << "causal" << 2 << 0 << "query '·cat' (2) → key '<s>' (0): %1";
    QTest::newRow("diagonal") << "causal" << 3 << 3 << "query ',' (3) → key ',' (3): %1";
    QTest::newRow("masked") << "causal" << 1 << 4 << "query '·The' (1) → key '·sat' (4): masked";
    QTest::newRow("bidirectional future") << "bidirectional" << 1 << 4 << "query '·The' (1) → key '·sat' (4): %1";
    QTest::newRow("newline") << "causal" << 5 << 1 << "query '↵' (5) → key '·The' (1): %1";
    QTest::newRow("outside") << "causal" << 6 << 0 << "";
}

void TestWidgets::heatmapHoverText()
{
    QFETCH(QString, attention);
    QFETCH(int, query);
    QFETCH(int, key);
    QFETCH(QString, expected);
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto result = test::makeCannedRun({3, 4, 6, attention.toStdString(), true, true});
    current.setResult(result);
    selection.setLayerHead(1, 2);
    if (expected.contains(QLatin1String("%1")))
        expected = expected.arg(double(result->attentionMap(1, 2)(query, key)), 0, 'f', 4);
    QCOMPARE(view.hoverText(query, key), expected);
}

void TestWidgets::heatmapClickSelectsCell()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(700, 600);
    current.setResult(test::makeCannedRun({3, 4, 8, "causal", true, true}));
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.plot()->replot(); // lay out axes now so pixel positions are final

    // Exporting at another size leaves the on-screen layout as it was.
    const QRect mapRect = view.plot()->axisRect()->rect();
    QTemporaryDir temp;
    FigureExportOptions small;
    small.size = QSize(300, 200);
    QVERIFY(sinkscope::exportFigure(view.plot(), temp.filePath(QStringLiteral("small.png")), nullptr, small));
    QCOMPARE(view.plot()->axisRect()->rect(), mapRect);

    QSignalSpy hovered(&view, &AttentionHeatmapView::cellHovered);
    const QPointF center = view.cellCenter(5, 2);
    int q = -1;
    int k = -1;
    QVERIFY(view.cellAt(center, &q, &k));
    QCOMPARE(q, 5);
    QCOMPARE(k, 2);
    QTest::mouseMove(view.plot(), center.toPoint());
    QTRY_VERIFY(!hovered.isEmpty());
    QCOMPARE(hovered.last().at(0).toInt(), 5);
    QCOMPARE(hovered.last().at(1).toInt(), 2);

    // The tooltip shows the hover text (escaped: "<s>" must not be taken for markup).
    QHelpEvent help(QEvent::ToolTip, view.cellCenter(6, 0).toPoint(), view.plot()->mapToGlobal(view.cellCenter(6, 0).toPoint()));
    QApplication::sendEvent(view.plot(), &help);
    QTRY_VERIFY(QToolTip::isVisible());
    QCOMPARE(QToolTip::text(), toolTipHtml(view.hoverText(6, 0)));
    QVERIFY(QToolTip::text().contains(QStringLiteral("&lt;s&gt;")));
    QToolTip::hideText();

    QTest::mouseClick(view.plot(), Qt::LeftButton, {}, center.toPoint());
    QCOMPARE(selection.query(), 5);
    QCOMPARE(selection.key(), 2);

    // Outside the map (the colour bar side): no cell.
    QVERIFY(!view.cellAt(QPointF(view.plot()->width() - 5, 5), &q, &k));
}

void TestWidgets::heatmapPlaceholders_data()
{
    QTest::addColumn<int>("kind"); // 0 no result, 1 no attention, 2 no tokens
    QTest::addColumn<QString>("contains");
    QTest::newRow("no result") << 0 << "Run a prompt";
    QTest::newRow("no attention captured") << 1 << "kept neither the attention maps nor Q and K";
    QTest::newRow("no tokens") << 2 << "no tokens";
}

void TestWidgets::heatmapPlaceholders()
{
    QFETCH(int, kind);
    QFETCH(QString, contains);
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    current.setResult(test::makeCannedRun({})); // something shown first, then replaced
    QVERIFY(view.hasFigure());
    if (kind == 0)
        current.setResult(nullptr);
    else if (kind == 1)
        current.setResult(test::makeCannedRun({2, 2, 4, "causal", false, true}));
    else
        current.setResult(test::makeCannedRun({2, 2, 0, "causal", true, false}));
    QVERIFY(!view.hasFigure());
    QVERIFY2(view.placeholderText().contains(contains), qPrintable(view.placeholderText()));
    QCOMPARE(view.title(), QString());
    QVERIFY(view.dataCsv().isEmpty());
    // Navigation without a map must not crash.
    QTest::keyClick(&view, Qt::Key_Right);
    QTest::keyClick(&view, Qt::Key_PageDown);
    QCOMPARE(view.hoverText(0, 0), QString());
}

void TestWidgets::heatmapSingleToken()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto result = test::makeCannedRun({2, 2, 1, "causal", true, true});
    current.setResult(result);
    QVERIFY(view.hasFigure());
    QCOMPARE(double(result->attentionMap(0, 0)(0, 0)), 1.0);
    QCOMPARE(view.colorMap()->data()->data(0, 0), 1.0);
    QCOMPARE(view.hoverText(0, 0), QStringLiteral("query '<s>' (0) → key '<s>' (0): 1.0000"));
    // The single cell is drawn over the whole map area (QCustomPlot gives a 1 × 1 map no
    // extent), in the colour of 1.0.
    view.resize(500, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.plot()->replot();
    const QImage image = view.plot()->grab().toImage();
    QCPColorGradient gradient = view.colorMap()->gradient();
    const QColor top = gradient.color(1.0, QCPRange(0, 1));
    const QRect rect = view.plot()->axisRect()->rect();
    for (const QPoint p : {rect.center(), rect.topLeft() + QPoint(3, 3), rect.bottomRight() - QPoint(3, 3)})
        QCOMPARE(image.pixelColor(p).rgb(), top.rgb());
}

void TestWidgets::heatmapColorRange()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto result = test::makeCannedRun({});
    current.setResult(result);
    QCOMPARE(view.colorMap()->dataRange(), QCPRange(0.0, 1.0));
    view.setAutoRange(true);
    const auto map = result->attentionMap(0, 0);
    double lo = 1.0;
    double hi = 0.0;
    for (int q = 0; q < 6; ++q)
        for (int k = 0; k <= q; ++k) { // visible cells only: the masked zeros don't count
            lo = std::min(lo, double(map(q, k)));
            hi = std::max(hi, double(map(q, k)));
        }
    QCOMPARE(view.colorMap()->dataRange().lower, lo);
    QCOMPARE(view.colorMap()->dataRange().upper, hi);
    QVERIFY(lo > 0.0);
    view.setAutoRange(false);
    QCOMPARE(view.colorMap()->dataRange(), QCPRange(0.0, 1.0));
}

void TestWidgets::heatmapLabels_data()
{
    QTest::addColumn<int>("tokens");
    QTest::addColumn<bool>("thinned");
    QTest::newRow("short prompt: every token") << 8 << false;
    QTest::newRow("long prompt: thinned") << 300 << true;
}

void TestWidgets::heatmapLabels()
{
    QFETCH(int, tokens);
    QFETCH(bool, thinned);
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(900, 700);
    view.setAttribute(Qt::WA_DontShowOnScreen);
    view.show();
    auto result = test::makeCannedRun({1, 1, tokens, "causal", true, true});
    current.setResult(result);
    QVERIFY(waitUntilComputed(&view));
    QCPAxis* y = view.plot()->yAxis;
    const QVector<double> ticks = y->tickVector();
    const QVector<QString> labels = y->tickVectorLabels();
    QCOMPARE(labels.size(), ticks.size());
    const int step = view.labelStep();
    if (thinned) {
        // The first element is always labelled; thinned labels carry their index, at a step of
        // 1, 2 or 5 times a power of ten.
        QVERIFY(step > 1);
        QVERIFY2(QList<int>({2, 5, 10, 20, 50, 100}).contains(step), qPrintable(QString::number(step)));
        QCOMPARE(ticks.value(0), 0.0);
        QCOMPARE(labels.value(0), QStringLiteral("0 <s>"));
        QCOMPARE(ticks.value(1), double(step));
        QCOMPARE(labels.value(1), QStringLiteral("%1 %2").arg(step).arg(tokenLabel(result->encoding.tokens[size_t(step)])));
        QVERIFY(ticks.size() < tokens);
        QVERIFY(ticks.size() >= 10);
    } else {
        QCOMPARE(step, 1);
        QCOMPARE(ticks.size(), tokens);
        QCOMPARE(labels.value(0), QStringLiteral("<s>"));
        QCOMPARE(labels.value(1), QStringLiteral("·The"));
        QCOMPARE(labels.value(5), QStringLiteral("↵"));
    }
    // Both axes: no two labels closer than a line of text.
    for (QCPAxis* axis : {view.plot()->xAxis, y}) {
        const QVector<double> t = axis->tickVector();
        const int line = QFontMetrics(axis->tickLabelFont()).height();
        for (int i = 1; i < t.size(); ++i)
            QVERIFY2(std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1])) >= line,
                     qPrintable(QStringLiteral("ticks %1 and %2").arg(t[i - 1]).arg(t[i])));
    }
    // For a look at the rendering: SINKSCOPE_TEST_KEEP_DIR=/some/dir keeps a PNG.
    const QString keep = qEnvironmentVariable("SINKSCOPE_TEST_KEEP_DIR");
    if (!keep.isEmpty())
        QVERIFY(sinkscope::exportFigure(view.plot(), QDir(keep).filePath(QStringLiteral("labels-%1.png").arg(tokens))));
}

void TestWidgets::heatmapCsv()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto result = test::makeCannedRun({2, 2, 4, "causal", true, true});
    current.setResult(result);
    selection.setLayerHead(1, 0);
    const QList<QByteArray> lines = view.dataCsv().split('\n');
    QCOMPARE(lines.size(), 4 + 2); // header, 4 rows, trailing newline
    QCOMPARE(lines[0], QByteArray("query\\key,0:<s>,1:·The,2:·cat,\"3:,\""));
    QVERIFY(lines.last().isEmpty());
    const auto map = result->attentionMap(1, 0);
    for (int q = 0; q < 4; ++q) {
        QList<QByteArray> fields = lines[q + 1].split(',');
        if (q == 3) { // the "3:," label is quoted and contains a comma
            QVERIFY(lines[q + 1].startsWith("\"3:,\","));
            fields = lines[q + 1].mid(6).split(',');
            fields.prepend("label");
        }
        QCOMPARE(fields.size(), 5);
        for (int k = 0; k < 4; ++k)
            QCOMPARE(fields[k + 1].toFloat(), map(q, k)); // 9 digits: exact float round trip
    }
}
