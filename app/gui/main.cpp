// SPDX-License-Identifier: GPL-3.0-or-later
// The SinkScope GUI. Besides interactive use it can open a model, run a prompt and save a PNG of
// the window by itself (--screenshot), which is how the README screenshots are made, headlessly
// with QT_QPA_PLATFORM=offscreen. Views whose figure needs a job first get it before the shot:
// --view classification runs the probes, --control SPEC applies a control in the controls view.
#include "classificationview.h"
#include "controlsview.h"
#include "figureexport.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "selection.h"
#include "sessioncontroller.h"
#include "viewregistry.h"

#include "sinkscope/controls.h"
#include "sinkscope/error.h"
#include "sinkscope/version.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QTimer>

#include <cstdio>
#include <tuple>
#include <utility>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("SinkScope"));
    QApplication::setOrganizationName(QStringLiteral("SinkScope"));
    QApplication::setApplicationVersion(QString::fromLatin1(sinkscope::appVersion()));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Explore attention sinks in transformer models."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("Open this model folder."), QStringLiteral("dir"));
    const QCommandLineOption promptOpt(QStringLiteral("prompt"), QStringLiteral("Run this prompt once the model is open."), QStringLiteral("text"));
    const sinkscope::ViewRegistry& views = sinkscope::ViewRegistry::global();
    const QCommandLineOption viewOpt(QStringLiteral("view"),
                                     QStringLiteral("Show this view: %1.").arg(views.names().join(QStringLiteral(", "))),
                                     QStringLiteral("name"), views.names().value(0));
    const QCommandLineOption layerOpt(QStringLiteral("layer"), QStringLiteral("Select this layer."), QStringLiteral("n"));
    const QCommandLineOption headOpt(QStringLiteral("head"), QStringLiteral("Select this head."), QStringLiteral("n"));
    const QCommandLineOption shotOpt(QStringLiteral("screenshot"),
                                     QStringLiteral("Save a PNG of the window once the prompt has run (or the model is open), then quit."),
                                     QStringLiteral("file.png"));
    const QCommandLineOption demoOpt(QStringLiteral("demo"), QStringLiteral("Open the built-in synthetic demo model (the default on first start)."));
    const QCommandLineOption noDemoOpt(QStringLiteral("no-demo"), QStringLiteral("Start on the start page even on first start."));
    const QCommandLineOption sizeOpt(QStringLiteral("size"), QStringLiteral("Window size for --screenshot, WxH."), QStringLiteral("WxH"), QStringLiteral("1280x860"));
    const QCommandLineOption controlOpt(QStringLiteral("control"),
                                        QStringLiteral("Apply this control in the controls view once the prompt has run: block:J, "
                                                       "designate:J, positions:shift=D, positions:J=0 or evict:K,W."),
                                        QStringLiteral("spec"));
    parser.addOptions({modelOpt, promptOpt, viewOpt, layerOpt, headOpt, shotOpt, sizeOpt, demoOpt, noDemoOpt, controlOpt});
    parser.process(app);
    auto fail = [](const QString& message) {
        std::fprintf(stderr, "error: %s\n", qPrintable(message));
        return 2;
    };
    if (!views.find(parser.value(viewOpt)))
        return fail(views.unknownViewMessage(parser.value(viewOpt)));
    // Nothing the user asked for is replaced by a default: a bad number or an empty prompt is an
    // error here, and a layer or head outside the model is one once the model is known.
    int wantLayer = -1;
    int wantHead = -1;
    for (const auto& [opt, target] : {std::pair{&layerOpt, &wantLayer}, std::pair{&headOpt, &wantHead}}) {
        if (!parser.isSet(*opt))
            continue;
        bool ok = false;
        *target = parser.value(*opt).toInt(&ok);
        if (!ok || *target < 0)
            return fail(QStringLiteral("--%1 must be a whole number >= 0, not '%2'.").arg(opt->names().first(), parser.value(*opt)));
    }
    if (parser.isSet(promptOpt) && parser.value(promptOpt).trimmed().isEmpty())
        return fail(parser.value(promptOpt).isEmpty() ? QStringLiteral("--prompt is empty: give the text to run.")
                                                      : QStringLiteral("--prompt contains only whitespace: give the text to run."));

    const QString controlSpec = parser.value(controlOpt);
    if (parser.isSet(controlOpt)) {
        try {
            sinkscope::analysis::parseControlSpec(controlSpec.toStdString());
        } catch (const sinkscope::Error& e) {
            return fail(QStringLiteral("--control: %1").arg(QString::fromStdString(e.what())));
        }
        if (parser.isSet(viewOpt) && parser.value(viewOpt) != QLatin1String("controls"))
            return fail(QStringLiteral("--control is applied in the controls view: use it with --view controls (or without --view)."));
        if (!parser.isSet(promptOpt) && !parser.isSet(demoOpt))
            return fail(QStringLiteral("--control needs a prompt to run on: give --prompt (or --demo, whose sample prompt runs)."));
    }
    const QString shownView = parser.isSet(controlOpt) ? QStringLiteral("controls") : parser.value(viewOpt);
    const bool viewAsked = parser.isSet(viewOpt) || parser.isSet(controlOpt);

    MainWindow window;
    const QString shot = parser.value(shotOpt);
    if (!shot.isEmpty()) {
        const QStringList wh = parser.value(sizeOpt).split('x');
        if (wh.size() == 2)
            window.resize(wh[0].toInt(), wh[1].toInt());
    }
    if (viewAsked) // else the view of the last session
        window.showView(shownView);
    window.show();

    // --layer / --head against the model: an error naming the valid range, never a clamp. A
    // screenshot cannot show the head asked for, so it fails; the interactive window says what is
    // wrong, keeps what it can select, and stays open.
    bool selected = false; // only the first result gets --layer / --head; later runs keep the user's choice
    auto selectAsked = [&]() -> bool {
        if (selected)
            return true;
        selected = true;
        if (!shot.isEmpty()) {
            const sinkscope::ModelInfo& info = window.engine()->modelInfo();
            for (const auto& [name, value, count] : {std::tuple{"layer", wantLayer, info.layers}, std::tuple{"head", wantHead, info.heads}})
                if (value >= count) {
                    std::fprintf(stderr, "error: --%s %d is outside the model: it has %d %ss (0 to %d).\n", name, value, count, name,
                                 count - 1);
                    QApplication::exit(2);
                    return false;
                }
        }
        const QString problem = window.selectAsked(wantLayer, wantHead);
        if (!problem.isEmpty())
            std::fprintf(stderr, "warning: %s\n", qPrintable(problem));
        return true;
    };
    auto finishShot = [&] {
        if (window.engine()->hasModel() && !selectAsked())
            return;
        if (viewAsked)
            window.showView(shownView);
        // A long prompt's map is made off the GUI thread: the shot shows it, not "computing".
        if (!sinkscope::waitUntilComputed(window.currentView())) {
            std::fprintf(stderr, "error: the view did not finish computing its figure.\n");
            QApplication::exit(1);
            return;
        }
        QString error;
        if (!sinkscope::grabWidgetToPng(&window, shot, &error)) {
            std::fprintf(stderr, "error: %s\n", qPrintable(error));
            QApplication::exit(1);
            return;
        }
        QApplication::exit(0);
    };

    if (parser.isSet(promptOpt))
        window.setPrompt(parser.value(promptOpt));
    QObject::connect(window.engine(), &EngineClient::modelLoaded, &window, [&] {
        // The window's own slot ran first: a demo model may already be running its sample prompt.
        if (window.engine()->isBusy())
            return;
        if (parser.isSet(promptOpt))
            window.runPrompt();
        else if (!shot.isEmpty())
            QTimer::singleShot(0, &window, finishShot);
    });
    // The first result starts what the asked view needs; true when the shot must wait for it.
    bool prepared = false;
    auto prepareView = [&]() -> bool {
        if (prepared)
            return false;
        prepared = true;
        auto failShot = [&](const QString& message) {
            std::fprintf(stderr, "error: %s\n", qPrintable(message));
            QApplication::exit(1);
        };
        if (auto* controls = qobject_cast<sinkscope::ControlsView*>(window.view(QStringLiteral("controls")));
            controls && !controlSpec.isEmpty()) {
            controls->setControl(controlSpec);
            if (!shot.isEmpty()) {
                QObject::connect(controls, &sinkscope::ControlsView::controlFinished, &window,
                                 [&] { QTimer::singleShot(0, &window, finishShot); });
                QObject::connect(controls, &sinkscope::ControlsView::controlFailed, &window, failShot);
            }
            controls->apply();
            return true;
        }
        auto* classification = qobject_cast<sinkscope::ClassificationView*>(window.view(QStringLiteral("classification")));
        if (classification && !shot.isEmpty() && shownView == QLatin1String("classification")) {
            QObject::connect(classification, &sinkscope::ClassificationView::classificationChanged, &window, [&, classification] {
                if (classification->classification())
                    QTimer::singleShot(0, &window, finishShot);
            });
            QObject::connect(classification, &sinkscope::ClassificationView::classificationFailed, &window, failShot);
            classification->classify();
            return true;
        }
        return false;
    };
    QObject::connect(&window, &MainWindow::resultShown, &window, [&] {
        if (!selectAsked())
            return;
        if (prepareView())
            return;
        if (!shot.isEmpty())
            QTimer::singleShot(0, &window, finishShot);
    });
    if (!shot.isEmpty())
        QObject::connect(&window, &MainWindow::errorShown, &window, [&](const QString& message) {
            std::fprintf(stderr, "error: %s\n", qPrintable(message));
            QApplication::exit(1);
        });

    const bool firstStart = QSettings().value(QStringLiteral("recentModelFolders")).toStringList().isEmpty();
    if (parser.isSet(modelOpt)) {
        window.openModelFolder(parser.value(modelOpt));
    } else if (parser.isSet(demoOpt) || (firstStart && !parser.isSet(noDemoOpt))) {
        // The demo's own sample prompt runs unless --prompt gave one (run on load above).
        window.openDemoModel(false, !parser.isSet(promptOpt));
        if (parser.isSet(promptOpt))
            window.setPrompt(parser.value(promptOpt));
    } else if (!shot.isEmpty()) {
        QTimer::singleShot(0, &window, finishShot);
    } else {
        // An interactive start without a model to open: offer the runs autosaved last time.
        QTimer::singleShot(0, &window, [&window] { window.sessions()->offerRestore(); });
    }
    return app.exec();
}
