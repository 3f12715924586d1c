// SPDX-License-Identifier: GPL-3.0-or-later
// Long prompts in the controls, compare and classification views: their maps come from the core's
// bins (BinnedHeadMap) at the plot's resolution, off the GUI thread. What they draw is checked
// against block maxima / means computed here from the full map (RunResult::attentionMap).
#include "widgetstests.h"
#include "widgetstestdata.h"

#include "attentionheatmapview.h"
#include "binnedheadmap.h"
#include "classificationview.h"
#include "colormaps.h"
#include "compareview.h"
#include "controlsview.h"
#include "currentresult.h"
#include "viewregistry.h"
#include "dataexport.h"
#include "figurerenderer.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenlabels.h"

#include "sinkscope/classify.h"
#include "sinkscope/compare.h"
#include "sinkscope/controls.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFontMetrics>
#include <QImage>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <cmath>

using namespace sinkscope;

namespace {

constexpr int kLongT = 1500; // > BinnedHeadMap::asyncTokens(), and more cells than pixels

// A run with Q and K and no stored maps (how the GUI runs long prompts): 1 layer, `heads` heads
// whose maps differ, and runs with another `phase` differ too.
std::shared_ptr<RunResult> longRun(int T, int heads, double phase, const std::string& attention = "causal", bool bos = true)
{
    const int hd = 8;
    auto run = test::makeCannedRun({1, heads, T, attention, false, bos});
    run->model.headDim = hd;
    run->queries.shape = {1, heads, T, hd};
    run->keys.shape = {1, heads, T, hd};
    run->queries.data.resize(size_t(heads * T * hd));
    run->keys.data.resize(size_t(heads * T * hd));
    for (int h = 0; h < heads; ++h)
        for (int t = 0; t < T; ++t)
            for (int d = 0; d < hd; ++d) {
                const size_t i = size_t((h * T + t) * hd + d);
                run->queries.data[i] = float(std::sin(0.37 * t + d + 1.3 * h + phase)) + 0.5f;
                run->keys.data[i] = t == 0 ? 1.5f : float(std::cos(0.11 * t * (d + 1) + h));
            }
    AttentionRecipe recipe;
    recipe.scale = 0.25;
    recipe.causal = attention != "bidirectional";
    run->recipes = {recipe};
    return run;
}

bool visible(bool causal, int q, int k)
{
    return !causal || k <= q;
}

// The maximum of `a` over each bq x bk block of visible cells (NaN for a block without any).
RowMatrixXf blockMax(const RowMatrixXf& a, int bq, int bk, bool causal)
{
    const int T = int(a.rows());
    const int gq = (T + bq - 1) / bq, gk = (T + bk - 1) / bk;
    RowMatrixXf out(gq, gk);
    for (int j = 0; j < gq; ++j)
        for (int i = 0; i < gk; ++i) {
            float best = -INFINITY;
            for (int q = j * bq; q < std::min(T, (j + 1) * bq); ++q)
                for (int k = i * bk; k < std::min(T, (i + 1) * bk); ++k)
                    if (visible(causal, q, k))
                        best = std::max(best, a(q, k));
            out(j, i) = std::isinf(best) ? NAN : best;
        }
    return out;
}

// The mean of b - a over each block of the aligned n x n cells visible in both (NaN for none).
RowMatrixXf blockMeanDifference(const RowMatrixXf& a, const RowMatrixXf& b, const RunAlignment& al, int bq, int bk,
                                bool causal)
{
    const int n = al.length;
    const int gq = (n + bq - 1) / bq, gk = (n + bk - 1) / bk;
    RowMatrixXf out(gq, gk);
    for (int j = 0; j < gq; ++j)
        for (int i = 0; i < gk; ++i) {
            double sum = 0.0;
            int count = 0;
            for (int q = j * bq; q < std::min(n, (j + 1) * bq); ++q)
                for (int k = i * bk; k < std::min(n, (i + 1) * bk); ++k)
                    if (visible(causal, q, k)) {
                        sum += double(b(al.offsetB + q, al.offsetB + k)) - double(a(al.offsetA + q, al.offsetA + k));
                        ++count;
                    }
            out(j, i) = count ? float(sum / count) : NAN;
        }
    return out;
}

// The colour map's cells against `want` (NaN where want is NaN), within `tolerance`.
bool sameCells(QCPColorMapData* data, const RowMatrixXf& want, double tolerance, QString* why)
{
    if (data->keySize() != std::max<int>(2, int(want.cols())) || data->valueSize() != std::max<int>(2, int(want.rows()))) {
        *why = QStringLiteral("size %1 x %2, want %3 x %4").arg(data->keySize()).arg(data->valueSize()).arg(want.cols()).arg(want.rows());
        return false;
    }
    for (int j = 0; j < want.rows(); ++j)
        for (int i = 0; i < want.cols(); ++i) {
            const double cell = data->cell(i, j), w = double(want(j, i));
            const bool ok = std::isnan(w) ? std::isnan(cell) : std::abs(cell - w) <= tolerance;
            if (!ok) {
                *why = QStringLiteral("cell %1,%2: %3, want %4").arg(i).arg(j).arg(cell, 0, 'g', 9).arg(w, 0, 'g', 9);
                return false;
            }
        }
    return true;
}

std::shared_ptr<analysis::ControlResult> controlOf(std::shared_ptr<const RunResult> before, std::shared_ptr<const RunResult> after)
{
    auto r = std::make_shared<analysis::ControlResult>();
    r->spec = analysis::parseControlSpec("block:1");
    r->model = before->model;
    r->prompts = 1;
    r->klPerPosition.assign(size_t(before->tokens), 0.0);
    r->firstMassBefore = before->firstTokenMass;
    r->firstMassAfter = after->firstTokenMass;
    r->before = std::move(before);
    r->after = std::move(after);
    return r;
}

// Waits until no map of `view` is being binned any more (a resize may ask for one more binning).
template <class V>
bool settle(V& view)
{
    QSignalSpy shown(&view, &V::mapsShown);
    for (int i = 0; i < 10 && view.isComputing(); ++i)
        if (!shown.wait(20000))
            return false;
    QTest::qWait(0);
    return !view.isComputing();
}

// A shown controls view for a 1 layer x 2 heads model and two long runs to control with.
struct LongControls {
    Selection selection;
    CurrentResult current{&selection};
    ControlsView view{&current, &selection};
    std::shared_ptr<RunResult> before = longRun(kLongT, 2, 0.0), after = longRun(kLongT, 2, 0.7);

    bool show()
    {
        selection.setBounds(1, 2, kLongT);
        view.resize(900, 700);
        view.show();
        return QTest::qWaitForWindowExposed(&view);
    }
};

} // namespace

void TestWidgets::longMapsControlsBlockMaxima()
{
    LongControls f;
    QVERIFY(f.show());
    ControlsView& view = f.view;
    const auto before = f.before, after = f.after;
    QSignalSpy shown(&view, &ControlsView::mapsShown);
    view.setResult(controlOf(before, after));
    // The GUI thread is back before the maps are: they are binned on workers.
    QVERIFY(view.isComputing());
    QCOMPARE(shown.count(), 0);
    QVERIFY(shown.wait(20000));
    QVERIFY(settle(view));
    const std::shared_ptr<RunResult> runs[2] = {before, after};
    for (int side = 0; side < 2; ++side) {
        const BinnedHeadMap* m = view.binnedMap(side);
        QCOMPARE(m->layer(), 0);
        QCOMPARE(m->head(), 0);
        const int bq = m->blockQueries(), bk = m->blockKeys();
        QVERIFY2(bq > 1 && bk > 1, qPrintable(QStringLiteral("%1 x %2").arg(bq).arg(bk)));
        QString why;
        QVERIFY2(sameCells(view.colorMap(side)->data(), blockMax(runs[side]->attentionMap(0, 0), bq, bk, true), 0.0, &why),
                 qPrintable(why));
        // The axis says what a cell is.
        QVERIFY(view.colorMap(side)->keyAxis()->label().contains(
            QStringLiteral("blocks of %1 queries × %2 keys: maximum").arg(bq).arg(bk)));
    }
    // The CSV stays the exact full-resolution map: every visible cell of both maps.
    const QByteArray csv = view.dataCsv();
    QCOMPARE(csv.count("\nmap_before,"), qsizetype(kLongT) * (kLongT + 1) / 2);
    const RowMatrixXf a = after->attentionMap(0, 0);
    QVERIFY(csv.contains("\nmap_after,0,0,1000,3," + QByteArray::number(double(a(1000, 3)), 'g', 9) + '\n'));
}

void TestWidgets::longMapsHeadChangeSupersedes()
{
    LongControls f;
    QVERIFY(f.show());
    ControlsView& view = f.view;
    const auto before = f.before, after = f.after;
    Selection& selection = f.selection;
    view.setResult(controlOf(before, after));
    QVERIFY(settle(view));
    // Head 1 is asked for, then head 0 again before head 1's maps could be delivered: only the
    // newest request is drawn, head 1's maps never reach the plot.
    QSignalSpy drawn(view.binnedMap(0), &BinnedHeadMap::shown);
    selection.setLayerHead(0, 1);
    QVERIFY(view.isComputing());
    selection.setLayerHead(0, 0);
    QVERIFY(view.isComputing());
    QVERIFY(settle(view));
    QCOMPARE(drawn.count(), 1);
    QCOMPARE(view.binnedMap(0)->head(), 0);
    // And a head change that is left alone arrives with that head's maps.
    selection.setLayerHead(0, 1);
    QVERIFY(view.isComputing());
    QVERIFY(settle(view));
    const BinnedHeadMap* m = view.binnedMap(1);
    QCOMPARE(m->head(), 1);
    QString why;
    QVERIFY2(sameCells(view.colorMap(1)->data(), blockMax(after->attentionMap(0, 1), m->blockQueries(), m->blockKeys(), true),
                       0.0, &why),
             qPrintable(why));
    QVERIFY(!after->attentionMap(0, 1).isApprox(after->attentionMap(0, 0))); // the heads do differ
}

void TestWidgets::longMapsShortPromptStaysExact()
{
    // A short prompt is drawn before the call returns, cell by cell (1 x 1 blocks).
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    view.resize(900, 700);
    auto run = test::makeCannedRun({2, 2, 9, "causal", true, true, 3.0});
    selection.setBounds(2, 2, 9);
    selection.setLayerHead(1, 1);
    view.setResult(controlOf(run, run));
    QVERIFY(!view.isComputing());
    const BinnedHeadMap* m = view.binnedMap(0);
    QCOMPARE(m->blockQueries(), 1);
    QCOMPARE(m->blockKeys(), 1);
    QVERIFY(view.colorMap(0)->keyAxis()->label().contains(QStringLiteral("exact cells")));
    const RowMatrixXf a = run->attentionMap(1, 1);
    QCPColorMapData* data = view.colorMap(0)->data();
    for (int q = 0; q < 9; ++q)
        for (int k = 0; k < 9; ++k) {
            if (k > q)
                QVERIFY(std::isnan(data->cell(k, q)));
            else
                QCOMPARE(data->cell(k, q), double(a(q, k)));
        }
}

void TestWidgets::longMapsCompareDifferenceIsBlockMean()
{
    Selection selection;
    selection.setBounds(1, 2, kLongT);
    CurrentResult current(&selection);
    CompareView view(&current, &selection);
    view.resize(1200, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto a = longRun(kLongT, 2, 0.0), b = longRun(kLongT, 2, 0.9);
    SessionRun sa, sb;
    sa.result = a;
    sa.label = "a";
    sb.result = b;
    sb.label = "b";
    QSignalSpy shown(&view, &CompareView::mapsShown);
    view.setPair(sa, sb);
    QVERIFY(view.isComputing());
    QCOMPARE(shown.count(), 0);
    QVERIFY(shown.wait(20000));
    QVERIFY(settle(view));
    const RowMatrixXf ma = a->attentionMap(0, 0), mb = b->attentionMap(0, 0);
    QString why;
    for (int i = 0; i < 2; ++i) {
        const BinnedHeadMap* m = view.binnedMap(i);
        QVERIFY(m->blockQueries() > 1 && m->blockKeys() > 1);
        QVERIFY2(sameCells(view.colorMap(i)->data(), blockMax(i == 0 ? ma : mb, m->blockQueries(), m->blockKeys(), true), 0.0, &why),
                 qPrintable(why));
    }
    const BinnedHeadMap* d = view.binnedMap(2);
    QVERIFY(d->blockQueries() > 1 && d->blockKeys() > 1);
    QCOMPARE(view.alignment().length, kLongT);
    // The block mean of B minus that of A is the mean of B - A over the block (float sums).
    const RowMatrixXf want = blockMeanDifference(ma, mb, view.alignment(), d->blockQueries(), d->blockKeys(), true);
    QVERIFY2(sameCells(view.colorMap(2)->data(), want, 2e-7, &why), qPrintable(why));
    QVERIFY(want.cwiseAbs().maxCoeff() > 1e-3); // the runs do differ
    QVERIFY(view.colorMap(2)->keyAxis()->label().contains(QStringLiteral("mean of B − A")));
    // The colour range is symmetric around 0 and covers the drawn blocks.
    double extent = 0;
    for (int j = 0; j < want.rows(); ++j)
        for (int i = 0; i < want.cols(); ++i)
            if (!std::isnan(want(j, i)))
                extent = std::max(extent, double(std::abs(want(j, i))));
    QVERIFY(std::abs(view.colorMap(2)->colorScale()->dataRange().upper - extent) < 1e-6);
    QCOMPARE(view.colorMap(2)->colorScale()->dataRange().lower, -view.colorMap(2)->colorScale()->dataRange().upper);

    // A token click (query or key) keeps the head: nothing is binned again.
    selection.setQuery(700);
    selection.setKey(3);
    QVERIFY(!view.isComputing());

    // BOS on in A and off in B: A's positions 1.. line up with B's 0.., and so do the blocks.
    auto noBos = longRun(kLongT - 1, 2, 0.9, "causal", false);
    sb.result = noBos;
    view.setPair(sa, sb);
    QVERIFY(settle(view));
    QCOMPARE(view.alignment().offsetA, 1);
    QCOMPARE(view.alignment().offsetB, 0);
    QCOMPARE(view.alignment().length, kLongT - 1);
    const BinnedHeadMap* shifted = view.binnedMap(2);
    QVERIFY(shifted->blockQueries() > 1 && shifted->blockKeys() > 1);
    QVERIFY2(sameCells(view.colorMap(2)->data(),
                       blockMeanDifference(ma, noBos->attentionMap(0, 0), view.alignment(), shifted->blockQueries(),
                                           shifted->blockKeys(), true),
                       2e-7, &why),
             qPrintable(why));

    // Runs that mask different cells have no common block mean: said, not drawn.
    auto bidirectional = longRun(kLongT, 2, 0.9, "bidirectional");
    sb.result = bidirectional;
    view.setPair(sa, sb);
    QVERIFY(settle(view));
    QVERIFY(!view.binnedMap(2)->isShown());
    QVERIFY(view.binnedMap(2)->error().contains(QStringLiteral("mask different cells")));
    QVERIFY(view.binnedMap(1)->isShown());
}

void TestWidgets::longMapsClassificationEvidence()
{
    Selection selection;
    selection.setBounds(1, 2, kLongT);
    CurrentResult current(&selection);
    ClassificationView view(&current, &selection);
    view.resize(900, 600);
    auto base = longRun(kLongT, 2, 0.0), probe = longRun(kLongT, 2, 1.1);
    auto c = std::make_shared<analysis::Classification>();
    c->model = base->model;
    c->tokens = kLongT;
    c->prompts = 1;
    for (int h = 0; h < 2; ++h) {
        analysis::HeadVerdict v;
        v.layer = 0;
        v.head = h;
        v.verdict = analysis::Verdict::Positional;
        v.confidence = 0.8;
        v.probes = {{"move", 0.9}};
        c->heads.push_back(v);
    }
    c->base = base;
    analysis::ProbeVariant move;
    move.name = "move";
    c->design.variants = {move};
    c->probeRuns = {probe};
    QSignalSpy shown(&view, &ClassificationView::mapsShown);
    view.setClassification(c);
    QVERIFY(view.isComputing());
    QVERIFY(view.beforeMap().isNull()); // not drawn yet: the GUI thread did not wait
    QVERIFY(shown.wait(20000));
    QVERIFY(settle(view));
    const std::shared_ptr<RunResult> runs[2] = {base, probe};
    for (int side = 0; side < 2; ++side) {
        const BinnedHeadMap* m = view.binnedMap(side);
        const int bq = m->blockQueries(), bk = m->blockKeys();
        QCOMPARE(bk, (kLongT + 119) / 120); // at most one block per pixel of the 120-pixel map
        const RowMatrixXf want = blockMax(runs[side]->attentionMap(0, 0), bq, bk, true);
        const QImage img = side == 0 ? view.beforeMap() : view.afterMap();
        QCOMPARE(img.size(), QSize(int(want.cols()), int(want.rows())));
        for (int j = 0; j < want.rows(); ++j)
            for (int i = 0; i < want.cols(); ++i) {
                const QRgb expected = std::isnan(want(j, i)) ? noValueColor().rgb()
                                                             : colorMapColor(ColorMap::Viridis, want(j, i)).rgb();
                QVERIFY2(img.pixel(i, j) == expected, qPrintable(QStringLiteral("side %1 pixel %2,%3").arg(side).arg(i).arg(j)));
            }
    }
}

void TestWidgets::longMapsRebinOnResize()
{
    // A narrower plot gets coarser blocks: the map is binned again after the resize.
    QCustomPlot plot;
    plot.resize(900, 700);
    auto* map = new QCPColorMap(plot.xAxis, plot.yAxis);
    BinnedHeadMap binned(map);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.replot();
    const int T = 1000; // drawn before showMap returns
    auto run = longRun(T, 1, 0.0);
    binned.showMap(run, 0, 0);
    QVERIFY(binned.isShown());
    const int wide = binned.blockKeys();
    QCOMPARE(wide, (T + plot.axisRect()->width() - 1) / plot.axisRect()->width());
    plot.resize(300, 700);
    QTRY_VERIFY(binned.blockKeys() > wide);
    QCOMPARE(binned.blockKeys(), (T + BinnedHeadMap::minPixels() - 1) / BinnedHeadMap::minPixels()); // 300 px: below the floor
    QString why;
    QVERIFY2(sameCells(map->data(), blockMax(run->attentionMap(0, 0), binned.blockQueries(), binned.blockKeys(), true), 0.0, &why),
             qPrintable(why));
}

void TestWidgets::longMapsCsvIsStreamed()
{
    // The heatmap of a long prompt: its CSV is a job over a snapshot, written a block of rows at a
    // time (kLongT rows are several blocks of 2^20 cells), to a file or into memory alike.
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(420, 330); // small, as a printed figure is: the labels must be thinned to it
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const std::shared_ptr<RunResult> run = longRun(kLongT, 2, 0.3);
    QSignalSpy shown(&view, &AttentionHeatmapView::mapShown);
    current.setResult(run);
    selection.setLayerHead(0, 1);
    QVERIFY(shown.wait(20000) || view.hasFigure());
    QTRY_VERIFY_WITH_TIMEOUT(view.hasFigure() && view.shownHead() == 1, 20000);
    // The tick labels are thinned to the plot: no two are closer than a line of text.
    view.plot()->replot(); // the tick vectors are laid out by a replot
    for (QCPAxis* axis : {view.plot()->xAxis, view.plot()->yAxis}) {
        const QVector<double> ticks = axis->tickVector();
        QVERIFY(ticks.size() >= 2);
        const int line = QFontMetrics(axis->tickLabelFont()).height();
        for (int i = 1; i < ticks.size(); ++i)
            QVERIFY2(std::abs(axis->coordToPixel(ticks[i]) - axis->coordToPixel(ticks[i - 1])) >= line,
                     qPrintable(QStringLiteral("ticks %1 and %2").arg(ticks[i - 1]).arg(ticks[i])));
    }
    const DataExport data = view.dataExport();
    QCOMPARE(data.cells, qint64(kLongT) * kLongT);
    QVERIFY(data.heavy()); // the window writes it off the GUI thread

    // The snapshot holds: the view moving to another head does not change what is written.
    selection.setLayerHead(0, 0);
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("map.csv"));
    std::vector<double> reports;
    QString error;
    QVERIFY2(writeDataExport(data, file, &error, nullptr, [&](double f) { reports.push_back(f); }), qPrintable(error));
    QVERIFY(reports.size() >= 2);
    QVERIFY(std::is_sorted(reports.begin(), reports.end()));
    QCOMPARE(reports.back(), 1.0);
    QFile f(file);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = f.readAll().split('\n');
    QCOMPARE(lines.size(), kLongT + 2); // header, T rows, trailing newline
    const RowMatrixXf map = run->attentionMap(0, 1); // head 1, the head shown when asked
    for (int q : {0, 700, 1401, kLongT - 1}) { // rows in the first, second and third block
        const QList<QByteArray> fields = lines[q + 1].split(',');
        QCOMPARE(fields.size(), kLongT + 1);
        QCOMPARE(fields[0], QByteArray::number(q) + ':' + tokenLabel(run->encoding.tokens[size_t(q)]).toUtf8());
        for (int k : {0, 1, q / 2, q})
            QCOMPARE(fields[k + 1].toFloat(), map(q, k)); // 9 digits: exact float round trip
        if (q + 1 < kLongT)
            QCOMPARE(fields[q + 2], QByteArray("0")); // a masked cell is the model's zero
    }

    // Cancelled after its first report: no file, and no temporary file left behind.
    std::atomic<bool> cancel{false};
    const QString other = dir.filePath(QStringLiteral("cancelled.csv"));
    QVERIFY(!writeDataExport(data, other, &error, &cancel, [&](double) { cancel = true; }));
    QVERIFY2(error.contains(QStringLiteral("cancelled")), qPrintable(error));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{QStringLiteral("map.csv")});
}

void TestWidgets::longMapsFigureIsDrawn()
{
    // Headless (sinkscope-cli figure): a long prompt's map is computed off the GUI thread, and
    // the figure is written once it is there, with its full CSV.
    const std::shared_ptr<RunResult> run = longRun(kLongT, 2, 0.3);
    FigureRequest request;
    SessionRun shown;
    shown.result = run;
    request.runs = {shown};
    request.view = QStringLiteral("heatmap");
    request.head = 1;
    QTemporaryDir dir;
    request.out = dir.filePath(QStringLiteral("long.png"));
    QString error;
    QVERIFY2(renderFigure(request, &error), qPrintable(error));
    QVERIFY(!QImage(request.out).isNull());
    QFile csv(dir.filePath(QStringLiteral("long.csv")));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = csv.readAll().split('\n');
    QCOMPARE(lines.size(), kLongT + 2);
    const RowMatrixXf map = run->attentionMap(0, 1);
    const QList<QByteArray> row = lines[1201].split(',');
    QCOMPARE(row[1].toFloat(), map(1200, 0));
    QCOMPARE(row[1201].toFloat(), map(1200, 1200));
    QVERIFY(QFileInfo::exists(dir.filePath(QStringLiteral("long.json"))));
}

void TestWidgets::longMapsWaitLeavesNothingStale()
{
    // What a screenshot of a long prompt grabs after waitUntilComputed is the head asked for,
    // drawn: not the previous head's cells under a "computing" title (a queued replot not yet run).
    Selection selection;
    CurrentResult current(&selection);
    AttentionHeatmapView view(&current, &selection);
    view.resize(700, 500);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const std::shared_ptr<RunResult> run = longRun(kLongT, 2, 0.3);
    current.setResult(run);
    QVERIFY(waitUntilComputed(&view));
    // Another head: binned on the worker (or, if the neighbour binned ahead is done already, at once).
    selection.setLayerHead(0, 1);
    QVERIFY(waitUntilComputed(&view));
    QCOMPARE(view.shownHead(), 1);
    QVERIFY(!view.isComputing());
    const QImage grabbed = view.grab().toImage();
    view.plot()->replot(QCustomPlot::rpImmediateRefresh);
    QCOMPARE(grabbed, view.grab().toImage());
}

void TestWidgets::longMapsCompareCsvAlignsBlocks()
{
    // Compare's CSV over two long runs aligned by their ends (one has a BOS the other lacks), so
    // that A's and B's rows differ by one position, streamed over several blocks of rows.
    Selection selection;
    selection.setBounds(1, 2, kLongT);
    CurrentResult current(&selection);
    CompareView view(&current, &selection);
    view.resize(900, 500);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto a = longRun(kLongT, 2, 0.0, "causal", true), b = longRun(kLongT - 1, 2, 0.9, "causal", false);
    SessionRun sa, sb;
    sa.result = a;
    sb.result = b;
    view.setPair(sa, sb);
    QVERIFY(settle(view));
    QVERIFY(view.hasFigure());
    const RunAlignment al = view.alignment();
    QVERIFY2(al.offsetA != al.offsetB, qPrintable(QString::fromStdString(al.rule)));
    const QByteArray csv = view.dataCsv();
    const QList<QByteArray> lines = csv.split('\n');
    // Every cell visible in both, causal: n (n + 1) / 2 rows, a header and the trailing newline.
    const qsizetype n = al.length;
    QCOMPARE(lines.size(), n * (n + 1) / 2 + 2);
    const RowMatrixXf ma = a->attentionMap(0, 0), mb = b->attentionMap(0, 0);
    int checked = 0;
    for (const QByteArray& line : lines) {
        const QList<QByteArray> f = line.split(',');
        if (f.size() != 7 || f[0] == "query_a")
            continue;
        const int qa = f[0].toInt(), ka = f[1].toInt(), qb = f[2].toInt(), kb = f[3].toInt();
        if (qa % 301 != 0 || ka % 7 != 0) // a sample of rows from every block
            continue;
        QCOMPARE(qa - al.offsetA, qb - al.offsetB);
        QCOMPARE(ka - al.offsetA, kb - al.offsetB);
        QCOMPARE(f[4].toFloat(), ma(qa, ka));
        QCOMPARE(f[5].toFloat(), mb(qb, kb));
        ++checked;
    }
    QVERIFY2(checked > 300, qPrintable(QString::number(checked)));
}
