// SPDX-License-Identifier: GPL-3.0-or-later
// Sessions in the main window, offscreen: save, rename the model folder away, reopen in a new
// window, and every registered view (the compare view included) and the token strip match the
// original pixel for pixel; Run stays disabled and the window says the model is missing; the
// autosave after a run restores the same run; a damaged session is refused and changes nothing.
#include "compareview.h"
#include "currentresult.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "sessioncontroller.h"
#include "tokenstrip.h"
#include "viewregistry.h"

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

// Every registered view and the token strip, grabbed at the window's size.
QMap<QString, QImage> grabAll(MainWindow& w)
{
    // The message bar says different things in the two windows; without it both lay the views
    // out at the same size.
    w.showNote(QString(), false);
    QMap<QString, QImage> shots;
    for (const QString& name : ViewRegistry::global().names()) {
        w.showView(name);
        // Lay out at the final size, then draw the plot at it (QCustomPlot paints its buffer of
        // the last replot).
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        if (QCustomPlot* plot = w.view(name)->plot()) {
            plot->replot();
        }
        shots[name] = w.view(name)->grab().toImage();
    }
    shots["token strip"] = w.tokenStrip()->grab().toImage();
    return shots;
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
