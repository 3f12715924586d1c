// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkcurveview.h"

#include "currentresult.h"
#include "figureexport.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenlabels.h"

#include <QHelpEvent>
#include <QLabel>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

namespace {
const QColor kLineColor(0x1f, 0x5f, 0xa8);
const QColor kLastColor(0x2a, 0x9d, 0x8f);
const QColor kWaiverColor(0x8e, 0x44, 0xad);
const QColor kOverlayColors[] = {QColor(0x55, 0x55, 0x55), QColor(0xe9, 0x8a, 0x15), QColor(0x6a, 0x99, 0x4e), QColor(0xb5, 0x3a, 0x8f)};
const QColor kHighlightColor(0xe6, 0x39, 0x46);
constexpr double kYMin = -0.02; // a little room so points at exactly 0 or 1 are not cut in half
constexpr double kYMax = 1.02;
} // namespace

ViewSpec SinkCurveView::spec()
{
    return {QStringLiteral("sinks"), tr("Sink curve"), QKeySequence(QStringLiteral("Ctrl+3")),
            tr("Per layer, the attention mass on the first element: mean ± std over heads."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new SinkCurveView(current, selection, parent);
            }};
}

SinkCurveView::SinkCurveView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    m_placeholder = new QLabel(this);
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_placeholder->setForegroundRole(QPalette::PlaceholderText);

    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(200, 150);
    m_plot->installEventFilter(this);

    m_title = new QCPTextElement(m_plot, tr("Sink curves"), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, m_title);

    QCPAxis* x = m_plot->xAxis;
    QCPAxis* y = m_plot->yAxis;
    x->setLabel(tr("layer"));
    y->setLabel(tr("mean ± std over heads"));
    auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples); // 1, 2, 5, 10… layers per tick
    x->setTicker(ticker);
    x->setSubTicks(false);
    x->grid()->setVisible(false);
    y->setRange(kYMin, kYMax);
    y->ticker()->setTickCount(5);

    m_band = new QCPItemRect(m_plot);
    m_band->setLayer(QStringLiteral("grid"));
    m_band->setPen(Qt::NoPen);
    m_band->setBrush(QColor(kHighlightColor.red(), kHighlightColor.green(), kHighlightColor.blue(), 40));
    m_band->topLeft->setType(QCPItemPosition::ptPlotCoords);
    m_band->bottomRight->setType(QCPItemPosition::ptPlotCoords);
    m_band->setSelectable(false);
    m_band->setVisible(false);

    m_headsGraph = m_plot->addGraph();
    m_headsGraph->setName(tr("heads"));
    m_headsGraph->setLineStyle(QCPGraph::lsNone);
    m_headsGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(120, 120, 120, 90), 4));

    m_meanGraph = m_plot->addGraph();
    m_meanGraph->setName(tr("first-element mass"));
    m_meanGraph->setPen(QPen(kLineColor, 1.6));
    m_meanGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(kLineColor, 1.6), Qt::white, 7));

    m_errorBars = new QCPErrorBars(x, y);
    m_errorBars->setName(tr("±1 std over heads (population)"));
    m_errorBars->setDataPlottable(m_meanGraph);
    m_errorBars->setPen(QPen(kLineColor, 1.2));
    m_errorBars->setWhiskerWidth(8);

    auto curve = [&](const QString& name, const QColor& color, QCPScatterStyle::ScatterShape shape, QCPErrorBars** bars) {
        QCPGraph* g = m_plot->addGraph();
        g->setName(name);
        g->setPen(QPen(color, 1.4));
        g->setScatterStyle(QCPScatterStyle(shape, QPen(color, 1.4), Qt::white, 6));
        auto* e = new QCPErrorBars(m_plot->xAxis, m_plot->yAxis);
        e->setDataPlottable(g);
        e->setPen(QPen(color, 1.0));
        e->setWhiskerWidth(5);
        e->removeFromLegend();
        *bars = e;
        return g;
    };
    m_lastGraph = curve(tr("last query's first-element mass"), kLastColor, QCPScatterStyle::ssSquare, &m_lastErrors);
    m_waiverGraph = curve(tr("α of the waiver element"), kWaiverColor, QCPScatterStyle::ssTriangle, &m_waiverErrors);
    m_errorBars->removeFromLegend();

    m_headsGraph->removeFromLegend();
    m_highlightGraph = m_plot->addGraph();
    m_highlightGraph->setLineStyle(QCPGraph::lsNone);
    m_highlightGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QPen(kHighlightColor, 1.6), kHighlightColor, 9));

    m_highlightGraph->removeFromLegend();
    m_plot->legend->setVisible(true);
    m_plot->legend->setFont(QFont(font().family(), 8));
    m_plot->legend->setBrush(QColor(255, 255, 255, 210));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_placeholder);
    m_stack->addWidget(m_plot);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);

    connect(m_plot, &QCustomPlot::mousePress, this, &SinkCurveView::onPlotMousePress);
    if (selection())
        connect(selection(), &Selection::changed, this, [this] {
            updateHighlight();
            rebuildWaiver();
        });
    if (current()) {
        connect(current(), &CurrentResult::resultChanged, this, &SinkCurveView::rebuild);
        connect(current(), &CurrentResult::metricsAvailable, this, &SinkCurveView::rebuild);
        connect(current(), &CurrentResult::metricsFailed, this, &SinkCurveView::rebuild);
        connect(current(), &CurrentResult::overlaysChanged, this, &SinkCurveView::rebuildOverlays);
    }

    rebuild();
}

SinkCurveView::~SinkCurveView() = default;

QString SinkCurveView::placeholderText() const
{
    return m_hasFigure ? QString() : m_placeholder->text();
}

QString SinkCurveView::defaultFileName() const
{
    const QString stem = m_result ? safeFileStem(QString::fromStdString(m_result->model.name)) : QString();
    return stem.isEmpty() ? QStringLiteral("sink-curve") : stem + QStringLiteral("-sink-curve");
}

QByteArray SinkCurveView::dataCsv() const
{
    if (!m_hasFigure)
        return {};
    const QByteArray w = QByteArray::number(m_waiverElement);
    QByteArray out = "layer,mean,std,last_query_mean,last_query_std,alpha_" + w + "_mean,alpha_" + w + "_std";
    const auto& overlays = current()->overlays();
    for (const CurrentResult::Overlay& o : overlays)
        out += ',' + csvField(o.label + QStringLiteral(": mean")).toUtf8();
    out += '\n';
    for (int l = 0; l < layerCount(); ++l) {
        out += QByteArray::number(l) + ',' + csvNumber(double(m_curve.mean[l])) + ',' + csvNumber(double(m_curve.std[l])) + ','
            + csvNumber(double(m_curve.lastMean[l])) + ',' + csvNumber(double(m_curve.lastStd[l])) + ','
            + csvNumber(m_waiverMean[size_t(l)]) + ',' + csvNumber(m_waiverStd[size_t(l)]);
        for (const CurrentResult::Overlay& o : overlays)
            out += ',' + (l < o.metrics->sinkCurve.mean.size() ? csvNumber(double(o.metrics->sinkCurve.mean[l])) : QByteArray());
        out += '\n';
    }
    return out;
}

void SinkCurveView::rebuild()
{
    m_result = current() ? current()->result() : nullptr;
    m_metrics = current() ? current()->metrics() : nullptr;
    QString placeholder;
    if (!m_result)
        placeholder = tr("Run a prompt to see how much attention each layer puts on the first element.");
    else if (m_result->model.layers <= 0 || m_result->model.heads <= 0)
        placeholder = tr("This run has no attention heads.");
    else if (m_result->tokens < 2)
        placeholder = tr("The mass on the first element needs a prompt of at least two elements.");
    else if (!m_metrics && !current()->metricsError().isEmpty())
        placeholder = tr("The analysis of this run failed: %1").arg(current()->metricsError());
    else if (!m_metrics)
        placeholder = tr("Analysing the run …");

    m_hasFigure = placeholder.isEmpty();
    if (!m_hasFigure) {
        m_curve = analysis::SinkCurve();
        m_placeholder->setText(placeholder);
        m_stack->setCurrentWidget(m_placeholder);
        for (QCPGraph* g : {m_headsGraph, m_meanGraph, m_highlightGraph, m_lastGraph, m_waiverGraph})
            g->data()->clear();
        for (QCPErrorBars* e : {m_errorBars, m_lastErrors, m_waiverErrors})
            e->data()->clear();
        m_waiverMean.clear();
        m_waiverStd.clear();
        m_band->setVisible(false);
        m_highlighted = -1;
        Q_EMIT figureChanged();
        return;
    }

    m_curve = m_metrics->sinkCurve;
    const RowMatrixXf* mass = &m_metrics->firstTokenMass;
    const int layers = int(mass->rows());
    const int heads = int(mass->cols());
    QVector<double> xs(layers);
    QVector<double> means(layers);
    QVector<double> stds(layers);
    QVector<double> hx;
    QVector<double> hy;
    hx.reserve(layers * heads);
    hy.reserve(layers * heads);
    for (int l = 0; l < layers; ++l) {
        xs[l] = l;
        means[l] = double(m_curve.mean[l]);
        stds[l] = double(m_curve.std[l]);
        for (int h = 0; h < heads; ++h) {
            hx.append(l);
            hy.append(double((*mass)(l, h)));
        }
    }
    m_headsGraph->setData(hx, hy);
    m_meanGraph->setData(xs, means, true);
    m_errorBars->setData(stds);
    QVector<double> lastMeans(layers), lastStds(layers);
    for (int l = 0; l < layers; ++l) {
        lastMeans[l] = double(m_curve.lastMean[l]);
        lastStds[l] = double(m_curve.lastStd[l]);
    }
    m_lastGraph->setData(xs, lastMeans, true);
    m_lastErrors->setData(lastStds);
    m_waiverElement = -1; // force
    rebuildWaiver();
    rebuildOverlays();
    m_plot->xAxis->setRange(-0.5, layers - 0.5);
    m_placeholder->setText(QString());
    m_stack->setCurrentWidget(m_plot);
    m_highlighted = -2; // force the highlight to refresh
    updateHighlight();
    Q_EMIT figureChanged();
}

void SinkCurveView::rebuildWaiver()
{
    if (!m_hasFigure)
        return;
    const analysis::RunMetrics& m = *m_metrics;
    const int l = selection() ? std::clamp(selection()->layer(), 0, m.layers - 1) : 0;
    const int h = selection() ? std::clamp(selection()->head(), 0, m.heads - 1) : 0;
    const size_t i = size_t(l) * size_t(m.heads) + size_t(h);
    const int w = i < m.waiver.size() ? m.waiver[i].element : 0;
    const QString token = m_result && size_t(w) < m_result->encoding.tokens.size() ? tokenLabelElided(m_result->encoding.tokens[size_t(w)], 8)
                                                                                 : QString();
    m_waiverGraph->setName(tr("α of %1 '%2', L%3 H%4's waiver").arg(w).arg(token).arg(l).arg(h));
    if (w == m_waiverElement && !m_waiverMean.empty()) {
        m_plot->replot(QCustomPlot::rpQueuedReplot); // the legend names the head
        return;
    }
    m_waiverElement = w;
    if (m.importance.shape.size() != 3 || w < 0 || w >= m.importance.size(2)) {
        // No α in these metrics (nothing to draw for the waiver), said in the legend.
        m_waiverGraph->setName(tr("α of the waiver: not in these metrics"));
        m_waiverGraph->data()->clear();
        m_waiverErrors->data()->clear();
        m_waiverMean.assign(size_t(m.layers), std::numeric_limits<double>::quiet_NaN());
        m_waiverStd.assign(size_t(m.layers), std::numeric_limits<double>::quiet_NaN());
        m_plot->replot(QCustomPlot::rpQueuedReplot);
        Q_EMIT figureChanged();
        return;
    }
    // Mean and population std over heads of α_w (the same form as the first-element curve).
    const analysis::OverHeads alpha = analysis::overHeadsAt(m.importance, w);
    m_waiverMean.assign(alpha.mean.data(), alpha.mean.data() + alpha.mean.size());
    m_waiverStd.assign(alpha.std.data(), alpha.std.data() + alpha.std.size());
    QVector<double> xs, means, stds;
    for (int layer = 0; layer < m.layers; ++layer) {
        xs << layer;
        means << m_waiverMean[size_t(layer)];
        stds << m_waiverStd[size_t(layer)];
    }
    m_waiverGraph->setData(xs, means, true);
    m_waiverErrors->setData(stds);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

void SinkCurveView::rebuildOverlays()
{
    for (QCPGraph* g : m_overlayGraphs)
        m_plot->removeGraph(g);
    m_overlayGraphs.clear();
    if (!current())
        return;
    int i = 0;
    for (const CurrentResult::Overlay& o : current()->overlays()) {
        const QColor color = kOverlayColors[i++ % std::size(kOverlayColors)];
        QCPGraph* g = m_plot->addGraph();
        g->setName(tr("%1: first-element mass").arg(o.label));
        g->setPen(QPen(color, 1.4, Qt::DashLine));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, color, color, 6));
        QVector<double> xs, ys;
        for (Eigen::Index l = 0; l < o.metrics->sinkCurve.mean.size(); ++l) {
            xs << double(l);
            ys << double(o.metrics->sinkCurve.mean[l]);
        }
        g->setData(xs, ys, true);
        m_overlayGraphs.push_back(g);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

void SinkCurveView::updateHighlight()
{
    if (!m_hasFigure)
        return;
    const int layers = layerCount();
    int layer = selection() ? selection()->layer() : -1;
    if (layer >= layers)
        layer = -1;
    if (layer == m_highlighted)
        return;
    m_highlighted = layer;
    if (layer < 0) {
        m_highlightGraph->data()->clear();
        m_band->setVisible(false);
    } else {
        m_highlightGraph->setData({double(layer)}, {double(m_curve.mean[layer])});
        m_band->topLeft->setCoords(layer - 0.5, kYMax);
        m_band->bottomRight->setCoords(layer + 0.5, kYMin);
        m_band->setVisible(true);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

int SinkCurveView::layerAt(const QPointF& plotPos) const
{
    if (!m_hasFigure || !m_plot->axisRect()->rect().contains(plotPos.toPoint()))
        return -1;
    const int layer = int(std::floor(m_plot->xAxis->pixelToCoord(plotPos.x()) + 0.5));
    return layer >= 0 && layer < layerCount() ? layer : -1;
}

QPointF SinkCurveView::layerPoint(int layer) const
{
    const double mean = layer >= 0 && layer < layerCount() ? double(m_curve.mean[layer]) : 0.0;
    return {m_plot->xAxis->coordToPixel(layer), m_plot->yAxis->coordToPixel(mean)};
}

QString SinkCurveView::hoverText(int layer) const
{
    if (!m_hasFigure || layer < 0 || layer >= layerCount())
        return {};
    return tr("layer %1: %2 ± %3 over %4 heads")
        .arg(QString::number(layer), QString::number(double(m_curve.mean[layer]), 'f', 4),
             QString::number(double(m_curve.std[layer]), 'f', 4), QString::number(m_metrics->heads));
}

bool SinkCurveView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_plot && event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const int layer = layerAt(help->pos());
        if (layer >= 0)
            QToolTip::showText(help->globalPos(), toolTipHtml(hoverText(layer)), m_plot);
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

void SinkCurveView::onPlotMousePress(QMouseEvent* event)
{
    if (event->button() != Qt::LeftButton || !selection())
        return;
    const int layer = layerAt(event->position());
    if (layer >= 0)
        selection()->setLayer(layer);
}

} // namespace sinkscope
