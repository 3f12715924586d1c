// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/session.h"

#include <QObject>
#include <QString>
#include <QThreadPool>

#include <memory>
#include <optional>

class MainWindow;

/// Sessions of the main window: File → Save Session / Open Session, and the autosave of what is
/// on screen after every run and every change of the Compare view's runs (written on a worker
/// thread, in order, atomically), offered for restore at the next start. A pair the Compare view
/// shows (a pinned A and B with their labels) is saved as the session's pair and reopened as it. A session opened without its model shows the saved runs; a new run
/// needs a model, and the window says so.
class SessionController : public QObject {
    Q_OBJECT
public:
    explicit SessionController(MainWindow* window);
    ~SessionController() override;

    /// The session of what is on screen; nullopt (with `why`) when no run is shown.
    std::optional<sinkscope::Session> sessionOnScreen(QString* why = nullptr) const;
    /// Writes the session on screen. False with `error` set when there is none or writing failed.
    bool save(const QString& path, QString* error);
    /// Opens a session file and shows it. False with `error` set (the screen is unchanged).
    bool open(const QString& path, QString* error);
    /// The file the last open() or save() used ("" when none).
    QString sessionPath() const { return m_path; }
    /// True when the session on screen was opened from a file whose model folder is absent.
    bool modelMissing() const { return m_modelMissing; }

    /// Where the autosave goes: <AppDataLocation>/autosave.sinkscope.
    static QString autosavePath();
    bool hasAutosave() const;
    /// Saves the session on screen in the background (nothing when no run is shown).
    void autosave();
    /// Blocks until queued autosaves are written (tests, closing).
    void waitForAutosave();
    /// Opens the autosave (as open()).
    bool restoreAutosave(QString* error);
    void discardAutosave();
    /// Asks whether to restore the autosave, when there is one; restores or discards it.
    void offerRestore();

Q_SIGNALS:
    void autosaveFailed(const QString& message);

private:
    MainWindow* m_window;
    QString m_path;
    bool m_modelMissing = false;
    bool m_opening = false;
    QString m_runPrompt, m_runBos = QStringLiteral("auto");     // of the run in flight
    QString m_shownPrompt, m_shownBos = QStringLiteral("auto"); // of the run on screen
    QThreadPool m_writer; // one thread: autosaves are written in the order they were made
};
