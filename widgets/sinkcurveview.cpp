// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkcurveview.h"

#include "currentresult.h"
#include "figureexport.h"
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

namespace sinkscope {

namespace {
const QColor kLineColor(0x1f, 0x5f, 0xa8);
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

    m_title = new QCPTextElement(m_plot, tr("Attention mass on the first element"), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, m_title);

    QCPAxis* x = m_plot->xAxis;
    QCPAxis* y = m_plot->yAxis;
    x->setLabel(tr("layer"));
    y->setLabel(tr("mass on first element (mean ± std over heads)"));
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
    m_meanGraph->setName(tr("mean over heads"));
    m_meanGraph->setPen(QPen(kLineColor, 1.6));
    m_meanGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(kLineColor, 1.6), Qt::white, 7));

    m_errorBars = new QCPErrorBars(x, y);
    m_errorBars->setName(tr("±1 std over heads (population)"));
    m_errorBars->setDataPlottable(m_meanGraph);
    m_errorBars->setPen(QPen(kLineColor, 1.2));
    m_errorBars->setWhiskerWidth(8);

    m_highlightGraph = m_plot->addGraph();
    m_highlightGraph->setLineStyle(QCPGraph::lsNone);
    m_highlightGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QPen(kHighlightColor, 1.6), kHighlightColor, 9));

    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_placeholder);
    m_stack->addWidget(m_plot);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);

    connect(m_plot, &QCustomPlot::mousePress, this, &SinkCurveView::onPlotMousePress);
    if (selection())
        connect(selection(), &Selection::changed, this, &SinkCurveView::updateHighlight);
    if (current()) {
        connect(current(), &CurrentResult::resultChanged, this, &SinkCurveView::rebuild);
        connect(current(), &CurrentResult::metricsAvailable, this, &SinkCurveView::rebuild);
        connect(current(), &CurrentResult::metricsFailed, this, &SinkCurveView::rebuild);
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
    QByteArray out = "layer,mean,std,last_query_mean,last_query_std\n";
    for (int l = 0; l < layerCount(); ++l)
        out += QByteArray::number(l) + ',' + QByteArray::number(double(m_curve.mean[l]), 'g', 9) + ','
            + QByteArray::number(double(m_curve.std[l]), 'g', 9) + ','
            + QByteArray::number(double(m_curve.lastMean[l]), 'g', 9) + ','
            + QByteArray::number(double(m_curve.lastStd[l]), 'g', 9) + '\n';
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
        for (QCPGraph* g : {m_headsGraph, m_meanGraph, m_highlightGraph})
            g->data()->clear();
        m_errorBars->data()->clear();
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
    m_plot->xAxis->setRange(-0.5, layers - 0.5);
    m_placeholder->setText(QString());
    m_stack->setCurrentWidget(m_plot);
    m_highlighted = -2; // force the highlight to refresh
    updateHighlight();
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
