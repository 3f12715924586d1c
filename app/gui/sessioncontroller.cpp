// SPDX-License-Identifier: GPL-3.0-or-later
#include "sessioncontroller.h"

#include "compareview.h"
#include "currentresult.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "selection.h"
#include "viewregistry.h"

#include "sinkscope/analysis.h"
#include "sinkscope/error.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QStandardPaths>

using namespace sinkscope;

namespace {

CompareView* compareView(MainWindow* w)
{
    return qobject_cast<CompareView*>(w->view(QStringLiteral("compare")));
}

} // namespace

SessionController::SessionController(MainWindow* window) : QObject(window), m_window(window)
{
    m_writer.setMaxThreadCount(1);
    // The prompt and BOS policy of a run are what the editor held when it started; a session
    // records those, not what was typed afterwards.
    connect(window->engine(), &EngineClient::runStarted, this, [this] {
        m_runPrompt = m_window->prompt();
        m_runBos = m_window->bosPolicy();
    });
    connect(window, &MainWindow::resultShown, this, [this] {
        if (m_opening)
            return; // a session being opened: its own prompt and policy are set by open()
        m_shownPrompt = m_runPrompt;
        m_shownBos = m_runBos;
        m_modelMissing = false;
        autosave();
    });
    // Keep Run for Comparison and Send to Compare change what is on screen without a run.
    if (CompareView* compare = compareView(window))
        connect(compare, &CompareView::otherChanged, this, [this] {
            if (!m_opening)
                autosave();
        });
}

SessionController::~SessionController()
{
    m_writer.waitForDone();
}

std::optional<Session> SessionController::sessionOnScreen(QString* why) const
{
    const auto result = m_window->currentResult()->result();
    if (!result) {
        if (why)
            *why = tr("There is no run on screen to save: run a prompt first.");
        return std::nullopt;
    }
    Session s;
    SessionRun main;
    main.model = describeModelFolder(result->model.dir);
    main.prompt = m_shownPrompt.toStdString();
    main.bos = parseBosPolicy(m_shownBos.toStdString());
    main.result = result;
    s.runs.push_back(main);
    if (CompareView* compare = compareView(m_window); compare && compare->other()) {
        SessionRun b = *compare->other();
        const SessionRun* pinned = compare->pinnedA();
        const QString labelA = compare->pairLabel(0), labelB = compare->pairLabel(1);
        if (!pinned && labelA.isEmpty() && labelB.isEmpty()) {
            // A kept run B against the current run: the main run is A.
            b.label = "B";
            s.runs.front().label = "A";
            s.runs.push_back(b);
        } else {
            // A pair a view put (e.g. Send to Compare): both sides with their labels, so that
            // the reopened view shows the same A and B. B stays runs[1] (what a reader that knows
            // no pair compares with); a pinned A other than the main run is a run of its own.
            b.label = labelB.toStdString();
            s.runs.push_back(b);
            if (pinned && pinned->result != result) {
                SessionRun a = *pinned;
                a.label = labelA.toStdString();
                s.runs.push_back(a);
                s.pair = SessionPair{2, 1};
            } else {
                s.runs.front().label = labelA.toStdString();
                s.pair = SessionPair{0, 1};
            }
        }
    }
    s.view = m_window->currentViewName().toStdString();
    const Selection* sel = m_window->selection();
    s.layer = sel->layer();
    s.head = sel->head();
    s.query = sel->query();
    s.key = sel->key();
    QJsonObject views;
    for (const QString& name : ViewRegistry::global().names())
        if (View* v = m_window->view(name))
            views[name] = QJsonObject::fromVariantMap(v->saveOptions());
    QJsonObject settings;
    settings["views"] = views;
    settings["prompt_editor"] = m_window->prompt();
    settings["bos_editor"] = m_window->bosPolicy();
    s.settingsJson = QJsonDocument(settings).toJson(QJsonDocument::Compact).toStdString();
    return s;
}

bool SessionController::save(const QString& path, QString* error)
{
    const std::optional<Session> s = sessionOnScreen(error);
    if (!s)
        return false;
    try {
        saveSession(*s, QDir::toNativeSeparators(path).toStdString());
    } catch (const Error& e) {
        if (error)
            *error = QString::fromStdString(e.describe());
        return false;
    }
    m_path = path;
    return true;
}

bool SessionController::open(const QString& path, QString* error)
{
    Session s;
    std::shared_ptr<const analysis::RunMetrics> metrics;
    try {
        s = loadSession(path.toStdString());
        // The analysis is recomputed from the saved captures (a pure function of them), so the
        // reopened views show exactly what they showed.
        metrics = std::make_shared<analysis::RunMetrics>(analysis::analyzeRun(*s.runs.front().result));
    } catch (const Error& e) {
        if (error)
            *error = QString::fromStdString(e.describe());
        return false;
    }
    const SessionRun& main = s.runs.front();
    const QJsonObject settings = QJsonDocument::fromJson(QByteArray::fromStdString(s.settingsJson)).object();
    const QJsonObject views = settings.value(QStringLiteral("views")).toObject();
    for (auto it = views.begin(); it != views.end(); ++it)
        if (View* v = m_window->view(it.key()))
            v->restoreOptions(it.value().toObject().toVariantMap());
    m_window->setPrompt(settings.contains(QStringLiteral("prompt_editor")) ? settings.value(QStringLiteral("prompt_editor")).toString()
                                                                              : QString::fromStdString(main.prompt));
    m_window->setBosPolicy(QString::fromStdString(bosPolicyName(main.bos)));
    m_shownPrompt = QString::fromStdString(main.prompt);
    m_shownBos = QString::fromStdString(bosPolicyName(main.bos));
    CompareView* compare = compareView(m_window);
    const std::vector<SessionRun> sides = comparedRuns(s);
    m_opening = true;
    if (compare) {
        if (!s.pair && sides.size() > 1)
            compare->setOther(sides[1]);
        else
            compare->clearOther(); // a pair is put below: showing the main run unpins any A
    }
    m_window->showSessionRun(main.result, metrics);
    if (compare && s.pair)
        compare->setPair(sides[0], sides[1]);
    m_opening = false;
    m_window->selection()->setLayerHead(s.layer, s.head);
    if (s.query >= 0 && s.key >= 0)
        m_window->selection()->setCell(s.query, s.key);
    if (!s.view.empty() && !m_window->showView(QString::fromStdString(s.view)))
        m_window->showNote(tr("The session showed the view '%1', which this version does not have.").arg(QString::fromStdString(s.view)), true);
    m_path = path;
    const QString modelPath = QString::fromStdString(main.model.path);
    m_modelMissing = !QFileInfo(QDir(modelPath).filePath(QStringLiteral("config.json"))).exists();
    QString text = tr("Opened the session %1: %2, %3 tokens.")
                       .arg(QDir::toNativeSeparators(path), QString::fromStdString(main.result->model.name))
                       .arg(main.result->tokens);
    if (m_modelMissing)
        text += tr(" Its model folder %1 is not here: the views show the saved run; a new run needs the model "
                   "(File → Open Model Folder).").arg(QDir::toNativeSeparators(modelPath));
    else if (!m_window->engine()->hasModel())
        text += tr(" Its model folder %1 is here: open it to run again.").arg(QDir::toNativeSeparators(modelPath));
    m_window->showNote(text, false);
    return true;
}

QString SessionController::autosavePath()
{
    return QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath(QStringLiteral("autosave.sinkscope"));
}

bool SessionController::hasAutosave() const
{
    return QFileInfo::exists(autosavePath());
}

void SessionController::autosave()
{
    std::optional<Session> s = sessionOnScreen();
    if (!s)
        return;
    const QString path = autosavePath();
    QDir().mkpath(QFileInfo(path).path());
    // The runs are immutable and shared: the worker thread encodes and writes them while the
    // window goes on; a crash loses at most the run being written.
    m_writer.start([this, session = std::move(*s), path] {
        try {
            saveSession(session, path.toStdString());
        } catch (const Error& e) {
            const QString message = QString::fromStdString(e.describe());
            QMetaObject::invokeMethod(this, [this, message] { Q_EMIT autosaveFailed(message); }, Qt::QueuedConnection);
        }
    });
}

void SessionController::waitForAutosave()
{
    m_writer.waitForDone();
}

bool SessionController::restoreAutosave(QString* error)
{
    waitForAutosave();
    return open(autosavePath(), error);
}

void SessionController::discardAutosave()
{
    waitForAutosave();
    QFile::remove(autosavePath());
}

void SessionController::offerRestore()
{
    if (!hasAutosave())
        return;
    const auto answer = QMessageBox::question(m_window, tr("Restore Session"),
                                              tr("SinkScope kept the runs of the last session. Restore them?"),
                                              QMessageBox::Yes | QMessageBox::No, QMessageBox::Yes);
    if (answer == QMessageBox::Yes) {
        QString error;
        if (!restoreAutosave(&error))
            m_window->showNote(tr("Could not restore the last session: %1").arg(error), true);
    } else {
        discardAutosave();
    }
}
