// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "qcustomplot_wrapper.h"
#include "currentresult.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "widgetstestdata.h"

#include <QTest>

#include <cmath>

using namespace sinkscope;

void TestWidgets::sinkCurvePlotsStats()
{
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    auto result = test::makeCannedRun({5, 3, 7, "causal", true, true});
    current.setResult(result);
    QVERIFY(!view.hasFigure()); // until the analysis arrives from its thread
    QVERIFY2(view.placeholderText().contains(QStringLiteral("Analysing")), qPrintable(view.placeholderText()));
    QVERIFY(test::showAnalysed(current, result));
    QVERIFY(view.hasFigure());
    QCOMPARE(view.meanGraph()->data()->size(), 5);
    QCOMPARE(view.errorBars()->dataCount(), 5);
    QCOMPARE(view.headsGraph()->data()->size(), 5 * 3);
    for (int l = 0; l < 5; ++l) {
        // By hand from the matrix, not through the function under test.
        double sum = 0;
        for (int h = 0; h < 3; ++h)
            sum += result->firstTokenMass(l, h);
        const double mean = sum / 3;
        double sq = 0;
        for (int h = 0; h < 3; ++h)
            sq += (result->firstTokenMass(l, h) - mean) * (result->firstTokenMass(l, h) - mean);
        const double sd = std::sqrt(sq / 3);

        const auto point = view.meanGraph()->data()->at(l);
        QCOMPARE(point->key, double(l));
        // The curve is float32 (analysis::SinkCurve): compare to float precision.
        QVERIFY2(std::abs(point->value - mean) < 1e-6, qPrintable(QString::number(point->value - mean)));
        const QCPErrorBarsData err = view.errorBars()->data()->at(l);
        QVERIFY(std::abs(err.errorMinus - sd) < 1e-6);
        QVERIFY(std::abs(err.errorPlus - sd) < 1e-6);
        QVERIFY(sd > 0.0); // the canned heads differ
        if (l == 2)
            QVERIFY(view.hoverText(2).startsWith(QStringLiteral("layer 2: %1 ± ").arg(mean, 0, 'f', 4)));
    }
    // The canned data put more weight on element 0 in deeper layers: the curve rises.
    QVERIFY(view.curve().mean[4] > view.curve().mean[0]);
    QCOMPARE(view.plot()->yAxis->range().lower < 0.0 && view.plot()->yAxis->range().upper > 1.0, true);
}

void TestWidgets::sinkCurveHighlightAndClick()
{
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    view.resize(600, 400);
    QVERIFY(test::showAnalysed(current, test::makeCannedRun({6, 2, 5, "causal", true, true})));
    QCOMPARE(view.highlightedLayer(), 0);
    selection.setLayer(3);
    QCOMPARE(view.highlightedLayer(), 3);

    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.plot()->replot();
    QCOMPARE(view.layerAt(view.layerPoint(4)), 4);
    QTest::mouseClick(view.plot(), Qt::LeftButton, {}, view.layerPoint(4).toPoint());
    QCOMPARE(selection.layer(), 4);
    QCOMPARE(view.highlightedLayer(), 4);
    // Anywhere in the layer's column counts, not only the point itself.
    const QPointF low(view.layerPoint(1).x() + 3, view.plot()->axisRect()->bottom() - 4);
    QTest::mouseClick(view.plot(), Qt::LeftButton, {}, low.toPoint());
    QCOMPARE(selection.layer(), 1);
}

void TestWidgets::sinkCurvePlaceholders_data()
{
    QTest::addColumn<int>("kind"); // 0 no result, 1 one token
    QTest::addColumn<QString>("contains");
    QTest::newRow("no result") << 0 << "Run a prompt";
    QTest::newRow("one token") << 1 << "at least two";
}

void TestWidgets::sinkCurvePlaceholders()
{
    QFETCH(int, kind);
    QFETCH(QString, contains);
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    QVERIFY(test::showAnalysed(current, test::makeCannedRun({})));
    QVERIFY(view.hasFigure());
    current.setResult(kind == 0 ? nullptr : test::makeCannedRun({2, 2, 1, "causal", true, true}));
    QVERIFY(!view.hasFigure());
    QVERIFY2(view.placeholderText().contains(contains), qPrintable(view.placeholderText()));
    QCOMPARE(view.meanGraph()->data()->size(), 0);
    QVERIFY(view.dataCsv().isEmpty());
    QCOMPARE(view.highlightedLayer(), -1);
}

void TestWidgets::sinkCurveCsv()
{
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    // Two elements: row 1 of head (l, h) is [a, 1 - a], so the mean mass on element 0 and the
    // last query's mass are both a. Layer 0: a = 0.25, 0.75 (mean 0.5, population std 0.25);
    // layer 1: a = 1, 1 (mean 1, std 0).
    auto result = test::makeCannedRun({2, 2, 2, "causal", true, true});
    const float a[2][2] = {{0.25f, 0.75f}, {1.0f, 1.0f}};
    for (int l = 0; l < 2; ++l)
        for (int h = 0; h < 2; ++h) {
            float* map = result->attention.data() + (l * 2 + h) * 4;
            map[0] = 1.0f;
            map[1] = 0.0f;
            map[2] = a[l][h];
            map[3] = 1.0f - a[l][h];
        }
    QVERIFY(test::showAnalysed(current, result));
    const QByteArray csv = view.dataCsv();
    // No value vectors, so no waiver scores: α of element 0, mean over t of A[t, 0] = (1 + a) / 2:
    // layer 0 heads 0.625 and 0.875 (mean 0.75, std 0.125); layer 1: 1 and 1.
    QCOMPARE(view.waiverElement(), 0);
    QCOMPARE(csv, QByteArray("layer,mean,std,last_query_mean,last_query_std,alpha_0_mean,alpha_0_std\n"
                             "0,0.5,0.25,0.5,0.25,0.75,0.125\n"
                             "1,1,0,1,0,1,0\n"));
    QCOMPARE(view.defaultFileName(), QStringLiteral("canned-test-sink-curve"));
}
