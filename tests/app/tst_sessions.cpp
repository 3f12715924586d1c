// SPDX-License-Identifier: GPL-3.0-or-later
// Sessions in the main window, offscreen: save, rename the model folder away, reopen in a new
// window, and every registered view (the compare view included) and the token strip match the
// original pixel for pixel; Run stays disabled and the window says the model is missing; the
// autosave after a run restores the same run; a pair the Compare view shows (Send to Compare's
// run before a control and the run with it, or any pinned A and B) reopens as the same two runs
// with their labels; a damaged session is refused and changes nothing.
#include "compareview.h"
#include "controlsview.h"
#include "currentresult.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "sessioncontroller.h"
#include "tokenstrip.h"
#include "viewregistry.h"

#include "sinkscope/analysis.h"
#include "sinkscope/demomodels.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using namespace sinkscope;

namespace {

bool openModel(MainWindow& w, const QString& dir)
{
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(dir);
    return loaded.wait(30000);
}

bool run(MainWindow& w, const QString& prompt)
{
    QSignalSpy shown(&w, &MainWindow::resultShown);
    w.setPrompt(prompt);
    w.runPrompt();
    return shown.wait(30000);
}

// One registered view, grabbed at the window's size.
QImage grabView(MainWindow& w, const QString& name)
{
    // The message bar says different things in the two windows; without it both lay the views
    // out at the same size.
    w.showNote(QString(), false);
    w.showView(name);
    // Lay out at the final size, then draw the plot at it (QCustomPlot paints its buffer of the
    // last replot).
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    if (QCustomPlot* plot = w.view(name)->plot())
        plot->replot();
    return w.view(name)->grab().toImage();
}

// Every registered view and the token strip, grabbed at the window's size.
QMap<QString, QImage> grabAll(MainWindow& w)
{
    QMap<QString, QImage> shots;
    for (const QString& name : ViewRegistry::global().names())
        shots[name] = grabView(w, name);
    shots["token strip"] = w.tokenStrip()->grab().toImage();
    return shots;
}

CompareView* compareOf(MainWindow& w)
{
    return qobject_cast<CompareView*>(w.view("compare"));
}

// The title line the compare view draws (it names both sides with their labels).
QString compareTitle(MainWindow& w)
{
    QCustomPlot* plot = compareOf(w)->plot();
    auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
    return title ? title->text() : QString();
}

bool sameFloats(const RowMatrixXf& a, const RowMatrixXf& b)
{
    return a.rows() == b.rows() && a.cols() == b.cols() && a == b;
}

QPushButton* runButton(MainWindow& w)
{
    return w.findChild<QPushButton*>(QStringLiteral("runButton"));
}

} // namespace

class TestSessions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName("SinkScopeSessionTests");
        QSettings().clear();
        QFile::remove(SessionController::autosavePath());
    }

    void roundTripWithoutTheModelIsPixelIdentical()
    {
        QTemporaryDir tmp;
        const QString model = QDir(tmp.path()).filePath("demo");
        writeDemoModel(DemoKind::Decoder, model.toStdString());
        const QString session = QDir(tmp.path()).filePath("a.sinkscope");
        QMap<QString, QImage> before;
        {
            MainWindow w;
            w.resize(1200, 800);
            w.show();
            QVERIFY(openModel(w, model));
            // B: the prompt with the BOS off; A: the same prompt with the BOS on. (In this order the
            // heatmap's label margin only grows; it does not shrink back after a run with longer
            // labels, which a fresh window would show differently.)
            w.setBosPolicy("off");
            QVERIFY(run(w, "the cat sat on the mat. the dog slept."));
            auto* compare = qobject_cast<CompareView*>(w.view("compare"));
            QVERIFY(compare);
            const auto session0 = w.sessions()->sessionOnScreen();
            QVERIFY(session0);
            compare->setOther(session0->runs.front());
            w.setBosPolicy("on");
            QVERIFY(run(w, "the cat sat on the mat. the dog slept."));
            QVERIFY(compare->hasFigure());
            QCOMPARE(QString::fromStdString(compare->alignment().rule), QString("end")); // A has one more token
            w.selection()->setLayerHead(0, 1);
            before = grabAll(w);
            QString error;
            QVERIFY2(w.sessions()->save(session, &error), qPrintable(error));
            w.sessions()->waitForAutosave();
            // A kept B against the current run is the version-1 comparison: no pair, runs A and B.
            const Session saved = loadSession(session.toStdString());
            QVERIFY(!saved.pair);
            QCOMPARE(saved.runs.size(), size_t(2));
            QCOMPARE(saved.runs[0].label, std::string("A"));
            QCOMPARE(saved.runs[1].label, std::string("B"));
        }
        QVERIFY(QDir().rename(model, model + "-elsewhere"));

        MainWindow w;
        w.resize(1200, 800);
        w.show();
        QString error;
        QVERIFY2(w.sessions()->open(session, &error), qPrintable(error));
        QVERIFY(w.sessions()->modelMissing());
        QVERIFY2(w.message().contains("is not here"), qPrintable(w.message()));
        QVERIFY2(w.statusText().contains("No model open") || !w.engine()->hasModel(), qPrintable(w.statusText()));
        QVERIFY(!w.showsStartPage());
        QVERIFY(!runButton(w)->isEnabled()); // a new run needs the model
        QCOMPARE(w.selection()->layer(), 0);
        QCOMPARE(w.selection()->head(), 1);
        QCOMPARE(w.bosPolicy(), QString("on"));
        // Compare: the reopened main run is A (not pinned) against the saved B, as before pairs.
        QVERIFY(!compareOf(w)->pinnedA());
        QVERIFY(compareOf(w)->other());
        QCOMPARE(compareOf(w)->runA(), w.currentResult()->result());
        QVERIFY(!compareOf(w)->other()->result->encoding.bosAdded); // B was the run with the BOS off
        QVERIFY(w.currentResult()->result()->encoding.bosAdded);
        const QMap<QString, QImage> after = grabAll(w);
        QCOMPARE(after.keys(), before.keys());
        for (const QString& name : before.keys()) {
            QCOMPARE(after[name].size(), before[name].size());
            if (name == QLatin1String("classification") || name == QLatin1String("controls")) {
                // The views that need the model: their Classify / Apply button must be off and say
                // why, so their pixels differ from the window that had the model by design.
                const QString action = name == QLatin1String("classification") ? QString("Classify") : QString("Apply");
                QPushButton* button = nullptr;
                for (QPushButton* b : w.view(name)->findChildren<QPushButton*>())
                    if (b->text() == action)
                        button = b;
                QVERIFY2(button, qPrintable(name));
                QVERIFY(!button->isEnabled());
                QVERIFY2(button->toolTip().contains("needs the model"), qPrintable(button->toolTip()));
                continue;
            }
            if (after[name] != before[name] && !qEnvironmentVariableIsEmpty("SINKSCOPE_TEST_KEEP_DIR")) {
                before[name].save(QDir(qEnvironmentVariable("SINKSCOPE_TEST_KEEP_DIR")).filePath(name + "-before.png"));
                after[name].save(QDir(qEnvironmentVariable("SINKSCOPE_TEST_KEEP_DIR")).filePath(name + "-after.png"));
            }
            QVERIFY2(after[name] == before[name], qPrintable(name + " differs after reopening the session"));
        }
    }

    // Send to Compare in the controls view pins the run before the control as A and the run with
    // it as B. Both runs and their labels must come back, with the same figure.
    void sendToComparePairReopens()
    {
        QTemporaryDir tmp;
        const QString model = QDir(tmp.path()).filePath("demo");
        writeDemoModel(DemoKind::Decoder, model.toStdString());
        const QString session = QDir(tmp.path()).filePath("pair.sinkscope");
        std::shared_ptr<const RunResult> before, after, shown;
        QString labelA, labelB, title;
        QImage figure;
        {
            MainWindow w;
            w.resize(1200, 800);
            w.show();
            QVERIFY(openModel(w, model));
            QVERIFY(run(w, "the cat sat on the mat. the dog slept."));
            auto* controls = qobject_cast<ControlsView*>(w.view("controls"));
            QVERIFY(controls);
            QVERIFY(controls->setControl("block:3"));
            QSignalSpy done(controls, &ControlsView::controlFinished);
            controls->apply();
            QVERIFY(done.wait(30000));
            w.selection()->setLayerHead(1, 0);
            QTest::mouseClick(controls->compareButton(), Qt::LeftButton);
            CompareView* compare = compareOf(w);
            before = controls->result()->before;
            after = controls->result()->after;
            shown = w.currentResult()->result();
            QCOMPARE(compare->runA(), before);
            QCOMPARE(compare->other()->result, after);
            // Blocking key 3 changes the maps of the later queries: the two sides differ.
            QVERIFY(before->attentionMap(1, 0) != after->attentionMap(1, 0));
            // The run before the control is a run of its own (the same ids as the one on screen).
            QVERIFY(before != shown);
            labelA = compare->pairLabel(0);
            labelB = compare->pairLabel(1);
            QCOMPARE(labelA, QString("before"));
            QCOMPARE(labelB, QString("with block:3"));
            title = compareTitle(w);
            QVERIFY2(title.contains(labelA) && title.contains(labelB), qPrintable(title));
            figure = grabView(w, "compare");
            QString error;
            QVERIFY2(w.sessions()->save(session, &error), qPrintable(error));
            w.sessions()->waitForAutosave();
        }
        // The file: the main run, B as runs[1] and A as runs[2], with the pair's labels.
        const Session saved = loadSession(session.toStdString());
        QVERIFY(saved.pair);
        QCOMPARE(saved.runs.size(), size_t(3));
        QCOMPARE(saved.pair->a, 2);
        QCOMPARE(saved.pair->b, 1);
        QCOMPARE(saved.runs[2].label, labelA.toStdString());
        QCOMPARE(saved.runs[1].label, labelB.toStdString());

        MainWindow w;
        w.resize(1200, 800);
        w.show();
        QString error;
        QVERIFY2(w.sessions()->open(session, &error), qPrintable(error));
        CompareView* compare = compareOf(w);
        QVERIFY(compare->pinnedA());
        QVERIFY(compare->other());
        const RunResult& a = *compare->runA();
        const RunResult& b = *compare->other()->result;
        QVERIFY(a.encoding.ids() == before->encoding.ids());
        QVERIFY(b.encoding.ids() == after->encoding.ids());
        QVERIFY(sameFloats(a.firstTokenMass, before->firstTokenMass));
        QVERIFY(sameFloats(b.firstTokenMass, after->firstTokenMass));
        QVERIFY(a.attentionMap(1, 0) == before->attentionMap(1, 0));
        QVERIFY(b.attentionMap(1, 0) == after->attentionMap(1, 0));
        QVERIFY(w.currentResult()->result()->encoding.ids() == shown->encoding.ids());
        QVERIFY(sameFloats(w.currentResult()->result()->firstTokenMass, shown->firstTokenMass));
        QCOMPARE(compare->pairLabel(0), labelA);
        QCOMPARE(compare->pairLabel(1), labelB);
        QCOMPARE(compareTitle(w), title);
        QVERIFY2(grabView(w, "compare") == figure, "the compare view differs after reopening the session");
    }

    // A pinned A that is neither the current run nor B: three different runs, each must come back
    // in its place (the current run in the other views, A and B in Compare), also from the
    // autosave that follows the pair.
    void pinnedPairOfOtherRunsReopens()
    {
        QTemporaryDir tmp;
        const QString model = QDir(tmp.path()).filePath("demo");
        writeDemoModel(DemoKind::Decoder, model.toStdString());
        const QString session = QDir(tmp.path()).filePath("pinned.sinkscope");
        std::vector<std::shared_ptr<const RunResult>> runs;
        {
            MainWindow w;
            QVERIFY(openModel(w, model));
            for (const char* prompt : {"a cat.", "the cat sat on the mat.", "the cat sat on the mat. the dog slept."}) {
                QVERIFY(run(w, prompt));
                runs.push_back(w.currentResult()->result());
            }
            SessionRun a, b;
            a.model = b.model = describeModelFolder(model.toStdString());
            a.prompt = "a cat.";
            a.label = "without it";
            a.result = runs[0];
            b.prompt = "the cat sat on the mat.";
            b.label = "with it";
            b.result = runs[1];
            compareOf(w)->setPair(a, b);
            QCOMPARE(compareOf(w)->runA(), runs[0]);
            QString error;
            QVERIFY2(w.sessions()->save(session, &error), qPrintable(error));
            w.sessions()->waitForAutosave();
        }
        // The runs differ in length, so that the ids tell them apart.
        QVERIFY(runs[0]->tokens != runs[1]->tokens && runs[1]->tokens != runs[2]->tokens && runs[0]->tokens != runs[2]->tokens);
        for (const bool fromAutosave : {true, false}) { // the autosave first: what follows changes it
            MainWindow w;
            QString error;
            QVERIFY2(fromAutosave ? w.sessions()->restoreAutosave(&error) : w.sessions()->open(session, &error), qPrintable(error));
            CompareView* compare = compareOf(w);
            QVERIFY(compare->pinnedA());
            QVERIFY(w.currentResult()->result()->encoding.ids() == runs[2]->encoding.ids());
            QVERIFY(compare->runA()->encoding.ids() == runs[0]->encoding.ids());
            QVERIFY(compare->other()->result->encoding.ids() == runs[1]->encoding.ids());
            QVERIFY(sameFloats(compare->runA()->firstTokenMass, runs[0]->firstTokenMass));
            QVERIFY(sameFloats(compare->other()->result->firstTokenMass, runs[1]->firstTokenMass));
            QCOMPARE(compare->pinnedA()->prompt, std::string("a cat."));
            QCOMPARE(compare->other()->prompt, std::string("the cat sat on the mat."));
            QCOMPARE(compare->pairLabel(0), QString("without it"));
            QCOMPARE(compare->pairLabel(1), QString("with it"));
            QVERIFY2(compareTitle(w).contains("without it") && compareTitle(w).contains("with it"), qPrintable(compareTitle(w)));
            QCOMPARE(w.prompt(), QString("the cat sat on the mat. the dog slept."));
            if (fromAutosave)
                continue;
            // The next current result replaces the pinned A; B keeps its label in the title, and
            // a session saved now keeps that too (A is then the main run).
            const QString relabelled = QDir(tmp.path()).filePath("relabelled.sinkscope");
            w.showSessionRun(runs[0], std::make_shared<analysis::RunMetrics>(analysis::analyzeRun(*runs[0])));
            QVERIFY(!compare->pinnedA());
            QCOMPARE(compare->pairLabel(0), QString());
            QCOMPARE(compare->pairLabel(1), QString("with it"));
            const QString shownTitle = compareTitle(w);
            QVERIFY2(w.sessions()->save(relabelled, &error), qPrintable(error));
            w.sessions()->waitForAutosave();
            const Session saved = loadSession(relabelled.toStdString());
            QCOMPARE(saved.runs.size(), size_t(2)); // A is the main run: stored once
            QVERIFY(saved.pair);
            QCOMPARE(saved.pair->a, 0);
            MainWindow again;
            QVERIFY2(again.sessions()->open(relabelled, &error), qPrintable(error));
            QVERIFY(compareOf(again)->runA()->encoding.ids() == runs[0]->encoding.ids());
            QVERIFY(compareOf(again)->other()->result->encoding.ids() == runs[1]->encoding.ids());
            QCOMPARE(compareOf(again)->pairLabel(0), QString());
            QCOMPARE(compareOf(again)->pairLabel(1), QString("with it"));
            QCOMPARE(compareTitle(again), shownTitle);
        }
        QFile::remove(SessionController::autosavePath());
    }

    void autosaveRestoresTheLastRun()
    {
        QTemporaryDir tmp;
        const QString model = QDir(tmp.path()).filePath("demo");
        writeDemoModel(DemoKind::Decoder, model.toStdString());
        std::vector<int32_t> ids;
        {
            MainWindow w;
            QVERIFY(openModel(w, model));
            QVERIFY(run(w, "a dog. a cat."));
            QVERIFY(run(w, "the bird sang."));
            w.sessions()->waitForAutosave();
            QVERIFY(w.sessions()->hasAutosave());
            ids = w.currentResult()->result()->encoding.ids();
        }
        MainWindow w;
        QString error;
        QVERIFY2(w.sessions()->restoreAutosave(&error), qPrintable(error));
        QVERIFY(w.currentResult()->result()->encoding.ids() == ids); // the last run, not the first
        QCOMPARE(w.prompt(), QString("the bird sang."));
        w.sessions()->discardAutosave();
        QVERIFY(!w.sessions()->hasAutosave());
    }

    void damagedSessionChangesNothing()
    {
        QTemporaryDir tmp;
        const QString model = QDir(tmp.path()).filePath("demo");
        writeDemoModel(DemoKind::Decoder, model.toStdString());
        MainWindow w;
        QVERIFY(openModel(w, model));
        QVERIFY(run(w, "one. two."));
        const QString good = QDir(tmp.path()).filePath("good.sinkscope");
        QString error;
        QVERIFY(w.sessions()->save(good, &error));
        QFile f(good);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        f.close();
        const QString bad = QDir(tmp.path()).filePath("bad.sinkscope");
        QFile b(bad);
        QVERIFY(b.open(QIODevice::WriteOnly));
        b.write(bytes.left(bytes.size() - 10));
        b.close();
        const auto shown = w.currentResult()->result();
        QVERIFY(!w.sessions()->open(bad, &error));
        QVERIFY2(error.contains("truncated"), qPrintable(error));
        QCOMPARE(w.currentResult()->result(), shown);
        QVERIFY(runButton(w)->isEnabled());
    }

    void nothingToSave()
    {
        MainWindow w;
        QString error;
        QVERIFY(!w.sessions()->save(QDir::temp().filePath("never.sinkscope"), &error));
        QVERIFY(error.contains("no run on screen"));
    }
};

QTEST_MAIN(TestSessions)
#include "tst_sessions.moc"
