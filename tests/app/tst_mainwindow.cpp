// SPDX-License-Identifier: GPL-3.0-or-later
// The main window end to end, offscreen: open a folder, run, see the heatmap and sink curve,
// bad input shown as a message while the window stays usable, export, cancel.
#include "attentionheatmapview.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "tinymodels.h"
#include "tokenstrip.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using namespace sinkscope;
using namespace sinkscope::test;

class TestMainWindow : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void startsOnStartPage();
    void openRunAndShow();
    void badFolderKeepsModel();
    void badPromptKeepsResult_data();
    void badPromptKeepsResult();
    void exportsFigureAndData();
    void cancelKeepsPreviousResult();

private:
    bool openTiny(MainWindow& w);
    bool runPrompt(MainWindow& w, const QString& text);
    QTemporaryDir m_tmp;
    QString m_model;
};

void TestMainWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("SinkScopeTests");
    QSettings().clear();
    m_model = QDir(m_tmp.path()).filePath("tiny");
    writeTinyLlamaWithTokenizer(m_model, 4, 3);
}

bool TestMainWindow::openTiny(MainWindow& w)
{
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(m_model);
    return loaded.wait(30000);
}

bool TestMainWindow::runPrompt(MainWindow& w, const QString& text)
{
    QSignalSpy shown(&w, &MainWindow::resultShown);
    w.setPrompt(text);
    w.runPrompt();
    return shown.wait(30000);
}

void TestMainWindow::startsOnStartPage()
{
    MainWindow w;
    w.show();
    QVERIFY(w.showsStartPage());
    QCOMPARE(w.statusText(), QString("No model open"));
}

void TestMainWindow::openRunAndShow()
{
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(!w.showsStartPage());
    QVERIFY(runPrompt(w, "hello world"));
    const auto r = w.result();
    QVERIFY(r);
    QCOMPARE(r->model.layers, 4);
    QVERIFY(r->encoding.bosAdded);
    QCOMPARE(w.tokenStrip()->count(), int(r->tokens));
    QVERIFY(w.statusText().contains("cpu"));
    QVERIFY(w.statusText().contains(QString("%1 tokens").arg(r->tokens)));
    // keyboard-free navigation through the shared selection reaches the heatmap
    w.selection()->setLayerHead(2, 3);
    QCOMPARE(w.heatmapView()->shownLayer(), 2);
    QCOMPARE(w.heatmapView()->shownHead(), 3);
    QVERIFY(w.heatmapView()->hasFigure());
    QVERIFY(w.sinkCurveView()->hasFigure());
    // the folder went into the recent list
    QCOMPARE(QSettings().value("recentModelFolders").toStringList().value(0), QFileInfo(m_model).absoluteFilePath());
}

void TestMainWindow::badFolderKeepsModel()
{
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "abc"));
    const auto before = w.result();

    // a folder whose only weights are a pickle file
    const QString pickle = QDir(m_tmp.path()).filePath("pickle");
    QDir().mkpath(pickle);
    QFile::copy(QDir(m_model).filePath("config.json"), QDir(pickle).filePath("config.json"));
    QFile bin(QDir(pickle).filePath("pytorch_model.bin"));
    QVERIFY(bin.open(QIODevice::WriteOnly));
    bin.write("not really a pickle");
    bin.close();

    QSignalSpy failed(w.engine(), &EngineClient::loadFailed);
    w.openModelFolder(pickle);
    QVERIFY(failed.wait(30000));
    QVERIFY2(w.message().contains("pickle", Qt::CaseInsensitive), qPrintable(w.message()));
    QCOMPARE(w.result(), before);             // the shown result is untouched
    QVERIFY(w.engine()->hasModel());
    QVERIFY(runPrompt(w, "still works"));     // and the old model still runs
    QCOMPARE(w.result()->model.dir, QFileInfo(m_model).absoluteFilePath().toStdString());
}

void TestMainWindow::badPromptKeepsResult_data()
{
    QTest::addColumn<QString>("prompt");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << "" << "The prompt is empty.";
    QTest::newRow("whitespace") << " \n\t " << "The prompt contains only whitespace.";
    QTest::newRow("too long") << QString("a ").repeated(140) << "The prompt has 142 tokens but the model handles at most 128 positions";
}

void TestMainWindow::badPromptKeepsResult()
{
    QFETCH(QString, prompt);
    QFETCH(QString, message);
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "abc"));
    const auto before = w.result();
    QSignalSpy errors(&w, &MainWindow::errorShown);
    w.setPrompt(prompt);
    w.runPrompt();
    if (errors.isEmpty())
        QVERIFY(errors.wait(30000));
    QVERIFY2(w.message().contains(message), qPrintable(w.message()));
    QCOMPARE(w.result(), before);
    QVERIFY(w.heatmapView()->hasFigure());
}

void TestMainWindow::exportsFigureAndData()
{
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "hello"));
    const QString pdf = QDir(m_tmp.path()).filePath("heat.pdf");
    const QString png = QDir(m_tmp.path()).filePath("heat.png");
    const QString csv = QDir(m_tmp.path()).filePath("heat.csv");
    QVERIFY(w.exportFigureTo(pdf));
    QVERIFY(w.exportFigureTo(png));
    QVERIFY(w.exportDataTo(csv));
    QFile f(pdf);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY(f.read(5) == "%PDF-");
    QVERIFY(!QImage(png).isNull());
    w.showView("sinks");
    const QString sinkPdf = QDir(m_tmp.path()).filePath("sinks.pdf");
    QVERIFY(w.exportFigureTo(sinkPdf));
    QVERIFY(QFileInfo(sinkPdf).size() > 1000);
}

void TestMainWindow::cancelKeepsPreviousResult()
{
    // A model whose forward pass takes tens of milliseconds, so a cancel issued right after the
    // request is queued always lands before the pass ends (a tiny model can finish first).
    const QString slow = QDir(m_tmp.path()).filePath("slow");
    TinyLlamaSpec spec;
    spec.layers = 24, spec.hidden = 128, spec.heads = 8, spec.kvHeads = 8, spec.ffn = 512;
    spec.vocab = kTinyTokenizerVocab, spec.maxPositions = 256;
    writeTinyLlama(slow, spec, makeTinyLlamaWeights(spec));
    QFile::copy(QDir(m_model).filePath("tokenizer.json"), QDir(slow).filePath("tokenizer.json"));
    MainWindow w;
    w.show();
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(slow);
    QVERIFY(loaded.wait(30000));
    QVERIFY(runPrompt(w, "first"));
    const auto before = w.result();
    // Cancel right after the request is queued: whether the engine thread has picked it up
    // already or not, the request ends cancelled (dropped from the queue, or stopped at the next
    // layer boundary), never finished.
    QSignalSpy cancelled(w.engine(), &EngineClient::runCancelled);
    QSignalSpy finished(w.engine(), &EngineClient::runFinished);
    auto c = connect(w.engine(), &EngineClient::runStarted, &w, [&] { w.cancelRun(); });
    w.setPrompt(QString("a long second prompt ").repeated(10));
    w.runPrompt();
    disconnect(c);
    QVERIFY(cancelled.wait(30000));
    QVERIFY(finished.isEmpty());
    QCOMPARE(w.result(), before);
    QVERIFY(w.message().contains("cancelled"));
    QVERIFY(!w.engine()->isBusy());
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
