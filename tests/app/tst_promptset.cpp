// SPDX-License-Identifier: GPL-3.0-or-later
// Prompt sets in the GUI, offscreen, on the built-in demo decoder: every prompt runs through the
// engine one after another, bad lines are reported by number while the rest runs, the aggregate is
// the mean of each prompt's own single run, the planted waiver heads come out on top, prompts of
// different lengths are grouped (or truncated to one T), cancel keeps the single run on screen.
#include "classificationview.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "promptsetdialog.h"
#include "promptsetrunner.h"
#include "selection.h"

#include "sinkscope/analysis.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/model.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <map>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

const int kWait = 120000;

QString writeFile(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return {};
    f.write(bytes);
    return path;
}

QByteArray jsonLine(const std::string& text)
{
    return QJsonDocument(QJsonObject{{"text", QString::fromStdString(text)}}).toJson(QJsonDocument::Compact) + "\n";
}

} // namespace

class TestPromptSet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void aggregatesPromptFile();
    void cancelKeepsSingleRun();
    void groupsMixedLengths();
    void truncatesToChosenLength();
    void unreadableFileIsReported();
    void truncatesWithTheLoadedTokenizer();
    void classifiesPromptFile();

private:
    bool openDemo(MainWindow& w);
    bool runSingle(MainWindow& w, const QString& text);
    QTemporaryDir m_tmp;
    QString m_model;
    DemoGroundTruth m_truth;
};

void TestPromptSet::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("SinkScopeTests");
    QSettings().clear();
    QSettings().setValue("device", "cpu");
    QVERIFY(m_tmp.isValid());
    m_model = QDir(m_tmp.path()).filePath(QString::fromStdString(demoModelName(DemoKind::Decoder)));
    writeDemoModel(DemoKind::Decoder, m_model.toStdString());
    m_truth = demoGroundTruth(DemoKind::Decoder);
    QVERIFY(m_truth.samplePrompts.size() >= 3);
}

bool TestPromptSet::openDemo(MainWindow& w)
{
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(m_model);
    return loaded.wait(kWait);
}

bool TestPromptSet::runSingle(MainWindow& w, const QString& text)
{
    QSignalSpy shown(&w, &MainWindow::resultShown);
    w.setPrompt(text);
    w.runPrompt();
    return shown.wait(kWait);
}

void TestPromptSet::aggregatesPromptFile()
{
    MainWindow w;
    w.show();
    QVERIFY(openDemo(w));
    QVERIFY(runSingle(w, "The cat sat on the mat."));
    const auto single = w.result();
    QVERIFY(single);

    // Four lines, the third is broken JSON.
    QByteArray bytes = jsonLine(m_truth.samplePrompts[0]) + jsonLine(m_truth.samplePrompts[1]) + "{\"text\": oops\n"
                       + jsonLine(m_truth.samplePrompts[2]);
    const QString file = writeFile(QDir(m_tmp.path()).filePath("set.jsonl"), bytes);
    QVERIFY(!file.isEmpty());

    PromptSetRunner* runner = w.promptSetRunner();
    QSignalSpy progress(runner, &PromptSetRunner::progressChanged);
    QSignalSpy issues(runner, &PromptSetRunner::promptIssue);
    QSignalSpy finished(runner, &PromptSetRunner::finished);
    w.analyzePromptSet(file);
    QVERIFY(runner->isRunning());
    QVERIFY(finished.wait(kWait));
    QVERIFY(!runner->isRunning());

    QVERIFY(!progress.isEmpty());
    QCOMPARE(progress.last().at(0).toInt(), 3);
    QCOMPARE(progress.last().at(1).toInt(), 3);
    QCOMPARE(issues.count(), 1);
    QCOMPARE(issues.first().at(0).toInt(), 3);
    QCOMPARE(w.result(), single); // the single run on screen stays

    const auto result = runner->result();
    QVERIFY(result);
    QVERIFY(!result->cancelled);
    QCOMPARE(int(result->runs.size()), 3);
    QCOMPARE(result->runs[0].line, 1);
    QCOMPARE(result->runs[1].line, 2);
    QCOMPARE(result->runs[2].line, 4);

    // Each prompt on its own, through the model directly: the aggregate per length is their mean.
    const auto model = Model::load(m_model.toStdString(), DevicePreference::Cpu);
    std::map<int64_t, std::vector<an::RunMetrics>> reference;
    for (size_t i = 0; i < 3; ++i) {
        RunRequest req;
        req.text = m_truth.samplePrompts[i];
        req.captureLogits = false;
        const an::RunMetrics m = an::analyzeRun(*model->run(req));
        QCOMPARE(result->runs[i].metrics.tokens, m.tokens);
        QVERIFY(std::abs(result->runs[i].metrics.sinkRate.percent - m.sinkRate.percent) < 1e-9);
        QVERIFY(std::abs(result->runs[i].metrics.firstTokenMass.mean() - m.firstTokenMass.mean()) < 1e-4);
        reference[m.tokens].push_back(m);
    }
    QCOMPARE(result->means.size(), reference.size());
    for (const auto& [T, ms] : reference) {
        double rate = 0, mass = 0;
        for (const an::RunMetrics& m : ms) {
            rate += m.sinkRate.percent / double(ms.size());
            mass += double(m.firstTokenMass.mean()) / double(ms.size());
        }
        QVERIFY(result->means.count(T));
        const an::RunMetrics& mean = result->means.at(T);
        QCOMPARE(mean.prompts, int(ms.size()));
        QCOMPARE(mean.tokens, T);
        QVERIFY2(std::abs(mean.sinkRate.percent - rate) < 1e-6,
                 qPrintable(QString("T %1: %2 vs %3").arg(T).arg(mean.sinkRate.percent).arg(rate)));
        QVERIFY(std::abs(double(mean.firstTokenMass.mean()) - mass) < 1e-4);
        // The planted positional waiver is the top waiver of its head in the aggregate.
        for (const PlantedHead& p : m_truth.heads) {
            if (p.mechanism != "positional")
                continue;
            const an::HeadElement& top = mean.waiver.at(size_t(p.layer * mean.heads + p.head));
            QCOMPARE(top.layer, p.layer);
            QCOMPARE(top.head, p.head);
            QCOMPARE(top.element, p.waiverPosition);
            QVERIFY(top.value > 0.5f);
        }
    }

    // The dialog shows the main group; its strongest waiver row is a planted head.
    PromptSetDialog* dialog = w.promptSetDialog();
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    QCOMPARE(dialog->shownLength(), result->groups.mainLength);
    const an::RunMetrics& shown = result->means.at(result->groups.mainLength);
    QVERIFY(dialog->sinkRateText().contains(QString::number(shown.sinkRate.percent, 'f', 2)));
    QVERIFY(dialog->sinkRateText().contains(QString("T = %1").arg(result->groups.mainLength)));
    QCOMPARE(dialog->sinkCurveTable()->rowCount(), shown.layers);
    QVERIFY(dialog->waiverTable()->rowCount() > 0);
    const int topLayer = dialog->waiverTable()->item(0, 0)->text().toInt();
    const int topHead = dialog->waiverTable()->item(0, 1)->text().toInt();
    bool planted = false;
    for (const PlantedHead& p : m_truth.heads)
        planted = planted || (p.layer == topLayer && p.head == topHead);
    QVERIFY2(planted, qPrintable(QString("top waiver row is L%1.H%2").arg(topLayer).arg(topHead)));
    QCOMPARE(dialog->perPromptTable()->rowCount(), 3);
    QCOMPARE(dialog->issueList()->count(), 1);
    QVERIFY(dialog->issueList()->item(0)->text().startsWith("line 3:"));
    for (const PlantedMassiveActivation& p : m_truth.massive) {
        if (p.position < 0)
            continue;
        bool found = false;
        for (const an::MassiveActivation& a : shown.massive)
            found = found || (a.layer == p.firstHidden && a.dim == p.dim && a.element == p.position);
        QVERIFY2(found, qPrintable(QString("massive dim %1 at hidden %2").arg(p.dim).arg(p.firstHidden)));
    }
    QCOMPARE(dialog->massiveTable()->rowCount(), int(shown.massive.size()));

    // Save metrics: metrics.json (with per_prompt) and the CSV tables, through the shared writer.
    const QString out = QDir(m_tmp.path()).filePath("saved");
    QString error;
    QVERIFY2(dialog->saveTo(out, &error), qPrintable(error));
    QFile f(QDir(out).filePath("metrics.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject json = QJsonDocument::fromJson(f.readAll()).object();
    QCOMPARE(json["format"].toString(), QString("sinkscope-metrics"));
    QCOMPARE(json["prompts"].toInt(), shown.prompts);
    QCOMPARE(json["per_prompt"].toArray().size(), shown.prompts);
    QVERIFY(std::abs(json["sink_rate"].toObject()["percent"].toDouble() - shown.sinkRate.percent) < 1e-9);
    QCOMPARE(json["groups"].isArray(), result->groups.groups.size() > 1);
    for (const char* name : {"per_prompt.csv", "sink_curve.csv", "sink_rate.csv", "waiver.csv", "massive_activations.csv"})
        QVERIFY2(QFile::exists(QDir(out).filePath(name)), name);
}

void TestPromptSet::cancelKeepsSingleRun()
{
    MainWindow w;
    w.show();
    QVERIFY(openDemo(w));
    QVERIFY(runSingle(w, "The cat sat on the mat."));
    const auto single = w.result();

    QByteArray bytes;
    for (int i = 0; i < 12; ++i)
        bytes += QByteArray::fromStdString(m_truth.samplePrompts[size_t(i) % m_truth.samplePrompts.size()]) + "\n";
    const QString file = writeFile(QDir(m_tmp.path()).filePath("many.txt"), bytes);
    PromptSetRunner* runner = w.promptSetRunner();
    // Cancel as soon as the first prompt is done, as the Cancel button would.
    connect(runner, &PromptSetRunner::progressChanged, &w, [&w](int done, int) {
        if (done == 1)
            w.cancelRun();
    });
    QSignalSpy cancelled(runner, &PromptSetRunner::cancelled);
    QSignalSpy finished(runner, &PromptSetRunner::finished);
    w.analyzePromptSet(file);
    QVERIFY(cancelled.wait(kWait));
    QCOMPARE(finished.count(), 0);
    QVERIFY(!runner->isRunning());
    const auto partial = runner->result();
    QVERIFY(partial->cancelled);
    QCOMPARE(partial->total, 12);
    QVERIFY(!partial->runs.empty());
    QVERIFY(int(partial->runs.size()) < 12);
    QCOMPARE(w.result(), single);
    QVERIFY(w.message().contains("cancelled"));
    QVERIFY(w.promptSetDialog());
    QVERIFY(w.promptSetDialog()->sinkRateText().contains("T = "));

    // The engine still runs single prompts afterwards.
    QVERIFY(runSingle(w, "The dog slept by the door."));
    QVERIFY(w.result() != single);
}

void TestPromptSet::groupsMixedLengths()
{
    MainWindow w;
    w.show();
    QVERIFY(openDemo(w));
    const QString file = writeFile(QDir(m_tmp.path()).filePath("mixed.txt"),
                                   "The cat sat on the mat.\nThe dog sat on the mat.\n\n"
                                   "The cat sat on the mat. The dog slept by the door.\n");
    PromptSetRunner* runner = w.promptSetRunner();
    QSignalSpy finished(runner, &PromptSetRunner::finished);
    w.analyzePromptSet(file);
    QVERIFY(finished.wait(kWait));
    const auto result = runner->result();
    QCOMPARE(int(result->runs.size()), 3);
    QVERIFY(result->issues.empty());
    QCOMPARE(result->runs[2].line, 4);
    QCOMPARE(result->runs[0].metrics.tokens, result->runs[1].metrics.tokens);
    QVERIFY(result->runs[2].metrics.tokens > result->runs[0].metrics.tokens);
    // Two groups, never one mean over both lengths.
    QCOMPARE(int(result->groups.groups.size()), 2);
    QCOMPARE(int(result->means.size()), 2);
    for (const auto& [T, members] : result->groups.groups) {
        QCOMPARE(result->means.at(T).tokens, T);
        QCOMPARE(result->means.at(T).prompts, int(members.size()));
    }
    QCOMPARE(result->groups.mainLength, result->runs[0].metrics.tokens);
    PromptSetDialog* dialog = w.promptSetDialog();
    QCOMPARE(dialog->findChild<QComboBox*>("lengthCombo")->count(), 2);
    const int64_t longT = result->runs[2].metrics.tokens;
    QVERIFY(dialog->showLength(longT));
    QVERIFY(dialog->sinkRateText().contains(QString("T = %1").arg(longT)));
    QCOMPARE(dialog->shownLength(), longT);
    QVERIFY(!dialog->showLength(longT + 100));
}

void TestPromptSet::truncatesToChosenLength()
{
    MainWindow w;
    w.show();
    QVERIFY(openDemo(w));
    an::PromptSet set = an::parsePromptSet("The cat sat on the mat.\nThe cat sat on the mat. The dog slept by the door.\nThe\n");
    QCOMPARE(int(set.prompts.size()), 3);
    PromptSetRunner::Settings settings;
    settings.length = 5;
    PromptSetRunner* runner = w.promptSetRunner();
    QSignalSpy finished(runner, &PromptSetRunner::finished);
    QSignalSpy issues(runner, &PromptSetRunner::promptIssue);
    QVERIFY(runner->start(set, settings));
    QVERIFY(finished.wait(kWait));
    const auto result = runner->result();
    QCOMPARE(int(result->runs.size()), 2);
    QCOMPARE(int(result->groups.groups.size()), 1);
    QCOMPARE(result->groups.mainLength, int64_t(5));
    QCOMPARE(result->means.at(5).prompts, 2);
    QCOMPARE(result->report.length, int64_t(5));
    for (const an::PromptRun& r : result->runs)
        QCOMPARE(int(r.tokens.size()), 5);
    // The one-word prompt is too short and is reported with its line.
    QCOMPARE(issues.count(), 1);
    QCOMPARE(issues.first().at(0).toInt(), 3);
}

void TestPromptSet::unreadableFileIsReported()
{
    MainWindow w;
    w.show();
    QVERIFY(openDemo(w));
    QSignalSpy errors(&w, &MainWindow::errorShown);
    w.analyzePromptSet(QDir(m_tmp.path()).filePath("missing.txt"));
    QCOMPARE(errors.count(), 1);
    QVERIFY(!w.promptSetRunner()->isRunning());
    const QString empty = writeFile(QDir(m_tmp.path()).filePath("blank.txt"), "\n\n");
    w.analyzePromptSet(empty);
    QCOMPARE(errors.count(), 2);
    QVERIFY(w.message().contains("no usable prompt"));
}

void TestPromptSet::truncatesWithTheLoadedTokenizer()
{
    // The runner used to re-read tokenizer.json from the folder as given, which fails for a
    // Hugging Face cache root (the files sit under snapshots/). It now uses the tokenizer the
    // engine loaded: with the folder's tokenizer files gone after the load, truncation still works.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    writeDemoModel(DemoKind::Decoder, dir.path().toStdString());
    EngineClient engine;
    QSignalSpy loaded(&engine, &EngineClient::modelLoaded);
    engine.loadModel(dir.path(), DevicePreference::Cpu);
    QVERIFY(loaded.wait(kWait));
    QVERIFY(QFile::remove(dir.filePath("tokenizer.json")));
    QFile::remove(dir.filePath("tokenizer_config.json"));
    PromptSetRunner runner(&engine);
    QSignalSpy finished(&runner, &PromptSetRunner::finished);
    QSignalSpy failed(&runner, &PromptSetRunner::failed);
    QSignalSpy progress(&runner, &PromptSetRunner::progressChanged);
    PromptSetRunner::Settings settings;
    settings.length = 5;
    QVERIFY(runner.start(an::parsePromptSet("The cat sat on the mat.\nThe dog slept by the door.\n"), settings));
    QVERIFY(finished.wait(kWait));
    QCOMPARE(failed.count(), 0);
    QCOMPARE(int(runner.result()->runs.size()), 2);
    QCOMPARE(runner.result()->groups.mainLength, int64_t(5));
    QCOMPARE(progress.last().at(0).toInt(), 2);
    QCOMPARE(progress.last().at(1).toInt(), 2);
}

// Run → Classify Prompt Set through the engine thread: the classification view comes to the
// front and shows the verdicts over the usable prompts (the broken line is not one); the planted
// positional head agrees in every prompt.
void TestPromptSet::classifiesPromptFile()
{
    MainWindow w;
    w.show();
    QVERIFY(openDemo(w));
    QVERIFY(runSingle(w, "The cat sat on the mat."));
    const QByteArray bytes = jsonLine(m_truth.samplePrompts[0]) + "{\"text\": oops\n" + jsonLine(m_truth.samplePrompts[1]);
    const QString file = writeFile(QDir(m_tmp.path()).filePath("classify.jsonl"), bytes);
    QVERIFY(!file.isEmpty());
    auto* view = qobject_cast<sinkscope::ClassificationView*>(w.view("classification"));
    QVERIFY(view);
    QSignalSpy changed(view, &sinkscope::ClassificationView::classificationChanged);
    w.classifyPromptSet(file);
    QCOMPARE(w.currentViewName(), QString("classification"));
    QVERIFY(view->isRunning());
    QVERIFY(changed.wait(kWait));
    const auto c = view->classification();
    QVERIFY(c);
    QCOMPARE(c->prompts, 2);
    QCOMPARE(int(c->perPrompt.size()), 2);
    QCOMPARE(c->perPrompt[0].line, 1);
    QCOMPARE(c->perPrompt[1].line, 3);
    QCOMPARE(c->heads[0].verdict, sinkscope::analysis::Verdict::Positional);
    QCOMPARE(c->heads[0].probes.at("agreement"), 1.0);
    w.selection()->setLayerHead(0, 0);
    QCOMPARE(view->promptTable()->rowCount(), 2);
    QVERIFY(!view->promptTable()->isHidden());
}

QTEST_MAIN(TestPromptSet)
#include "tst_promptset.moc"
