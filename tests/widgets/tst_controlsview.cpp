// SPDX-License-Identifier: GPL-3.0-or-later
// The controls view, offscreen, on the demo decoder. Its numbers are checked against runs the
// test makes itself on the same model (the prompt as is and with the control's interventions)
// and the core's cost functions, not against the job the view ran: block:J really gives the
// after-map a zero column J, the NLL/KL shown and exported are those of the two runs, a click on
// a token picks J, switching heads redraws from the kept runs without a new job, bad input is
// said and the previous result stays, and "Send to Compare" puts before/after in the compare view.
#include "compareview.h"
#include "controlsview.h"
#include "currentresult.h"
#include "figureexport.h"
#include "modeljobservice.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenticker.h"
#include "tokenstrip.h"
#include "viewregistry.h"

#include "sinkscope/controls.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/model.h"

#include <QComboBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include <numeric>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

double mean(const std::vector<double>& x)
{
    return std::accumulate(x.begin(), x.end(), 0.0) / double(x.size());
}

// The value of the CSV row `series,layer,head,position,key,value` (NaN when absent).
double csvValue(const QByteArray& csv, const QString& series, const QString& position = QString())
{
    for (const QByteArray& line : csv.split('\n')) {
        const QList<QByteArray> f = line.split(',');
        if (f.size() == 6 && f[0] == series.toUtf8() && f[3] == position.toUtf8())
            return f[5].toDouble();
    }
    return std::numeric_limits<double>::quiet_NaN();
}

bool near(double a, double b)
{
    return std::abs(a - b) <= 1e-7 * std::max(1.0, std::abs(b));
}

} // namespace

class TestControlsView : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void registered();
    void pickAControl();
    void blockCostAndMaps();
    void badInputKeepsResult();
    void evictPlot();
    void figureLabelsFit_data();
    void figureLabelsFit();
    void sendToCompare();

private:
    // Runs the prompt on screen as is and with `spec`, as the test's own reference.
    std::pair<std::shared_ptr<RunResult>, std::shared_ptr<RunResult>> reference(const QString& spec) const;
    bool showRun(CurrentResult& current);
    bool applyAndWait(ControlsView& view);

    QTemporaryDir m_tmp;
    std::unique_ptr<Model> m_model;
    std::shared_ptr<const RunResult> m_run;
};

void TestControlsView::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    writeDemoModel(DemoKind::Decoder, m_tmp.filePath("decoder").toStdString());
    m_model = Model::load(m_tmp.filePath("decoder").toStdString(), DevicePreference::Cpu);
    RunRequest r;
    r.text = "The cat sat on the mat. The dog slept by the door.";
    r.captureAttention = false;
    m_run = m_model->run(r);
    QVERIFY(m_run->tokens > 10);
}

std::pair<std::shared_ptr<RunResult>, std::shared_ptr<RunResult>> TestControlsView::reference(const QString& spec) const
{
    RunRequest req;
    req.useIds = true;
    req.ids = m_run->encoding.ids();
    auto before = m_model->run(req);
    req.interventions = an::controlInterventions(an::parseControlSpec(spec.toStdString()), m_run->tokens, true,
                                                 m_model->info().maxPositions);
    auto after = m_model->run(req);
    return {before, after};
}

bool TestControlsView::showRun(CurrentResult& current)
{
    QSignalSpy metrics(&current, &CurrentResult::metricsAvailable);
    current.setResult(m_run);
    return metrics.wait(30000);
}

bool TestControlsView::applyAndWait(ControlsView& view)
{
    QSignalSpy done(&view, &ControlsView::controlFinished);
    QSignalSpy failed(&view, &ControlsView::controlFailed);
    view.apply();
    if (!done.wait(30000))
        qWarning("%s", qPrintable(view.statusText()));
    return done.count() == 1 && failed.isEmpty();
}

void TestControlsView::registered()
{
    const ViewSpec* spec = ViewRegistry::global().find(QStringLiteral("controls"));
    QVERIFY(spec);
    QCOMPARE(spec->title, QStringLiteral("Controls"));
    // Tab order: right after the classification view.
    const QStringList names = ViewRegistry::global().names();
    QCOMPARE(names.indexOf("controls"), names.indexOf("classification") + 1);
}

void TestControlsView::pickAControl()
{
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    QVERIFY(!view.hasFigure());
    QVERIFY(view.dataCsv().isEmpty());
    // Without a run or a model, Apply says what is missing.
    QSignalSpy failed(&view, &ControlsView::controlFailed);
    view.apply();
    QCOMPARE(failed.count(), 1);
    QVERIFY2(view.statusText().contains("Run a prompt first"), qPrintable(view.statusText()));
    QVERIFY(showRun(current));
    view.apply();
    QCOMPARE(failed.count(), 2);
    QVERIFY2(view.statusText().contains("Open a model first"), qPrintable(view.statusText()));
    QVERIFY(!view.isRunning());

    // A click on a token of the strip picks J; Shift+click (the key) too.
    TokenStrip strip(&current, &selection);
    strip.setResult(m_run);
    strip.resize(1200, 90);
    strip.show();
    QVERIFY(strip.count() == int(m_run->tokens));
    QTest::mouseClick(strip.chipArea(), Qt::LeftButton, {}, strip.chipRect(5).center());
    QCOMPARE(view.element(), 5);
    QCOMPARE(view.specText(), QStringLiteral("block:5"));
    QTest::mouseClick(strip.chipArea(), Qt::LeftButton, Qt::ShiftModifier, strip.chipRect(3).center());
    QCOMPARE(view.element(), 3);
    // The spin box is the other way in.
    view.elementBox()->setValue(7);
    QCOMPARE(view.specText(), QStringLiteral("block:7"));

    // SPECs go through the core's parser; what it refuses changes nothing.
    QString error;
    QVERIFY(view.setControl(QStringLiteral("positions:shift=4"), &error));
    QCOMPARE(view.specText(), QStringLiteral("positions:shift=4"));
    QVERIFY(view.setControl(QStringLiteral("evict:2,5")));
    QCOMPARE(view.specText(), QStringLiteral("evict:2,5"));
    QVERIFY(view.setControl(QStringLiteral("positions:6=0")));
    QCOMPARE(view.specText(), QStringLiteral("positions:6=0"));
    QVERIFY(!view.setControl(QStringLiteral("mask:3"), &error));
    QVERIFY2(error.contains("is not one of block:J"), qPrintable(error));
    QCOMPARE(view.specText(), QStringLiteral("positions:6=0"));
}

void TestControlsView::blockCostAndMaps()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    view.resize(1100, 800);
    view.show();
    QVERIFY(showRun(current));
    QVERIFY(view.applyButton()->isEnabled());
    // Remove the waiver of the planted positional head L0.H0: element 0.
    QVERIFY(view.setControl(QStringLiteral("block:0")));
    selection.setLayerHead(0, 0);
    QVERIFY(applyAndWait(view));
    QCOMPARE(view.progressBar()->format(), QStringLiteral("run 2 of 2"));
    QVERIFY(view.hasFigure());
    QVERIFY(view.plot());

    // The after map of the selected head: nobody but 0 itself attends to 0.
    const int T = int(m_run->tokens);
    const RowMatrixXf before = view.beforeMap(), after = view.afterMap();
    QCOMPARE(int(after.rows()), T);
    float seenBefore = 0.0f;
    for (int q = 0; q < T; ++q) {
        if (q != 0)
            QCOMPARE(after(q, 0), 0.0f);
        if (q > 0)
            seenBefore = std::max(seenBefore, before(q, 0));
    }
    QVERIFY2(seenBefore > 0.5f, "element 0 was the waiver before the block");
    QCOMPARE(after(0, 0), 1.0f);
    QVERIFY(std::abs(after.row(8).sum() - 1.0f) < 1e-5f);

    // The cost shown is that of the test's own two runs.
    const auto [b, a] = reference(QStringLiteral("block:0"));
    const std::vector<int32_t> ids = m_run->encoding.ids();
    const int64_t V = m_model->info().vocabSize;
    const double nllBefore = mean(an::tokenNll(b->logits, ids, V, true));
    const double nllAfter = mean(an::tokenNll(a->logits, ids, V, true));
    const std::vector<double> kl = an::klPerPosition(b->logits, a->logits, T, V);
    QVERIFY(nllAfter != nllBefore);
    QVERIFY(near(view.result()->nllBefore, nllBefore));
    QVERIFY(near(view.result()->nllAfter, nllAfter));
    QVERIFY(near(view.result()->klMean, mean(kl)));
    QVERIFY2(view.costText().contains(QString::number(nllBefore, 'f', 4)) && view.costText().contains(QString::number(nllAfter, 'f', 4))
                 && view.costText().contains(QString::number(mean(kl), 'f', 4)),
             qPrintable(view.costText()));
    // Query 0 sees only itself either way: its prediction does not change.
    QVERIFY2(kl[0] < 1e-9, qPrintable(QString::number(kl[0])));

    // The CSV holds the same numbers.
    const QByteArray csv = view.dataCsv();
    QVERIFY(csv.startsWith("series,layer,head,position,key,value\n"));
    QVERIFY(near(csvValue(csv, "nll_before"), nllBefore));
    QVERIFY(near(csvValue(csv, "nll_after"), nllAfter));
    QVERIFY(near(csvValue(csv, "kl_mean"), mean(kl)));
    for (int t = 0; t < T; ++t)
        QVERIFY(std::abs(csvValue(csv, "kl", QString::number(t)) - kl[size_t(t)]) <= 1e-7 * std::max(1.0, kl[size_t(t)]));
    int zeroColumn = 0;
    for (const QByteArray& line : csv.split('\n'))
        if (line.startsWith("map_after,0,0,") && line.split(',')[4] == "0" && line.split(',')[3] != "0") {
            QCOMPARE(line.split(',')[5], QByteArray("0"));
            ++zeroColumn;
        }
    QCOMPARE(zeroColumn, T - 1);

    // Another head: redrawn from the kept runs, no new job.
    const int jobs = service.started();
    selection.setLayerHead(1, 2);
    QCOMPARE(service.started(), jobs);
    QVERIFY(view.afterMap().isApprox(a->attentionMap(1, 2)));
    QVERIFY(view.beforeMap().isApprox(b->attentionMap(1, 2)));
    QCOMPARE(view.afterMap()(9, 0), 0.0f);
    QVERIFY(view.dataCsv().contains("\nmap_after,1,2,9,0,0\n"));
    QVERIFY(view.defaultFileName().contains("control-block-0-l1-h2"));
}

void TestControlsView::badInputKeepsResult()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    QVERIFY(showRun(current));
    QVERIFY(view.setControl(QStringLiteral("designate:2")));
    QVERIFY(applyAndWait(view));
    const auto kept = view.result();
    QVERIFY(kept);

    // J outside the prompt: the job's error is shown, the result stays.
    QSignalSpy failed(&view, &ControlsView::controlFailed);
    QVERIFY(view.setControl(QStringLiteral("block:999")));
    view.apply();
    QVERIFY(failed.wait(30000));
    QVERIFY2(view.statusText().contains("999") && view.statusText().contains("tokens"), qPrintable(view.statusText()));
    QCOMPARE(view.result(), kept);
    QVERIFY(view.hasFigure());

    // K + W too small: the parser's reason, before any run.
    const int jobs = service.started();
    view.kindBox()->setCurrentIndex(4);
    QVERIFY(view.specText().startsWith("evict:"));
    const QList<QSpinBox*> boxes = view.findChildren<QSpinBox*>();
    for (QSpinBox* box : boxes)
        if (box->toolTip().startsWith("First elements"))
            box->setValue(0);
        else if (box->toolTip().startsWith("Recent elements"))
            box->setValue(1);
    QCOMPARE(view.specText(), QStringLiteral("evict:0,1"));
    view.apply();
    QCOMPARE(failed.count(), 2);
    QCOMPARE(service.started(), jobs);
    QVERIFY2(view.statusText().contains("evict:0,1"), qPrintable(view.statusText()));
    QCOMPARE(view.result(), kept);

    // Still usable.
    QVERIFY(view.setControl(QStringLiteral("block:1")));
    QVERIFY(applyAndWait(view));
    QCOMPARE(view.result()->spec.text, std::string("block:1"));

    // Cancel keeps what is there.
    service.m_holdForCancel = true;
    const auto last = view.result();
    view.apply();
    QVERIFY(view.isRunning());
    QVERIFY(view.cancelButton()->isEnabled());
    view.cancel();
    QTRY_VERIFY(!view.isRunning());
    QVERIFY(view.statusText().contains("cancelled"));
    QCOMPARE(view.result(), last);
}

void TestControlsView::evictPlot()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    QVERIFY(showRun(current));
    QVERIFY(view.setControl(QStringLiteral("evict:1,4")));
    QVERIFY(applyAndWait(view));
    QCOMPARE(view.progressBar()->format(), QStringLiteral("run 4 of 4"));
    // NLL against position, full and evicted, equal to the test's own runs.
    const auto [b, a] = reference(QStringLiteral("evict:1,4"));
    const std::vector<int32_t> ids = m_run->encoding.ids();
    const std::vector<double> full = an::tokenNll(b->logits, ids, m_model->info().vocabSize, true);
    const std::vector<double> evicted = an::tokenNll(a->logits, ids, m_model->info().vocabSize, true);
    const QByteArray csv = view.dataCsv();
    QCOMPARE(int(full.size()), int(m_run->tokens) - 1);
    for (size_t t = 0; t < full.size(); ++t) {
        QVERIFY(near(csvValue(csv, "nll_full", QString::number(t)), full[t]));
        QVERIFY(near(csvValue(csv, "nll_evicted", QString::number(t)), evicted[t]));
        QVERIFY(!std::isnan(csvValue(csv, "nll_window_only", QString::number(t))));
        QVERIFY(!std::isnan(csvValue(csv, "nll_designated", QString::number(t))));
    }
    // Inside the window nothing is evicted yet: the first W predictions are unchanged.
    for (size_t t = 0; t < 4; ++t)
        QVERIFY(near(evicted[t], full[t]));
    QVERIFY(!view.grab().isNull());
}

void TestControlsView::figureLabelsFit_data()
{
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("preset");
    QTest::addColumn<int>("panels");
    QTest::newRow("block, two-column") << QStringLiteral("block:0") << QStringLiteral("two-column") << 4;
    QTest::newRow("evict, two-column") << QStringLiteral("evict:1,4") << QStringLiteral("two-column") << 5;
}

void TestControlsView::figureLabelsFit()
{
    // Laid out as the figure is drawn (its fonts and size): every axis title fits along its
    // rect (a rotated y title longer than the rect is cut at both ends), token labels are a text
    // line apart, and each legend lies inside its rect.
    QFETCH(QString, spec);
    QFETCH(QString, preset);
    QFETCH(int, panels);
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    view.resize(1100, 800);
    view.show();
    QVERIFY(showRun(current));
    QVERIFY(view.setControl(spec));
    QVERIFY(applyAndWait(view));
    QVERIFY(waitUntilComputed(&view));
    QCustomPlot* plot = view.plot();
    const std::optional<FigurePreset> p = parseFigurePreset(preset);
    QVERIFY(p);
    const FigureExportOptions options = printFigureOptions(*p);
    FigureStyle style(plot, options); // as exportFigure lays it out
    layOutAt(plot, options.size);
    style.fitTicks(plot, options.size);
    style.placeLegends(plot, options.size);
    int laidOut = 0;
    for (QCPAxisRect* rect : plot->axisRects()) {
        if (!rect->layout()) // the NLL panel of another control, out of the layout
            continue;
        ++laidOut;
        for (QCPAxis* axis : {rect->axis(QCPAxis::atLeft), rect->axis(QCPAxis::atBottom)}) {
            const bool vertical = axis->orientation() == Qt::Vertical;
            const int length = vertical ? rect->height() : rect->width();
            const double title = QFontMetricsF(axis->labelFont()).horizontalAdvance(axis->label());
            QVERIFY2(title <= length, qPrintable(QStringLiteral("'%1': %2 px on an axis of %3 px").arg(axis->label()).arg(title).arg(length)));
            if (!qSharedPointerDynamicCast<TokenTicker>(axis->ticker()))
                continue;
            const QVector<double> t = axis->tickVector();
            QVERIFY(t.size() >= 2);
            double need = QFontMetricsF(axis->tickLabelFont()).height();
            if (!vertical)
                need /= std::sin(std::abs(axis->tickLabelRotation()) * M_PI / 180.0);
            for (int i = 1; i < t.size(); ++i)
                QVERIFY2(std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1])) >= need,
                         qPrintable(QStringLiteral("'%1': labels %2 and %3").arg(axis->label()).arg(t[i - 1]).arg(t[i])));
        }
        for (QCPLayoutElement* e : rect->insetLayout()->elements(false))
            if (auto* legend = qobject_cast<QCPLegend*>(e); legend && legend->visible())
                QVERIFY2(rect->rect().adjusted(-1, -1, 1, 1).contains(legend->outerRect()), // QCustomPlot rounds a corner by a pixel
                         qPrintable(QStringLiteral("legend %1,%2 %3x%4 in %5,%6 %7x%8").arg(legend->outerRect().x()).arg(legend->outerRect().y()).arg(legend->outerRect().width()).arg(legend->outerRect().height()).arg(rect->rect().x()).arg(rect->rect().y()).arg(rect->width()).arg(rect->height())));
    }
    QCOMPARE(laidOut, panels);
}

void TestControlsView::sendToCompare()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ControlsView view(&current, &selection);
    CompareView compare(&current, &selection);
    // As the main window does for every view.
    connect(&view, &View::compareRequested, &compare, &CompareView::setPair);
    QVERIFY(showRun(current));
    QVERIFY(!view.compareButton()->isEnabled());
    QVERIFY(view.setControl(QStringLiteral("block:4")));
    QVERIFY(applyAndWait(view));
    QVERIFY(view.compareButton()->isEnabled());
    // Causal: a block of 4 cannot change what queries before 4 see.
    for (int t = 0; t < 4; ++t)
        QVERIFY(view.result()->klPerPosition[size_t(t)] < 1e-9);
    QVERIFY(view.result()->klPerPosition[6] > 0.0);
    selection.setLayerHead(0, 1);
    QTest::mouseClick(view.compareButton(), Qt::LeftButton);
    QCOMPARE(compare.runA(), view.result()->before);
    QVERIFY(compare.other());
    QCOMPARE(compare.other()->result, view.result()->after);
    QVERIFY(compare.hasFigure());
    // The compare view's own CSV: A is the map before, B the map with the block (column 4 empty).
    const RowMatrixXf before = view.beforeMap();
    int rows = 0;
    for (const QByteArray& line : compare.dataCsv().split('\n')) {
        const QList<QByteArray> f = line.split(',');
        if (f.size() != 7 || f[0] == "query_a")
            continue;
        const int q = f[0].toInt(), k = f[1].toInt();
        QVERIFY(std::abs(f[4].toDouble() - before(q, k)) < 1e-6);
        if (k == 4 && q != 4)
            QCOMPARE(f[5], QByteArray("0"));
        ++rows;
    }
    const int T = int(m_run->tokens);
    QCOMPARE(rows, T * (T + 1) / 2);
    // The next run on screen is A again.
    RunRequest other;
    other.text = "The bird sang in the tree.";
    current.setResult(m_model->run(other));
    QCOMPARE(compare.runA(), current.result());
}

QTEST_MAIN(TestControlsView)
#include "tst_controlsview.moc"
