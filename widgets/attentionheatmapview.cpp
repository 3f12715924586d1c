// SPDX-License-Identifier: GPL-3.0-or-later
#include "attentionheatmapview.h"

#include "currentresult.h"
#include "figureexport.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenlabels.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QLabel>
#include <QSpinBox>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

namespace {
constexpr int kAxisLabelChars = 12;
const QColor kMarkerColor(0xe6, 0x39, 0x46);

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

    m_layerSpin = new QSpinBox(this);
    m_layerSpin->setPrefix(tr("Layer "));
    m_layerSpin->setToolTip(tr("Layer (Up/Down or PageUp/PageDown in the map)"));
    m_headSpin = new QSpinBox(this);
    m_headSpin->setPrefix(tr("Head "));
    m_headSpin->setToolTip(tr("Head (Left/Right in the map; wraps into the next layer)"));
    m_autoRangeBox = new QCheckBox(tr("Auto colour range"), this);
    m_autoRangeBox->setToolTip(tr("Scale the colours to this map's own minimum and maximum instead of 0..1"));

    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(m_layerSpin);
    bar->addWidget(m_headSpin);
    bar->addSpacing(12);
    bar->addWidget(m_autoRangeBox);
    bar->addStretch(1);

    m_placeholder = new QLabel(this);
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_placeholder->setForegroundRole(QPalette::PlaceholderText);

    m_plot = new QCustomPlot(this);
    m_plot->setMouseTracking(true);
    m_plot->setFocusPolicy(Qt::StrongFocus);
    m_plot->installEventFilter(this);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->setMinimumSize(200, 200);

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
        axis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
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

    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_placeholder);
    m_stack->addWidget(m_plot);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_stack, 1);

    connect(m_layerSpin, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
        if (selection())
            selection()->setLayer(value);
    });
    connect(m_headSpin, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
        if (selection())
            selection()->setHead(value);
    });
    connect(m_autoRangeBox, &QCheckBox::toggled, this, &AttentionHeatmapView::setAutoRange);
    connect(m_plot, &QCustomPlot::mouseMove, this, &AttentionHeatmapView::onPlotMouseMove);
    connect(m_plot, &QCustomPlot::mousePress, this, &AttentionHeatmapView::onPlotMousePress);
    if (selection())
        connect(selection(), &Selection::changed, this, &AttentionHeatmapView::onSelectionChanged);
    if (current())
        connect(current(), &CurrentResult::resultChanged, this, &AttentionHeatmapView::onResultChanged);

    onResultChanged();
}

AttentionHeatmapView::~AttentionHeatmapView() = default;

void AttentionHeatmapView::onResultChanged()
{
    m_result = current() ? current()->result() : nullptr;
    m_shownLayer = -1;
    m_shownHead = -1;
    updateSpinBoxes();
    updateTickers();
    rebuildMap();
}

void AttentionHeatmapView::setAutoRange(bool on)
{
    if (m_autoRangeBox->isChecked() != on)
        m_autoRangeBox->setChecked(on); // re-enters through toggled()
    if (m_autoRange == on)
        return;
    m_autoRange = on;
    updateColorRange();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool AttentionHeatmapView::hasFigure() const
{
    return m_shownLayer >= 0 && m_shownHead >= 0;
}

QString AttentionHeatmapView::title() const
{
    if (!hasFigure())
        return {};
    return tr("Layer %1 · Head %2").arg(m_shownLayer).arg(m_shownHead);
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
    if (!hasFigure())
        return stem + QStringLiteral("attention");
    return stem + QStringLiteral("attention-l%1-h%2").arg(m_shownLayer).arg(m_shownHead);
}

QByteArray AttentionHeatmapView::dataCsv() const
{
    if (!hasFigure())
        return {};
    // All values as stored (masked causal cells are the model's zeros), 9 significant digits so
    // float32 values round-trip; header `query\key,0:<tok>,…`, then `<q>:<tok>,p(q,0),…`.
    const RowMatrixXf& map = m_shownMap;
    const int T = tokenCount();
    auto label = [&](int i) { return csvField(QString::number(i) + QLatin1Char(':') + tokenText(i)).toUtf8(); };
    QByteArray out;
    out.reserve(T * T * 12 + T * 16);
    out += "query\\key";
    for (int k = 0; k < T; ++k)
        out += ',' + label(k);
    out += '\n';
    for (int q = 0; q < T; ++q) {
        out += label(q);
        for (int k = 0; k < T; ++k)
            out += ',' + QByteArray::number(double(map(q, k)), 'g', 9);
        out += '\n';
    }
    return out;
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
    if (size_t(layer) < m_result->recipes.size()) {
        const AttentionRecipe& r = m_result->recipes[size_t(layer)];
        return (r.causal && key > query) || (r.window > 0 && query - key >= r.window);
    }
    return m_result->model.attention == "causal" && key > query;
}

QString AttentionHeatmapView::hoverText(int query, int key) const
{
    const int T = tokenCount();
    if (!hasFigure() || query < 0 || key < 0 || query >= T || key >= T)
        return {};
    const QString value = isMasked(query, key)
        ? tr("masked")
        : QString::number(double(m_shownMap(query, key)), 'f', 4);
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
        m_shownLayer = -1;
        m_shownHead = -1;
        m_placeholder->setText(placeholder);
        m_stack->setCurrentWidget(m_placeholder);
        m_map->data()->clear();
        m_shownMap.resize(0, 0);
        m_title->setText(QString());
        m_marker->setVisible(false);
        Q_EMIT figureChanged();
        return;
    }

    layer = std::clamp(layer, 0, m_result->model.layers - 1);
    head = std::clamp(head, 0, m_result->model.heads - 1);
    m_shownLayer = layer;
    m_shownHead = head;
    // One head's map, kept while it is shown: recomputed from Q/K when the run stored no maps.
    m_shownMap = m_result->attentionMap(layer, head);
    const RowMatrixXf& map = m_shownMap;
    const double nan = std::numeric_limits<double>::quiet_NaN();

    QCPColorMapData* data = m_map->data();
    if (T == 1) {
        // QCustomPlot draws a 1 × 1 map with zero extent; a 2 × 2 map of the same value spanning
        // the one cell renders it (coordinate look-ups still return the single value).
        data->setSize(2, 2);
        data->setRange(QCPRange(-0.25, 0.25), QCPRange(-0.25, 0.25));
        data->fill(double(map(0, 0)));
    } else {
        data->setSize(T, T);
        data->setRange(QCPRange(0, T - 1), QCPRange(0, T - 1));
        for (int q = 0; q < T; ++q)
            for (int k = 0; k < T; ++k)
                data->setCell(k, q, isMasked(q, k) ? nan : double(map(q, k)));
    }
    m_plot->xAxis->setRange(-0.5, T - 0.5);
    m_plot->yAxis->setRange(-0.5, T - 0.5);
    updateColorRange();
    m_title->setText(title());
    m_placeholder->setText(QString());
    m_stack->setCurrentWidget(m_plot);
    updateSelectionMarker(); // replots
    Q_EMIT figureChanged();
}

void AttentionHeatmapView::updateColorRange()
{
    if (!m_autoRange || !hasFigure()) {
        m_map->setDataRange(QCPRange(0.0, 1.0));
        return;
    }
    const RowMatrixXf& map = m_shownMap;
    const int T = tokenCount();
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (int q = 0; q < T; ++q) {
        for (int k = 0; k < T; ++k) {
            if (isMasked(q, k))
                continue;
            lo = std::min(lo, double(map(q, k)));
            hi = std::max(hi, double(map(q, k)));
        }
    }
    if (!(hi > lo)) { // a constant map (e.g. T = 1): give the colour bar some extent
        lo = std::min(lo, 0.0);
        hi = std::max(hi, lo + 1.0);
    }
    m_map->setDataRange(QCPRange(lo, hi));
}

void AttentionHeatmapView::updateTickers()
{
    const int T = tokenCount();
    auto xTicker = qSharedPointerCast<QCPAxisTickerText>(m_plot->xAxis->ticker());
    auto yTicker = qSharedPointerCast<QCPAxisTickerText>(m_plot->yAxis->ticker());
    xTicker->clear();
    yTicker->clear();
    if (T == 0 || !m_result)
        return;
    // One label per row as long as rows are at least a text line apart; beyond that every
    // step-th label, always including element 0 (the usual sink).
    // Estimated from the widget size, not the axis rect: the rect depends on the labels, and
    // feeding it back could make the thinning flip between two steps on every replot.
    const QFontMetrics fm(m_plot->yAxis->tickLabelFont());
    const QSize size = m_plot->isVisible() ? m_plot->size() : QSize(800, 600);
    const int available = std::max(std::min(size.width() - 160, size.height() - 130), 100);
    const int fit = std::max(1, available / (fm.height() + 1));
    m_labelStep = std::max(1, (T + fit - 1) / fit);
    for (int i = 0; i < T; i += m_labelStep) {
        // Once labels are skipped, the index tells which element a label belongs to.
        const QString text = tokenText(i, kAxisLabelChars);
        const QString label = m_labelStep > 1 ? QString::number(i) + QLatin1Char(' ') + text : text;
        xTicker->addTick(i, label);
        yTicker->addTick(i, label);
    }
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
        return QWidget::keyPressEvent(event);
    switch (event->key()) {
    case Qt::Key_Left: selection()->previousHead(); break;
    case Qt::Key_Right: selection()->nextHead(); break;
    case Qt::Key_Up:
    case Qt::Key_PageUp: selection()->previousLayer(); break;
    case Qt::Key_Down:
    case Qt::Key_PageDown: selection()->nextLayer(); break;
    default: return QWidget::keyPressEvent(event);
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
            // Label thinning depends on the map's size on screen.
            const int before = m_labelStep;
            updateTickers();
            if (before != m_labelStep)
                m_plot->replot(QCustomPlot::rpQueuedReplot);
        }
        if (event->type() == QEvent::Leave && m_hovered[0] >= 0) {
            m_hovered[0] = m_hovered[1] = -1;
            Q_EMIT cellHovered(-1, -1);
        }
    }
    return QWidget::eventFilter(watched, event);
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
