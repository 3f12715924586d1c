// SPDX-License-Identifier: GPL-3.0-or-later
#include "attentionheatmapview.h"

#include "binnedheadmap.h"
#include "currentresult.h"
#include "figureexport.h"
#include "plotstyle.h"
#include "tokenticker.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "sinkscope/analysis.h"
#include "tokenlabels.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QLabel>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

namespace sinkscope {

namespace {
constexpr int kAxisLabelChars = 12;
// Below this many pixels per axis (a plot not laid out yet) cells are drawn exactly up to this
// many per axis: offscreen tests and exports of never-shown plots see the real cells.
constexpr int kMinPixelBudget = 512;
// The percentile is estimated from about this many evenly spaced cells of a larger map (every
// cell up to 512 tokens): the colour range's estimate, not worth a million cells' copying.
constexpr int64_t kPercentileSample = 1 << 18;
const QColor kMarkerColor(0xe6, 0x39, 0x46);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
} // namespace

ViewSpec AttentionHeatmapView::spec()
{
    return {QStringLiteral("heatmap"), tr("Attention heatmap"), QKeySequence(QStringLiteral("Ctrl+1")),
            tr("One head's attention map: query rows × key columns."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new AttentionHeatmapView(current, selection, parent);
            }};
}

AttentionHeatmapView::AttentionHeatmapView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    setFocusPolicy(Qt::StrongFocus);
    m_mapPool.setMaxThreadCount(1);
    m_prefetchPool.setMaxThreadCount(1);

    m_layerSpin = new QSpinBox(this);
    m_layerSpin->setPrefix(tr("Layer "));
    m_layerSpin->setToolTip(tr("Layer (Up/Down or PageUp/PageDown in the map)"));
    m_headSpin = new QSpinBox(this);
    m_headSpin->setPrefix(tr("Head "));
    m_headSpin->setToolTip(tr("Head (Left/Right in the map; wraps into the next layer)"));
    m_quantityBox = new QComboBox(this);
    m_quantityBox->addItem(tr("Probabilities"));
    m_quantityBox->addItem(tr("Logits"));
    m_quantityBox->setToolTip(tr("Attention probabilities or the pre-softmax logits (L)"));
    m_logBox = new QCheckBox(tr("Log"), this);
    m_logBox->setToolTip(tr("Logarithmic colour scale for probabilities (G)"));
    m_autoRangeBox = new QCheckBox(tr("Auto range"), this);
    m_autoRangeBox->setToolTip(tr("Scale the colours to the shown values' own minimum and maximum instead of 0..1"));
    m_clipSpin = new QDoubleSpinBox(this);
    m_clipSpin->setRange(50.0, 100.0);
    m_clipSpin->setDecimals(1);
    m_clipSpin->setSingleStep(0.5);
    m_clipSpin->setValue(100.0);
    m_clipSpin->setPrefix(tr("clip at "));
    m_clipSpin->setSuffix(tr(" %"));
    m_clipSpin->setToolTip(tr("Upper end of the colour range at this percentile of the shown values (100: the maximum)"));
    m_excludeBox = new QCheckBox(tr("Exclude sink column"), this);
    m_excludeBox->setToolTip(tr("Leave the key that receives the most attention out of the colour range (X)"));
    m_rowBox = new QCheckBox(tr("Per-row"), this);
    m_rowBox->setToolTip(tr("Scale each row to its own range: probabilities / row maximum, logits to the row's min..max (R)"));

    // Two rows, so that the view fits a narrow window: what is shown, then how it is coloured.
    auto* bar = new QVBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->setSpacing(2);
    auto* what = new QHBoxLayout;
    what->addWidget(m_layerSpin);
    what->addWidget(m_headSpin);
    what->addSpacing(8);
    what->addWidget(m_quantityBox);
    what->addWidget(m_rowBox);
    what->addStretch(1);
    auto* colours = new QHBoxLayout;
    colours->addWidget(m_logBox);
    colours->addWidget(m_excludeBox);
    colours->addWidget(m_clipSpin);
    colours->addWidget(m_autoRangeBox);
    colours->addStretch(1);
    bar->addLayout(what);
    bar->addLayout(colours);

    m_plot = new QCustomPlot(this);
    m_plot->setMouseTracking(true);
    m_plot->setFocusPolicy(Qt::StrongFocus);
    m_plot->installEventFilter(this);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->setMinimumSize(200, 200);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);

    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, m_title);

    QCPAxisRect* rect = m_plot->axisRect();
    QCPAxis* x = m_plot->xAxis;
    QCPAxis* y = m_plot->yAxis;
    x->setLabel(tr("key"));
    y->setLabel(tr("query"));
    y->setRangeReversed(true); // row 0 (the first element) at the top, as in the matrix
    for (QCPAxis* axis : {x, y}) {
        setTokenTicks(axis, Encoding(), 0, 0);
        axis->setSubTicks(false);
        axis->setTickLength(0, 3);
        axis->grid()->setVisible(false);
        QFont f = axis->tickLabelFont();
        f.setPointSizeF(8);
        axis->setTickLabelFont(f);
    }
    x->setTickLabelRotation(-90); // reads bottom to top, as in most attention figures

    m_map = new QCPColorMap(x, y);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);

    m_scale = new QCPColorScale(m_plot);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setLabel(tr("attention"));
    m_scale->setBarWidth(14);
    m_plot->plotLayout()->addElement(1, 1, m_scale);
    m_map->setColorScale(m_scale);
    // After linking: the map takes over the scale's gradient, so set it on the scale.
    m_scale->setGradient(viridisGradient());
    m_map->setDataRange(QCPRange(0.0, 1.0));
    // Keep the colour bar exactly as tall as the map.
    auto* margins = new QCPMarginGroup(m_plot);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

    m_marker = new QCPItemRect(m_plot);
    m_marker->setPen(QPen(kMarkerColor, 2.0));
    m_marker->setBrush(Qt::NoBrush);
    m_marker->setClipToAxisRect(true);
    m_marker->setSelectable(false);
    m_marker->setVisible(false);
    m_marker->topLeft->setType(QCPItemPosition::ptPlotCoords);
    m_marker->bottomRight->setType(QCPItemPosition::ptPlotCoords);

    m_stack = makePlaceholderStack(m_plot, &m_placeholder, this);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_stack, 1);

    buildActions();

    connect(m_layerSpin, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
        if (selection())
            selection()->setLayer(value);
    });
    connect(m_headSpin, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
        if (selection())
            selection()->setHead(value);
    });
    connect(m_quantityBox, &QComboBox::currentIndexChanged, this, [this](int index) {
        if (!setQuantity(index == 1 ? Quantity::Logits : Quantity::Probabilities))
            syncControls();
    });
    connect(m_logBox, &QCheckBox::toggled, this, &AttentionHeatmapView::setLogScale);
    connect(m_autoRangeBox, &QCheckBox::toggled, this, &AttentionHeatmapView::setAutoRange);
    connect(m_excludeBox, &QCheckBox::toggled, this, &AttentionHeatmapView::setExcludeSink);
    connect(m_rowBox, &QCheckBox::toggled, this, &AttentionHeatmapView::setRowNormalised);
    connect(m_clipSpin, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &AttentionHeatmapView::setClipPercentile);
    connect(m_plot, &QCustomPlot::mouseMove, this, &AttentionHeatmapView::onPlotMouseMove);
    connect(m_plot, &QCustomPlot::mousePress, this, &AttentionHeatmapView::onPlotMousePress);
    connect(x, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, &AttentionHeatmapView::onRangeChanged);
    connect(y, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, &AttentionHeatmapView::onRangeChanged);
    if (selection())
        connect(selection(), &Selection::changed, this, &AttentionHeatmapView::onSelectionChanged);
    if (current())
        connect(current(), &CurrentResult::resultChanged, this, &AttentionHeatmapView::onResultChanged);

    onResultChanged();
}

AttentionHeatmapView::~AttentionHeatmapView()
{
    m_mapGeneration->fetch_add(1);
    cancelPrefetch();
    m_mapPool.clear();
    m_prefetchPool.clear();
    m_mapPool.waitForDone();
    m_prefetchPool.waitForDone();
}

void AttentionHeatmapView::buildActions()
{
    auto toggle = [this](const QString& text, const QString& key, const QString& tip) {
        auto* a = new QAction(text, this);
        a->setCheckable(true);
        a->setShortcut(QKeySequence(key));
        a->setToolTip(tip);
        addAction(a);
        return a;
    };
    m_logitsAction = toggle(tr("Show &Logits"), QStringLiteral("L"), tr("Toggle probabilities / pre-softmax logits"));
    m_logAction = toggle(tr("Lo&g Colour Scale"), QStringLiteral("G"), tr("Toggle a logarithmic colour scale"));
    m_excludeAction = toggle(tr("E&xclude Sink Column"), QStringLiteral("X"), tr("Leave the sink column out of the colour range"));
    m_rowAction = toggle(tr("Per-&Row Normalisation"), QStringLiteral("R"), tr("Scale each row to its own range"));
    connect(m_logitsAction, &QAction::toggled, this, [this](bool on) {
        if (!setQuantity(on ? Quantity::Logits : Quantity::Probabilities))
            syncControls();
    });
    connect(m_logAction, &QAction::toggled, this, &AttentionHeatmapView::setLogScale);
    connect(m_excludeAction, &QAction::toggled, this, &AttentionHeatmapView::setExcludeSink);
    connect(m_rowAction, &QAction::toggled, this, &AttentionHeatmapView::setRowNormalised);
    auto plain = [this](const QString& text, const QString& key, auto slot) {
        auto* a = new QAction(text, this);
        a->setShortcut(QKeySequence(key));
        connect(a, &QAction::triggered, this, slot);
        addAction(a);
    };
    plain(tr("Zoom &In"), QStringLiteral("+"), [this] { zoomBy(0.5); });
    plain(tr("Zoom &Out"), QStringLiteral("-"), [this] { zoomBy(2.0); });
    plain(tr("Reset &Zoom"), QStringLiteral("0"), [this] { resetZoom(); });
}

void AttentionHeatmapView::syncControls()
{
    const QSignalBlocker b1(m_quantityBox), b2(m_logBox), b3(m_autoRangeBox), b4(m_excludeBox), b5(m_rowBox),
        b6(m_clipSpin), b7(m_logitsAction), b8(m_logAction), b9(m_excludeAction), b10(m_rowAction);
    m_quantityBox->setCurrentIndex(m_quantity == Quantity::Logits ? 1 : 0);
    m_logitsAction->setChecked(m_quantity == Quantity::Logits);
    m_logBox->setChecked(m_logScale);
    m_logAction->setChecked(m_logScale);
    // Logits are signed: a log scale does not apply to them, and the box says so by being off.
    m_logBox->setEnabled(m_quantity == Quantity::Probabilities);
    m_autoRangeBox->setChecked(m_autoRange);
    m_excludeBox->setChecked(m_excludeSink);
    m_excludeAction->setChecked(m_excludeSink);
    m_rowBox->setChecked(m_rowNormalised);
    m_rowAction->setChecked(m_rowNormalised);
    m_clipSpin->setValue(m_clipPercentile);
    const bool qk = m_result && !m_result->queries.empty() && !m_result->keys.empty();
    m_quantityBox->setItemData(1, qk ? QVariant() : QVariant(0), Qt::UserRole - 1); // disable "Logits"
    m_quantityBox->setToolTip(qk ? tr("Attention probabilities or the pre-softmax logits (L)")
                                 : tr("Logits need the run's Q and K, which this run did not keep"));
}

void AttentionHeatmapView::onResultChanged()
{
    cancelPrefetch();
    m_prefetched.clear();
    m_prefetchResult.reset(); // do not keep the old run alive
    m_result = current() ? current()->result() : nullptr;
    m_shownLayer = -1;
    m_shownHead = -1;
    if (m_quantity == Quantity::Logits && m_result && (m_result->queries.empty() || m_result->keys.empty()))
        m_quantity = Quantity::Probabilities; // this run cannot give logits; said in the title
    syncControls();
    updateSpinBoxes();
    rebuildMap();
}

void AttentionHeatmapView::setAutoRange(bool on)
{
    if (m_autoRange == on)
        return syncControls();
    m_autoRange = on;
    syncControls();
    updateColorRange();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

bool AttentionHeatmapView::setQuantity(Quantity quantity)
{
    if (quantity == Quantity::Logits && m_result && (m_result->queries.empty() || m_result->keys.empty()))
        return false;
    if (m_quantity == quantity)
        return true;
    m_quantity = quantity;
    syncControls();
    if (hasFigure())
        rebuildMap();
    return true;
}

void AttentionHeatmapView::setLogScale(bool on)
{
    if (m_logScale == on)
        return syncControls();
    m_logScale = on;
    syncControls();
    updateColorRange();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

void AttentionHeatmapView::setClipPercentile(double percentile)
{
    percentile = std::clamp(percentile, 50.0, 100.0);
    if (m_clipPercentile == percentile)
        return;
    m_clipPercentile = percentile;
    syncControls();
    updateColorRange();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

void AttentionHeatmapView::setExcludeSink(bool on)
{
    if (m_excludeSink == on)
        return syncControls();
    m_excludeSink = on;
    syncControls();
    updateColorRange();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

void AttentionHeatmapView::setRowNormalised(bool on)
{
    if (m_rowNormalised == on)
        return syncControls();
    m_rowNormalised = on;
    syncControls();
    if (hasFigure())
        rebuildMap(); // the bins and the colour range are of the normalised values
    Q_EMIT figureChanged();
}

bool AttentionHeatmapView::hasFigure() const
{
    return m_shownLayer >= 0 && m_shownHead >= 0;
}

QString AttentionHeatmapView::title() const
{
    if (!hasFigure())
        return {};
    QString text = tr("Layer %1 · Head %2").arg(m_shownLayer).arg(m_shownHead);
    const int H = m_result->model.heads;
    const int G = std::max(1, m_result->model.kvHeads);
    if (G < H) {
        const int group = H / G;
        const int g = m_shownHead / group;
        text += tr(" · KV head %1 (shared by heads %2–%3)").arg(g).arg(g * group).arg((g + 1) * group - 1);
    }
    if (m_quantity == Quantity::Logits)
        text += tr(" · logits");
    return text;
}

QString AttentionHeatmapView::placeholderText() const
{
    return hasFigure() ? QString() : m_placeholder->text();
}

QString AttentionHeatmapView::defaultFileName() const
{
    QString stem = m_result ? safeFileStem(QString::fromStdString(m_result->model.name)) : QString();
    if (!stem.isEmpty())
        stem += QLatin1Char('-');
    const QString what = m_quantity == Quantity::Logits ? QStringLiteral("logits") : QStringLiteral("attention");
    if (!hasFigure())
        return stem + what;
    return stem + what + QStringLiteral("-l%1-h%2").arg(m_shownLayer).arg(m_shownHead);
}

QByteArray AttentionHeatmapView::dataCsv() const
{
    return dataExportBytes(dataExport());
}

DataExport AttentionHeatmapView::dataExport() const
{
    if (!hasFigure())
        return {};
    // The shown quantity as computed (probabilities: masked causal cells are the model's zeros;
    // logits: masked cells empty), 9 significant digits so float32 values round-trip; header
    // `query\key,0:<tok>,…`, then one row `<q>:<tok>,v(q,0),…` per query. The map is formed here
    // block of rows by block of rows, for the export only (the view itself never holds it).
    DataExport d;
    const std::shared_ptr<const RunResult> run = m_result;
    const int layer = m_shownLayer, head = m_shownHead;
    const bool logits = m_quantity == Quantity::Logits;
    const int64_t T = run->tokens;
    d.cells = T * T;
    d.job = [run, layer, head, logits, T](CsvWriter& out) {
        auto label = [&](int64_t i) {
            const auto& tokens = run->encoding.tokens;
            const QString text = size_t(i) < tokens.size() ? tokenLabel(tokens[size_t(i)]) : QStringLiteral("?");
            return csvField(QString::number(i) + QLatin1Char(':') + text).toUtf8();
        };
        QByteArray& b = out.buffer();
        b += "query\\key";
        for (int64_t k = 0; k < T; ++k)
            b += ',' + label(k);
        b += '\n';
        out.rowDone();
        const int64_t block = mapRowsPerBlock(T);
        for (int64_t q0 = 0; q0 < T; q0 += block) {
            const int64_t n = std::min(block, T - q0);
            const RowMatrixXf rows = logits ? run->attentionLogitRows(layer, head, q0, n) : run->attentionRows(layer, head, q0, n);
            for (int64_t i = 0; i < n; ++i) {
                b += label(q0 + i);
                for (int64_t k = 0; k < T; ++k) {
                    const float v = rows(i, k);
                    b += ',';
                    if (std::isfinite(v))
                        b += QByteArray::number(double(v), 'g', 9);
                }
                b += '\n';
                out.rowDone();
            }
            out.step((q0 + n) * T, T * T);
        }
    };
    return d;
}

QVariantMap AttentionHeatmapView::saveOptions() const
{
    return {{QStringLiteral("logits"), m_quantity == Quantity::Logits},
            {QStringLiteral("logScale"), m_logScale},
            {QStringLiteral("autoRange"), m_autoRange},
            {QStringLiteral("clipPercentile"), m_clipPercentile},
            {QStringLiteral("excludeSink"), m_excludeSink},
            {QStringLiteral("rowNormalised"), m_rowNormalised}};
}

void AttentionHeatmapView::restoreOptions(const QVariantMap& o)
{
    if (o.contains(QStringLiteral("logits")))
        m_quantity = o.value(QStringLiteral("logits")).toBool() ? Quantity::Logits : Quantity::Probabilities;
    m_logScale = o.value(QStringLiteral("logScale"), m_logScale).toBool();
    m_autoRange = o.value(QStringLiteral("autoRange"), m_autoRange).toBool();
    m_clipPercentile = std::clamp(o.value(QStringLiteral("clipPercentile"), m_clipPercentile).toDouble(), 50.0, 100.0);
    m_excludeSink = o.value(QStringLiteral("excludeSink"), m_excludeSink).toBool();
    m_rowNormalised = o.value(QStringLiteral("rowNormalised"), m_rowNormalised).toBool();
    onResultChanged();
}

int AttentionHeatmapView::tokenCount() const
{
    return m_result ? int(m_result->tokens) : 0;
}

QString AttentionHeatmapView::tokenText(int index, int maxChars) const
{
    if (!m_result || index < 0 || size_t(index) >= m_result->encoding.tokens.size())
        return QStringLiteral("?");
    const Token& token = m_result->encoding.tokens[size_t(index)];
    return maxChars > 0 ? tokenLabelElided(token, maxChars) : tokenLabel(token);
}

bool AttentionHeatmapView::isMasked(int query, int key) const
{
    if (!m_result)
        return false;
    // The layer's recipe says what the forward pass masked (causal and sliding windows).
    const int layer = m_shownLayer >= 0 ? m_shownLayer : 0;
    const AttentionRecipe r = m_result->recipe(layer);
    return (r.causal && key > query) || (r.window > 0 && query - key >= r.window);
}

double AttentionHeatmapView::cellValue(int query, int key) const
{
    const int T = tokenCount();
    if (!hasFigure() || query < 0 || key < 0 || query >= T || key >= T || isMasked(query, key))
        return kNaN;
    // One row from the core (the same floats the bins were made of), not a kept T x T map.
    const RowMatrixXf row = m_quantity == Quantity::Logits ? m_result->attentionLogitRows(m_shownLayer, m_shownHead, query, 1)
                                                            : m_result->attentionRows(m_shownLayer, m_shownHead, query, 1);
    return double(row(0, key));
}

QString AttentionHeatmapView::hoverText(int query, int key) const
{
    const int T = tokenCount();
    if (!hasFigure() || query < 0 || key < 0 || query >= T || key >= T)
        return {};
    QString value = isMasked(query, key) ? tr("masked") : QString::number(cellValue(query, key), 'f', 4);
    if (m_quantity == Quantity::Logits && !isMasked(query, key))
        value = tr("logit %1").arg(value);
    return tr("query '%1' (%2) → key '%3' (%4): %5")
        .arg(tokenText(query), QString::number(query), tokenText(key), QString::number(key), value);
}

bool AttentionHeatmapView::cellAt(const QPointF& plotPos, int* query, int* key) const
{
    const int T = tokenCount();
    if (!hasFigure() || T == 0 || !m_plot->axisRect()->rect().contains(plotPos.toPoint()))
        return false;
    const int k = int(std::floor(m_plot->xAxis->pixelToCoord(plotPos.x()) + 0.5));
    const int q = int(std::floor(m_plot->yAxis->pixelToCoord(plotPos.y()) + 0.5));
    if (k < 0 || q < 0 || k >= T || q >= T)
        return false;
    if (query)
        *query = q;
    if (key)
        *key = k;
    return true;
}

QPointF AttentionHeatmapView::cellCenter(int query, int key) const
{
    return {m_plot->xAxis->coordToPixel(key), m_plot->yAxis->coordToPixel(query)};
}

void AttentionHeatmapView::updateSpinBoxes()
{
    const QSignalBlocker blockLayer(m_layerSpin);
    const QSignalBlocker blockHead(m_headSpin);
    const int layers = m_result ? m_result->model.layers : 0;
    const int heads = m_result ? m_result->model.heads : 0;
    m_layerSpin->setRange(0, std::max(layers - 1, 0));
    m_headSpin->setRange(0, std::max(heads - 1, 0));
    m_layerSpin->setEnabled(layers > 0);
    m_headSpin->setEnabled(heads > 0);
    if (selection()) {
        m_layerSpin->setValue(std::max(selection()->layer(), 0));
        m_headSpin->setValue(std::max(selection()->head(), 0));
    }
}

void AttentionHeatmapView::onSelectionChanged()
{
    updateSpinBoxes();
    const int layer = selection() ? selection()->layer() : -1;
    const int head = selection() ? selection()->head() : -1;
    if (layer != m_shownLayer || head != m_shownHead)
        rebuildMap();
    else
        updateSelectionMarker();
}

void AttentionHeatmapView::rebuildMap()
{
    const int T = tokenCount();
    int layer = selection() ? selection()->layer() : 0;
    int head = selection() ? selection()->head() : 0;
    QString placeholder;
    if (!m_result)
        placeholder = tr("Run a prompt to see its attention maps.");
    else if (T == 0)
        placeholder = tr("The prompt has no tokens.");
    else if (!m_result->canMakeMaps())
        placeholder = tr("This run kept neither the attention maps nor Q and K.\nRun again with capture on to see them.");
    else if (m_result->model.layers <= 0 || m_result->model.heads <= 0)
        placeholder = tr("The model has no attention heads.");

    if (!placeholder.isEmpty()) {
        m_mapGeneration->fetch_add(1); // a map still being computed is not wanted any more
        m_computing = false;
        m_windowPending = false;
        m_shownLayer = -1;
        m_shownHead = -1;
        m_sinkColumn = -1;
        m_placeholder->setText(placeholder);
        m_stack->setCurrentIndex(0);
        m_map->data()->clear();
        m_stats.reset();
        cancelPrefetch();
        m_prefetched.clear();
        m_bins = MapBins{};
        m_title->setText(QString());
        m_marker->setVisible(false);
        Q_EMIT figureChanged();
        return;
    }

    layer = std::clamp(layer, 0, m_result->model.layers - 1);
    head = std::clamp(head, 0, m_result->model.heads - 1);
    const bool logits = m_quantity == Quantity::Logits;
    if (m_computing && m_pending[0] == layer && m_pending[1] == head && m_pendingLogits == logits && m_pendingResult == m_result)
        return; // that very map is on its way
    const uint64_t generation = m_mapGeneration->fetch_add(1) + 1;
    m_windowPending = false;
    // The window on screen (everything for a first map), binned to the pixels, plus the
    // statistics of the whole map: one pass of the core over the head's visible cells.
    const MapBinning binning = binningFor(true, !hasFigure());
    if (T <= asyncTokens()) {
        m_computing = false;
        applyMap(layer, head, std::make_shared<const MapBins>(binAttentionMap(*m_result, layer, head, binning)));
        return;
    }
    if (auto ready = prefetched(layer, head, binning)) {
        m_computing = false; // binned ahead (a neighbour of the head shown before)
        applyMap(layer, head, std::move(ready));
        return;
    }
    cancelPrefetch(); // the cores are for the map asked for now
    // A long prompt: T × T × head-dim work that must not hold up the window. The map on screen
    // stays until the new one is drawn.
    m_computing = true;
    m_pending[0] = layer;
    m_pending[1] = head;
    m_pendingLogits = logits;
    m_pendingResult = m_result;
    if (hasFigure()) {
        m_title->setText(tr("Layer %1 · Head %2 · computing the map …").arg(layer).arg(head));
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    } else {
        m_placeholder->setText(tr("Computing the map of layer %1, head %2 …").arg(layer).arg(head));
        m_stack->setCurrentIndex(0);
    }
    auto latest = m_mapGeneration;
    auto result = m_result;
    m_mapPool.start([this, latest, generation, result, layer, head, binning] {
        if (latest->load() != generation)
            return; // superseded while queued
        auto bins = std::make_shared<const MapBins>(binAttentionMap(*result, layer, head, binning));
        if (latest->load() != generation)
            return;
        // The destructor waits for this worker, so `this` is alive; Qt drops calls queued to a
        // deleted object.
        QMetaObject::invokeMethod(
            this,
            [this, generation, layer, head, bins] {
                if (m_mapGeneration->load() == generation)
                    applyMap(layer, head, bins);
            },
            Qt::QueuedConnection);
    });
}

int AttentionHeatmapView::asyncTokens()
{
    return BinnedHeadMap::asyncTokens();
}

MapBinning AttentionHeatmapView::baseBinning() const
{
    MapBinning b;
    b.quantity = m_quantity == Quantity::Logits ? MapQuantity::Logits : MapQuantity::Probabilities;
    b.rowNormalised = m_rowNormalised;
    b.means = false; // the view draws block maxima
    b.sampleCells = kPercentileSample;
    return b;
}

MapBinning AttentionHeatmapView::binningFor(bool wholeMap, bool fullWindow) const
{
    const int T = tokenCount();
    MapBinning b = baseBinning();
    b.wholeMap = wholeMap;
    if (T <= 1) {
        b.q0 = b.k0 = 0;
        b.q1 = b.k1 = T;
        return b;
    }
    // The visible cells, and how many pixels there are to draw them on.
    int k0 = 0, k1 = T - 1, q0 = 0, q1 = T - 1;
    if (!fullWindow) {
        const QCPRange xr = m_plot->xAxis->range();
        const QCPRange yr = m_plot->yAxis->range();
        k0 = std::clamp(int(std::floor(xr.lower + 0.5)), 0, T - 1);
        k1 = std::clamp(int(std::ceil(xr.upper - 0.5)), k0, T - 1);
        q0 = std::clamp(int(std::floor(yr.lower + 0.5)), 0, T - 1);
        q1 = std::clamp(int(std::ceil(yr.upper - 0.5)), q0, T - 1);
    }
    const int nk = k1 - k0 + 1;
    const int nq = q1 - q0 + 1;
    const int pw = std::max(m_plot->axisRect()->width(), kMinPixelBudget);
    const int ph = std::max(m_plot->axisRect()->height(), kMinPixelBudget);
    b.binKeys = std::max(1, (nk + pw - 1) / pw);
    b.binQueries = std::max(1, (nq + ph - 1) / ph);
    // At least two cells per axis (QCustomPlot gives a one-cell axis no extent): the window may
    // reach one bin past the visible cells.
    const int gk = std::max(2, (nk + b.binKeys - 1) / b.binKeys);
    const int gq = std::max(2, (nq + b.binQueries - 1) / b.binQueries);
    b.k0 = k0;
    b.k1 = std::min<int64_t>(T, int64_t(k0) + int64_t(gk) * b.binKeys);
    b.q0 = q0;
    b.q1 = std::min<int64_t>(T, int64_t(q0) + int64_t(gq) * b.binQueries);
    return b;
}

bool AttentionHeatmapView::isCheap(const MapBinning& b) const
{
    // Rows to form × keys: recomputing from Q/K costs about head-dim multiply-adds per cell,
    // reading stored maps about one.
    const int64_t T = tokenCount();
    const int64_t rows = b.wholeMap ? T : b.q1 - b.q0;
    const int64_t budget = int64_t(asyncTokens()) * asyncTokens() * (m_result->hasAttention() && b.quantity == MapQuantity::Probabilities ? 4 : 1);
    return rows * T <= budget;
}

void AttentionHeatmapView::applyMap(int layer, int head, std::shared_ptr<const MapBins> bins)
{
    m_computing = false;
    m_pendingResult.reset();
    const bool first = m_shownLayer < 0;
    m_shownLayer = layer;
    m_shownHead = head;
    m_bins = MapBins{};
    m_bins.tokens = bins->tokens;
    m_bins.q0 = bins->q0;
    m_bins.q1 = bins->q1;
    m_bins.k0 = bins->k0;
    m_bins.k1 = bins->k1;
    m_bins.binQueries = bins->binQueries;
    m_bins.binKeys = bins->binKeys;
    m_bins.max = bins->max;
    m_stats = std::move(bins);
    m_sinkColumn = analysis::topElement(m_stats->share).element;
    // The plot page first: the tick labels are thinned to the plot's size, which a hidden plot
    // (the placeholder page of a map still on its way) does not have.
    m_placeholder->setText(QString());
    m_stack->setCurrentIndex(1);
    if (first) {
        updateTickers();
        resetZoom(); // sets the ranges and draws the cells
    } else {
        updateDisplay();
    }
    updateColorRange();
    m_title->setText(title());
    updateSelectionMarker(); // replots
    Q_EMIT figureChanged();
    Q_EMIT mapShown();
    if (tokenCount() > asyncTokens())
        prefetchNeighbours();
}

MapBinning AttentionHeatmapView::shownBinning() const
{
    MapBinning b = baseBinning();
    b.q0 = m_bins.q0;
    b.q1 = m_bins.q1;
    b.k0 = m_bins.k0;
    b.k1 = m_bins.k1;
    b.binQueries = m_bins.binQueries;
    b.binKeys = m_bins.binKeys;
    b.wholeMap = true;
    return b;
}

namespace {
bool sameRequest(const MapBinning& a, const MapBinning& b)
{
    return a.quantity == b.quantity && a.rowNormalised == b.rowNormalised && a.q0 == b.q0 && a.q1 == b.q1 && a.k0 == b.k0
        && a.k1 == b.k1 && a.binQueries == b.binQueries && a.binKeys == b.binKeys && a.wholeMap == b.wholeMap
        && a.means == b.means && a.sampleCells == b.sampleCells;
}
} // namespace

std::shared_ptr<const MapBins> AttentionHeatmapView::prefetched(int layer, int head, const MapBinning& binning) const
{
    if (m_prefetchResult != m_result || !sameRequest(m_prefetchBinning, binning))
        return nullptr;
    for (const Prefetched& p : m_prefetched)
        if (p.layer == layer && p.head == head)
            return p.bins;
    return nullptr;
}

void AttentionHeatmapView::cancelPrefetch()
{
    if (m_prefetchCancel)
        m_prefetchCancel->store(true);
    m_prefetchCancel.reset();
}

void AttentionHeatmapView::prefetchNeighbours()
{
    // The heads an arrow key leads to (Selection's wrapping rules), binned ahead on a thread of
    // their own at the shown window and options, so that stepping through heads of a long prompt
    // does not wait for the arithmetic. The shown head stays cached for stepping back.
    cancelPrefetch();
    const MapBinning binning = shownBinning();
    if (m_prefetchResult != m_result || !sameRequest(m_prefetchBinning, binning))
        m_prefetched.clear();
    m_prefetchResult = m_result;
    m_prefetchBinning = binning;
    const int L = m_result->model.layers, H = m_result->model.heads;
    const int l = m_shownLayer, h = m_shownHead;
    std::vector<std::pair<int, int>> wanted = {{l, h}};
    if (h + 1 < H)
        wanted.emplace_back(l, h + 1);
    else if (l + 1 < L)
        wanted.emplace_back(l + 1, 0);
    if (h > 0)
        wanted.emplace_back(l, h - 1);
    else if (l > 0)
        wanted.emplace_back(l - 1, H - 1);
    if (l + 1 < L)
        wanted.emplace_back(l + 1, h);
    if (l > 0)
        wanted.emplace_back(l - 1, h);
    // Keep what is still wanted; the shown head's bins are the ones on screen.
    std::vector<Prefetched> kept;
    for (const Prefetched& p : m_prefetched)
        if (std::find(wanted.begin(), wanted.end(), std::make_pair(p.layer, p.head)) != wanted.end())
            kept.push_back(p);
    m_prefetched = std::move(kept);
    if (!prefetched(l, h, binning))
        m_prefetched.push_back({l, h, m_stats});
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    m_prefetchCancel = cancel;
    auto result = m_result;
    for (const auto& [pl, ph] : wanted) {
        if (prefetched(pl, ph, binning))
            continue;
        ++m_prefetchRunning;
        m_prefetchPool.start([this, cancel, result, binning, pl = pl, ph = ph] {
            std::shared_ptr<const MapBins> bins;
            if (!cancel->load()) {
                MapBinning b = binning;
                b.threads = 1; // in the background: leave the other cores to the window
                b.cancel = cancel.get();
                try {
                    bins = std::make_shared<const MapBins>(binAttentionMap(*result, pl, ph, b));
                } catch (const std::exception&) {
                    bins.reset(); // cancelled (or failed: the switch computes it, and reports)
                }
            }
            QMetaObject::invokeMethod(
                this,
                [this, cancel, bins, pl, ph] {
                    --m_prefetchRunning;
                    if (bins && !cancel->load() && m_prefetchCancel == cancel)
                        m_prefetched.push_back({pl, ph, bins});
                },
                Qt::QueuedConnection);
        });
    }
}

void AttentionHeatmapView::applyWindow(MapBins bins)
{
    m_windowPending = false;
    m_bins = std::move(bins);
    updateDisplay(); // draws these bins, or asks again if the window moved meanwhile
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void AttentionHeatmapView::scheduleDisplay()
{
    if (m_displayPending)
        return;
    m_displayPending = true;
    QTimer::singleShot(0, this, [this] {
        if (!m_displayPending)
            return;
        updateDisplay();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    });
}

void AttentionHeatmapView::updateDisplay()
{
    m_displayPending = false;
    if (!hasFigure() || m_computing)
        return; // a head's map on its way redraws when it arrives
    const MapBinning want = binningFor(false, false);
    const bool same = want.q0 == m_bins.q0 && want.q1 == m_bins.q1 && want.k0 == m_bins.k0 && want.k1 == m_bins.k1
        && want.binQueries == m_bins.binQueries && want.binKeys == m_bins.binKeys;
    if (!same) {
        if (isCheap(want)) {
            m_bins = binAttentionMap(*m_result, m_shownLayer, m_shownHead, want);
        } else {
            // A large window (zoomed out on a long prompt): binned on the worker; the cells on
            // screen stay until then.
            auto key = [](const MapBinning& b) { return std::make_tuple(b.q0, b.q1, b.k0, b.k1, b.binQueries, b.binKeys); };
            if (m_windowPending && key(m_windowRequest) == key(want))
                return; // already on its way
            m_windowPending = true; // a newer window supersedes an older one still being binned
            m_windowRequest = want;
            const uint64_t generation = m_mapGeneration->fetch_add(1) + 1;
            auto latest = m_mapGeneration;
            auto result = m_result;
            const int layer = m_shownLayer, head = m_shownHead;
            m_mapPool.start([this, latest, generation, result, layer, head, want] {
                if (latest->load() != generation)
                    return;
                auto bins = std::make_shared<MapBins>(binAttentionMap(*result, layer, head, want));
                if (latest->load() != generation)
                    return;
                QMetaObject::invokeMethod(
                    this,
                    [this, generation, bins] {
                        if (m_mapGeneration->load() == generation)
                            applyWindow(std::move(*bins));
                    },
                    Qt::QueuedConnection);
            });
            return;
        }
    }
    drawBins();
}

void AttentionHeatmapView::drawBins()
{
    const int T = tokenCount();
    QCPColorMapData* data = m_map->data();
    if (T == 1) {
        // QCustomPlot draws a 1 × 1 map with zero extent; a 2 × 2 map of the same value spanning
        // the one cell renders it (coordinate look-ups still return the single value).
        data->setSize(2, 2);
        data->setRange(QCPRange(-0.25, 0.25), QCPRange(-0.25, 0.25));
        data->fill(m_bins.max.size() > 0 ? double(m_bins.max(0, 0)) : kNaN);
        m_block[0] = m_block[1] = 1;
        return;
    }
    const int bk = m_bins.binKeys;
    const int bq = m_bins.binQueries;
    m_block[0] = bk;
    m_block[1] = bq;
    const int k0 = int(m_bins.k0);
    const int q0 = int(m_bins.q0);
    // As many cells as binningFor asked for (a bin past the end of the map stays empty).
    const int gk = std::max(2, int(m_bins.max.cols()));
    const int gq = std::max(2, int(m_bins.max.rows()));
    data->setSize(gk, gq);
    data->setRange(QCPRange(k0 + (bk - 1) / 2.0, k0 + (gk - 1) * bk + (bk - 1) / 2.0),
                   QCPRange(q0 + (bq - 1) / 2.0, q0 + (gq - 1) * bq + (bq - 1) / 2.0));
    // The block maximum: a sink column keeps its colour at any zoom level.
    for (int j = 0; j < gq; ++j)
        for (int i = 0; i < gk; ++i) {
            const float v = j < m_bins.max.rows() && i < m_bins.max.cols() ? m_bins.max(j, i) : std::nanf("");
            data->setCell(i, j, std::isfinite(v) ? double(v) : kNaN);
        }
}

void AttentionHeatmapView::updateColorRange()
{
    const bool log = m_logScale && m_quantity == Quantity::Probabilities;
    m_scale->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log)
        m_scale->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    else if (qSharedPointerDynamicCast<QCPAxisTickerLog>(m_scale->axis()->ticker()))
        m_scale->axis()->setTicker(QSharedPointer<QCPAxisTicker>::create());
    QString label = m_quantity == Quantity::Logits ? tr("logit") : tr("attention");
    if (m_rowNormalised)
        label += tr(" (per row)");
    if (log)
        label += tr(" (log)");
    if (m_excludeSink && m_sinkColumn >= 0)
        label += tr(", range without key %1").arg(m_sinkColumn);
    if (m_clipPercentile < 100.0)
        label += tr(", clipped at p%1").arg(m_clipPercentile);
    m_scale->setLabel(label);
    if (!hasFigure()) {
        m_map->setDataRange(QCPRange(0.0, 1.0));
        return;
    }
    const bool fixed = m_quantity == Quantity::Probabilities && !m_autoRange && !m_excludeSink && m_clipPercentile >= 100.0;
    if (fixed && !log) { // the default: 0..1, no pass over the cells needed
        m_map->setDataRange(QCPRange(0.0, 1.0));
        return;
    }
    // From the whole-map statistics of the core's pass: per key extremes, and an even sample of
    // the cells for the percentile.
    const int T = tokenCount();
    const int skip = m_excludeSink ? m_sinkColumn : -1;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    double minPositive = lo;
    if (m_stats && m_stats->hasWholeMap)
        for (int k = 0; k < T; ++k) {
            if (k == skip || std::isnan(m_stats->columnMax[k]))
                continue;
            lo = std::min(lo, double(m_stats->columnMin[k]));
            hi = std::max(hi, double(m_stats->columnMax[k]));
            minPositive = std::min(minPositive, double(m_stats->columnMinPositive[k]));
        }
    if (!std::isfinite(lo)) { // nothing visible (e.g. T = 1 with the sink excluded)
        lo = 0.0;
        hi = 1.0;
    }
    if (fixed) {
        lo = 0.0;
        hi = 1.0;
    } else if (m_clipPercentile < 100.0) {
        // The percentile of the cells that count, estimated on an even sample of a large map.
        std::vector<float> sample;
        if (m_stats)
            sample.reserve(m_stats->sample.size());
        for (size_t i = 0; m_stats && i < m_stats->sample.size(); ++i)
            if (m_stats->sampleKey[i] != skip)
                sample.push_back(m_stats->sample[i]);
        if (!sample.empty()) {
            const size_t n = size_t(std::llround((m_clipPercentile / 100.0) * double(sample.size() - 1)));
            std::nth_element(sample.begin(), sample.begin() + ptrdiff_t(n), sample.end());
            hi = sample[n];
        }
        if (m_quantity == Quantity::Probabilities && !m_autoRange)
            lo = 0.0;
    } else if (m_quantity == Quantity::Probabilities && !m_autoRange) {
        lo = 0.0;
    }
    if (log) {
        // A log scale needs a positive lower end: the smallest positive value shown, at most
        // six decades below the top.
        hi = std::max(hi, 1e-12);
        lo = std::isfinite(minPositive) ? std::max(minPositive, hi * 1e-6) : hi * 1e-6;
    }
    if (!(hi > lo)) { // a constant map: give the colour bar some extent
        if (log)
            lo = hi / 10.0;
        else {
            lo = std::min(lo, 0.0);
            hi = std::max(hi, lo + 1.0);
        }
    }
    m_map->setDataRange(QCPRange(lo, hi));
}

void AttentionHeatmapView::updateTickers()
{
    // The run's elements on both axes; TokenTicker thins them to the axes' lengths and the
    // visible range at every layout.
    const Encoding none;
    for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis})
        setTokenTicks(axis, m_result ? m_result->encoding : none, 0, tokenCount(), kAxisLabelChars);
}

int AttentionHeatmapView::labelStep() const
{
    const auto ticker = qSharedPointerDynamicCast<TokenTicker>(m_plot->yAxis->ticker());
    return ticker ? ticker->step() : 1;
}

void AttentionHeatmapView::zoomTo(double k0, double k1, double q0, double q1)
{
    const int T = std::max(tokenCount(), 1);
    auto clampRange = [T](double a, double b) {
        double lo = std::min(a, b) - 0.5;
        double hi = std::max(a, b) + 0.5;
        const double span = std::min(std::max(hi - lo, 1.0), double(T));
        lo = std::clamp(lo, -0.5, T - 0.5 - span);
        return QCPRange(lo, lo + span);
    };
    m_settingRange = true;
    m_plot->xAxis->setRange(clampRange(k0, k1));
    m_plot->yAxis->setRange(clampRange(q0, q1));
    m_settingRange = false;
    updateDisplay();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void AttentionHeatmapView::resetZoom()
{
    const int T = std::max(tokenCount(), 1);
    zoomTo(0, T - 1, 0, T - 1);
}

void AttentionHeatmapView::zoomBy(double factor)
{
    if (!hasFigure())
        return;
    const QCPRange xr = m_plot->xAxis->range();
    const QCPRange yr = m_plot->yAxis->range();
    const double hx = xr.size() * factor / 2;
    const double hy = yr.size() * factor / 2;
    zoomTo(xr.center() - hx + 0.5, xr.center() + hx - 0.5, yr.center() - hy + 0.5, yr.center() + hy - 0.5);
}

void AttentionHeatmapView::panBy(double dxFraction, double dyFraction)
{
    if (!hasFigure())
        return;
    const QCPRange xr = m_plot->xAxis->range();
    const QCPRange yr = m_plot->yAxis->range();
    const double dx = xr.size() * dxFraction;
    const double dy = yr.size() * dyFraction;
    zoomTo(xr.lower + 0.5 + dx, xr.upper - 0.5 + dx, yr.lower + 0.5 + dy, yr.upper - 0.5 + dy);
}

bool AttentionHeatmapView::isZoomed() const
{
    const int T = tokenCount();
    return hasFigure() && (m_plot->xAxis->range().size() < T - 1e-9 || m_plot->yAxis->range().size() < T - 1e-9);
}

void AttentionHeatmapView::onRangeChanged()
{
    if (m_settingRange)
        return;
    // Mouse wheel and drag: keep the view inside the map, then redraw at the new resolution.
    const int T = std::max(tokenCount(), 1);
    for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis}) {
        const QCPRange r = axis->range();
        const double span = std::min(std::max(r.size(), 1.0), double(T));
        const double lo = std::clamp(r.lower, -0.5, T - 0.5 - span);
        if (lo != r.lower || span != r.size()) {
            m_settingRange = true;
            axis->setRange(lo, lo + span);
            m_settingRange = false;
        }
    }
    scheduleDisplay();
}

void AttentionHeatmapView::updateSelectionMarker()
{
    const int T = tokenCount();
    const int q = selection() ? selection()->query() : -1;
    const int k = selection() ? selection()->key() : -1;
    if (!hasFigure() || q < 0 || q >= T) {
        m_marker->setVisible(false);
    } else {
        // A picked cell gets a frame; a query alone (picked in the token strip) frames its row.
        const double left = (k >= 0 && k < T) ? k - 0.5 : -0.5;
        const double right = (k >= 0 && k < T) ? k + 0.5 : T - 0.5;
        m_marker->topLeft->setCoords(left, q - 0.5);
        m_marker->bottomRight->setCoords(right, q + 0.5);
        m_marker->setVisible(true);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void AttentionHeatmapView::keyPressEvent(QKeyEvent* event)
{
    if (!selection() || event->modifiers() & (Qt::ControlModifier | Qt::AltModifier | Qt::MetaModifier))
        return View::keyPressEvent(event);
    if (event->modifiers() & Qt::ShiftModifier) {
        // Shift+arrows pan a zoomed map by a quarter of the visible range.
        switch (event->key()) {
        case Qt::Key_Left: panBy(-0.25, 0); break;
        case Qt::Key_Right: panBy(0.25, 0); break;
        case Qt::Key_Up: panBy(0, -0.25); break;
        case Qt::Key_Down: panBy(0, 0.25); break;
        default: return View::keyPressEvent(event);
        }
        event->accept();
        return;
    }
    switch (event->key()) {
    case Qt::Key_Left: selection()->previousHead(); break;
    case Qt::Key_Right: selection()->nextHead(); break;
    case Qt::Key_Up:
    case Qt::Key_PageUp: selection()->previousLayer(); break;
    case Qt::Key_Down:
    case Qt::Key_PageDown: selection()->nextLayer(); break;
    case Qt::Key_Home: selection()->firstHead(); break;
    case Qt::Key_End: selection()->lastHead(); break;
    case Qt::Key_Plus:
    case Qt::Key_Equal: zoomBy(0.5); break;
    case Qt::Key_Minus: zoomBy(2.0); break;
    case Qt::Key_0: resetZoom(); break;
    default: return View::keyPressEvent(event);
    }
    event->accept();
}

bool AttentionHeatmapView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_plot) {
        if (event->type() == QEvent::ToolTip) {
            auto* help = static_cast<QHelpEvent*>(event);
            int q = -1;
            int k = -1;
            if (cellAt(help->pos(), &q, &k)) {
                const QPointF c = cellCenter(q, k);
                const double w = std::abs(m_plot->xAxis->coordToPixel(1) - m_plot->xAxis->coordToPixel(0));
                const double h = std::abs(m_plot->yAxis->coordToPixel(1) - m_plot->yAxis->coordToPixel(0));
                const QRect cell = QRectF(c.x() - w / 2, c.y() - h / 2, w, h).toAlignedRect();
                QToolTip::showText(help->globalPos(), toolTipHtml(hoverText(q, k)), m_plot, cell);
            } else {
                QToolTip::hideText();
            }
            return true;
        }
        if (event->type() == QEvent::Resize) {
            // The block size depends on the map's size on screen (the labels follow by themselves).
            if (hasFigure())
                scheduleDisplay();
        }
        if (event->type() == QEvent::Leave && m_hovered[0] >= 0) {
            m_hovered[0] = m_hovered[1] = -1;
            Q_EMIT cellHovered(-1, -1);
        }
    }
    return View::eventFilter(watched, event);
}

void AttentionHeatmapView::onPlotMouseMove(QMouseEvent* event)
{
    int q = -1;
    int k = -1;
    cellAt(event->position(), &q, &k);
    if (q != m_hovered[0] || k != m_hovered[1]) {
        m_hovered[0] = q;
        m_hovered[1] = k;
        Q_EMIT cellHovered(q, k);
    }
}

void AttentionHeatmapView::onPlotMousePress(QMouseEvent* event)
{
    int q = -1;
    int k = -1;
    if (event->button() == Qt::LeftButton && selection() && cellAt(event->position(), &q, &k))
        selection()->setCell(q, k);
}

} // namespace sinkscope
