// SPDX-License-Identifier: GPL-3.0-or-later
// The main window end to end, offscreen: open a folder, run, see the heatmap and sink curve,
// bad input shown as a message while the window stays usable, export, cancel.
#include "attentionheatmapview.h"
#include "currentresult.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "tinymodels.h"
#include "tokenstrip.h"
#include "viewregistry.h"

#include <QAction>
#include <QApplication>
#include <QTabWidget>
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

namespace {

/// A view added the way docs/ARCHITECTURE.md describes: a View subclass with a spec, registered
/// before the window is built. It shows the token count and the first-element mass of head (0, 0).
class DummyView : public View
{
public:
    DummyView(CurrentResult* current, Selection* selection, QWidget* parent)
        : View(current, selection, parent)
    {
        connect(current, &CurrentResult::metricsAvailable, this, [this] { Q_EMIT figureChanged(); });
        connect(current, &CurrentResult::resultChanged, this, [this] { Q_EMIT figureChanged(); });
        auto* action = new QAction(QStringLiteral("Dummy Action"), this);
        action->setShortcut(QKeySequence(QStringLiteral("Ctrl+Alt+D")));
        connect(action, &QAction::triggered, this, [this] { ++triggered; });
        addAction(action);
    }
    static ViewSpec spec()
    {
        return {QStringLiteral("dummy"), QStringLiteral("Dummy view"), QKeySequence(QStringLiteral("Ctrl+9")),
                QStringLiteral("A test view."),
                [](CurrentResult* c, Selection* s, QWidget* p) -> View* { return new DummyView(c, s, p); }};
    }
    bool hasFigure() const override { return current()->metrics() != nullptr; }
    QString defaultFileName() const override { return QStringLiteral("dummy"); }
    QByteArray dataCsv() const override
    {
        const auto m = current()->metrics();
        if (!m)
            return {};
        return "tokens,mass00\n" + QByteArray::number(qlonglong(m->tokens)) + ','
            + QByteArray::number(double(m->firstTokenMass(0, 0)), 'g', 9) + '\n';
    }
    int triggered = 0;
};

} // namespace

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
    void registeredViewAppearsEverywhere();

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
    // Before any window exists: every window built afterwards has the dummy view.
    QString error;
    QVERIFY2(ViewRegistry::global().add(DummyView::spec(), &error), qPrintable(error));
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
    auto* heatmap = qobject_cast<AttentionHeatmapView*>(w.view("heatmap"));
    QVERIFY(heatmap);
    QCOMPARE(heatmap->shownLayer(), 2);
    QCOMPARE(heatmap->shownHead(), 3);
    QVERIFY(heatmap->hasFigure());
    // resultShown comes once the analysis is in, so every view has its figure
    QVERIFY(w.view("sinks")->hasFigure());
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
    QVERIFY(w.view("heatmap")->hasFigure());
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

void TestMainWindow::registeredViewAppearsEverywhere()
{
    MainWindow w;
    w.show();
    // A tab with the registered title, after the built-in views.
    auto* tabs = w.findChild<QTabWidget*>("viewTabs");
    QVERIFY(tabs);
    QCOMPARE(tabs->count(), int(ViewRegistry::global().views().size()));
    QCOMPARE(tabs->tabText(tabs->count() - 1), QString("Dummy view"));
    auto* dummy = dynamic_cast<DummyView*>(w.view("dummy"));
    QVERIFY(dummy);
    // A View-menu entry with the registered shortcut that brings it to the front.
    auto* show = w.findChild<QAction*>("showView-dummy");
    QVERIFY(show);
    QCOMPARE(show->shortcut(), QKeySequence("Ctrl+9"));
    QCOMPARE(show->text(), QString("Dummy view"));
    show->trigger();
    QCOMPARE(w.currentViewName(), QString("dummy"));
    QVERIFY(w.showView("heatmap"));
    QVERIFY(!w.showView("no-such-view"));
    QCOMPARE(w.currentViewName(), QString("heatmap"));
    // Its own action is in the View menu, enabled only while it is in front.
    QAction* own = dummy->actions().value(0);
    QVERIFY(own && !own->isEnabled());
    QVERIFY(w.showView("dummy"));
    QVERIFY(own->isEnabled());

    // It follows the current result, and export writes its CSV.
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "hello world"));
    QVERIFY(dummy->hasFigure());
    const auto m = w.currentResult()->metrics();
    QVERIFY(m);
    // The run's own number: mean over queries t >= 1 of A[t, 0] of head (0, 0).
    const RowMatrixXf a = w.result()->attentionMap(0, 0);
    double mass = 0;
    for (int t = 1; t < a.rows(); ++t)
        mass += a(t, 0);
    mass /= double(a.rows() - 1);
    QVERIFY(std::abs(double(m->firstTokenMass(0, 0)) - mass) < 1e-6);
    const QString csv = QDir(m_tmp.path()).filePath("dummy.csv");
    QVERIFY(w.exportDataTo(csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), dummy->dataCsv());
    // A view that is not one plot exports as PNG only, and says so.
    QVERIFY(!w.exportFigureTo(QDir(m_tmp.path()).filePath("dummy.pdf")));
    QCOMPARE(w.message(), QString("Export failed: This view is exported as PNG only: use a .png file name."));
    QVERIFY(w.exportFigureTo(QDir(m_tmp.path()).filePath("dummy.png")));
    // Export All writes every view that has a figure, this one included.
    const QString all = QDir(m_tmp.path()).filePath("all");
    QDir().mkpath(all);
    QVERIFY(w.exportAllTo(all));
    QVERIFY(QFileInfo::exists(QDir(all).filePath("dummy.csv")));
    QVERIFY(QFileInfo::exists(QDir(all).filePath("dummy.png")));
    for (const ViewSpec& spec : ViewRegistry::global().views())
        if (w.view(spec.name)->hasFigure())
            QVERIFY2(QFileInfo::exists(QDir(all).filePath(w.view(spec.name)->defaultFileName() + ".csv")), qPrintable(spec.name));
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
