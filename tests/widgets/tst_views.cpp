// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis views against the run's own numbers: every expected value below is computed here
// from the canned maps, values and hidden states, never through the analysis under test.
#include "widgetstests.h"

#include "attentionheatmapview.h"
#include "classificationview.h"
#include "sinkscope/analysis.h"
#include "sinkscope/classify.h"
#include "currentresult.h"
#include "hiddenview.h"
#include "overviewview.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "tokenstrip.h"
#include "valuesview.h"
#include "widgetstestdata.h"

#include <QComboBox>
#include <QStandardItemModel>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <cmath>

using namespace sinkscope;

namespace {

/// Mean over queries t >= k of A[t, k] (causal α_k), straight from the canned map.
double alphaOf(const RunResult& r, int l, int h, int k)
{
    const RowMatrixXf a = r.attentionMap(l, h);
    double sum = 0;
    for (int t = k; t < a.rows(); ++t)
        sum += a(t, k);
    return sum / double(a.rows() - k);
}

} // namespace

void TestWidgets::overviewShowsMetric_data()
{
    QTest::addColumn<QString>("metric");
    QTest::addColumn<int>("element");
    QTest::newRow("first-element mass") << "first_element_mass" << 0;
    QTest::newRow("alpha of element 0") << "alpha_k" << 0;
    QTest::newRow("alpha of element 2") << "alpha_k" << 2;
}

void TestWidgets::overviewShowsMetric()
{
    QFETCH(QString, metric);
    QFETCH(int, element);
    Selection selection;
    CurrentResult current(&selection);
    OverviewView view(&current, &selection);
    auto run = test::makeCannedRun({3, 4, 6, "causal", true, true});
    QVERIFY(test::showAnalysed(current, run));
    QVERIFY(view.hasFigure());
    QVERIFY(view.setMetric(metric));
    view.setElement(element);
    for (int l = 0; l < 3; ++l)
        for (int h = 0; h < 4; ++h) {
            // firstTokenMass of the canned run is derived from its maps (firstTokenMassOf).
            const double expected = metric == QLatin1String("first_element_mass") ? double(run->firstTokenMass(l, h))
                                                                                    : alphaOf(*run, l, h, element);
            QVERIFY2(std::abs(view.cellValue(l, h) - expected) < 1e-6,
                     qPrintable(QStringLiteral("L%1 H%2: %3 vs %4").arg(l).arg(h).arg(view.cellValue(l, h)).arg(expected)));
        }
    QCOMPARE(view.rangeLower(), 0.0);
    QCOMPARE(view.rangeUpper(), 1.0);
    QVERIFY(view.hoverText(1, 2).startsWith(QStringLiteral("L1 H2 · ")));
    QVERIFY(view.hoverText(1, 2).endsWith(QString::number(view.cellValue(1, 2), 'f', 4)));
    QVERIFY(view.defaultFileName().endsWith(metric));
}

void TestWidgets::overviewClickOpensHead()
{
    Selection selection;
    CurrentResult current(&selection);
    OverviewView view(&current, &selection);
    view.resize(600, 450);
    QVERIFY(test::showAnalysed(current, test::makeCannedRun({3, 4, 6, "causal", true, true})));
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.plot()->replot();
    QCOMPARE(view.outlinedLayer(), 0);
    QCOMPARE(view.outlinedHead(), 0);
    selection.setLayerHead(2, 1);
    QCOMPARE(view.outlinedLayer(), 2); // the current head is outlined
    QCOMPARE(view.outlinedHead(), 1);
    QSignalSpy open(&view, &View::showViewRequested);
    QTest::mouseClick(view.plot(), Qt::LeftButton, {}, view.cellCenter(1, 3).toPoint());
    QCOMPARE(selection.layer(), 1);
    QCOMPARE(selection.head(), 3);
    QCOMPARE(open.count(), 1);
    QCOMPARE(open.at(0).at(0).toString(), QStringLiteral("heatmap"));
    QCOMPARE(view.outlinedLayer(), 1);
    QCOMPARE(view.outlinedHead(), 3);

    // Every metric is offered; entropy uses its own range, not 0..1.
    QStringList ids;
    for (int i = 0; i < view.metricBox()->count(); ++i)
        ids << view.metricBox()->itemData(i).toString();
    QCOMPARE(ids, (QStringList{"first_element_mass", "alpha_k", "entropy", "waiver_score", "top_attended", "verdict"}));
    QVERIFY(view.setMetric(QStringLiteral("entropy")));
    QVERIFY(view.rangeUpper() > 0.0 && view.rangeUpper() != 1.0);
    // The canned run has no value vectors: no waiver scores, and the view says why.
    QVERIFY(view.setMetric(QStringLiteral("waiver_score")));
    QVERIFY(!view.hasFigure());
    QVERIFY2(view.placeholderText().contains(QStringLiteral("waiver")), qPrintable(view.placeholderText()));
    QVERIFY(!view.setMetric(QStringLiteral("no-such-metric")));
}

void TestWidgets::overviewTopAttendedAndCsv()
{
    Selection selection;
    CurrentResult current(&selection);
    OverviewView view(&current, &selection);
    auto run = test::makeCannedRun({2, 2, 5, "causal", true, true, 30.0});
    QVERIFY(test::showAnalysed(current, run));
    QVERIFY(view.setMetric(QStringLiteral("top_attended")));
    // In layer 1 key 0 carries 30x weight: it is the top-attended element with share
    // sum_t A[t, 0] / T.
    const RowMatrixXf a = run->attentionMap(1, 0);
    double share = 0;
    for (int t = 0; t < 5; ++t)
        share += a(t, 0);
    share /= 5;
    QVERIFY(std::abs(view.cellValue(1, 0) - share) < 1e-6);
    QVERIFY2(view.hoverText(1, 0).startsWith(QStringLiteral("L1 H0 · top-attended element 0, share ")), qPrintable(view.hoverText(1, 0)));
    const QList<QByteArray> lines = view.dataCsv().split('\n');
    QCOMPARE(lines[0], QByteArray("layer,head,first_element_mass,alpha_0,entropy,top_attended,waiver_element,top_element"));
    QCOMPARE(lines.size(), 2 * 2 + 2);
    QVERIFY(lines[3].startsWith("1,0,"));
    QVERIFY(lines[3].endsWith(",0")); // top element 0
}

void TestWidgets::heatmapExcludeSinkColumn()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto run = test::makeCannedRun({3, 2, 7, "causal", true, true, 10.0});
    current.setResult(run);
    selection.setLayerHead(2, 1);
    QCOMPARE(view.sinkColumn(), 0); // key 0 receives the most
    QCOMPARE(view.colorMap()->dataRange(), QCPRange(0.0, 1.0));
    view.setExcludeSink(true);
    const RowMatrixXf a = run->attentionMap(2, 1);
    double otherMax = 0;
    for (int q = 0; q < 7; ++q)
        for (int k = 1; k <= q; ++k)
            otherMax = std::max(otherMax, double(a(q, k)));
    QCOMPARE(view.colorMap()->dataRange().upper, otherMax);
    QCOMPARE(view.colorMap()->dataRange().lower, 0.0);
    QVERIFY(otherMax < 0.5); // the rest of the map now spans the whole colour bar
    QVERIFY(view.colorScale()->label().contains(QStringLiteral("without key 0")));
    view.setExcludeSink(false);
    QCOMPARE(view.colorMap()->dataRange(), QCPRange(0.0, 1.0));

    // Clipping at the median of the visible cells.
    view.setClipPercentile(50.0);
    std::vector<float> visible;
    for (int q = 0; q < 7; ++q)
        for (int k = 0; k <= q; ++k)
            visible.push_back(a(q, k));
    std::sort(visible.begin(), visible.end());
    QCOMPARE(view.colorMap()->dataRange().upper, double(visible[size_t(std::llround(0.5 * double(visible.size() - 1)))]));
    view.setClipPercentile(100.0);

    // Log scale: logarithmic colour axis with a positive lower end.
    view.setLogScale(true);
    QCOMPARE(view.colorScale()->dataScaleType(), QCPAxis::stLogarithmic);
    QVERIFY(view.colorMap()->dataRange().lower > 0.0);
    QCOMPARE(view.colorMap()->dataRange().lower, double(visible.front()));
    view.logScaleAction()->trigger(); // the menu action toggles it back
    QVERIFY(!view.logScale());
    QCOMPARE(view.colorScale()->dataScaleType(), QCPAxis::stLinear);
}

void TestWidgets::heatmapRowNormalisation()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    auto run = test::makeCannedRun({1, 1, 6, "causal", true, true});
    current.setResult(run);
    view.setRowNormalised(true);
    const RowMatrixXf a = run->attentionMap(0, 0);
    QCPColorMapData* data = view.colorMap()->data();
    for (int q = 0; q < 6; ++q) {
        const double rowMax = a.row(q).head(q + 1).maxCoeff();
        for (int k = 0; k <= q; ++k)
            QVERIFY(std::abs(data->cell(k, q) - double(a(q, k)) / rowMax) < 1e-6);
    }
    // The hover still tells the exact probability.
    QCOMPARE(view.hoverText(3, 1), QStringLiteral("query ',' (3) → key '·The' (1): %1").arg(double(a(3, 1)), 0, 'f', 4));
}

void TestWidgets::heatmapLogits()
{
    // One head over four elements with Q and K kept and no stored maps: logits = 0.5 q·k.
    auto run = test::makeCannedRun({1, 1, 4, "causal", false, true});
    const int T = 4, hd = 2;
    run->model.headDim = hd;
    run->queries.shape = {1, 1, T, hd};
    run->keys.shape = {1, 1, T, hd};
    run->queries.data = {1, 0, 0, 1, 1, 1, 2, -1};
    run->keys.data = {3, 1, -1, 2, 0, 4, 1, 1};
    AttentionRecipe recipe;
    recipe.scale = 0.5;
    run->recipes = {recipe};
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    current.setResult(run);
    QVERIFY(view.hasFigure());
    QSignalSpy shown(&view, &AttentionHeatmapView::mapShown);
    view.logitsAction()->trigger();
    QCOMPARE(view.quantity(), AttentionHeatmapView::Quantity::Logits);
    QCOMPARE(shown.count(), 1);
    QVERIFY(view.title().endsWith(QStringLiteral(" · logits")));
    for (int q = 0; q < T; ++q)
        for (int k = 0; k < T; ++k) {
            const double dot = run->queries.data[size_t(q * hd)] * run->keys.data[size_t(k * hd)]
                + run->queries.data[size_t(q * hd + 1)] * run->keys.data[size_t(k * hd + 1)];
            if (k > q)
                QVERIFY(std::isnan(view.cellValue(q, k)));
            else
                QCOMPARE(view.cellValue(q, k), 0.5 * dot);
        }
    // Logits are signed: the colour range is the visible logits' own (query 3, key 1: 0.5 × -4).
    QCOMPARE(view.colorMap()->dataRange().lower, -2.0);
    QCOMPARE(view.colorMap()->dataRange().upper, 2.5); // query 3, key 0: 0.5 × 5
    QVERIFY(view.dataCsv().split('\n').at(1).endsWith(",,,")); // masked logits left empty

    // A run without Q/K cannot show logits: refused, and the view stays on probabilities.
    current.setResult(test::makeCannedRun({1, 1, 4, "causal", true, true}));
    QCOMPARE(view.quantity(), AttentionHeatmapView::Quantity::Probabilities);
    QVERIFY(!view.setQuantity(AttentionHeatmapView::Quantity::Logits));
}

void TestWidgets::heatmapAggregatesLongPrompts()
{
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(700, 600);
    const int T = 1500;
    auto run = test::makeCannedRun({1, 1, T, "causal", true, true, 5.0});
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    // A long prompt's map is computed on a worker thread; the window goes on meanwhile.
    QSignalSpy shown(&view, &AttentionHeatmapView::mapShown);
    current.setResult(run);
    QVERIFY(T > AttentionHeatmapView::asyncTokens());
    QVERIFY(view.isComputing());
    QVERIFY(!view.hasFigure());
    QVERIFY(view.placeholderText().startsWith(QStringLiteral("Computing the map of layer 0, head 0")));
    QVERIFY(shown.wait(20000));
    QVERIFY(!view.isComputing());
    QVERIFY(view.hasFigure());
    QTest::qWait(0); // let the resize-triggered redraw at the final size run
    QVERIFY(view.blockKeys() > 1); // far more cells than pixels
    const int b = view.blockKeys();
    const RowMatrixXf a = run->attentionMap(0, 0);
    QCPColorMapData* data = view.colorMap()->data();
    QCOMPARE(data->keySize(), (T + b - 1) / b);
    // A drawn cell is the maximum of its block of visible cells.
    for (int cell : {0, 3, 17}) {
        const int bq = view.blockQueries();
        float best = -1;
        for (int q = cell * bq; q < (cell + 1) * bq; ++q)
            for (int k = 0; k < b; ++k)
                if (k <= q)
                    best = std::max(best, a(q, k));
        QCOMPARE(data->cell(0, cell), double(best));
    }
    QVERIFY(!view.isZoomed());
    // Zoomed in, the cells are exact again.
    view.zoomTo(100, 139, 200, 239);
    QVERIFY(view.isZoomed());
    QCOMPARE(view.blockKeys(), 1);
    QCOMPARE(view.blockQueries(), 1);
    QCOMPARE(data->keySize(), 40);
    QCOMPARE(data->data(120, 230), double(a(230, 120)));
    // The hover value is exact at any zoom.
    QCOMPARE(view.cellValue(1000, 3), double(a(1000, 3)));
    view.resetZoom();
    QVERIFY(!view.isZoomed());
    QCOMPARE(view.blockKeys(), b);
    // Zoom keys.
    view.setFocus();
    QTest::keyClick(&view, Qt::Key_Plus);
    QVERIFY(view.isZoomed());
    QTest::keyClick(&view, Qt::Key_0);
    QVERIFY(!view.isZoomed());
}

void TestWidgets::heatmapLongPromptFromQueriesAndKeys()
{
    // A long prompt with Q/K kept and no stored maps (how the GUI runs long prompts): what the view
    // draws and its colour range are checked against an independent aggregation of the full map.
    const int T = 1500, hd = 16;
    auto run = test::makeCannedRun({1, 1, T, "causal", false, true});
    run->model.headDim = hd;
    run->queries.shape = {1, 1, T, hd};
    run->keys.shape = {1, 1, T, hd};
    run->queries.data.resize(size_t(T * hd));
    run->keys.data.resize(size_t(T * hd));
    for (int t = 0; t < T; ++t)
        for (int d = 0; d < hd; ++d) {
            run->queries.data[size_t(t * hd + d)] = float(std::sin(0.37 * t + d)) + 0.5f;
            run->keys.data[size_t(t * hd + d)] = t == 0 ? 1.5f : float(std::cos(0.11 * t * (d + 1)));
        }
    AttentionRecipe recipe;
    recipe.scale = 0.25;
    run->recipes = {recipe};
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(700, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &AttentionHeatmapView::mapShown);
    current.setResult(run);
    QVERIFY(view.isComputing());
    QVERIFY(shown.wait(20000));
    QTest::qWait(0);
    const RowMatrixXf a = run->attentionMap(0, 0);
    auto checkBlocks = [&](bool rowNormalised) {
        const int bk = view.blockKeys(), bq = view.blockQueries();
        QVERIFY(bk > 1 && bq > 1);
        QCPColorMapData* data = view.colorMap()->data();
        QCOMPARE(data->keySize(), (T + bk - 1) / bk);
        QCOMPARE(data->valueSize(), (T + bq - 1) / bq);
        for (int j = 0; j < data->valueSize(); ++j)
            for (int i = 0; i < data->keySize(); ++i) {
                float best = -INFINITY;
                for (int q = j * bq; q < std::min(T, (j + 1) * bq); ++q) {
                    const float rowMax = a.row(q).head(q + 1).maxCoeff();
                    for (int k = i * bk; k < std::min(q + 1, (i + 1) * bk); ++k)
                        best = std::max(best, rowNormalised ? a(q, k) / rowMax : a(q, k));
                }
                const double cell = data->cell(i, j);
                if (std::isinf(best))
                    QVERIFY2(std::isnan(cell), qPrintable(QStringLiteral("cell %1,%2").arg(i).arg(j)));
                else
                    QVERIFY2(cell == double(best), qPrintable(QStringLiteral("cell %1,%2: %3, want %4").arg(i).arg(j).arg(cell).arg(best)));
            }
    };
    checkBlocks(false);
    // The sink column and the range without it, from the whole map (not only what is drawn).
    const int sink = analysis::topElement(analysis::receivedShare(a)).element;
    QCOMPARE(view.sinkColumn(), sink);
    QCOMPARE(sink, 0);
    view.setExcludeSink(true);
    double otherMax = 0, visibleMin = INFINITY;
    for (int q = 0; q < T; ++q)
        for (int k = 0; k <= q; ++k) {
            if (k != sink)
                otherMax = std::max(otherMax, double(a(q, k)));
            visibleMin = std::min(visibleMin, double(a(q, k)));
        }
    QCOMPARE(view.colorMap()->dataRange().upper, otherMax);
    QVERIFY(otherMax < 0.5 * a.col(0).tail(T - 1).maxCoeff());
    view.setExcludeSink(false);
    view.setAutoRange(true);
    QCOMPARE(view.colorMap()->dataRange().lower, visibleMin);
    view.setAutoRange(false);
    // Per-row normalisation is binned again by the core.
    shown.clear();
    view.setRowNormalised(true);
    QVERIFY(shown.count() == 1 || shown.wait(20000));
    QTest::qWait(0);
    checkBlocks(true);
    view.setRowNormalised(false);
    QVERIFY(shown.count() == 2 || shown.wait(20000));
    // Zoomed in: exact cells, from the same floats as the full map.
    view.zoomTo(700, 739, 1200, 1239);
    QCOMPARE(view.blockKeys(), 1);
    QCOMPARE(view.colorMap()->data()->data(720, 1230), double(a(1230, 720)));
    QCOMPARE(view.cellValue(1230, 720), double(a(1230, 720)));
}

void TestWidgets::heatmapBinsNeighboursAhead()
{
    // A long prompt: once the heads the arrow keys lead to are binned in the background, a step
    // shows the next head at once (no worker round trip), with that head's own cells.
    const int T = 1100, hd = 8, H = 3;
    auto run = test::makeCannedRun({1, H, T, "causal", false, true});
    run->model.headDim = hd;
    run->model.kvHeads = H;
    run->queries.shape = {1, H, T, hd};
    run->keys.shape = {1, H, T, hd};
    run->queries.data.resize(size_t(H * T * hd));
    run->keys.data.resize(size_t(H * T * hd));
    for (size_t i = 0; i < run->queries.data.size(); ++i) {
        run->queries.data[i] = float(std::sin(0.013 * double(i)));
        run->keys.data[i] = float(std::cos(0.007 * double(i) * double(1 + i % 3)));
    }
    AttentionRecipe recipe;
    recipe.scale = 0.5;
    run->recipes = {recipe};
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(600, 500);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &AttentionHeatmapView::mapShown);
    current.setResult(run);
    QVERIFY(shown.wait(20000));
    QTRY_VERIFY_WITH_TIMEOUT(!view.isPrefetching() && !view.isComputing(), 20000);
    // A resize after the first map would change the request; wait until the drawn window is final.
    QTest::qWait(0);
    QTRY_VERIFY_WITH_TIMEOUT(!view.isPrefetching() && !view.isComputing(), 20000);
    shown.clear();
    selection.nextHead();
    QCOMPARE(shown.count(), 1); // synchronously: it was binned ahead
    QVERIFY(!view.isComputing());
    QCOMPARE(view.shownHead(), 1);
    const RowMatrixXf a = run->attentionMap(0, 1);
    const int bk = view.blockKeys(), bq = view.blockQueries();
    QCPColorMapData* data = view.colorMap()->data();
    for (int j : {0, 5, data->valueSize() - 1})
        for (int i : {0, 2, j}) {
            float best = -INFINITY;
            for (int q = j * bq; q < std::min(T, (j + 1) * bq); ++q)
                for (int k = i * bk; k < std::min(q + 1, (i + 1) * bk); ++k)
                    best = std::max(best, a(q, k));
            if (std::isinf(best))
                QVERIFY(std::isnan(data->cell(i, j)));
            else
                QCOMPARE(data->cell(i, j), double(best));
        }
    QCOMPARE(view.sinkColumn(), analysis::topElement(analysis::receivedShare(a)).element);
    // Stepping back: the head shown before is kept too.
    QTRY_VERIFY_WITH_TIMEOUT(!view.isPrefetching(), 20000);
    shown.clear();
    selection.previousHead();
    QCOMPARE(shown.count(), 1);
    QCOMPARE(view.shownHead(), 0);
}

void TestWidgets::heatmapGqaTitleAndHomeEnd()
{
    auto run = test::makeCannedRun({2, 4, 5, "causal", true, true});
    run->model.kvHeads = 2;
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    current.setResult(run);
    selection.setLayerHead(1, 3);
    QCOMPARE(view.title(), QStringLiteral("Layer 1 · Head 3 · KV head 1 (shared by heads 2–3)"));
    QTest::keyClick(&view, Qt::Key_Home);
    QCOMPARE(selection.layer(), 0);
    QCOMPARE(selection.head(), 0);
    QTest::keyClick(&view, Qt::Key_End);
    QCOMPARE(selection.layer(), 1);
    QCOMPARE(selection.head(), 3);
}

void TestWidgets::sinksShowsLastQueryAndOverlays()
{
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    auto run = test::makeCannedRun({4, 3, 6, "causal", true, true});
    QVERIFY(test::showAnalysed(current, run));
    for (int l = 0; l < 4; ++l) {
        double sum = 0, sq = 0;
        for (int h = 0; h < 3; ++h)
            sum += run->attentionMap(l, h)(5, 0);
        const double mean = sum / 3;
        for (int h = 0; h < 3; ++h)
            sq += std::pow(run->attentionMap(l, h)(5, 0) - mean, 2);
        QVERIFY(std::abs(view.lastQueryGraph()->data()->at(l)->value - mean) < 1e-6);
        QVERIFY(std::abs(view.lastQueryErrorBars()->data()->at(l).errorPlus - std::sqrt(sq / 3)) < 1e-6);
        // α of the current waiver element (the selected head's top waiver, or element 0).
        double asum = 0;
        for (int h = 0; h < 3; ++h)
            asum += alphaOf(*run, l, h, view.waiverElement());
        QVERIFY(std::abs(view.waiverGraph()->data()->at(l)->value - asum / 3) < 1e-6);
    }
    // Another run overlaid, with its label in the legend.
    auto other = test::makeCannedRun({4, 3, 6, "causal", true, true, 4.0});
    current.addOverlay(QStringLiteral("boosted sink"), std::make_shared<const analysis::RunMetrics>(analysis::analyzeRun(*other)));
    QCOMPARE(view.overlayCount(), 1);
    QStringList names;
    for (int i = 0; i < view.plot()->legend->itemCount(); ++i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(view.plot()->legend->item(i)))
            names << item->plottable()->name();
    QVERIFY2(names.contains(QStringLiteral("boosted sink: first-element mass")), qPrintable(names.join('|')));
    QVERIFY(view.dataCsv().contains("boosted sink"));
}

void TestWidgets::valuesWaiverBarsAreTheWaiverElements()
{
    Selection selection;
    CurrentResult current(&selection);
    ValuesView view(&current, &selection);
    test::CannedRun spec{3, 2, 6, "causal", true, true, 30.0, true, false};
    auto run = test::makeCannedRun(spec);
    QVERIFY(test::showAnalysed(current, run));
    selection.setLayerHead(2, 1);
    QVERIFY(view.hasFigure());
    QCOMPARE(view.shownKvHead(), 1);
    // Element 0 gets most of the attention and has tiny values: it is the waiver element.
    QCOMPARE(view.waiverElements(), std::vector<int>{0});
    view.setStatistic(ValuesView::Statistic::MaxAbs);
    const int hd = 8;
    QCOMPARE(view.waiverBars()->data()->size(), hd);
    for (int d = 0; d < hd; ++d) {
        // The waiver bar is element 0's |v|; the other bar the maximum over elements 1..5.
        QCOMPARE(view.waiverBars()->data()->at(d)->value, double(std::abs(test::cannedValue(2, 1, 0, d))));
        float rest = 0;
        for (int t = 1; t < 6; ++t)
            rest = std::max(rest, std::abs(test::cannedValue(2, 1, t, d)));
        QCOMPARE(view.restBars()->data()->at(d)->value, double(rest));
    }
    view.setStatistic(ValuesView::Statistic::Mean);
    for (int d = 0; d < hd; ++d)
        QCOMPARE(view.waiverBars()->data()->at(d)->value, double(test::cannedValue(2, 1, 0, d)));
    // Value norms against α_j: element 0 sits at high α and low norm.
    QCOMPARE(view.valueNormGraph()->data()->size(), 6);
    double norm0 = 0;
    for (int d = 0; d < hd; ++d)
        norm0 += std::pow(test::cannedValue(2, 1, 0, d), 2);
    const auto p0 = std::find_if(view.valueNormGraph()->data()->begin(), view.valueNormGraph()->data()->end(),
                                 [&](const QCPGraphData& p) { return std::abs(p.key - alphaOf(*run, 2, 1, 0)) < 1e-6; });
    QVERIFY(p0 != view.valueNormGraph()->data()->end());
    QVERIFY(std::abs(p0->value - std::sqrt(norm0)) < 1e-5);
    // Waiver scores per element: element 0 above the threshold, bars for every element.
    QCOMPARE(view.scoreBars()->data()->size(), 6);
    QVERIFY(view.scoreBars()->data()->at(0)->value >= 0.5);
    QVERIFY(view.dataCsv().startsWith("element,alpha,value_norm,contribution_norm,written_norm,waiver_score\n0,"));
}

void TestWidgets::hiddenShowsMassiveActivation()
{
    Selection selection;
    CurrentResult current(&selection);
    HiddenView view(&current, &selection);
    test::CannedRun spec{3, 2, 6, "causal", true, true, 1.0, false, true};
    auto run = test::makeCannedRun(spec);
    QVERIFY(test::showAnalysed(current, run));
    QVERIFY(view.hasFigure());
    // Top-1 per hidden state: the planted 5000 at state 2, else the largest canned |h|.
    for (int s = 0; s <= 3; ++s) {
        float top = 0;
        for (int t = 0; t < 6; ++t)
            for (int d = 0; d < 16; ++d)
                top = std::max(top, std::abs(test::cannedHidden(s, t, d)));
        QCOMPARE(view.topGraph(0)->data()->at(s)->value, double(top));
    }
    selection.setLayer(1); // the stream after block 1 is hidden state 2
    QCOMPARE(view.shownState(), 2);
    QCOMPARE(view.dimBars()->data()->at(3)->value, 5000.0);
    QCOMPARE(view.massiveLabels(), QStringList{QStringLiteral("d3 @ 0")});
    QCOMPARE(view.magnitudeMap()->data()->data(3, 0), 5000.0);
    selection.setLayer(0);
    QCOMPARE(view.shownState(), 1);
    QVERIFY(view.massiveLabels().isEmpty());
    // ‖h‖ of the first element against the others, per hidden state.
    double first = 0;
    for (int d = 0; d < 16; ++d)
        first += std::pow(test::cannedHidden(2, 0, d), 2);
    QVERIFY(std::abs(view.normGraph(0, true)->data()->at(2)->value - std::sqrt(first)) < 1e-3);
}

void TestWidgets::tokenStripMarksWaiversAndKey()
{
    Selection selection;
    CurrentResult current(&selection);
    TokenStrip strip(&current, &selection);
    strip.resize(600, 80);
    test::CannedRun spec{3, 2, 6, "causal", true, true, 30.0, true, false};
    QVERIFY(test::showAnalysed(current, test::makeCannedRun(spec)));
    selection.setLayerHead(2, 0);
    QVERIFY(strip.isWaiver(0));
    for (int i = 1; i < 6; ++i)
        QVERIFY(!strip.isWaiver(i));
    QVERIFY(strip.chipToolTip(0).contains(QStringLiteral("waiver")));
    strip.show();
    QVERIFY(QTest::qWaitForWindowExposed(&strip));
    QTest::mouseClick(strip.chipArea(), Qt::LeftButton, Qt::ShiftModifier, strip.chipRect(3).center());
    QCOMPARE(selection.key(), 3);
    QTest::mouseClick(strip.chipArea(), Qt::LeftButton, {}, strip.chipRect(4).center());
    QCOMPARE(selection.query(), 4);
    QCOMPARE(selection.key(), 3);
}

// The verdict metric, from a hand-made classification whose every head's verdict and confidence
// are chosen here: absent classification -> the entry is disabled and says so; published by the
// classification view -> each cell is that head's verdict (hover, CSV, colour of the verdict grid);
// a new run drops it again.
void TestWidgets::overviewVerdict()
{
    namespace an = sinkscope::analysis;
    Selection selection;
    CurrentResult current(&selection);
    OverviewView view(&current, &selection);
    ClassificationView classification(&current, &selection);
    auto run = test::makeCannedRun({3, 4, 6, "causal", true, true});
    QVERIFY(test::showAnalysed(current, run));

    auto* model = qobject_cast<QStandardItemModel*>(view.metricBox()->model());
    QVERIFY(model);
    const int verdictRow = view.metricBox()->findData(QStringLiteral("verdict"));
    QVERIFY(verdictRow >= 0);
    QVERIFY(!model->item(verdictRow)->isEnabled());
    QVERIFY2(model->item(verdictRow)->toolTip().startsWith(QStringLiteral("Run Classify first")),
             qPrintable(model->item(verdictRow)->toolTip()));
    QVERIFY(view.setMetric(QStringLiteral("verdict")));
    QVERIFY(!view.hasFigure()); // said, not drawn from some default
    QVERIFY2(view.placeholderText().contains(QStringLiteral("Run Classify first")), qPrintable(view.placeholderText()));
    QVERIFY(view.dataCsv().isEmpty());

    // Head i (layer-major) gets verdict i % 4 and confidence 0.125 * (1 + i % 8).
    const an::Verdict order[] = {an::Verdict::Positional, an::Verdict::Feature, an::Verdict::Mixed, an::Verdict::None};
    const char* names[] = {"positional", "feature", "mixed", "none"};
    auto c = std::make_shared<an::Classification>();
    c->model = run->model;
    c->prompts = 1;
    c->base = run;
    for (int l = 0; l < 3; ++l)
        for (int h = 0; h < 4; ++h) {
            an::HeadVerdict v;
            v.layer = l;
            v.head = h;
            const int i = l * 4 + h;
            v.verdict = order[i % 4];
            v.confidence = 0.125 * (1 + i % 8);
            c->heads.push_back(v);
        }
    classification.setClassification(c);
    QCOMPARE(current.classification().get(), c.get());
    QVERIFY(model->item(verdictRow)->isEnabled());
    QVERIFY(view.hasFigure());
    QByteArray csv = "layer,head,verdict,confidence\n";
    for (int l = 0; l < 3; ++l)
        for (int h = 0; h < 4; ++h) {
            const int i = l * 4 + h;
            const double conf = 0.125 * (1 + i % 8);
            an::Verdict v = an::Verdict::None;
            double got = -1;
            QVERIFY(view.cellVerdict(l, h, &v, &got));
            QCOMPARE(v, order[i % 4]);
            QCOMPARE(got, conf);
            QCOMPARE(view.hoverText(l, h),
                     QStringLiteral("L%1.H%2: %3 (confidence %4)").arg(l).arg(h).arg(QLatin1String(names[i % 4])).arg(conf, 0, 'f', 2));
            csv += QByteArray::number(l) + ',' + QByteArray::number(h) + ',' + names[i % 4] + ',' + QByteArray::number(conf) + '\n';
            // The cell's colour is the verdict grid's: same hue, saturation within a rounding step.
            const QColor want = VerdictGrid::colour(order[i % 4], conf);
            const QColor drawn = view.cellColour(l, h);
            QVERIFY(drawn.isValid());
            QVERIFY2(std::abs(drawn.hsvHue() - want.hsvHue()) <= 1 && std::abs(drawn.hsvSaturation() - want.hsvSaturation()) <= 3
                         && std::abs(drawn.value() - want.value()) <= 3,
                     qPrintable(QStringLiteral("L%1.H%2: drawn %3, grid %4").arg(l).arg(h).arg(drawn.name(), want.name())));
        }
    QCOMPARE(view.hoverText(1, 2), QStringLiteral("L1.H2: mixed (confidence 0.88)")); // i = 6: 0.875
    QCOMPARE(view.dataCsv(), csv);
    QVERIFY(view.defaultFileName().endsWith(QStringLiteral("overview-verdict")));
    // The colour bar names the four categories.
    QCPColorScale* scale = nullptr;
    for (int i = 0; i < view.plot()->plotLayout()->elementCount() && !scale; ++i)
        scale = qobject_cast<QCPColorScale*>(view.plot()->plotLayout()->elementAt(i));
    QVERIFY(scale);
    const auto ticker = scale->axis()->ticker().dynamicCast<QCPAxisTickerText>();
    QVERIFY(ticker);
    QCOMPARE(QStringList(ticker->ticks().values()), (QStringList{"positional", "feature", "mixed", "none"}));
    // Another metric restores the numeric colour bar.
    QVERIFY(view.setMetric(QStringLiteral("first_element_mass")));
    QVERIFY(!scale->axis()->ticker().dynamicCast<QCPAxisTickerText>());
    QVERIFY(view.setMetric(QStringLiteral("verdict")));

    // A new run (other tokens) replaces the result: the verdicts belong to the old one.
    QVERIFY(test::showAnalysed(current, test::makeCannedRun({3, 4, 7, "causal", true, true})));
    QVERIFY(!current.classification());
    QVERIFY(!classification.classification());
    QVERIFY(!model->item(verdictRow)->isEnabled());
    QVERIFY(!view.hasFigure());
    QVERIFY2(view.placeholderText().contains(QStringLiteral("Run Classify first")), qPrintable(view.placeholderText()));
    an::Verdict v;
    double conf;
    QVERIFY(!view.cellVerdict(0, 0, &v, &conf));
}
