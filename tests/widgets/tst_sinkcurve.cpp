// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "sinkstats.h"
#include "widgetstestdata.h"

#include <QTest>

#include <cmath>

using namespace sinkscope;

void TestWidgets::sinkStats_data()
{
    QTest::addColumn<QVector<float>>("values"); // row-major [layers, heads]
    QTest::addColumn<int>("heads");
    QTest::addColumn<QVector<double>>("mean");
    QTest::addColumn<QVector<double>>("stdev");
    // Hand-computed. Population std: sqrt(sum (x - mean)² / H).
    // [0.5 0.7 0.9]: mean 0.7, deviations ±0.2, 0 -> sqrt(0.08 / 3) = 0.16329931618554522
    QTest::newRow("three heads") << QVector<float>{0.5f, 0.7f, 0.9f} << 3 << QVector<double>{0.7}
                                 << QVector<double>{0.16329931618554522};
    // [0.1 0.3]: mean 0.2, std 0.1 (the sample std would be 0.1414…)
    QTest::newRow("two heads, population not sample") << QVector<float>{0.1f, 0.3f} << 2 << QVector<double>{0.2}
                                                      << QVector<double>{0.1};
    // [0 0 1 1]: mean 0.5, std 0.5
    QTest::newRow("four heads, two layers") << QVector<float>{0, 0, 1, 1, 1, 1, 1, 1} << 4 << QVector<double>{0.5, 1.0}
                                            << QVector<double>{0.5, 0.0};
    QTest::newRow("one head: no spread") << QVector<float>{0.25f, 0.75f} << 1 << QVector<double>{0.25, 0.75}
                                         << QVector<double>{0.0, 0.0};
    // Equal heads: std exactly 0 (the one-pass formula would not give that).
    QTest::newRow("equal heads") << QVector<float>{0.3f, 0.3f, 0.3f} << 3 << QVector<double>{double(0.3f)}
                                 << QVector<double>{0.0};
}

void TestWidgets::sinkStats()
{
    QFETCH(QVector<float>, values);
    QFETCH(int, heads);
    QFETCH(QVector<double>, mean);
    QFETCH(QVector<double>, stdev);
    const int layers = int(values.size()) / heads;
    const RowMatrixXf m = Eigen::Map<const RowMatrixXf>(values.constData(), layers, heads);
    const LayerSinkStats stats = layerSinkStats(m);
    QCOMPARE(int(stats.mean.size()), layers);
    QCOMPARE(int(stats.std.size()), layers);
    for (int l = 0; l < layers; ++l) {
        // The inputs are floats: compare to float precision.
        QVERIFY2(std::abs(stats.mean[size_t(l)] - mean[l]) < 1e-7, qPrintable(QString::number(stats.mean[size_t(l)], 'g', 17)));
        QVERIFY2(std::abs(stats.std[size_t(l)] - stdev[l]) < 1e-7, qPrintable(QString::number(stats.std[size_t(l)], 'g', 17)));
    }
    if (layers && mean.size() == 1 && stdev[0] == 0.0)
        QCOMPARE(stats.std[0], 0.0);
}

void TestWidgets::sinkCurvePlotsStats()
{
    Selection selection;
    SinkCurveView view(&selection);
    auto result = test::makeCannedRun({5, 3, 7, "causal", true, true});
    view.setResult(result);
    QVERIFY(view.hasFigure());
    const LayerSinkStats expected = layerSinkStats(result->firstTokenMass);
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
        QVERIFY(std::abs(point->value - mean) < 1e-12);
        const QCPErrorBarsData err = view.errorBars()->data()->at(l);
        QVERIFY(std::abs(err.errorMinus - sd) < 1e-12);
        QVERIFY(std::abs(err.errorPlus - sd) < 1e-12);
        QVERIFY(sd > 0.0); // the canned heads differ
        QCOMPARE(view.stats().mean[size_t(l)], expected.mean[size_t(l)]);
    }
    // The canned data put more weight on element 0 in deeper layers: the curve rises.
    QVERIFY(view.stats().mean[4] > view.stats().mean[0]);
    QCOMPARE(view.plot()->yAxis->range().lower < 0.0 && view.plot()->yAxis->range().upper > 1.0, true);
    QVERIFY(view.hoverText(2).startsWith(QStringLiteral("layer 2: %1 ± ").arg(expected.mean[2], 0, 'f', 4)));
}

void TestWidgets::sinkCurveHighlightAndClick()
{
    Selection selection;
    SinkCurveView view(&selection);
    view.resize(600, 400);
    view.setResult(test::makeCannedRun({6, 2, 5, "causal", true, true}));
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
    SinkCurveView view(&selection);
    view.setResult(test::makeCannedRun({}));
    QVERIFY(view.hasFigure());
    view.setResult(kind == 0 ? nullptr : test::makeCannedRun({2, 2, 1, "causal", true, true}));
    QVERIFY(!view.hasFigure());
    QVERIFY2(view.placeholderText().contains(contains), qPrintable(view.placeholderText()));
    QCOMPARE(view.meanGraph()->data()->size(), 0);
    QVERIFY(view.dataCsv().isEmpty());
    QCOMPARE(view.highlightedLayer(), -1);
}

void TestWidgets::sinkCurveCsv()
{
    Selection selection;
    SinkCurveView view(&selection);
    auto result = std::make_shared<RunResult>(*test::makeCannedRun({2, 2, 4, "causal", true, true}));
    result->firstTokenMass.resize(2, 2);
    result->firstTokenMass << 0.1f, 0.3f, 1.0f, 1.0f;
    view.setResult(result);
    const QByteArray csv = view.dataCsv();
    QCOMPARE(csv, QByteArray("layer,mean,std\n"
                             "0,0.200000007,0.100000005\n"
                             "1,1,0\n"));
    QCOMPARE(view.defaultFileName(), QStringLiteral("canned-test-sink-curve"));
}
