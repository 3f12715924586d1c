// SPDX-License-Identifier: GPL-3.0-or-later
#include "mainwindow.h"

#include "classificationview.h"
#include "compareview.h"
#include "currentresult.h"
#include "demomodel.h"
#include "engineclient.h"
#include "exportrunner.h"
#include "figureexport.h"
#include "figurerenderer.h"
#include "figuresidecar.h"
#include "paperexportdialog.h"
#include "loadplan.h"
#include "promptsetdialog.h"
#include "promptsetrunner.h"
#include "selection.h"
#include "sessioncontroller.h"
#include "tokenstrip.h"
#include "viewregistry.h"
#include "sinkscope/checkpoint.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QKeyEvent>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include <tuple>

using namespace sinkscope;

namespace {

const int kMaxRecent = 10;

QStringList recentFolders()
{
    return QSettings().value(QStringLiteral("recentModelFolders")).toStringList();
}

} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent)
{
    // The resources live in a static library: reference them so the linker keeps them.
    Q_INIT_RESOURCE(sinkscope);
    setWindowTitle(QStringLiteral("SinkScope"));
    setWindowIcon(QIcon(QStringLiteral(":/sinkscope/icons/sinkscope.svg")));
    m_engine = new EngineClient(this);
    m_selection = new Selection(this);
    m_current = new CurrentResult(m_selection, this);

    m_stack = new QStackedWidget(this);
    setCentralWidget(m_stack);
    buildStartPage();
    buildWorkspace();
    buildActions();

    m_statusLabel = new QLabel(this);
    m_progress = new QProgressBar(this);
    m_progress->setMaximumWidth(220);
    m_progress->setTextVisible(true);
    m_progress->hide();
    statusBar()->addWidget(m_statusLabel, 1);
    statusBar()->addPermanentWidget(m_progress);

    connect(m_engine, &EngineClient::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(m_engine, &EngineClient::loadFailed, this, &MainWindow::onLoadFailed);
    connect(m_engine, &EngineClient::runFinished, this, &MainWindow::onRunFinished);
    connect(m_engine, &EngineClient::runFailed, this, &MainWindow::onRunFailed);
    connect(m_engine, &EngineClient::runCancelled, this, [this] {
        if (m_promptSet->isRunning())
            return;
        m_progress->hide();
        showMessage(tr("Run cancelled; the previous result is still shown."), false);
    });
    connect(m_engine, &EngineClient::progressChanged, this, [this](int done, int total) {
        if (m_promptSet->isRunning())
            return;
        m_progress->setRange(0, total);
        m_progress->setValue(done);
        m_progress->setFormat(tr("layer %1 / %2").arg(done).arg(total));
    });
    connect(m_engine, &EngineClient::loadStarted, this, [this](const QString& dir) {
        m_statusLabel->setText(tr("Loading %1 …").arg(QDir::toNativeSeparators(dir)));
        m_progress->setRange(0, 0);
        m_progress->setFormat(tr("loading"));
        m_progress->show();
    });
    connect(m_engine, &EngineClient::runStarted, this, [this] {
        if (m_promptSet->isRunning())
            return;
        m_progress->setRange(0, 0);
        m_progress->setFormat(tr("running"));
        m_progress->show();
    });
    connect(m_engine, &EngineClient::busyChanged, this, [this] { updateActions(); });
    // The result is "shown" when every view has what it needs: the run and its analysis.
    connect(m_current, &CurrentResult::metricsAvailable, this, [this] {
        updateActions();
        Q_EMIT resultShown();
    });
    connect(m_current, &CurrentResult::metricsFailed, this, [this](const QString& message) {
        showMessage(tr("The analysis of this run failed: %1").arg(message), true);
        updateActions();
        Q_EMIT resultShown();
    });

    // Created after the connections above so that the window's handlers see a running set first.
    m_promptSet = new PromptSetRunner(m_engine, this);
    connect(m_promptSet, &PromptSetRunner::progressChanged, this, [this](int done, int total) {
        m_progress->setRange(0, total);
        m_progress->setValue(done);
        m_progress->setFormat(tr("prompt %1 / %2").arg(done).arg(total));
        m_progress->show();
        updateActions();
    });
    connect(m_promptSet, &PromptSetRunner::finished, this, &MainWindow::showPromptSetResult);
    connect(m_promptSet, &PromptSetRunner::cancelled, this, [this](std::shared_ptr<const PromptSetResult> r) {
        showPromptSetResult(r);
        showMessage(tr("Prompt set cancelled after %1 of %2 prompts; the result on screen is unchanged.")
                        .arg(r->runs.size()).arg(r->total), false);
    });
    connect(m_promptSet, &PromptSetRunner::failed, this, [this](const QString& message) {
        m_progress->hide();
        showMessage(message, true);
        updateActions();
    });

    m_sessions = new SessionController(this);
    m_exports = new ExportRunner(this);
    connect(m_sessions, &SessionController::autosaveFailed, this,
            [this](const QString& message) { showMessage(tr("Autosave failed: %1").arg(message), true); });

    resize(1280, 860);
    restoreLayout();
    updateStatus();
    updateActions();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    m_openAction = file->addAction(QIcon::fromTheme(QStringLiteral("document-open")), tr("&Open Model Folder…"),
                                   this, &MainWindow::chooseModelFolder);
    m_openAction->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    QMenu* demo = file->addMenu(tr("Open &Demo Model"));
    demo->addAction(tr("Decoder with planted waivers (synthetic)"), this, [this] { openDemoModel(false); });
    demo->addAction(tr("Encoder with a [SEP] waiver (synthetic)"), this, [this] { openDemoModel(true); });
    file->addSeparator();
    m_exportFigureAction = file->addAction(tr("Export &Figure…"), this, &MainWindow::exportFigureDialog);
    m_exportFigureAction->setShortcut(QKeySequence(QStringLiteral("Ctrl+E")));
    m_exportDataAction = file->addAction(tr("Export &Data (CSV)…"), this, &MainWindow::exportDataDialog);
    m_exportDataAction->setShortcut(QKeySequence(QStringLiteral("Ctrl+Shift+E")));
    m_exportAllAction = file->addAction(tr("Export &All Views…"), this, &MainWindow::exportAllDialog);
    m_screenshotAction = file->addAction(tr("Save &Window Screenshot…"), this, &MainWindow::saveScreenshotDialog);
    m_paperFigureAction = file->addAction(tr("Export Figure for &Paper…"), this, &MainWindow::exportPaperFigureDialog);
    m_paperFigureAction->setShortcut(QKeySequence(QStringLiteral("Ctrl+Alt+E")));
    file->addSeparator();
    m_saveSessionAction = file->addAction(tr("&Save Session…"), this, &MainWindow::saveSessionDialog);
    m_saveSessionAction->setShortcut(QKeySequence::Save);
    file->addAction(tr("Open &Session…"), this, &MainWindow::openSessionDialog)
        ->setShortcut(QKeySequence(QStringLiteral("Ctrl+Shift+O")));
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* runMenu = menuBar()->addMenu(tr("&Run"));
    m_runAction = runMenu->addAction(tr("&Run Prompt"), this, &MainWindow::runPrompt);
    m_runAction->setShortcut(QKeySequence(QStringLiteral("Ctrl+Return")));
    m_promptSetAction = runMenu->addAction(tr("Analyze &Prompt Set…"), this, &MainWindow::analyzePromptSetDialog);
    runMenu->addAction(tr("C&lassify Prompt Set…"), this, &MainWindow::classifyPromptSetDialog);
    m_cancelAction = runMenu->addAction(tr("&Cancel"), this, &MainWindow::cancelRun);
    m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
    runMenu->addSeparator();
    runMenu->addAction(tr("&Keep Run for Comparison"), this, &MainWindow::keepRunForComparison);
    runMenu->addAction(tr("Compare &With Session…"), this, &MainWindow::compareWithSessionDialog);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (const ViewSpec& spec : ViewRegistry::global().views()) {
        const QString name = spec.name;
        QAction* show = view->addAction(spec.title, this, [this, name] { showView(name); });
        show->setShortcut(spec.shortcut);
        show->setToolTip(spec.description);
        show->setObjectName(QStringLiteral("showView-") + name);
    }
    // The views' own actions, each in a submenu; enabled only while that view is in front.
    bool separated = false;
    for (const auto& [name, v] : m_views) {
        if (v->actions().isEmpty())
            continue;
        if (!separated)
            view->addSeparator();
        separated = true;
        QMenu* sub = view->addMenu(ViewRegistry::global().find(name)->title);
        sub->addActions(v->actions());
        for (QAction* a : v->actions())
            a->setShortcutContext(Qt::WindowShortcut);
    }
    view->addSeparator();
    // Ctrl+arrows work from anywhere, the prompt editor included (see eventFilter); the plain
    // keys in brackets work wherever a view has the focus.
    view->addAction(tr("&Next Head"), m_selection, &Selection::nextHead)->setShortcut(QKeySequence(QStringLiteral("Ctrl+Right")));
    view->addAction(tr("&Previous Head"), m_selection, &Selection::previousHead)->setShortcut(QKeySequence(QStringLiteral("Ctrl+Left")));
    QAction* nextLayer = view->addAction(tr("Next &Layer"), m_selection, &Selection::nextLayer);
    nextLayer->setShortcuts({QKeySequence(QStringLiteral("Ctrl+Down")), QKeySequence(Qt::Key_PageDown)});
    QAction* previousLayer = view->addAction(tr("Previous La&yer"), m_selection, &Selection::previousLayer);
    previousLayer->setShortcuts({QKeySequence(QStringLiteral("Ctrl+Up")), QKeySequence(Qt::Key_PageUp)});
    view->addAction(tr("&First Head"), m_selection, &Selection::firstHead)->setShortcut(QKeySequence(Qt::Key_Home));
    view->addAction(tr("Las&t Head"), m_selection, &Selection::lastHead)->setShortcut(QKeySequence(Qt::Key_End));
    view->addSeparator();
    QAction* keep = view->addAction(tr("&Keep This Run in the Sink Curves"), this, &MainWindow::keepCurrentRun);
    keep->setShortcut(QKeySequence(QStringLiteral("Ctrl+K")));
    keep->setObjectName(QStringLiteral("keepRunAction"));
    view->addAction(tr("&Clear Kept Runs"), m_current, &CurrentResult::clearOverlays);

    QToolBar* tb = addToolBar(tr("Main"));
    tb->setObjectName(QStringLiteral("mainToolBar"));
    tb->addAction(m_openAction);
    tb->addSeparator();
    tb->addWidget(new QLabel(tr(" Device: "), tb));
    m_device = new QComboBox(tb);
    m_device->setObjectName(QStringLiteral("deviceBox"));
    m_device->addItem(tr("auto"), QStringLiteral("auto"));
    m_device->addItem(tr("cpu"), QStringLiteral("cpu"));
    m_device->addItem(tr("cuda"), QStringLiteral("cuda"));
    m_device->setToolTip(tr("Device for the next model load"));
    m_device->setCurrentIndex(std::max(0, m_device->findData(QSettings().value(QStringLiteral("device"), "auto"))));
    connect(m_device, &QComboBox::currentIndexChanged, this, [this] {
        // Say at once that CUDA cannot be used, rather than at the next load or never.
        if (m_device->currentData().toString() == QLatin1String("cuda") && !cudaAvailable()) {
            showMessage(tr("CUDA is not available: this build of libtorch sees no CUDA device. Models open on the CPU; "
                           "the Device box is back on %1.")
                            .arg(QSettings().value(QStringLiteral("device"), QStringLiteral("auto")).toString()),
                        true);
            const QSignalBlocker block(m_device);
            m_device->setCurrentIndex(std::max(0, m_device->findData(QSettings().value(QStringLiteral("device"), "auto"))));
            return;
        }
        QSettings().setValue(QStringLiteral("device"), m_device->currentData());
    });
    tb->addWidget(m_device);
    tb->addWidget(new QLabel(tr(" Dtype: "), tb));
    m_dtype = new QComboBox(tb);
    m_dtype->setObjectName(QStringLiteral("dtypeBox"));
    for (DTypePreference d : {DTypePreference::Auto, DTypePreference::F32, DTypePreference::F16, DTypePreference::BF16})
        m_dtype->addItem(dtypePreferenceName(d), int(d));
    m_dtype->setToolTip(tr("Compute dtype for the next model load (the CPU always computes in float32)"));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(QSettings().value(QStringLiteral("dtype"), 0))));
    connect(m_dtype, &QComboBox::currentIndexChanged, this,
            [this] { QSettings().setValue(QStringLiteral("dtype"), m_dtype->currentData()); });
    tb->addWidget(m_dtype);

    updateRecentMenu();
}

void MainWindow::buildStartPage()
{
    auto* page = new QWidget(m_stack);
    auto* outer = new QVBoxLayout(page);
    outer->setContentsMargins(48, 36, 48, 36);
    auto* title = new QLabel(tr("<h1>SinkScope</h1><p>See where attention goes in a transformer: attention "
                                "sinks, the heads that use them, and the values they carry.</p>"),
                             page);
    title->setWordWrap(true);
    outer->addWidget(title);

    auto* open = new QPushButton(tr("Open a model folder…"), page);
    open->setObjectName(QStringLiteral("openFolderButton"));
    open->setMinimumHeight(36);
    connect(open, &QPushButton::clicked, this, &MainWindow::chooseModelFolder);
    auto* demo = new QPushButton(tr("Open the built-in demo model"), page);
    demo->setObjectName(QStringLiteral("openDemoButton"));
    demo->setMinimumHeight(36);
    demo->setToolTip(tr("A small synthetic decoder with planted positional and feature waiver heads"));
    connect(demo, &QPushButton::clicked, this, [this] { openDemoModel(false); });
    auto* row = new QHBoxLayout;
    row->addWidget(open);
    row->addWidget(demo);
    row->addStretch(1);
    outer->addLayout(row);
    outer->addWidget(new QLabel(tr("A Hugging Face model folder holds config.json, tokenizer.json and "
                                   "*.safetensors weights. Pickle checkpoints (*.bin, *.pt) are never loaded."),
                                page));
    // Errors of the start page are shown here, in full, where the user is looking.
    m_startMessage = new QLabel(page);
    m_startMessage->setObjectName(QStringLiteral("startMessage"));
    m_startMessage->setWordWrap(true);
    m_startMessage->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_startMessage->hide();
    outer->addWidget(m_startMessage);

    auto* lists = new QHBoxLayout;
    auto* recentBox = new QVBoxLayout;
    recentBox->addWidget(new QLabel(tr("<b>Recent folders</b>"), page));
    m_recentList = new QListWidget(page);
    m_recentList->setObjectName(QStringLiteral("recentList"));
    recentBox->addWidget(m_recentList);
    auto* cacheBox = new QVBoxLayout;
    m_cacheLabel = new QLabel(page);
    cacheBox->addWidget(m_cacheLabel);
    m_cacheList = new QListWidget(page);
    m_cacheList->setObjectName(QStringLiteral("cacheList"));
    cacheBox->addWidget(m_cacheList);
    lists->addLayout(recentBox);
    lists->addLayout(cacheBox);
    outer->addLayout(lists, 1);
    auto activate = [this](QListWidgetItem* item) { openModelFolder(item->data(Qt::UserRole).toString()); };
    connect(m_recentList, &QListWidget::itemActivated, this, activate);
    connect(m_cacheList, &QListWidget::itemActivated, this, activate);

    m_stack->addWidget(page);
    refreshStartLists();
}

void MainWindow::refreshStartLists()
{
    m_recentList->clear();
    for (const QString& dir : recentFolders()) {
        auto* item = new QListWidgetItem(QDir::toNativeSeparators(dir), m_recentList);
        item->setData(Qt::UserRole, dir);
    }
    if (m_recentList->count() == 0)
        m_recentList->addItem(tr("(none yet)"));
    m_cacheList->clear();
    const std::string cacheDir = huggingFaceCacheDir();
    m_cacheLabel->setText(tr("<b>Hugging Face cache</b> (%1)").arg(QDir::toNativeSeparators(QString::fromStdString(cacheDir))));
    for (const CachedModel& m : findCachedModels(cacheDir)) {
        const QString path = QString::fromStdString(m.path);
        auto* item = new QListWidgetItem(
            QStringLiteral("%1  ·  %2").arg(QString::fromStdString(m.repo), QString::fromStdString(m.revision).left(8)),
            m_cacheList);
        item->setData(Qt::UserRole, path);
        item->setToolTip(QDir::toNativeSeparators(path));
    }
    if (m_cacheList->count() == 0)
        m_cacheList->addItem(tr("(no cached models found)"));
}

void MainWindow::buildWorkspace()
{
    m_workspace = new QWidget(m_stack);
    auto* layout = new QVBoxLayout(m_workspace);
    layout->setContentsMargins(8, 6, 8, 4);

    m_messageBar = new QLabel(m_workspace);
    m_messageBar->setObjectName(QStringLiteral("messageBar"));
    m_messageBar->setWordWrap(true);
    m_messageBar->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_messageBar->hide();

    m_prompt = new QPlainTextEdit(m_workspace);
    m_prompt->setObjectName(QStringLiteral("promptEdit"));
    m_prompt->setPlaceholderText(tr("Type a prompt and press Ctrl+Return"));
    m_prompt->setMaximumHeight(90);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("BOS:"), m_workspace));
    m_bos = new QComboBox(m_workspace);
    m_bos->addItem(tr("auto (tokenizer files)"), QStringLiteral("auto"));
    m_bos->addItem(tr("on"), QStringLiteral("on"));
    m_bos->addItem(tr("off"), QStringLiteral("off"));
    m_bos->setToolTip(tr("Whether a beginning-of-sequence token is put in front of the prompt"));
    controls->addWidget(m_bos);
    controls->addStretch(1);
    m_runButton = new QPushButton(tr("Run"), m_workspace);
    m_runButton->setObjectName(QStringLiteral("runButton"));
    m_runButton->setToolTip(tr("Run the prompt (Ctrl+Return)"));
    m_cancelButton = new QPushButton(tr("Cancel"), m_workspace);
    m_cancelButton->setObjectName(QStringLiteral("cancelButton"));
    m_cancelButton->setToolTip(tr("Stop the running forward pass after the current layer (Esc)"));
    connect(m_runButton, &QPushButton::clicked, this, &MainWindow::runPrompt);
    connect(m_cancelButton, &QPushButton::clicked, this, &MainWindow::cancelRun);
    controls->addWidget(m_runButton);
    controls->addWidget(m_cancelButton);

    m_tokenStrip = new TokenStrip(m_current, m_selection, m_workspace);
    m_tabs = new QTabWidget(m_workspace);
    m_tabs->setObjectName(QStringLiteral("viewTabs"));
    for (const ViewSpec& spec : ViewRegistry::global().views()) {
        View* v = spec.create(m_current, m_selection, m_tabs);
        v->setObjectName(QStringLiteral("view-") + spec.name);
        m_tabs->addTab(v, spec.title);
        m_tabs->setTabToolTip(m_tabs->count() - 1, spec.description);
        m_views.emplace_back(spec.name, v);
        connect(v, &View::figureChanged, this, [this] { updateActions(); });
        connect(v, &View::showViewRequested, this, [this](const QString& name) { showView(name); });
        connect(v, &View::compareRequested, this, [this](const SessionRun& a, const SessionRun& b) {
            if (auto* compare = qobject_cast<CompareView*>(view(QStringLiteral("compare")))) {
                compare->setPair(a, b);
                showView(QStringLiteral("compare"));
            }
        });
    }
    connect(m_tabs, &QTabWidget::currentChanged, this, [this] { updateActions(); });

    m_prompt->installEventFilter(this);
    auto* top = new QWidget(m_workspace);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addWidget(m_prompt);
    topLayout->addLayout(controls);
    topLayout->addWidget(m_tokenStrip);
    m_splitter = new QSplitter(Qt::Vertical, m_workspace);
    m_splitter->setObjectName(QStringLiteral("workspaceSplitter"));
    m_splitter->addWidget(top);
    m_splitter->addWidget(m_tabs);
    m_splitter->setStretchFactor(1, 1);
    m_splitter->setChildrenCollapsible(false);
    layout->addWidget(m_messageBar);
    layout->addWidget(m_splitter, 1);
    m_stack->addWidget(m_workspace);
}

void MainWindow::updateRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = recentFolders();
    for (const QString& dir : recent)
        m_recentMenu->addAction(QDir::toNativeSeparators(dir), this, [this, dir] { openModelFolder(dir); });
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::rememberRecent(const QString& dir)
{
    QStringList recent = recentFolders();
    recent.removeAll(dir);
    recent.prepend(dir);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    QSettings().setValue(QStringLiteral("recentModelFolders"), recent);
    updateRecentMenu();
    refreshStartLists();
}

void MainWindow::chooseModelFolder()
{
    const QString start = recentFolders().value(0, QDir::homePath());
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"), start);
    if (!dir.isEmpty())
        openModelFolder(dir);
}

void MainWindow::openModelFolder(const QString& dir)
{
    const QString absolute = QFileInfo(dir).absoluteFilePath();
    const DevicePreference device = parseDevicePreference(m_device->currentData().toString().toStdString());
    const auto dtype = DTypePreference(m_dtype->currentData().toInt());
    // Checked here, before the engine drops the current model: what the window cannot use is
    // refused and the current model, result and Recent list stay as they are.
    const LoadPlan plan = planLoad(absolute, device, dtype);
    if (!plan.error.isEmpty()) {
        m_runAfterLoad = false;
        showMessage(tr("Could not open %1: %2").arg(QDir::toNativeSeparators(absolute), plan.error), true);
        return;
    }
    m_loadingDir = absolute;
    // The estimate goes into the status line (while loading, then beside the model); a dtype
    // that will not be used is said in the message once the model is open.
    m_loadNote = plan.dtypeNote;
    m_pendingWeights = plan.checked ? plan.weightsText() : QString();
    m_engine->loadModel(m_loadingDir, device, dtype);
    if (plan.checked)
        m_statusLabel->setText(tr("Loading %1 (%2) …").arg(QDir::toNativeSeparators(absolute), plan.summary()));
}

void MainWindow::openDemoModel(bool encoder, bool runSample)
{
    const DemoKind kind = encoder ? DemoKind::Encoder : DemoKind::Decoder;
    QString error;
    const QString dir = ensureDemoModel(kind, &error);
    if (dir.isEmpty()) {
        showMessage(tr("Could not write the demo model: %1").arg(error), true);
        m_statusLabel->setText(error);
        return;
    }
    const DemoGroundTruth truth = demoGroundTruth(kind);
    if (!truth.samplePrompts.empty())
        m_prompt->setPlainText(QString::fromStdString(truth.samplePrompts[std::min<size_t>(1, truth.samplePrompts.size() - 1)]));
    m_runAfterLoad = runSample;
    openModelFolder(dir);
}

void MainWindow::onModelLoaded(const QString& name)
{
    m_modelDir = m_loadingDir;
    m_weightsText = m_pendingWeights;
    rememberRecent(m_modelDir);
    m_progress->hide();
    m_current->clear();
    m_stack->setCurrentWidget(m_workspace);
    m_startMessage->hide();
    const ModelInfo& info = m_engine->modelInfo();
    QString text = tr("Loaded %1 (%2, %3 layers × %4 heads) on %5.")
                       .arg(name, QString::fromStdString(info.modelType))
                       .arg(info.layers)
                       .arg(info.heads)
                       .arg(m_engine->device());
    if (info.synthetic) {
        // Say what was planted so the user knows what the views should show.
        const DemoKind kind = info.attention == "bidirectional" ? DemoKind::Encoder : DemoKind::Decoder;
        QStringList heads;
        for (const PlantedHead& h : demoGroundTruth(kind).heads)
            heads << tr("L%1.H%2 %3%4")
                         .arg(h.layer)
                         .arg(h.head)
                         .arg(QString::fromStdString(h.mechanism))
                         .arg(h.waiverToken.empty() ? tr(" → position %1").arg(h.waiverPosition)
                                                    : tr(" → '%1'").arg(QString::fromStdString(h.waiverToken)));
        text += tr(" This is a synthetic demo model with planted waiver heads: %1.").arg(heads.join(QStringLiteral("; ")));
    }
    for (const std::string& note : info.notes) // e.g. tensors of the checkpoint the model ignores
        text += QLatin1Char(' ') + QString::fromStdString(note);
    if (!m_loadNote.isEmpty())
        text += QLatin1Char(' ') + m_loadNote;
    showMessage(text, false);
    if (m_prompt->toPlainText().isEmpty())
        m_prompt->setPlainText(QStringLiteral("The cat sat on the mat. The dog slept by the door."));
    m_prompt->setFocus();
    updateStatus();
    updateActions();
    if (m_runAfterLoad) {
        m_runAfterLoad = false;
        runPrompt();
    }
}

void MainWindow::onLoadFailed(const QString& message)
{
    m_runAfterLoad = false;
    m_progress->hide();
    showMessage(tr("Could not open %1: %2").arg(QDir::toNativeSeparators(m_loadingDir), message), true);
    // The start page has no message bar; show the error in the status line there as well.
    if (showsStartPage())
        m_statusLabel->setText(message);
    else
        updateStatus();
    updateActions();
}

void MainWindow::runPrompt()
{
    if (m_promptSet->isRunning()) {
        showMessage(tr("A prompt set is running; cancel it or wait for it to finish."), true);
        return;
    }
    if (!m_engine->hasModel()) {
        showMessage(tr("Open a model folder first."), true);
        return;
    }
    RunRequest req;
    req.text = m_prompt->toPlainText().toStdString();
    req.bos = parseBosPolicy(m_bos->currentData().toString().toStdString());
    // Every map kept while they are small (instant head switches); a longer prompt keeps Q and K
    // and the views recompute the head shown (binned off the GUI thread).
    req.keepAttentionUpTo = RunRequest::kInteractiveMapBytes;
    // Checking here gives an immediate message; the core checks again (and the CLI relies on it).
    if (m_prompt->toPlainText().trimmed().isEmpty()) {
        showMessage(m_prompt->toPlainText().isEmpty() ? tr("The prompt is empty.")
                                                      : tr("The prompt contains only whitespace."),
                    true);
        return;
    }
    m_engine->run(req);
}

void MainWindow::cancelRun()
{
    if (m_promptSet->isRunning())
        m_promptSet->cancel(); // stops after the current prompt's current layer
    else
        m_engine->cancel();
}

void MainWindow::onRunFinished(std::shared_ptr<const RunResult> result)
{
    if (m_promptSet->isRunning())
        return; // one prompt of the set: the runner takes it
    m_progress->hide();
    // A successful run clears an error; information (e.g. what a demo model has planted) stays.
    if (m_messageBar->property("error").toBool())
        m_messageBar->hide();
    m_current->setResult(std::move(result));
    updateStatus();
    updateActions();
    // resultShown() follows once the analysis has reached the views (see the constructor).
}

void MainWindow::onRunFailed(const QString& message)
{
    if (m_promptSet->isRunning())
        return;
    m_progress->hide();
    showMessage(message, true);
    updateActions();
}

QString MainWindow::selectAsked(int layer, int head)
{
    const sinkscope::ModelInfo& info = m_engine->modelInfo();
    QStringList problems;
    for (const auto& [name, value, count] : {std::tuple{"layer", &layer, info.layers}, std::tuple{"head", &head, info.heads}})
        if (*value >= count) {
            problems << tr("--%1 %2 is outside the model: it has %3 %1s (0 to %4).").arg(QLatin1String(name)).arg(*value).arg(count).arg(count - 1);
            *value = -1; // keep the current one
        }
    if (layer >= 0 || head >= 0)
        m_selection->setLayerHead(layer >= 0 ? layer : std::max(m_selection->layer(), 0),
                                  head >= 0 ? head : std::max(m_selection->head(), 0));
    if (problems.isEmpty())
        return {};
    const QString text = problems.join(QLatin1Char(' '))
        + tr(" Showing layer %1, head %2.").arg(std::max(m_selection->layer(), 0)).arg(std::max(m_selection->head(), 0));
    showMessage(text, true);
    return text;
}

void MainWindow::showMessage(const QString& text, bool error)
{
    m_messageBar->setText(text);
    m_messageBar->setStyleSheet(error ? QStringLiteral("QLabel { background: #fde2e1; color: #7a1712; border: 1px solid #e8a09a; padding: 6px; }")
                                      : QStringLiteral("QLabel { background: #e6f0fa; color: #1d3b57; border: 1px solid #a9c4de; padding: 6px; }"));
    m_messageBar->setProperty("error", error);
    m_messageBar->show();
    m_startMessage->setText(text);
    m_startMessage->setStyleSheet(m_messageBar->styleSheet());
    m_startMessage->setVisible(showsStartPage());
    if (error)
        Q_EMIT errorShown(text);
}

QString MainWindow::message() const
{
    return m_messageBar->isHidden() ? QString() : m_messageBar->text();
}

QString MainWindow::statusText() const
{
    return m_statusLabel->text();
}

bool MainWindow::showsStartPage() const
{
    return m_stack->currentWidget() != m_workspace;
}

void MainWindow::setPrompt(const QString& text)
{
    m_prompt->setPlainText(text);
}

QString MainWindow::prompt() const
{
    return m_prompt->toPlainText();
}

std::shared_ptr<const RunResult> MainWindow::result() const
{
    return m_current->result();
}

View* MainWindow::view(const QString& name) const
{
    for (const auto& [n, v] : m_views)
        if (n == name)
            return v;
    return nullptr;
}

View* MainWindow::currentView() const
{
    return qobject_cast<View*>(m_tabs->currentWidget());
}

QString MainWindow::currentViewName() const
{
    const View* v = currentView();
    for (const auto& [n, w] : m_views)
        if (w == v)
            return n;
    return {};
}

bool MainWindow::showView(const QString& name)
{
    View* v = view(name);
    if (!v)
        return false;
    m_tabs->setCurrentWidget(v);
    return true;
}

void MainWindow::updateStatus()
{
    if (!m_engine->hasModel()) {
        m_statusLabel->setText(tr("No model open"));
        return;
    }
    const ModelInfo& info = m_engine->modelInfo();
    QString text = tr("%1%2 · %3 · %4 · %5")
                       .arg(QString::fromStdString(info.name), info.synthetic ? tr(" (synthetic)") : QString(),
                            QString::fromStdString(info.modelType), m_engine->device(), m_engine->dtype());
    if (!m_weightsText.isEmpty())
        text += tr(" · weights %1").arg(m_weightsText);
    if (const auto r = m_current->result()) {
        text += tr(" · %1 tokens%2 · %3 ms")
                    .arg(r->tokens)
                    .arg(r->encoding.bosAdded ? tr(" (BOS added)") : QString())
                    .arg(r->runMs, 0, 'f', 1);
        // Past RunRequest::kInteractiveMapBytes the run keeps Q and K, not every map: said here.
        if (!r->hasAttention() && r->canMakeMaps())
            text += tr(" · maps recomputed per head from Q and K");
    }
    m_statusLabel->setText(text);
}

void MainWindow::updateActions()
{
    const bool busy = m_engine->isBusy();
    const bool model = m_engine->hasModel();
    m_runAction->setEnabled(model);
    m_promptSetAction->setEnabled(model && m_promptSet && !m_promptSet->isRunning());
    m_runButton->setEnabled(model);
    m_cancelAction->setEnabled(busy);
    m_cancelButton->setEnabled(busy);
    const View* current = currentView();
    const bool figure = current && current->hasFigure();
    m_exportFigureAction->setEnabled(figure);
    m_exportDataAction->setEnabled(figure);
    bool any = false;
    for (const auto& [name, v] : m_views) {
        any = any || v->hasFigure();
        for (QAction* a : v->actions())
            a->setEnabled(v == current);
    }
    m_exportAllAction->setEnabled(any);
    m_paperFigureAction->setEnabled(figure && current->plot());
    m_saveSessionAction->setEnabled(m_current->result() != nullptr);
}

QString MainWindow::bosPolicy() const
{
    return m_bos->currentData().toString();
}

void MainWindow::setBosPolicy(const QString& policy)
{
    m_bos->setCurrentIndex(std::max(0, m_bos->findData(policy)));
}

void MainWindow::showNote(const QString& text, bool error)
{
    if (text.isEmpty())
        m_messageBar->hide();
    else
        showMessage(text, error);
}

void MainWindow::showSessionRun(std::shared_ptr<const RunResult> result, std::shared_ptr<const analysis::RunMetrics> metrics)
{
    m_stack->setCurrentWidget(m_workspace);
    m_current->setResult(std::move(result), std::move(metrics));
    updateStatus();
    updateActions();
}

void MainWindow::saveSessionDialog()
{
    const QString start = m_sessions->sessionPath().isEmpty() ? QDir::home().filePath(QStringLiteral("analysis.sinkscope"))
                                                              : m_sessions->sessionPath();
    const QString name = QFileDialog::getSaveFileName(this, tr("Save Session"), start, tr("SinkScope sessions (*.sinkscope)"));
    if (name.isEmpty())
        return;
    QString error;
    if (m_sessions->save(name, &error))
        showMessage(tr("Session written to %1").arg(QDir::toNativeSeparators(name)), false);
    else
        showMessage(tr("Could not save the session: %1").arg(error), true);
}

void MainWindow::openSessionDialog()
{
    const QString name = QFileDialog::getOpenFileName(this, tr("Open Session"), QDir::homePath(),
                                                      tr("SinkScope sessions (*.sinkscope);;All files (*)"));
    if (name.isEmpty())
        return;
    QString error;
    if (!m_sessions->open(name, &error))
        showMessage(tr("Could not open the session: %1").arg(error), true);
}

void MainWindow::exportPaperFigureDialog()
{
    View* v = currentView();
    if (!v || !v->hasFigure() || !v->plot())
        return;
    if (m_exports->busy()) { // said before the dialogs, not after them
        showMessage(tr("An export is still being written: wait for it, or cancel it, first."), true);
        return;
    }
    const ViewSpec* spec = ViewRegistry::global().find(currentViewName());
    PaperExportDialog dialog(spec ? spec->figurePreset : QStringLiteral("one-column"), this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QString name = QFileDialog::getSaveFileName(this, tr("Export Figure for Paper"),
                                                      QDir::home().filePath(v->defaultFileName() + QStringLiteral(".pdf")),
                                                      figureFileFilter());
    if (name.isEmpty())
        return;
    if (m_exports->busy()) {
        showMessage(tr("An export is still being written: wait for it, or cancel it, first."), true);
        return;
    }
    const std::optional<Session> session = m_sessions->sessionOnScreen();
    QString error;
    // The compare figure records its A and B (a pinned pair's A is not the main run).
    const std::optional<FigureBundle> bundle =
        session ? prepareViewBundle(v, currentViewName(), qobject_cast<CompareView*>(v) ? comparedRuns(*session) : session->runs,
                                    name, dialog.options(), dialog.presetName(), &error)
                : std::nullopt;
    if (!bundle) {
        showMessage(tr("Export failed: %1").arg(error), true);
        return;
    }
    const QString written = tr("Figure written to %1, with its data (%2) and record (%3)")
                                .arg(QDir::toNativeSeparators(name), QFileInfo(bundle->csvFile).fileName(),
                                     QFileInfo(bundle->jsonFile).fileName());
    if (bundle->csv.heavy()) {
        m_exports->start(
            tr("Writing %L1 values of data to %2 …").arg(bundle->csv.cells).arg(QDir::toNativeSeparators(bundle->csvFile)),
            [b = *bundle](QString* e, const std::atomic<bool>* cancel, const std::function<void(double)>& progress) {
                return finishFigureBundle(b, e, cancel, progress);
            },
            [this, written](bool ok, const QString& e) { showMessage(ok ? written : tr("Export failed: %1").arg(e), !ok); });
        showMessage(tr("Writing the figure's data in the background …"), false);
        return;
    }
    if (!finishFigureBundle(*bundle, &error)) {
        showMessage(tr("Export failed: %1").arg(error), true);
        return;
    }
    showMessage(written, false);
}

void MainWindow::keepRunForComparison()
{
    auto* compare = qobject_cast<CompareView*>(view(QStringLiteral("compare")));
    const std::optional<Session> session = m_sessions->sessionOnScreen();
    if (!compare || !session) {
        showMessage(tr("There is no run to keep yet: run a prompt first."), true);
        return;
    }
    compare->setOther(session->runs.front());
    showMessage(tr("Kept this run as B. Run another prompt, switch the BOS, open another model or apply a control and run "
                   "again: the Compare view shows the new run A beside B and their difference."),
                false);
}

void MainWindow::compareWithSessionDialog()
{
    auto* compare = qobject_cast<CompareView*>(view(QStringLiteral("compare")));
    if (!compare)
        return;
    const QString name = QFileDialog::getOpenFileName(this, tr("Compare With Session"), QDir::homePath(),
                                                      tr("SinkScope sessions (*.sinkscope);;All files (*)"));
    if (name.isEmpty())
        return;
    try {
        compare->setOther(loadSession(name.toStdString()).runs.front());
    } catch (const Error& e) {
        showMessage(tr("Could not open the session: %1").arg(QString::fromStdString(e.describe())), true);
        return;
    }
    showView(QStringLiteral("compare"));
}

bool MainWindow::exportViewFigure(View* view, const QString& fileName, QString* error)
{
    if (QCustomPlot* plot = view->plot())
        return exportFigure(plot, fileName, error);
    // A view that is more than one plot is exported as a picture of the whole view.
    if (figureFormatForFile(fileName) != FigureFormat::Png) {
        *error = tr("This view is exported as PNG only: use a .png file name.");
        return false;
    }
    return grabWidgetToPng(view->figureWidget(), fileName, error);
}

bool MainWindow::exportFigureTo(const QString& fileName)
{
    View* view = currentView();
    if (!view || !view->hasFigure()) {
        showMessage(tr("There is no figure to export yet: run a prompt first."), true);
        return false;
    }
    QString error;
    if (!exportViewFigure(view, fileName, &error)) {
        showMessage(tr("Export failed: %1").arg(error), true);
        return false;
    }
    showMessage(tr("Figure written to %1").arg(QDir::toNativeSeparators(fileName)), false);
    return true;
}

bool MainWindow::exportDataTo(const QString& fileName)
{
    View* view = currentView();
    if (!view || !view->hasFigure()) {
        showMessage(tr("There is no data to export yet: run a prompt first."), true);
        return false;
    }
    if (m_exports->busy()) {
        showMessage(tr("An export is still being written: wait for it, or cancel it, first."), true);
        return false;
    }
    const DataExport data = view->dataExport();
    const QString shown = QDir::toNativeSeparators(fileName);
    if (data.heavy()) {
        // Millions of rows: written off the GUI thread, the window stays usable meanwhile.
        m_exports->start(
            tr("Writing %L1 values of data to %2 …").arg(data.cells).arg(shown),
            [data, fileName](QString* error, const std::atomic<bool>* cancel, const std::function<void(double)>& progress) {
                return writeDataExport(data, fileName, error, cancel, progress);
            },
            [this, shown](bool ok, const QString& error) {
                showMessage(ok ? tr("Data written to %1").arg(shown) : tr("Export failed: %1").arg(error), !ok);
            });
        showMessage(tr("Writing the data to %1 in the background …").arg(shown), false);
        return true;
    }
    QString error;
    if (!writeDataExport(data, fileName, &error)) {
        showMessage(tr("Export failed: %1").arg(error), true);
        return false;
    }
    showMessage(tr("Data written to %1").arg(shown), false);
    return true;
}

bool MainWindow::exportAllTo(const QString& dirName)
{
    const QDir dir(dirName);
    if (!dir.exists()) {
        showMessage(tr("Export failed: the folder %1 does not exist.").arg(QDir::toNativeSeparators(dirName)), true);
        return false;
    }
    if (m_exports->busy()) {
        showMessage(tr("An export is still being written: wait for it, or cancel it, first."), true);
        return false;
    }
    // The figures are drawn here (from the widgets), each into a hidden file beside its name; then
    // each view's table is written and its figure put in place, off the GUI thread when any table
    // is large. A view whose table fails or is cancelled keeps no new figure either: the folder
    // never holds a new figure beside an old or missing table.
    struct Item {
        QString name, figure, drawn, csv;
        DataExport data;
    };
    std::vector<Item> items;
    int64_t cells = 0;
    bool heavy = false;
    auto discard = [](const std::vector<Item>& list, size_t from) {
        for (size_t i = from; i < list.size(); ++i)
            QFile::remove(list[i].drawn);
    };
    for (const auto& [name, v] : m_views) {
        if (!v->hasFigure())
            continue;
        Item it;
        it.name = name;
        const QString stem = dir.filePath(v->defaultFileName());
        it.figure = stem + (v->plot() ? QStringLiteral(".pdf") : QStringLiteral(".png"));
        it.drawn = figureDrawingPath(it.figure);
        it.csv = stem + QStringLiteral(".csv");
        QString error;
        // The format follows the figure's name, not the hidden file's.
        const bool drawn = v->plot() ? exportFigure(v->plot(), it.drawn, *figureFormatForFile(it.figure), &error)
                                     : grabWidgetToPng(v->figureWidget(), it.drawn, &error);
        if (!drawn) {
            QFile::remove(it.drawn);
            discard(items, 0);
            showMessage(tr("Export of the %1 view failed: %2").arg(name, error), true);
            return false;
        }
        it.data = v->dataExport();
        cells += it.data.cells;
        heavy = heavy || it.data.heavy();
        items.push_back(std::move(it));
    }
    if (items.empty()) {
        showMessage(tr("There is no figure to export yet: run a prompt first."), true);
        return false;
    }
    QStringList names;
    for (const Item& it : items)
        names << it.name;
    auto writeAll = [items, discard](QString* error, const std::atomic<bool>* cancel, const std::function<void(double)>& progress) {
        int64_t total = 0, done = 0;
        for (const Item& it : items)
            total += std::max<int64_t>(1, it.data.cells);
        for (size_t i = 0; i < items.size(); ++i) {
            const Item& it = items[i];
            const int64_t n = std::max<int64_t>(1, it.data.cells);
            const auto part = [&](double f) {
                if (progress)
                    progress((double(done) + f * double(n)) / double(total));
            };
            // A view with a figure and an empty table writes an empty file, as it always did.
            // The old figure is replaced only once its new table is written.
            const bool ok = (it.data.empty() ? writeFileAtomically(it.csv, QByteArray(), error)
                                             : writeDataExport(it.data, it.csv, error, cancel, part)) &&
                            placeDrawnFigure(it.figure, error);
            if (!ok) {
                QStringList written, missing;
                for (size_t k = 0; k < items.size(); ++k)
                    (k < i ? written : missing) << items[k].name;
                *error = tr("%1: %2 (written: %3; not written: %4)")
                             .arg(it.name, *error, written.isEmpty() ? tr("none") : written.join(QStringLiteral(", ")),
                                  missing.join(QStringLiteral(", ")));
                discard(items, i);
                return false;
            }
            done += n;
        }
        return true;
    };
    const QString summary = tr("Figures and data of %1 written to %2").arg(names.join(QStringLiteral(", ")), QDir::toNativeSeparators(dirName));
    if (heavy) {
        m_exports->start(tr("Writing the figures and data of %1 views (%L2 values) to %3 …")
                             .arg(items.size())
                             .arg(cells)
                             .arg(QDir::toNativeSeparators(dirName)),
                         writeAll, [this, summary](bool ok, const QString& error) {
                             showMessage(ok ? summary : tr("Export failed: %1").arg(error), !ok);
                         });
        showMessage(tr("Writing the figures and their data in the background …"), false);
        return true;
    }
    QString error;
    if (!writeAll(&error, nullptr, {})) {
        showMessage(tr("Export failed: %1").arg(error), true);
        return false;
    }
    showMessage(summary, false);
    return true;
}

void MainWindow::exportAllDialog()
{
    if (m_exports->busy()) {
        showMessage(tr("An export is still being written: wait for it, or cancel it, first."), true);
        return;
    }
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export All Views"), QDir::homePath());
    if (!dir.isEmpty())
        exportAllTo(dir);
}

void MainWindow::exportFigureDialog()
{
    View* view = currentView();
    if (!view)
        return;
    const QString suffix = view->plot() ? QStringLiteral(".pdf") : QStringLiteral(".png");
    const QString name = QFileDialog::getSaveFileName(this, tr("Export Figure"),
                                                      QDir::home().filePath(view->defaultFileName() + suffix),
                                                      figureFileFilter());
    if (!name.isEmpty())
        exportFigureTo(name);
}

void MainWindow::exportDataDialog()
{
    View* view = currentView();
    if (!view)
        return;
    if (m_exports->busy()) {
        showMessage(tr("An export is still being written: wait for it, or cancel it, first."), true);
        return;
    }
    const QString name = QFileDialog::getSaveFileName(this, tr("Export Data"),
                                                      QDir::home().filePath(view->defaultFileName() + ".csv"),
                                                      tr("CSV (*.csv)"));
    if (!name.isEmpty())
        exportDataTo(name);
}

void MainWindow::saveScreenshotDialog()
{
    const QString name = QFileDialog::getSaveFileName(this, tr("Save Window Screenshot"),
                                                      QDir::home().filePath(QStringLiteral("sinkscope.png")),
                                                      tr("PNG image (*.png)"));
    if (name.isEmpty())
        return;
    QString error;
    if (!grabWidgetToPng(this, name, &error))
        showMessage(tr("Screenshot failed: %1").arg(error), true);
}

void MainWindow::keepCurrentRun()
{
    const auto r = m_current->result();
    if (!r || !m_current->metrics()) {
        showMessage(tr("There is no analysed run to keep yet: run a prompt first."), true);
        return;
    }
    QString label = m_prompt->toPlainText().simplified();
    if (label.size() > 24)
        label = label.left(23) + QChar(0x2026);
    label = tr("'%1' (%2%3)").arg(label, QString::fromStdString(r->model.name), r->encoding.bosAdded ? tr(", BOS") : tr(", no BOS"));
    m_current->pinCurrent(label);
    showMessage(tr("Kept %1 in the sink curves.").arg(label), false);
}

void MainWindow::saveLayout() const
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("window/splitter"), m_splitter->saveState());
    settings.setValue(QStringLiteral("window/view"), currentViewName());
    for (const auto& [name, v] : m_views) {
        settings.beginGroup(QStringLiteral("views/") + name);
        settings.remove(QString());
        const QVariantMap options = v->saveOptions();
        for (auto it = options.begin(); it != options.end(); ++it)
            settings.setValue(it.key(), it.value());
        settings.endGroup();
    }
}

void MainWindow::restoreLayout()
{
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    m_splitter->restoreState(settings.value(QStringLiteral("window/splitter")).toByteArray());
    for (const auto& [name, v] : m_views) {
        settings.beginGroup(QStringLiteral("views/") + name);
        QVariantMap options;
        for (const QString& key : settings.childKeys())
            options.insert(key, settings.value(key));
        settings.endGroup();
        if (!options.isEmpty())
            v->restoreOptions(options);
    }
    // A view saved by a build that had it, and this one has not, leaves the first view in front.
    showView(settings.value(QStringLiteral("window/view")).toString());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    // A file still being written is not thrown away by closing: the window closes when it is
    // done. Closing again cancels it (a cancelled file is never left half written).
    if (m_exports->busy() && !m_closeCancelsExport) {
        m_closeCancelsExport = true;
        connect(m_exports, &ExportRunner::finished, this, &QWidget::close, Qt::SingleShotConnection);
        showMessage(tr("An export is still being written: the window closes when it is done (close again to cancel "
                       "the export and close now)."),
                    false);
        event->ignore();
        return;
    }
    if (m_exports->busy()) {
        m_exports->cancel();
        m_exports->waitForDone();
    }
    saveLayout();
    QMainWindow::closeEvent(event);
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event)
{
    // The prompt editor claims Ctrl+arrows for moving by words and lines; leave them to the
    // head/layer actions so they step heads from anywhere, as the menu promises.
    if (watched == m_prompt && event->type() == QEvent::ShortcutOverride) {
        auto* key = static_cast<QKeyEvent*>(event);
        const bool ctrlArrow = key->modifiers() == Qt::ControlModifier
            && (key->key() == Qt::Key_Left || key->key() == Qt::Key_Right || key->key() == Qt::Key_Up || key->key() == Qt::Key_Down);
        if (ctrlArrow) {
            event->ignore();
            return true;
        }
    }
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::analyzePromptSet(const QString& file)
{
    PromptSetRunner::Settings settings;
    settings.bos = parseBosPolicy(m_bos->currentData().toString().toStdString());
    m_promptSet->start(file, settings);
}

void MainWindow::analyzePromptSetDialog()
{
    if (!m_engine->hasModel()) {
        showMessage(tr("Open a model folder first."), true);
        return;
    }
    const QString file = QFileDialog::getOpenFileName(this, tr("Analyze Prompt Set"), QDir::homePath(),
                                                      tr("Prompt sets (*.txt *.jsonl);;All files (*)"));
    if (file.isEmpty())
        return;
    PromptSetRunner::Settings settings;
    settings.bos = parseBosPolicy(m_bos->currentData().toString().toStdString());
    if (PromptSetDialog::askSettings(this, &settings))
        m_promptSet->start(file, settings);
}

void MainWindow::classifyPromptSet(const QString& file, qint64 length)
{
    auto* classification = qobject_cast<ClassificationView*>(view(QStringLiteral("classification")));
    if (!classification)
        return;
    showView(QStringLiteral("classification"));
    classification->classifyPromptSet(file, length, parseBosPolicy(m_bos->currentData().toString().toStdString()));
}

void MainWindow::classifyPromptSetDialog()
{
    if (!m_engine->hasModel()) {
        showMessage(tr("Open a model folder first."), true);
        return;
    }
    const QString file = QFileDialog::getOpenFileName(this, tr("Classify Prompt Set"), QDir::homePath(),
                                                      tr("Prompt sets (*.txt *.jsonl);;All files (*)"));
    if (file.isEmpty())
        return;
    PromptSetRunner::Settings settings;
    if (PromptSetDialog::askSettings(this, &settings, false))
        classifyPromptSet(file, settings.length);
}

void MainWindow::showPromptSetResult(std::shared_ptr<const PromptSetResult> result)
{
    m_progress->hide();
    if (!m_promptSetDialog)
        m_promptSetDialog = new PromptSetDialog(this);
    m_promptSetDialog->setResult(result);
    // The set's mean sink curve goes beside the single run's, one curve per prompt length.
    for (const auto& [tokens, mean] : result->means)
        m_current->addOverlay(tr("prompt set mean (%1 prompts, T = %2)").arg(mean.prompts).arg(tokens),
                              std::make_shared<const analysis::RunMetrics>(mean));
    m_promptSetDialog->show();
    m_promptSetDialog->raise();
    updateActions();
}
