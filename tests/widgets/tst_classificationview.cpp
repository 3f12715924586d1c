// SPDX-License-Identifier: GPL-3.0-or-later
// The classification view, offscreen, on the demo decoder: before probing it shows which heads
// have a waiver; Classify runs the core ClassifyJob through a JobService (here one that runs the
// job on a Model in this thread and replies through the event loop, as the engine adaptor does),
// with progress; the grid is coloured by verdict, clicking a cell selects the head, the evidence
// panel lists the head's probe numbers with before/after and shows its two maps; cancel keeps the
// previous result; figure and CSV export.
#include "classificationview.h"
#include "currentresult.h"
#include "jobservice.h"
#include "modeljobservice.h"
#include "selection.h"
#include "viewregistry.h"

#include "sinkscope/classify.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"

#include <QApplication>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

using namespace sinkscope;
namespace an = sinkscope::analysis;


class TestClassificationView : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void registered();
    void beforeProbing();
    void classifyAndEvidence();
    void cancelKeepsPrevious();
    void promptSet();

private:
    QTemporaryDir m_tmp;
    std::unique_ptr<Model> m_model;
    std::shared_ptr<const RunResult> m_run;
};

void TestClassificationView::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    writeDemoModel(DemoKind::Decoder, m_tmp.filePath("decoder").toStdString());
    m_model = Model::load(m_tmp.filePath("decoder").toStdString(), DevicePreference::Cpu);
    RunRequest r;
    r.text = "The cat sat on the mat. The dog slept by the door.";
    r.captureAttention = false;
    m_run = m_model->run(r);
}

void TestClassificationView::registered()
{
    const ViewSpec* spec = ViewRegistry::global().find(QStringLiteral("classification"));
    QVERIFY(spec);
    QCOMPARE(spec->title, QStringLiteral("Classification"));
}

void TestClassificationView::beforeProbing()
{
    Selection selection;
    CurrentResult current(&selection);
    ClassificationView view(&current, &selection);
    QVERIFY(!view.hasFigure());
    QSignalSpy metrics(&current, &CurrentResult::metricsAvailable);
    current.setResult(m_run);
    QVERIFY(metrics.wait(30000));
    QVERIFY(view.hasFigure());
    // Only the three planted heads have a waiver (tst_classify); every other head is already "none".
    const QStringList rows = QString::fromUtf8(view.dataCsv()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(rows.size(), 17);
    QCOMPARE(rows[0], QStringLiteral("layer,head,verdict,confidence,waiver_elements,sink_excess"));
    QVERIFY2(rows[1].startsWith("0,0,unprobed,0,0,"), qPrintable(rows[1]));
    QVERIFY2(rows[2].startsWith("0,1,unprobed,0,"), qPrintable(rows[2]));
    QVERIFY2(rows[9].startsWith("2,0,unprobed,"), qPrintable(rows[9]));
    QVERIFY2(rows[3].startsWith("0,2,none,"), qPrintable(rows[3]));
    QVERIFY(view.verdictText().contains("3 of 16 heads have a waiver"));
    // Never shown (a tab in the back): the figure is still laid out for Export All.
    const QPixmap figure = view.figureWidget()->grab();
    QVERIFY(!figure.isNull());
    QVERIFY2(figure.width() > 300 && figure.height() > 200, qPrintable(QString("%1x%2").arg(figure.width()).arg(figure.height())));
    // No service: Classify says what is missing instead of doing nothing silently.
    view.classify();
    QVERIFY(!view.isRunning());
}

void TestClassificationView::classifyAndEvidence()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ClassificationView view(&current, &selection);
    view.resize(900, 600);
    view.show();
    QSignalSpy metrics(&current, &CurrentResult::metricsAvailable);
    current.setResult(m_run);
    QVERIFY(metrics.wait(30000));
    QVERIFY(view.classifyButton()->isEnabled());
    QSignalSpy changed(&view, &ClassificationView::classificationChanged);
    QTest::mouseClick(view.classifyButton(), Qt::LeftButton);
    QVERIFY(view.isRunning());
    QVERIFY(view.cancelButton()->isEnabled());
    QVERIFY(changed.wait(30000));
    QVERIFY(!view.isRunning());
    const auto c = view.classification();
    QVERIFY(c);
    QCOMPARE(current.classification(), c); // published for the overview's verdict metric
    QCOMPARE(view.progressBar()->format(), QStringLiteral("run %1 of %1").arg(c->forwardPasses));
    QVERIFY(view.verdictText().startsWith("Model verdict: positional"));
    QCOMPARE(c->heads[0].verdict, an::Verdict::Positional);
    QCOMPARE(c->heads[1].verdict, an::Verdict::Feature);
    // The grid's colours: verdict hue, confidence as saturation.
    QImage grab = view.grid()->grab().toImage();
    const QColor pos = grab.pixelColor(view.grid()->cellRect(0, 0).center());
    const QColor feat = grab.pixelColor(view.grid()->cellRect(0, 1).center());
    QCOMPARE(pos.rgb(), VerdictGrid::colour(an::Verdict::Positional, c->heads[0].confidence).rgb());
    QCOMPARE(feat.rgb(), VerdictGrid::colour(an::Verdict::Feature, c->heads[1].confidence).rgb());
    QVERIFY(VerdictGrid::colour(an::Verdict::Feature, 1.0).hsvSaturation() > VerdictGrid::colour(an::Verdict::Feature, 0.2).hsvSaturation());
    // Clicking a cell selects that head everywhere.
    QTest::mouseClick(view.grid(), Qt::LeftButton, {}, view.grid()->cellRect(0, 1).center());
    QCOMPARE(selection.layer(), 0);
    QCOMPARE(selection.head(), 1);
    // Evidence: the head's probe numbers, with before/after where the probe has them.
    QTableWidget* t = view.evidenceTable();
    QStringList names;
    for (int r = 0; r < t->rowCount(); ++r)
        names << t->item(r, 0)->text();
    for (const auto& [name, x] : c->heads[1].probes)
        QVERIFY2(names.contains(QString::fromStdString(name)), name.c_str());
    const int move = int(names.indexOf("move"));
    QVERIFY(move >= 0);
    QCOMPARE(t->item(move, 1)->text(), QString::number(c->heads[1].probes.at("move"), 'f', 3));
    QCOMPARE(t->item(move, 3)->text(), QString::number(c->heads[1].evidence.at("move").after, 'f', 3));
    // The move probe is picked first: its before/after maps are the head's maps in the two runs.
    QCOMPARE(view.beforeMap().size(), QSize(int(m_run->tokens), int(m_run->tokens)));
    QVERIFY(!view.afterMap().isNull());
    QVERIFY(view.beforeMap() != view.afterMap());
    // Export: the CSV is classification.csv; the figure is the widget.
    QCOMPARE(view.dataCsv(), QByteArray::fromStdString(an::classificationFiles(*c).at("classification.csv")));
    QVERIFY(view.hasFigure());
    QVERIFY(!view.figureWidget()->grab().isNull());
    QVERIFY(view.defaultFileName().endsWith("-classification"));
    // Another run makes the classification stale.
    RunRequest other;
    other.text = "The bird sang in the tree.";
    current.setResult(m_model->run(other));
    QVERIFY(!view.classification());
    QVERIFY(!current.classification());
}

void TestClassificationView::cancelKeepsPrevious()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ClassificationView view(&current, &selection);
    QSignalSpy metrics(&current, &CurrentResult::metricsAvailable);
    current.setResult(m_run);
    QVERIFY(metrics.wait(30000));
    QSignalSpy changed(&view, &ClassificationView::classificationChanged);
    view.classify();
    QVERIFY(changed.wait(30000));
    const auto first = view.classification();
    QVERIFY(first);
    service.m_holdForCancel = true;
    view.classify();
    QVERIFY(view.isRunning());
    view.cancel();
    QTRY_VERIFY(!view.isRunning());
    QVERIFY(view.statusText().contains("cancelled"));
    QCOMPARE(view.classification(), first);
}

// Over a prompt set: the per-head verdicts are those of the core job over the same file (run
// here on its own), the planted heads agree in every prompt, the selected head's per-prompt
// verdicts are listed by line, and an unreadable file is said while the result stays.
void TestClassificationView::promptSet()
{
    ModelJobService service(m_model.get());
    service.makeCurrent();
    Selection selection;
    CurrentResult current(&selection);
    ClassificationView view(&current, &selection);
    QSignalSpy metrics(&current, &CurrentResult::metricsAvailable);
    current.setResult(m_run);
    QVERIFY(metrics.wait(30000));
    QVERIFY(view.promptTable()->isHidden());
    const QString file = m_tmp.filePath("prompts.txt");
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("The cat sat on the mat. The dog slept by the door.\n"
            "The bird sang in the tree. The cat sat by the door.\n"
            "\n"
            "The dog sat on the mat. The bird slept in the tree.\n");
    f.close();
    QSignalSpy changed(&view, &ClassificationView::classificationChanged);
    view.classifyPromptSet(file);
    QVERIFY(view.isRunning());
    QVERIFY(changed.wait(60000));
    const auto c = view.classification();
    QVERIFY(c);
    QCOMPARE(c->prompts, 3);
    QVERIFY2(view.verdictText().contains("over 3 prompts"), qPrintable(view.verdictText()));

    an::ClassifyJob job(an::readPromptSet(file.toStdString()), an::ClassifySettings{});
    const auto ref = std::dynamic_pointer_cast<const an::Classification>(runJob(*m_model, job));
    QVERIFY(ref);
    QCOMPARE(c->heads.size(), ref->heads.size());
    for (size_t i = 0; i < c->heads.size(); ++i) {
        QCOMPARE(c->heads[i].verdict, ref->heads[i].verdict);
        QCOMPARE(c->heads[i].confidence, ref->heads[i].confidence);
    }
    // The planted heads: the same verdict in every prompt.
    QCOMPARE(c->heads[0].verdict, an::Verdict::Positional);
    QCOMPARE(c->heads[0].probes.at("agreement"), 1.0);
    QCOMPARE(c->heads[1].verdict, an::Verdict::Feature);
    QCOMPARE(c->heads[1].probes.at("agreement"), 1.0);

    // The selected head's verdict per prompt, by line (the blank line 3 is not a prompt).
    selection.setLayerHead(0, 1);
    QTableWidget* t = view.promptTable();
    QVERIFY(!t->isHidden());
    QCOMPARE(t->rowCount(), 3);
    const QStringList lines{"1", "2", "4"};
    for (int r = 0; r < 3; ++r) {
        QCOMPARE(t->item(r, 0)->text(), lines[r]);
        QCOMPARE(t->item(r, 1)->text(), QString::number(ref->perPrompt[size_t(r)].tokens));
        QCOMPARE(t->item(r, 2)->text(), QString("feature"));
        QCOMPARE(t->item(r, 3)->text(), QString::number(ref->perPrompt[size_t(r)].confidence[1], 'f', 3));
    }
    // The evidence table carries the agreement with the other probe numbers.
    bool agreement = false;
    for (int r = 0; r < view.evidenceTable()->rowCount(); ++r)
        agreement |= view.evidenceTable()->item(r, 0)->text() == "agreement" && view.evidenceTable()->item(r, 1)->text() == "1.000";
    QVERIFY(agreement);
    // A prompt-set classification is not tied to the run on screen.
    RunRequest other;
    other.text = "The bird sang in the tree.";
    current.setResult(m_model->run(other));
    QCOMPARE(view.classification(), c);
    QCOMPARE(current.classification(), c); // published again for the new run

    QSignalSpy failed(&view, &ClassificationView::classificationFailed);
    view.classifyPromptSet(m_tmp.filePath("missing.txt"));
    QCOMPARE(failed.count(), 1);
    QVERIFY2(view.statusText().contains("Cannot read the prompt set"), qPrintable(view.statusText()));
    QVERIFY(!view.isRunning());
    QCOMPARE(view.classification(), c);
}

QTEST_MAIN(TestClassificationView)
#include "tst_classificationview.moc"
