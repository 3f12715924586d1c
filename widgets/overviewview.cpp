// SPDX-License-Identifier: GPL-3.0-or-later
#include "overviewview.h"

#include "classificationview.h"
#include "currentresult.h"
#include "figureexport.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenlabels.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

namespace {

const QColor kOutlineColor(0xe6, 0x39, 0x46);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double tensorAt(const Tensor& t, int layer, int head, int element)
{
    if (t.shape.size() != 3 || layer < 0 || head < 0 || element < 0 || layer >= t.size(0) || head >= t.size(1)
        || element >= t.size(2))
        return kNaN;
    return double(t.data[size_t((int64_t(layer) * t.size(1) + head) * t.size(2) + element)]);
}

const analysis::HeadElement* headRecord(const std::vector<analysis::HeadElement>& records, const analysis::RunMetrics& m,
                                        int layer, int head)
{
    const size_t i = size_t(layer) * size_t(m.heads) + size_t(head);
    return i < records.size() && records[i].layer == layer && records[i].head == head ? &records[i] : nullptr;
}

// The verdict metric: categories in the order of analysis::Verdict, each a band of the colour
// scale [i, i + 1) whose colour goes from VerdictGrid::colour(v, 0) to VerdictGrid::colour(v, 1).
const analysis::Verdict kVerdicts[] = {analysis::Verdict::Positional, analysis::Verdict::Feature, analysis::Verdict::Mixed,
                                       analysis::Verdict::None};
constexpr int kVerdictCount = 4;
constexpr double kBandEdge = 0.001; // keeps a band's ends off its neighbours' colours

double verdictCellValue(const analysis::HeadVerdict& v)
{
    const double c = std::min(1.0, std::max(0.0, v.confidence));
    return int(v.verdict) + kBandEdge + (1.0 - 2 * kBandEdge) * c;
}

QCPColorGradient verdictGradient()
{
    QCPColorGradient g;
    g.setColorInterpolation(QCPColorGradient::ciHSV); // VerdictGrid::colour is linear in HSV
    g.setLevelCount(kVerdictCount * 256);
    g.clearColorStops();
    for (int i = 0; i < kVerdictCount; ++i) {
        g.setColorStopAt((i + kBandEdge) / kVerdictCount, VerdictGrid::colour(kVerdicts[i], 0.0));
        g.setColorStopAt((i + 1 - kBandEdge) / kVerdictCount, VerdictGrid::colour(kVerdicts[i], 1.0));
    }
    return g;
}

std::vector<OverviewMetric> builtinMetrics()
{
    std::vector<OverviewMetric> out;
    out.push_back({QStringLiteral("first_element_mass"), QObject::tr("First-element mass"),
                   [](const analysis::RunMetrics& m) { return m.firstTokenMass.rows() == m.layers && m.firstTokenMass.cols() == m.heads; },
                   [](const analysis::RunMetrics& m, int l, int h, int) { return double(m.firstTokenMass(l, h)); },
                   {}, false, true});
    out.push_back({QStringLiteral("alpha_k"), QObject::tr("α_k of element k"),
                   [](const analysis::RunMetrics& m) { return !m.importance.empty(); },
                   [](const analysis::RunMetrics& m, int l, int h, int k) { return tensorAt(m.importance, l, h, k); },
                   {}, true, true});
    out.push_back({QStringLiteral("entropy"), QObject::tr("Mean row entropy (nats)"),
                   [](const analysis::RunMetrics& m) { return !m.entropy.empty(); },
                   [](const analysis::RunMetrics& m, int l, int h, int) { return analysis::meanRowEntropy(m.entropy, l, h, m.causal); },
                   {}, false, false});
    out.push_back({QStringLiteral("waiver_score"), QObject::tr("Waiver score (top element)"),
                   [](const analysis::RunMetrics& m) { return !m.waiver.empty(); },
                   [](const analysis::RunMetrics& m, int l, int h, int) {
                       const auto* r = headRecord(m.waiver, m, l, h);
                       return r ? double(r->value) : kNaN;
                   },
                   [](const analysis::RunMetrics& m, int l, int h, int) {
                       const auto* r = headRecord(m.waiver, m, l, h);
                       return r ? QObject::tr("waiver score %1 at element %2").arg(double(r->value), 0, 'f', 4).arg(r->element)
                                : QString();
                   },
                   false, true});
    out.push_back({QStringLiteral("top_attended"), QObject::tr("Top-attended element (share)"),
                   [](const analysis::RunMetrics& m) { return !m.topAttended.empty(); },
                   [](const analysis::RunMetrics& m, int l, int h, int) {
                       const auto* r = headRecord(m.topAttended, m, l, h);
                       return r ? double(r->value) : kNaN;
                   },
                   [](const analysis::RunMetrics& m, int l, int h, int) {
                       const auto* r = headRecord(m.topAttended, m, l, h);
                       return r ? QObject::tr("top-attended element %1, share %2").arg(r->element).arg(double(r->value), 0, 'f', 4)
                                : QString();
                   },
                   false, true});
    return out;
}

} // namespace

std::vector<OverviewMetric>& OverviewView::metrics()
{
    static std::vector<OverviewMetric> list = builtinMetrics();
    return list;
}

bool OverviewView::addMetric(OverviewMetric metric)
{
    for (const OverviewMetric& m : metrics())
        if (m.id == metric.id)
            return false;
    metrics().push_back(std::move(metric));
    return true;
}

ViewSpec OverviewView::spec()
{
    return {QStringLiteral("overview"), tr("Overview"), QKeySequence(QStringLiteral("Ctrl+2")),
            tr("Layer × head grid of a per-head metric; click a head to open its heatmap."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new OverviewView(current, selection, parent);
            }};
}

OverviewView::OverviewView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    m_metricBox = new QComboBox(this);
    m_metricBox->setToolTip(tr("The per-head number shown in the grid"));
    m_elementSpin = new QSpinBox(this);
    m_elementSpin->setPrefix(tr("k = "));
    m_elementSpin->setToolTip(tr("The element whose α_k (mean attention received) is shown"));
    fillMetricBox();

    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(new QLabel(tr("Metric:"), this));
    bar->addWidget(m_metricBox);
    bar->addWidget(m_elementSpin);
    bar->addStretch(1);

    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(200, 150);
    m_plot->setMouseTracking(true);
    m_plot->installEventFilter(this);
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, m_title);
    QCPAxis* x = m_plot->xAxis;
    QCPAxis* y = m_plot->yAxis;
    x->setLabel(tr("head"));
    y->setLabel(tr("layer"));
    y->setRangeReversed(true); // layer 0 at the top, as the model is read
    for (QCPAxis* axis : {x, y}) {
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
        axis->setSubTicks(false);
        axis->grid()->setVisible(false);
    }
    m_map = new QCPColorMap(x, y);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_scale = new QCPColorScale(m_plot);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(14);
    m_plot->plotLayout()->addElement(1, 1, m_scale);
    m_map->setColorScale(m_scale);
    m_scale->setGradient(viridisGradient());
    auto* margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    m_outline = new QCPItemRect(m_plot);
    m_outline->setPen(QPen(kOutlineColor, 2.5));
    m_outline->setBrush(Qt::NoBrush);
    m_outline->setClipToAxisRect(true);
    m_outline->topLeft->setType(QCPItemPosition::ptPlotCoords);
    m_outline->bottomRight->setType(QCPItemPosition::ptPlotCoords);
    m_outline->setVisible(false);

    m_stack = makePlaceholderStack(m_plot, &m_placeholder, this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_stack, 1);

    connect(m_metricBox, &QComboBox::currentIndexChanged, this, [this] {
        m_wantedMetric = metricId();
        rebuild();
    });
    connect(m_elementSpin, qOverload<int>(&QSpinBox::valueChanged), this, [this] { rebuild(); });
    connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
        int l = -1;
        int h = -1;
        if (event->button() == Qt::LeftButton && selection() && cellAt(event->position(), &l, &h)) {
            selection()->setLayerHead(l, h);
            Q_EMIT showViewRequested(QStringLiteral("heatmap"));
        }
    });
    if (selection())
        connect(selection(), &Selection::changed, this, &OverviewView::updateOutline);
    if (current()) {
        connect(current(), &CurrentResult::resultChanged, this, &OverviewView::rebuild);
        connect(current(), &CurrentResult::metricsAvailable, this, &OverviewView::rebuild);
        connect(current(), &CurrentResult::metricsFailed, this, &OverviewView::rebuild);
        connect(current(), &CurrentResult::classificationChanged, this, [this] {
            updateVerdictItem();
            rebuild();
        });
    }
    rebuild();
}

OverviewView::~OverviewView() = default;

void OverviewView::fillMetricBox()
{
    const QSignalBlocker block(m_metricBox);
    m_metricBox->clear();
    for (const OverviewMetric& m : metrics())
        m_metricBox->addItem(m.label, m.id);
    m_metricBox->addItem(tr("Verdict (classification)"), verdictMetricId());
    updateVerdictItem();
}

QString OverviewView::verdictMetricId()
{
    return QStringLiteral("verdict");
}

bool OverviewView::showsVerdict() const
{
    return metricId() == verdictMetricId();
}

void OverviewView::updateVerdictItem()
{
    // Before a classification the entry stays in the list, disabled, and says what it needs.
    auto* model = qobject_cast<QStandardItemModel*>(m_metricBox->model());
    QStandardItem* item = model ? model->item(m_metricBox->findData(verdictMetricId())) : nullptr;
    if (!item)
        return;
    const bool has = current() && current()->classification();
    item->setEnabled(has);
    item->setToolTip(has ? tr("Each head's verdict from the classification; saturation = confidence")
                         : tr("Run Classify first: the verdict comes from the classification of this run"));
}

const analysis::HeadVerdict* OverviewView::headVerdict(int layer, int head) const
{
    if (!m_classification || layer < 0 || head < 0 || layer >= m_classification->model.layers
        || head >= m_classification->model.heads)
        return nullptr;
    const size_t i = size_t(layer) * size_t(m_classification->model.heads) + size_t(head);
    const auto& heads = m_classification->heads;
    return i < heads.size() && heads[i].layer == layer && heads[i].head == head ? &heads[i] : nullptr;
}

const OverviewMetric* OverviewView::currentMetric() const
{
    const QString id = metricId();
    for (const OverviewMetric& m : metrics())
        if (m.id == id)
            return &m;
    return nullptr;
}

bool OverviewView::setMetric(const QString& id)
{
    const int index = m_metricBox->findData(id);
    if (index < 0)
        return false;
    m_metricBox->setCurrentIndex(index); // rebuilds through currentIndexChanged
    return true;
}

QString OverviewView::metricId() const
{
    return m_metricBox->currentData().toString();
}

void OverviewView::setElement(int element)
{
    m_elementSpin->setValue(element);
}

int OverviewView::element() const
{
    return m_elementSpin->value();
}

QString OverviewView::placeholderText() const
{
    return m_hasFigure ? QString() : m_placeholder->text();
}

QString OverviewView::defaultFileName() const
{
    const auto r = current() ? current()->result() : nullptr;
    const QString stem = r ? safeFileStem(QString::fromStdString(r->model.name)) : QString();
    return (stem.isEmpty() ? QString() : stem + QLatin1Char('-')) + QStringLiteral("overview-") + metricId();
}

void OverviewView::rebuild()
{
    const auto result = current() ? current()->result() : nullptr;
    m_metrics = current() ? current()->metrics() : nullptr;
    const OverviewMetric* metric = currentMetric();
    const bool verdict = showsVerdict();
    m_classification = verdict && current() ? current()->classification() : nullptr;
    QString placeholder;
    if (!result)
        placeholder = tr("Run a prompt to see every head at a glance.");
    else if (result->model.layers <= 0 || result->model.heads <= 0)
        placeholder = tr("The model has no attention heads.");
    else if (!m_metrics && !current()->metricsError().isEmpty())
        placeholder = tr("The analysis of this run failed: %1").arg(current()->metricsError());
    else if (!m_metrics)
        placeholder = tr("Analysing the run …");
    else if (verdict && !m_classification)
        placeholder = tr("No verdicts yet: Run Classify first (the classification view) to see each head's verdict.");
    else if (verdict && (m_classification->model.layers != m_metrics->layers || m_classification->model.heads != m_metrics->heads))
        placeholder = tr("The classification is of a model with %1 layers × %2 heads, not this run's %3 × %4: run Classify again.")
                          .arg(m_classification->model.layers)
                          .arg(m_classification->model.heads)
                          .arg(m_metrics->layers)
                          .arg(m_metrics->heads);
    else if (!verdict && (!metric || !metric->available(*m_metrics)))
        placeholder = tr("This run has no %1: %2").arg(metric ? metric->label.toLower() : metricId(),
                                                      QString::fromStdString([&] {
                                                          std::string why;
                                                          for (const std::string& u : m_metrics->unavailable)
                                                              why += (why.empty() ? "" : "; ") + u;
                                                          return why.empty() ? std::string("not computed") : why;
                                                      }()));

    const int T = result ? int(result->tokens) : 0;
    {
        const QSignalBlocker block(m_elementSpin);
        m_elementSpin->setRange(0, std::max(T - 1, 0));
        m_elementSpin->setVisible(!verdict && metric && metric->usesElement);
    }
    m_hasFigure = placeholder.isEmpty();
    if (!m_hasFigure) {
        m_placeholder->setText(placeholder);
        m_stack->setCurrentIndex(0);
        m_map->data()->clear();
        m_outline->setVisible(false);
        m_outlined[0] = m_outlined[1] = -1;
        Q_EMIT figureChanged();
        return;
    }

    const int L = m_metrics->layers;
    const int H = m_metrics->heads;
    const int k = element();
    QCPColorMapData* data = m_map->data();
    // QCustomPlot draws a one-cell dimension with zero extent: give it two identical cells.
    const int nx = std::max(H, 2);
    const int ny = std::max(L, 2);
    data->setSize(nx, ny);
    data->setRange(H > 1 ? QCPRange(0, H - 1) : QCPRange(-0.25, 0.25), L > 1 ? QCPRange(0, L - 1) : QCPRange(-0.25, 0.25));
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
            double v = kNaN;
            if (verdict) {
                const analysis::HeadVerdict* hv = headVerdict(l, h);
                v = hv ? verdictCellValue(*hv) : kNaN;
            } else {
                v = metric->value(*m_metrics, l, h, k);
            }
            for (int cx = h; cx < (H == 1 ? 2 : h + 1); ++cx)
                for (int cy = l; cy < (L == 1 ? 2 : l + 1); ++cy)
                    data->setCell(cx, cy, v);
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    if (verdict) {
        lo = 0.0;
        hi = kVerdictCount;
    } else if (metric->unitRange) {
        lo = 0.0;
        hi = 1.0;
    } else if (!(hi > lo)) {
        lo = std::isfinite(lo) ? lo : 0.0;
        hi = lo + 1.0;
    }
    m_map->setDataRange(QCPRange(lo, hi));
    if (verdict) {
        // The legend: one band per verdict, named at its middle.
        m_scale->setGradient(verdictGradient());
        auto ticker = QSharedPointer<QCPAxisTickerText>::create();
        for (int i = 0; i < kVerdictCount; ++i)
            ticker->addTick(i + 0.5, QString::fromLatin1(analysis::verdictName(kVerdicts[i])));
        m_scale->axis()->setTicker(ticker);
        m_scale->setLabel(tr("Verdict (saturation = confidence)"));
    } else {
        m_scale->setGradient(viridisGradient());
        if (m_scale->axis()->ticker().dynamicCast<QCPAxisTickerText>())
            m_scale->axis()->setTicker(QSharedPointer<QCPAxisTicker>::create());
        QString label = metric->label;
        if (metric->usesElement)
            label.replace(QStringLiteral("k"), QString::number(k));
        m_scale->setLabel(label);
    }
    m_plot->xAxis->setRange(-0.5, H - 0.5);
    m_plot->yAxis->setRange(-0.5, L - 0.5);
    m_title->setText(tr("%1 · %2 layers × %3 heads").arg(QString::fromStdString(result->model.name)).arg(L).arg(H));
    m_stack->setCurrentIndex(1);
    m_outlined[0] = -2; // force
    updateOutline();
    Q_EMIT figureChanged();
}

void OverviewView::updateOutline()
{
    if (!m_hasFigure)
        return;
    const int l = selection() ? selection()->layer() : -1;
    const int h = selection() ? selection()->head() : -1;
    const bool inside = l >= 0 && h >= 0 && l < m_metrics->layers && h < m_metrics->heads;
    if (inside && l == m_outlined[0] && h == m_outlined[1])
        return;
    m_outlined[0] = inside ? l : -1;
    m_outlined[1] = inside ? h : -1;
    m_outline->setVisible(inside);
    if (inside) {
        m_outline->topLeft->setCoords(h - 0.5, l - 0.5);
        m_outline->bottomRight->setCoords(h + 0.5, l + 0.5);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

double OverviewView::cellValue(int layer, int head) const
{
    if (!m_hasFigure || (!currentMetric() && !showsVerdict()) || layer < 0 || head < 0 || layer >= m_metrics->layers || head >= m_metrics->heads)
        return kNaN;
    return m_map->data()->cell(head, layer);
}

QColor OverviewView::cellColour(int layer, int head) const
{
    const double v = cellValue(layer, head);
    if (std::isnan(v))
        return {};
    QCPColorGradient gradient = m_map->gradient(); // color() is not const
    return QColor::fromRgba(gradient.color(v, m_map->dataRange()));
}

bool OverviewView::cellVerdict(int layer, int head, analysis::Verdict* verdict, double* confidence) const
{
    const analysis::HeadVerdict* v = m_hasFigure && showsVerdict() ? headVerdict(layer, head) : nullptr;
    if (!v)
        return false;
    *verdict = v->verdict;
    *confidence = v->confidence;
    return true;
}

double OverviewView::rangeLower() const
{
    return m_map->dataRange().lower;
}

double OverviewView::rangeUpper() const
{
    return m_map->dataRange().upper;
}

QString OverviewView::hoverText(int layer, int head) const
{
    if (m_hasFigure && showsVerdict()) {
        const analysis::HeadVerdict* v = headVerdict(layer, head);
        return v ? tr("L%1.H%2: %3 (confidence %4)")
                       .arg(layer)
                       .arg(head)
                       .arg(QString::fromLatin1(analysis::verdictName(v->verdict)))
                       .arg(v->confidence, 0, 'f', 2)
                 : QString();
    }
    const OverviewMetric* metric = currentMetric();
    if (!m_hasFigure || !metric || layer < 0 || head < 0 || layer >= m_metrics->layers || head >= m_metrics->heads)
        return {};
    const int k = element();
    QString what = metric->describe ? metric->describe(*m_metrics, layer, head, k) : QString();
    if (what.isEmpty()) {
        const double v = metric->value(*m_metrics, layer, head, k);
        QString label = metric->label;
        if (metric->usesElement)
            label.replace(QStringLiteral("k"), QString::number(k));
        what = label.toLower() + QLatin1Char(' ') + (std::isnan(v) ? tr("n/a") : QString::number(v, 'f', 4));
    }
    return tr("L%1 H%2 · %3").arg(layer).arg(head).arg(what);
}

bool OverviewView::cellAt(const QPointF& plotPos, int* layer, int* head) const
{
    if (!m_hasFigure || !m_plot->axisRect()->rect().contains(plotPos.toPoint()))
        return false;
    const int h = int(std::floor(m_plot->xAxis->pixelToCoord(plotPos.x()) + 0.5));
    const int l = int(std::floor(m_plot->yAxis->pixelToCoord(plotPos.y()) + 0.5));
    if (l < 0 || h < 0 || l >= m_metrics->layers || h >= m_metrics->heads)
        return false;
    *layer = l;
    *head = h;
    return true;
}

QPointF OverviewView::cellCenter(int layer, int head) const
{
    return {m_plot->xAxis->coordToPixel(head), m_plot->yAxis->coordToPixel(layer)};
}

QByteArray OverviewView::dataCsv() const
{
    if (!m_hasFigure)
        return {};
    if (showsVerdict()) {
        QByteArray csv = "layer,head,verdict,confidence\n";
        for (int l = 0; l < m_metrics->layers; ++l)
            for (int h = 0; h < m_metrics->heads; ++h) {
                const analysis::HeadVerdict* v = headVerdict(l, h);
                csv += QByteArray::number(l) + ',' + QByteArray::number(h) + ','
                    + (v ? QByteArray(analysis::verdictName(v->verdict)) + ',' + csvNumber(v->confidence) : QByteArray(",")) + '\n';
            }
        return csv;
    }
    const int k = element();
    QByteArray out = "layer,head";
    std::vector<const OverviewMetric*> shown;
    for (const OverviewMetric& m : metrics()) {
        if (!m.available(*m_metrics))
            continue;
        shown.push_back(&m);
        out += ',' + (m.usesElement ? m.id.toUtf8().replace("_k", "_" + QByteArray::number(k)) : m.id.toUtf8());
    }
    out += ",waiver_element,top_element\n";
    for (int l = 0; l < m_metrics->layers; ++l)
        for (int h = 0; h < m_metrics->heads; ++h) {
            out += QByteArray::number(l) + ',' + QByteArray::number(h);
            for (const OverviewMetric* m : shown)
                out += ',' + csvNumber(m->value(*m_metrics, l, h, k));
            const auto* w = headRecord(m_metrics->waiver, *m_metrics, l, h);
            const auto* t = headRecord(m_metrics->topAttended, *m_metrics, l, h);
            out += ',' + (w ? QByteArray::number(w->element) : QByteArray()) + ','
                + (t ? QByteArray::number(t->element) : QByteArray()) + '\n';
        }
    return out;
}

QVariantMap OverviewView::saveOptions() const
{
    return {{QStringLiteral("metric"), metricId()}, {QStringLiteral("element"), element()}};
}

void OverviewView::restoreOptions(const QVariantMap& options)
{
    if (options.contains(QStringLiteral("metric")))
        setMetric(options.value(QStringLiteral("metric")).toString());
    if (options.contains(QStringLiteral("element"))) {
        // Before a result the range is 0..0: widen it so the saved element survives.
        m_elementSpin->setMaximum(std::max(m_elementSpin->maximum(), options.value(QStringLiteral("element")).toInt()));
        setElement(options.value(QStringLiteral("element")).toInt());
    }
}

bool OverviewView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_plot && event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        int l = -1;
        int h = -1;
        if (cellAt(help->pos(), &l, &h))
            QToolTip::showText(help->globalPos(), toolTipHtml(hoverText(l, h)), m_plot);
        else
            QToolTip::hideText();
        return true;
    }
    return View::eventFilter(watched, event);
}

} // namespace sinkscope
