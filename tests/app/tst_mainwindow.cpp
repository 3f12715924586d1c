// SPDX-License-Identifier: GPL-3.0-or-later
// The main window end to end, offscreen: open a folder, run, see the heatmap and sink curve,
// bad input shown as a message while the window stays usable, export, cancel.
#include "attentionheatmapview.h"
#include "currentresult.h"
#include "overviewview.h"
#include "sinkscope/model.h"
#include "sinkscope/safetensors.h"
#include "engineclient.h"
#include "exportrunner.h"
#include "mainwindow.h"
#include "paperexportdialog.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "viewregistry.h"
#include "tinymodels.h"
#include "tokenstrip.h"
#include "viewregistry.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QProgressDialog>
#include <QPushButton>
#include <QTabWidget>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <atomic>
#include <functional>

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

/// A view whose data is a large table (more values than DataExport::kHeavyCells, as a long prompt's
/// map is), written by a job that waits at `gate` halfway until the test opens it.
class BigDataView : public View
{
public:
    static inline std::atomic<bool> gate{true};
    static constexpr int kRows = 20000;

    BigDataView(CurrentResult* current, Selection* selection, QWidget* parent)
        : View(current, selection, parent)
    {
        connect(current, &CurrentResult::metricsAvailable, this, [this] { Q_EMIT figureChanged(); });
    }
    static ViewSpec spec()
    {
        return {QStringLiteral("bigdata"), QStringLiteral("Big data view"), QKeySequence(), QStringLiteral("A test view."),
                [](CurrentResult* c, Selection* s, QWidget* p) -> View* { return new BigDataView(c, s, p); }};
    }
    /// The table the job writes, formed here independently.
    static QByteArray expected()
    {
        QByteArray out = "i,square\n";
        for (int i = 0; i < kRows; ++i)
            out += QByteArray::number(i) + ',' + QByteArray::number(qlonglong(i) * i) + '\n';
        return out;
    }
    bool hasFigure() const override { return current()->metrics() != nullptr; }
    QString defaultFileName() const override { return QStringLiteral("bigdata"); }
    QByteArray dataCsv() const override { return dataExportBytes(dataExport()); }
    DataExport dataExport() const override
    {
        if (!hasFigure())
            return {};
        DataExport d;
        d.cells = DataExport::kHeavyCells + 1;
        d.job = [](CsvWriter& out) {
            out.buffer() += "i,square\n";
            for (int i = 0; i < kRows; ++i) {
                while (i == kRows / 2 && !gate) {
                    out.step(i, kRows); // a cancel ends the wait
                    QThread::msleep(1);
                }
                out.buffer() += QByteArray::number(i) + ',' + QByteArray::number(qlonglong(i) * i) + '\n';
                out.rowDone();
                out.step(i + 1, kRows);
            }
        };
        return d;
    }
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
    void largeExportRunsInTheBackground();
    void longPromptKeepsQAndKNotMaps();
    void cancelKeepsPreviousResult();
    void paperExportOpensAtTheViewsPreset();
    void registeredViewAppearsEverywhere();
    void deviceBoxSaysCudaIsMissing();
    void folderWithoutTokenizerIsRefused();
    void startPageShowsErrorsInFull();
    void ctrlArrowsStepHeadsFromThePromptEditor();
    void askedHeadOutsideModelIsSaid();
    void dtypeAndMemoryAreSaid();
    void layoutAndOptionsPersist();
    void keptRunIsOverlaid();
    void everyActionHasAShortcutInAMenu();

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
    QVERIFY2(ViewRegistry::global().add(BigDataView::spec(), &error), qPrintable(error));
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

void TestMainWindow::largeExportRunsInTheBackground()
{
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "hello"));
    QVERIFY(w.showView("bigdata"));
    const QDir dir(QDir(m_tmp.path()).filePath("background"));
    QVERIFY(QDir().mkpath(dir.path()));
    const QString csv = dir.filePath("big.csv");
    QSignalSpy done(w.exports(), &ExportRunner::finished);

    // Started, not written: the job waits at its gate while the GUI thread is back.
    BigDataView::gate = false;
    QVERIFY(w.exportDataTo(csv));
    QVERIFY(w.exports()->busy());
    QVERIFY(w.message().contains("in the background"));
    QVERIFY(!QFileInfo::exists(csv));
    // The window is usable meanwhile: the selection moves, and a second export is refused.
    const auto r = w.result();
    w.selection()->setLayerHead(r->model.layers - 1, r->model.heads - 1);
    QCOMPARE(w.selection()->head(), r->model.heads - 1);
    QVERIFY(!w.exportDataTo(dir.filePath("second.csv")));
    QVERIFY(w.message().contains("still being written"));
    // Cancelled with the progress dialog's own button: no file, and no temporary file left behind.
    QProgressDialog* progress = w.findChild<QProgressDialog*>();
    QVERIFY(progress && progress->isVisible());
    QPushButton* cancel = nullptr;
    for (QPushButton* b : progress->findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("Cancel"))
            cancel = b;
    QVERIFY(cancel);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QVERIFY(done.wait(10000));
    QCOMPARE(done.last().at(0).toBool(), false);
    QVERIFY(!w.exports()->busy());
    QVERIFY2(w.message().contains("cancelled"), qPrintable(w.message()));
    QVERIFY(dir.entryList(QDir::Files | QDir::Hidden).isEmpty());

    // With the gate open the whole table arrives, and the window says so.
    BigDataView::gate = true;
    QVERIFY(w.exportDataTo(csv));
    QVERIFY(done.wait(10000));
    QCOMPARE(done.last().at(0).toBool(), true);
    QCOMPARE(w.message(), QString("Data written to %1").arg(QDir::toNativeSeparators(csv)));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), BigDataView::expected());
    QCOMPARE(dir.entryList(QDir::Files | QDir::Hidden), QStringList{"big.csv"});

    // Export All writes it too, off the GUI thread, beside the figures written at once.
    const QDir all(dir.filePath("all"));
    QVERIFY(QDir().mkpath(all.path()));
    QVERIFY(w.exportAllTo(all.path()));
    QVERIFY(done.wait(20000));
    QCOMPARE(done.last().at(0).toBool(), true);
    QFile g(all.filePath("bigdata.csv"));
    QVERIFY(g.open(QIODevice::ReadOnly));
    QCOMPARE(g.readAll(), BigDataView::expected());
    QVERIFY(QFileInfo::exists(all.filePath(w.view("heatmap")->defaultFileName() + ".csv")));

    // Export All cancelled while the big table is written: every figure left in the folder has
    // its table beside it, the big view's figure is not put in place, and no hidden file remains.
    const QDir cancelled(dir.filePath("cancelled-all"));
    QVERIFY(QDir().mkpath(cancelled.path()));
    // An earlier export's figure and table of the view being cancelled stay as they were.
    for (const char* name : {"bigdata.png", "bigdata.csv"}) {
        QFile old(cancelled.filePath(name));
        QVERIFY(old.open(QIODevice::WriteOnly));
        old.write(QByteArray("old ") + name);
    }
    BigDataView::gate = false;
    QVERIFY(w.exportAllTo(cancelled.path()));
    w.exports()->cancel();
    QVERIFY(done.wait(10000));
    QCOMPARE(done.last().at(0).toBool(), false);
    BigDataView::gate = true;
    QVERIFY2(w.message().contains("cancelled") && w.message().contains(QRegularExpression("not written: [^)]*bigdata")),
             qPrintable(w.message()));
    for (const char* name : {"bigdata.png", "bigdata.csv"}) {
        QFile old(cancelled.filePath(name));
        QVERIFY2(old.open(QIODevice::ReadOnly) && old.readAll() == QByteArray("old ") + name, name);
    }
    QCOMPARE(cancelled.entryList(QDir::Files | QDir::Hidden).filter(QRegularExpression("^\\.")), QStringList());
    for (const QString& f : cancelled.entryList({"*.pdf", "*.png"}, QDir::Files))
        QVERIFY2(QFileInfo::exists(cancelled.filePath(QFileInfo(f).completeBaseName() + ".csv")), qPrintable(f));

    // Closing while a file is written puts the close off until it is done...
    const QString late = dir.filePath("late.csv");
    BigDataView::gate = false;
    QVERIFY(w.exportDataTo(late));
    QVERIFY(!w.close());
    QVERIFY(w.isVisible());
    QVERIFY2(w.message().contains("closes when it is done"), qPrintable(w.message()));
    BigDataView::gate = true;
    QVERIFY(done.wait(10000));
    QTRY_VERIFY(!w.isVisible());
    QFile lateFile(late);
    QVERIFY(lateFile.open(QIODevice::ReadOnly));
    QCOMPARE(lateFile.readAll(), BigDataView::expected());

    // ...and closing again cancels it: the window closes at once, and no file is left.
    MainWindow v;
    v.show();
    QVERIFY(openTiny(v));
    QVERIFY(runPrompt(v, "hello"));
    QVERIFY(v.showView("bigdata"));
    const QString dropped = dir.filePath("dropped.csv");
    BigDataView::gate = false;
    QVERIFY(v.exportDataTo(dropped));
    QVERIFY(!v.close());
    QVERIFY(v.close());
    QVERIFY(!v.isVisible());
    QVERIFY(!v.exports()->busy() || v.exports()->waitForDone(10000));
    QVERIFY(!QFileInfo::exists(dropped));
    BigDataView::gate = true;
}

void TestMainWindow::longPromptKeepsQAndKNotMaps()
{
    // The GUI keeps every map while they take at most RunRequest::kInteractiveMapBytes; a longer
    // prompt's run keeps Q and K, and the heatmap recomputes the head shown.
    const QString dir = QDir(m_tmp.path()).filePath("tiny-long");
    const test::TinyLlamaSpec spec = writeTinyLlamaWithTokenizer(dir, 2, 1, 4096);
    MainWindow w;
    w.show();
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(dir);
    QVERIFY(loaded.wait(30000));
    QVERIFY(runPrompt(w, "hello world"));
    QVERIFY(w.result()->hasAttention());
    QVERIFY(!w.statusText().contains("maps recomputed"));
    QVERIFY(runPrompt(w, QString("hello world ").repeated(300)));
    QVERIFY2(w.statusText().contains("maps recomputed per head from Q and K"), qPrintable(w.statusText())); // said, not silent
    const auto r = w.result();
    const double mapBytes = double(spec.layers) * spec.heads * double(r->tokens) * double(r->tokens) * 4.0;
    QVERIFY2(mapBytes > double(RunRequest::kInteractiveMapBytes), qPrintable(QString::number(r->tokens)));
    QVERIFY(!r->hasAttention());
    QVERIFY(r->canMakeMaps());
    QVERIFY(w.showView("heatmap"));
    QVERIFY(waitUntilComputed(w.view("heatmap")));
    QVERIFY(w.view("heatmap")->hasFigure());
}

void TestMainWindow::paperExportOpensAtTheViewsPreset()
{
    // The views of several panels side by side open the paper export at two columns (one column
    // leaves their maps or legends no room and is refused when drawn); every other view at one.
    for (const QString& name : ViewRegistry::global().names()) {
        const ViewSpec* spec = ViewRegistry::global().find(name);
        const bool wide = name == QLatin1String("compare") || name == QLatin1String("controls") ||
                          name == QLatin1String("values") || name == QLatin1String("hidden");
        QCOMPARE(spec->figurePreset, wide ? QStringLiteral("two-column") : QStringLiteral("one-column"));
        const PaperExportDialog dialog(spec->figurePreset);
        QCOMPARE(dialog.presetName(), spec->figurePreset);
        QCOMPARE(dialog.options().size, wide ? QSize(662, 307) : QSize(317, 250));
    }
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
    QSignalSpy done(w.exports(), &ExportRunner::finished);
    QVERIFY(w.exportAllTo(all));
    QVERIFY(done.wait(20000)); // the big test view's table makes it a background export
    QCOMPARE(done.last().at(0).toBool(), true);
    QVERIFY(QFileInfo::exists(QDir(all).filePath("dummy.csv")));
    QVERIFY(QFileInfo::exists(QDir(all).filePath("dummy.png")));
    for (const ViewSpec& spec : ViewRegistry::global().views())
        if (w.view(spec.name)->hasFigure())
            QVERIFY2(QFileInfo::exists(QDir(all).filePath(w.view(spec.name)->defaultFileName() + ".csv")), qPrintable(spec.name));
}

void TestMainWindow::deviceBoxSaysCudaIsMissing()
{
    if (cudaAvailable())
        QSKIP("this build sees a CUDA device: nothing to refuse");
    MainWindow w;
    w.show();
    auto* box = w.findChild<QComboBox*>("deviceBox");
    QVERIFY(box);
    QCOMPARE(box->currentData().toString(), QString("auto"));
    QSignalSpy errors(&w, &MainWindow::errorShown);
    box->setCurrentIndex(box->findData("cuda"));
    QCOMPARE(errors.count(), 1);
    QCOMPARE(w.message(), QString("CUDA is not available: this build of libtorch sees no CUDA device. Models open on the "
                                  "CPU; the Device box is back on auto."));
    QCOMPARE(box->currentData().toString(), QString("auto")); // not silently kept, not silently used
    QVERIFY(!w.message().contains("--device"));                // no command-line advice in the window
}

void TestMainWindow::folderWithoutTokenizerIsRefused()
{
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "abc"));
    const auto before = w.result();
    const QStringList recent = QSettings().value("recentModelFolders").toStringList();
    const QString bare = QDir(m_tmp.path()).filePath("no-tokenizer");
    QDir().mkpath(bare);
    for (const char* f : {"config.json", "model.safetensors"})
        QVERIFY(QFile::copy(QDir(m_model).filePath(f), QDir(bare).filePath(f)));
    QSignalSpy started(w.engine(), &EngineClient::loadStarted);
    w.openModelFolder(bare);
    const QString dir = QFileInfo(bare).absoluteFilePath();
    QCOMPARE(w.message(), QString("Could not open %1: %1 has no tokenizer.json, so the window cannot turn a prompt into "
                                  "tokens. The folder was not opened; the current model stays.").arg(dir));
    QVERIFY(started.isEmpty()); // the engine was never asked: the model is untouched
    QCOMPARE(w.result(), before);
    QCOMPARE(QString::fromStdString(w.engine()->modelInfo().dir), QFileInfo(m_model).absoluteFilePath());
    QCOMPARE(QSettings().value("recentModelFolders").toStringList(), recent);
    QVERIFY(runPrompt(w, "still works"));
}

void TestMainWindow::startPageShowsErrorsInFull()
{
    MainWindow w;
    w.show();
    QVERIFY(w.showsStartPage());
    const QString missing = QDir(m_tmp.path()).filePath("there/is/no/such/model/folder/with/a/rather/long/name/indeed");
    QSignalSpy failed(w.engine(), &EngineClient::loadFailed);
    w.openModelFolder(missing);
    QVERIFY(failed.wait(30000));
    auto* label = w.findChild<QLabel*>("startMessage");
    QVERIFY(label);
    QVERIFY(label->isVisible());
    QCOMPARE(label->text(), w.message()); // the whole message, not a cut-off status line
    QVERIFY2(label->text().startsWith("Could not open " + QFileInfo(missing).absoluteFilePath() + ": "), qPrintable(label->text()));
    QVERIFY(label->wordWrap());
}

void TestMainWindow::ctrlArrowsStepHeadsFromThePromptEditor()
{
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "hello world"));
    auto* editor = w.findChild<QPlainTextEdit*>("promptEdit");
    QVERIFY(editor);
    editor->setFocus();
    QVERIFY(editor->hasFocus());
    w.selection()->setLayerHead(1, 0);
    QTest::keyClick(editor, Qt::Key_Right, Qt::ControlModifier);
    QCOMPARE(w.selection()->head(), 1);
    QTest::keyClick(editor, Qt::Key_Left, Qt::ControlModifier);
    QCOMPARE(w.selection()->head(), 0);
    QTest::keyClick(editor, Qt::Key_Down, Qt::ControlModifier);
    QCOMPARE(w.selection()->layer(), 2);
    QTest::keyClick(editor, Qt::Key_Up, Qt::ControlModifier);
    QCOMPARE(w.selection()->layer(), 1);
    // Plain keys still edit the prompt.
    QTest::keyClick(editor, Qt::Key_End);
    QTest::keyClicks(editor, "!");
    QVERIFY(editor->toPlainText().endsWith("!"));
    QCOMPARE(w.selection()->layer(), 1);
}

void TestMainWindow::askedHeadOutsideModelIsSaid()
{
    // --layer/--head of an interactive start: an explicit message in the window, the valid part
    // selected, and the window goes on working (a screenshot run exits instead: tst_gui_cli).
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "hello world"));
    const int heads = w.result()->model.heads;
    w.selection()->setLayerHead(1, 0);
    QCOMPARE(w.selectAsked(2, heads - 1), QString());
    QCOMPARE(w.selection()->layer(), 2);
    QCOMPARE(w.selection()->head(), heads - 1);
    QSignalSpy errors(&w, &MainWindow::errorShown);
    const QString text = w.selectAsked(9, 0);
    QCOMPARE(text, QStringLiteral("--layer 9 is outside the model: it has 4 layers (0 to 3). Showing layer 2, head 0."));
    QCOMPARE(w.message(), text);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(w.selection()->layer(), 2);
    QCOMPARE(w.selection()->head(), 0);
    const QString both = w.selectAsked(4, heads);
    QVERIFY2(both.startsWith(QStringLiteral("--layer 4 is outside the model: it has 4 layers (0 to 3). --head %1 is outside the model: it has %1 heads (0 to %2).")
                                 .arg(heads).arg(heads - 1)),
             qPrintable(both));
    QVERIFY(w.isVisible());
    QVERIFY(runPrompt(w, "still working"));
}

void TestMainWindow::dtypeAndMemoryAreSaid()
{
    MainWindow w;
    w.show();
    auto* dtype = w.findChild<QComboBox*>("dtypeBox");
    QVERIFY(dtype);
    dtype->setCurrentIndex(dtype->findText("bfloat16"));
    QVERIFY(openTiny(w));
    QVERIFY2(w.message().contains("bfloat16 was chosen, but the CPU computes in float32 (half-precision matrix products are "
                                  "far slower there); the model runs in float32."),
             qPrintable(w.message()));
    // The estimate is the checkpoint's element count at 4 bytes (float32), beside the model.
    qint64 parameters = 0;
    {
        const SafetensorsFile st = SafetensorsFile::open(QDir(m_model).filePath("model.safetensors").toStdString());
        for (const TensorInfo& t : st.header().tensors)
            parameters += t.numel();
    }
    const QString bytes = QLocale::system().formattedDataSize(parameters * 4, 1, QLocale::DataSizeSIFormat);
    QVERIFY2(w.statusText().contains(QString(" · weights ≈ %1 (float32)").arg(bytes)), qPrintable(w.statusText()));
    QCOMPARE(w.engine()->dtype(), QString("float32"));
    dtype->setCurrentIndex(0);
}

void TestMainWindow::layoutAndOptionsPersist()
{
    {
        MainWindow w;
        w.show();
        QVERIFY(w.showView("sinks"));
        auto* heatmap = qobject_cast<AttentionHeatmapView*>(w.view("heatmap"));
        heatmap->setLogScale(true);
        heatmap->setClipPercentile(99.0);
        auto* overview = qobject_cast<OverviewView*>(w.view("overview"));
        QVERIFY(overview->setMetric("entropy"));
        w.close(); // saves
    }
    {
        MainWindow w;
        QCOMPARE(w.currentViewName(), QString("sinks"));
        auto* heatmap = qobject_cast<AttentionHeatmapView*>(w.view("heatmap"));
        QVERIFY(heatmap->logScale());
        QCOMPARE(heatmap->clipPercentile(), 99.0);
        QCOMPARE(qobject_cast<OverviewView*>(w.view("overview"))->metricId(), QString("entropy"));
    }
    // Leave the other tests the defaults.
    QSettings().remove("window");
    QSettings().remove("views");
}

void TestMainWindow::keptRunIsOverlaid()
{
    MainWindow w;
    w.show();
    QVERIFY(openTiny(w));
    QVERIFY(runPrompt(w, "hello world"));
    auto* keep = w.findChild<QAction*>("keepRunAction");
    QVERIFY(keep);
    keep->trigger();
    QCOMPARE(int(w.currentResult()->overlays().size()), 1);
    QCOMPARE(w.currentResult()->overlays()[0].label, QString("'hello world' (tiny, BOS)"));
    QVERIFY(runPrompt(w, "another prompt"));
    auto* sinks = qobject_cast<SinkCurveView*>(w.view("sinks"));
    QCOMPARE(sinks->overlayCount(), 1); // the kept run stays beside the new one
}

void TestMainWindow::everyActionHasAShortcutInAMenu()
{
    MainWindow w;
    QMenu* view = nullptr;
    for (QAction* a : w.menuBar()->actions())
        if (a->text() == "&View")
            view = a->menu();
    QVERIFY(view);
    QMap<QString, QKeySequence> keys;
    std::function<void(QMenu*)> collect = [&](QMenu* menu) {
        for (QAction* a : menu->actions()) {
            if (a->menu())
                collect(a->menu());
            else if (!a->isSeparator())
                keys.insert(QString(a->text()).remove('&'), a->shortcut());
        }
    };
    collect(view);
    const QMap<QString, QString> expected = {
        {"Next Head", "Ctrl+Right"}, {"Previous Head", "Ctrl+Left"}, {"Next Layer", "Ctrl+Down"},
        {"Previous Layer", "Ctrl+Up"}, {"First Head", "Home"},       {"Last Head", "End"},
        {"Show Logits", "L"},         {"Log Colour Scale", "G"},    {"Exclude Sink Column", "X"},
        {"Per-Row Normalisation", "R"}, {"Zoom In", "+"},          {"Zoom Out", "-"},
        {"Reset Zoom", "0"},          {"Attention heatmap", "Ctrl+1"}, {"Overview", "Ctrl+2"},
        {"Sink curve", "Ctrl+3"},     {"Value statistics", "Ctrl+4"}, {"Hidden-state dimensions", "Ctrl+5"},
        {"Keep This Run in the Sink Curves", "Ctrl+K"}};
    for (auto it = expected.begin(); it != expected.end(); ++it) {
        QVERIFY2(keys.contains(it.key()), qPrintable(it.key()));
        QCOMPARE(keys.value(it.key()).toString(), it.value());
    }
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
