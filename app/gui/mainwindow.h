// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/runresult.h"

#include <QMainWindow>

#include <memory>
#include <utility>
#include <vector>

namespace sinkscope::analysis {
struct RunMetrics;
}

class EngineClient;
class PromptSetDialog;
class PromptSetRunner;
class SessionController;
class ExportRunner;
struct PromptSetResult;
class QAction;
class QComboBox;
class QLabel;
class QListWidget;
class QMenu;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSplitter;
class QStackedWidget;
class QTabWidget;
class QToolButton;

namespace sinkscope {
class CurrentResult;
class Selection;
class TokenStrip;
class View;
} // namespace sinkscope

/// The main window: start page (open a folder, recent folders, HF cache) and the workspace
/// (prompt, token strip, views). All model work goes through EngineClient; nothing here blocks.
/// The views, their tabs and View-menu entries come from sinkscope::ViewRegistry::global(); the
/// window knows no view by type. A finished run goes into the one CurrentResult.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    EngineClient* engine() const { return m_engine; }
    sinkscope::Selection* selection() const { return m_selection; }
    /// Selects the layer and head asked for on the command line (-1: keep the current one) in the
    /// open model. Returns "" when both exist; otherwise selects the part that exists and returns
    /// (and shows in the window, as an error) e.g. "--layer 9 is outside the model: it has 4
    /// layers (0 to 3)." followed by what stays selected. The window stays usable.
    QString selectAsked(int layer, int head);
    sinkscope::CurrentResult* currentResult() const { return m_current; }
    sinkscope::TokenStrip* tokenStrip() const { return m_tokenStrip; }
    std::shared_ptr<const sinkscope::RunResult> result() const;
    /// The registered view called `name` (nullptr when there is none).
    sinkscope::View* view(const QString& name) const;
    /// The view in front, and its registry name.
    sinkscope::View* currentView() const;
    QString currentViewName() const;
    PromptSetRunner* promptSetRunner() const { return m_promptSet; }
    /// Save/Open Session, autosave and restore (app/gui/sessioncontroller.h).
    SessionController* sessions() const { return m_sessions; }
    /// The BOS policy chosen in the workspace ("auto", "on", "off") and setting it.
    QString bosPolicy() const;
    void setBosPolicy(const QString& policy);
    /// Shows a run that did not come from the engine (a session) with its analysis, in the
    /// workspace; the model on the engine (if any) is left as it is.
    void showSessionRun(std::shared_ptr<const sinkscope::RunResult> result,
                        std::shared_ptr<const sinkscope::analysis::RunMetrics> metrics);
    /// Shows a message in the message bar (an error when `error`); an empty text hides the bar.
    void showNote(const QString& text, bool error);
    /// The prompt-set results dialog (null until a prompt set ended).
    PromptSetDialog* promptSetDialog() const { return m_promptSetDialog; }

    /// The message currently shown in the message bar ("" when hidden).
    QString message() const;
    QString statusText() const;
    /// True on the start page, false in the workspace.
    bool showsStartPage() const;

    /// Writes the window layout, the current view and every view's options to QSettings (done on
    /// close; restored when a window is built).
    void saveLayout() const;

    void setPrompt(const QString& text);
    QString prompt() const;
    /// Brings the registered view `name` to the front; false (nothing changes) for an unknown name.
    bool showView(const QString& name);

public Q_SLOTS:
    void openModelFolder(const QString& dir);
    /// Writes (once) and opens a built-in synthetic model; `runSample` runs its sample prompt.
    void openDemoModel(bool encoder = false, bool runSample = true);
    void runPrompt();
    void cancelRun();
    /// Runs every prompt of a prompt file (text or JSONL) with the current BOS setting and shows
    /// the aggregated metrics; the single run on screen stays.
    void analyzePromptSet(const QString& file);
    /// Classifies every prompt of a prompt file with the current BOS setting (each truncated to
    /// `length` tokens when > 0) in the classification view, which comes to the front.
    void classifyPromptSet(const QString& file, qint64 length = 0);
    void chooseModelFolder();
    /// Exports the current view's figure; the format follows the suffix (pdf, png, svg).
    bool exportFigureTo(const QString& fileName);
    /// Exports the data behind the current view as CSV. A large table (a long prompt's map) is
    /// written off the GUI thread by exports(): then true means started, and exports() says
    /// when it has ended (finished) and how.
    bool exportDataTo(const QString& fileName);
    /// Writes every view that has a figure into `dir`: <file name>.pdf and <file name>.csv (the
    /// figures here, large tables off the GUI thread as for exportDataTo).
    bool exportAllTo(const QString& dir);
    /// Where the long exports run (one at a time, cancellable).
    ExportRunner* exports() const { return m_exports; }

Q_SIGNALS:
    /// A run's result and its analysis are on screen (emitted after the analysis thread is done).
    void resultShown();
    /// A load or run failed; the message is on screen.
    void errorShown(const QString& message);

private:
    void buildActions();
    void buildStartPage();
    void buildWorkspace();
    void updateRecentMenu();
    void refreshStartLists();
    void rememberRecent(const QString& dir);
    void showMessage(const QString& text, bool error);
    void updateStatus();
    void updateActions();
    void exportFigureDialog();
    void exportAllDialog();
    bool exportViewFigure(sinkscope::View* view, const QString& fileName, QString* error);
    void exportDataDialog();
    void saveScreenshotDialog();
    void analyzePromptSetDialog();
    void classifyPromptSetDialog();
    void saveSessionDialog();
    void openSessionDialog();
    void exportPaperFigureDialog();
    void keepRunForComparison();
    void compareWithSessionDialog();
    void showPromptSetResult(std::shared_ptr<const PromptSetResult> result);
    void restoreLayout();
    void keepCurrentRun();

protected:
    void closeEvent(QCloseEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:

    void onModelLoaded(const QString& name);
    void onLoadFailed(const QString& message);
    void onRunFinished(std::shared_ptr<const sinkscope::RunResult> result);
    void onRunFailed(const QString& message);

    EngineClient* m_engine = nullptr;
    PromptSetRunner* m_promptSet = nullptr;
    PromptSetDialog* m_promptSetDialog = nullptr;
    QAction* m_promptSetAction = nullptr;
    sinkscope::Selection* m_selection = nullptr;
    sinkscope::CurrentResult* m_current = nullptr;
    QString m_loadingDir;
    bool m_runAfterLoad = false;
    QString m_modelDir;

    QStackedWidget* m_stack = nullptr;
    QListWidget* m_recentList = nullptr;
    QListWidget* m_cacheList = nullptr;
    QLabel* m_cacheLabel = nullptr;
    QWidget* m_workspace = nullptr;
    QLabel* m_messageBar = nullptr;
    QPlainTextEdit* m_prompt = nullptr;
    QComboBox* m_bos = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_dtype = nullptr;
    QSplitter* m_splitter = nullptr;
    QLabel* m_startMessage = nullptr;
    QString m_loadNote;       ///< said once the model is loaded (a dtype choice that is not used)
    QString m_pendingWeights; ///< the weights' memory estimate of the load in flight
    QString m_weightsText;    ///< and of the open model, shown in the status line
    QPushButton* m_runButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    sinkscope::TokenStrip* m_tokenStrip = nullptr;
    QTabWidget* m_tabs = nullptr;
    /// The registered views in tab order, with their names.
    std::vector<std::pair<QString, sinkscope::View*>> m_views;
    QLabel* m_statusLabel = nullptr;
    QProgressBar* m_progress = nullptr;

    QAction* m_openAction = nullptr;
    QAction* m_runAction = nullptr;
    QAction* m_cancelAction = nullptr;
    QAction* m_exportFigureAction = nullptr;
    QAction* m_exportDataAction = nullptr;
    QAction* m_exportAllAction = nullptr;
    QAction* m_screenshotAction = nullptr;
    QAction* m_saveSessionAction = nullptr;
    QAction* m_paperFigureAction = nullptr;
    SessionController* m_sessions = nullptr;
    ExportRunner* m_exports = nullptr;
    bool m_closeCancelsExport = false; ///< a close was put off for a running export: the next one cancels it
    QMenu* m_recentMenu = nullptr;
};
