// SPDX-License-Identifier: GPL-3.0-or-later
#include "valuesview.h"

#include "currentresult.h"
#include "figureexport.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

namespace {
const QColor kRestColor(0x7f, 0x8c, 0x9d);
const QColor kWaiverColor(0xe6, 0x39, 0x46);
const QColor kValueColor(0x1f, 0x5f, 0xa8);
const QColor kContributionColor(0x2a, 0x9d, 0x8f);
const QColor kWrittenColor(0xe9, 0x8a, 0x15);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double at3(const Tensor& t, int64_t a, int64_t b, int64_t c)
{
    if (t.shape.size() != 3 || a >= t.size(0) || b >= t.size(1) || c >= t.size(2))
        return kNaN;
    return double(t.data[size_t((a * t.size(1) + b) * t.size(2) + c)]);
}

const Eigen::VectorXf& pick(const analysis::DimStats& s, ValuesView::Statistic stat)
{
    switch (stat) {
    case ValuesView::Statistic::Mean: return s.mean;
    case ValuesView::Statistic::Std: return s.std;
    case ValuesView::Statistic::MaxAbs: break;
    }
    return s.maxAbs;
}

} // namespace

ViewSpec ValuesView::spec()
{
    return {QStringLiteral("values"), tr("Value statistics"), QKeySequence(QStringLiteral("Ctrl+4")),
            tr("Value vectors of the selected head: per-dimension statistics, norms against attention received, waiver scores."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new ValuesView(current, selection, parent);
            },
            QStringLiteral("two-column")};
}

ValuesView::ValuesView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    m_statBox = new QComboBox(this);
    m_statBox->addItem(tr("mean"));
    m_statBox->addItem(tr("std"));
    m_statBox->addItem(tr("max |v|"));
    m_statBox->setCurrentIndex(2);
    m_statBox->setToolTip(tr("Per-dimension statistic of the value vectors (population std)"));
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(new QLabel(tr("Per dimension:"), this));
    bar->addWidget(m_statBox);
    bar->addStretch(1);

    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(300, 300);
    m_plot->plotLayout()->clear();
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);
    // Row 1: per-dimension bars | norms against α; row 2: the waiver scores over the width.
    auto* upper = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(1, 0, upper);
    m_dimsRect = new QCPAxisRect(m_plot);
    m_normsRect = new QCPAxisRect(m_plot);
    m_scoreRect = new QCPAxisRect(m_plot);
    upper->addElement(0, 0, m_dimsRect);
    upper->addElement(0, 1, m_normsRect);
    m_plot->plotLayout()->addElement(2, 0, m_scoreRect);
    m_plot->plotLayout()->setRowStretchFactors({0.01, 1.6, 1.0});
    m_dimsRect->axis(QCPAxis::atBottom)->setLabel(tr("value dimension"));
    m_normsRect->axis(QCPAxis::atBottom)->setLabel(tr("attention received α_j"));
    m_normsRect->axis(QCPAxis::atLeft)->setLabel(tr("norm"));
    m_scoreRect->axis(QCPAxis::atBottom)->setLabel(tr("element j"));
    m_scoreRect->axis(QCPAxis::atLeft)->setLabel(tr("waiver score"));
    for (QCPAxisRect* r : {m_dimsRect, m_normsRect, m_scoreRect})
        r->axis(QCPAxis::atBottom)->grid()->setVisible(false);
    for (QCPAxisRect* r : {m_dimsRect, m_scoreRect}) {
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create(); // dimensions and elements are whole numbers
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        r->axis(QCPAxis::atBottom)->setTicker(ticker);
        r->axis(QCPAxis::atBottom)->setSubTicks(false);
    }

    QCPAxis* dx = m_dimsRect->axis(QCPAxis::atBottom);
    QCPAxis* dy = m_dimsRect->axis(QCPAxis::atLeft);
    m_restBars = new QCPBars(dx, dy);
    m_restBars->setName(tr("other elements"));
    m_restBars->setPen(Qt::NoPen);
    m_restBars->setBrush(kRestColor);
    m_waiverBars = new QCPBars(dx, dy);
    m_waiverBars->setName(tr("waiver elements"));
    m_waiverBars->setPen(Qt::NoPen);
    m_waiverBars->setBrush(kWaiverColor);
    auto* group = new QCPBarsGroup(m_plot);
    group->setSpacingType(QCPBarsGroup::stAbsolute);
    group->setSpacing(0);
    m_restBars->setWidth(0.4);
    m_waiverBars->setWidth(0.4);
    m_restBars->setBarsGroup(group);
    m_waiverBars->setBarsGroup(group);

    QCPAxis* nx = m_normsRect->axis(QCPAxis::atBottom);
    QCPAxis* ny = m_normsRect->axis(QCPAxis::atLeft);
    auto scatter = [&](const QString& name, const QColor& color, QCPScatterStyle::ScatterShape shape) {
        QCPGraph* g = m_plot->addGraph(nx, ny);
        g->setName(name);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(shape, color, color, 7));
        return g;
    };
    m_valueNorm = scatter(tr("‖v_j‖"), kValueColor, QCPScatterStyle::ssDisc);
    m_contribution = scatter(tr("‖v_j W_O^h‖"), kContributionColor, QCPScatterStyle::ssTriangle);
    m_written = scatter(tr("Σ_t ‖A[t,j] v_j W_O^h‖"), kWrittenColor, QCPScatterStyle::ssSquare);

    m_scoreBars = new QCPBars(m_scoreRect->axis(QCPAxis::atBottom), m_scoreRect->axis(QCPAxis::atLeft));
    m_scoreBars->setName(tr("waiver score"));
    m_scoreBars->setPen(Qt::NoPen);
    m_scoreBars->setBrush(kWaiverColor);
    m_scoreBars->setWidth(0.8);
    m_scoreRect->axis(QCPAxis::atLeft)->setRange(0, 1.05);
    m_threshold = new QCPItemStraightLine(m_plot);
    m_threshold->setClipAxisRect(m_scoreRect);
    for (QCPItemPosition* p : {m_threshold->point1, m_threshold->point2})
        p->setAxes(m_scoreRect->axis(QCPAxis::atBottom), m_scoreRect->axis(QCPAxis::atLeft));
    m_threshold->setPen(QPen(Qt::darkGray, 1, Qt::DashLine));

    // Legends inside the two upper plots.
    for (QCPAxisRect* r : {m_dimsRect, m_normsRect}) {
        auto* legend = new QCPLegend;
        r->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
        legend->setLayer(QStringLiteral("legend"));
        legend->setFont(QFont(font().family(), 8));
        legend->setBrush(QColor(255, 255, 255, 200));
        if (r == m_dimsRect) {
            legend->addItem(new QCPPlottableLegendItem(legend, m_restBars));
            legend->addItem(new QCPPlottableLegendItem(legend, m_waiverBars));
        } else {
            for (QCPGraph* g : {m_valueNorm, m_contribution, m_written})
                legend->addItem(new QCPPlottableLegendItem(legend, g));
        }
    }

    m_stack = makePlaceholderStack(m_plot, &m_placeholder, this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_stack, 1);

    connect(m_statBox, &QComboBox::currentIndexChanged, this, &ValuesView::rebuild);
    if (selection())
        connect(selection(), &Selection::changed, this, [this] {
            if (selection()->layer() != m_layer || selection()->head() != m_head)
                rebuild();
        });
    if (current()) {
        connect(current(), &CurrentResult::resultChanged, this, &ValuesView::rebuild);
        connect(current(), &CurrentResult::metricsAvailable, this, &ValuesView::rebuild);
        connect(current(), &CurrentResult::metricsFailed, this, &ValuesView::rebuild);
    }
    rebuild();
}

ValuesView::~ValuesView() = default;

void ValuesView::setStatistic(Statistic statistic)
{
    m_statBox->setCurrentIndex(int(statistic));
}

ValuesView::Statistic ValuesView::statistic() const
{
    return Statistic(std::clamp(m_statBox->currentIndex(), 0, 2));
}

QString ValuesView::placeholderText() const
{
    return m_hasFigure ? QString() : m_placeholder->text();
}

QString ValuesView::defaultFileName() const
{
    const auto r = current() ? current()->result() : nullptr;
    QString stem = r ? safeFileStem(QString::fromStdString(r->model.name)) : QString();
    if (!stem.isEmpty())
        stem += QLatin1Char('-');
    return m_hasFigure ? stem + QStringLiteral("values-l%1-h%2").arg(m_layer).arg(m_head) : stem + QStringLiteral("values");
}

const analysis::ValueDims* ValuesView::shownDims() const
{
    if (!m_metrics)
        return nullptr;
    for (const analysis::ValueDims& d : m_metrics->valueDims)
        if (d.layer == m_layer && d.kvHead == m_kvHead)
            return &d;
    return nullptr;
}

void ValuesView::rebuild()
{
    const auto result = current() ? current()->result() : nullptr;
    m_metrics = current() ? current()->metrics() : nullptr;
    QString placeholder;
    if (!result)
        placeholder = tr("Run a prompt to see the value vectors of each head.");
    else if (!m_metrics && !current()->metricsError().isEmpty())
        placeholder = tr("The analysis of this run failed: %1").arg(current()->metricsError());
    else if (!m_metrics)
        placeholder = tr("Analysing the run …");
    else if (m_metrics->valueDims.empty() || m_metrics->valueNorms.empty())
        placeholder = tr("This run did not capture the value vectors.");

    m_hasFigure = placeholder.isEmpty() && m_metrics->layers > 0 && m_metrics->heads > 0;
    if (!m_hasFigure) {
        m_layer = m_head = m_kvHead = -1;
        m_waiverElements.clear();
        m_placeholder->setText(placeholder.isEmpty() ? tr("The model has no attention heads.") : placeholder);
        m_stack->setCurrentIndex(0);
        for (QCPBars* b : {m_restBars, m_waiverBars, m_scoreBars})
            b->data()->clear();
        for (QCPGraph* g : {m_valueNorm, m_contribution, m_written})
            g->data()->clear();
        Q_EMIT figureChanged();
        return;
    }
    const analysis::RunMetrics& m = *m_metrics;
    const int group = std::max(1, m.heads / std::max(1, m.kvHeads));
    m_layer = std::clamp(selection() ? selection()->layer() : 0, 0, m.layers - 1);
    m_head = std::clamp(selection() ? selection()->head() : 0, 0, m.heads - 1);
    m_kvHead = m_head / group;
    const int T = int(m.tokens);

    // Per-dimension bars.
    const analysis::ValueDims* dims = shownDims();
    m_waiverElements = dims ? dims->waiverElements : std::vector<int>();
    QVector<double> keys, rest, waiver;
    if (dims) {
        const Eigen::VectorXf& r = pick(dims->rest, statistic());
        const Eigen::VectorXf& w = pick(dims->waiver, statistic());
        for (Eigen::Index d = 0; d < r.size(); ++d) {
            keys << double(d);
            rest << (dims->rest.count > 0 ? double(r[d]) : 0.0);
            waiver << (dims->waiver.count > 0 && d < w.size() ? double(w[d]) : 0.0);
        }
    }
    m_restBars->setData(keys, rest, true);
    m_waiverBars->setData(dims && dims->waiver.count > 0 ? keys : QVector<double>(),
                          dims && dims->waiver.count > 0 ? waiver : QVector<double>(), true);
    m_waiverBars->setName(m_waiverElements.empty() ? tr("waiver elements (none)")
                                                    : tr("waiver elements (%1)").arg(m_waiverElements.size()));
    m_restBars->setName(tr("other elements (%1)").arg(dims ? dims->rest.count : 0));
    m_dimsRect->axis(QCPAxis::atBottom)->setRange(-0.7, std::max<double>(keys.size(), 1) - 0.3);
    // Magnitudes on a log axis: a waiver's values are often orders of magnitude smaller than the
    // rest, and would be invisible bars on a linear one. Means can be negative: linear.
    QCPAxis* dy = m_dimsRect->axis(QCPAxis::atLeft);
    const bool log = statistic() != Statistic::Mean;
    dy->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log)
        dy->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    else if (qSharedPointerDynamicCast<QCPAxisTickerLog>(dy->ticker()))
        dy->setTicker(QSharedPointer<QCPAxisTicker>::create());
    m_restBars->setBaseValue(0);
    m_waiverBars->setBaseValue(0);
    if (log) {
        double lo = std::numeric_limits<double>::infinity(), hi = 0;
        for (const QVector<double>* v : {&rest, &waiver})
            for (double x : *v)
                if (x > 0) {
                    lo = std::min(lo, x);
                    hi = std::max(hi, x);
                }
        if (!(hi > 0))
            lo = 0.1, hi = 1;
        // Bars grow from the bottom of the axis, not from 0 (which a log axis does not have).
        m_restBars->setBaseValue(lo / 3);
        m_waiverBars->setBaseValue(lo / 3);
        dy->setRange(lo / 3, hi * 2);
    } else {
        dy->rescale();
        dy->scaleRange(1.1);
    }
    dy->setLabel(m_statBox->currentText());

    // Norms against attention received.
    QVector<double> alpha, vn, cn, wn, xs, score;
    for (int j = 0; j < T; ++j) {
        alpha << at3(m.importance, m_layer, m_head, j);
        vn << at3(m.valueNorms, m_layer, m_kvHead, j);
        cn << at3(m.contributionNorms, m_layer, m_head, j);
        wn << at3(m.writtenNorms, m_layer, m_head, j);
        xs << double(j);
        score << at3(m.waiverScores, m_layer, m_head, j);
    }
    m_valueNorm->setData(alpha, vn);
    m_contribution->setData(m.contributionNorms.empty() ? QVector<double>() : alpha,
                            m.contributionNorms.empty() ? QVector<double>() : cn);
    m_written->setData(m.writtenNorms.empty() ? QVector<double>() : alpha, m.writtenNorms.empty() ? QVector<double>() : wn);
    m_normsRect->axis(QCPAxis::atBottom)->setRange(-0.02, 1.02);
    bool found = false;
    QCPRange yr = m_valueNorm->getValueRange(found);
    for (QCPGraph* g : {m_contribution, m_written}) {
        bool f = false;
        const QCPRange r = g->getValueRange(f);
        if (f)
            yr.expand(r);
        found = found || f;
    }
    m_normsRect->axis(QCPAxis::atLeft)->setRange(found ? QCPRange(0, std::max(yr.upper * 1.1, 1e-6)) : QCPRange(0, 1));

    // Waiver scores.
    m_scoreBars->setData(m.waiverScores.empty() ? QVector<double>() : xs, m.waiverScores.empty() ? QVector<double>() : score,
                         true);
    m_scoreRect->axis(QCPAxis::atBottom)->setRange(-0.7, std::max(T, 1) - 0.3);
    m_threshold->point1->setCoords(-1, m.options.waiverThreshold);
    m_threshold->point2->setCoords(T + 1, m.options.waiverThreshold);
    m_scoreRect->axis(QCPAxis::atLeft)->setLabel(tr("waiver score"));

    QString title = tr("Values · Layer %1 · Head %2").arg(m_layer).arg(m_head);
    if (!m.waiverBasis.empty())
        title += tr(" · waiver scores from %1 norms").arg(QString::fromStdString(m.waiverBasis));
    if (group > 1)
        title += tr(" (KV head %1)").arg(m_kvHead);
    if (!m_waiverElements.empty()) {
        QStringList w;
        for (int e : m_waiverElements)
            w << QString::number(e);
        title += tr(" · waiver elements: %1").arg(w.join(QStringLiteral(", ")));
    }
    m_title->setText(title);
    m_stack->setCurrentIndex(1);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

QByteArray ValuesView::dataCsv() const
{
    if (!m_hasFigure)
        return {};
    const analysis::RunMetrics& m = *m_metrics;
    QByteArray out = "element,alpha,value_norm,contribution_norm,written_norm,waiver_score\n";
    for (int j = 0; j < int(m.tokens); ++j)
        out += QByteArray::number(j) + ',' + csvNumber(at3(m.importance, m_layer, m_head, j)) + ','
            + csvNumber(at3(m.valueNorms, m_layer, m_kvHead, j)) + ','
            + csvNumber(at3(m.contributionNorms, m_layer, m_head, j)) + ','
            + csvNumber(at3(m.writtenNorms, m_layer, m_head, j)) + ','
            + csvNumber(at3(m.waiverScores, m_layer, m_head, j)) + '\n';
    out += "\ndim,rest_mean,rest_std,rest_max_abs,waiver_mean,waiver_std,waiver_max_abs\n";
    if (const analysis::ValueDims* d = shownDims()) {
        for (Eigen::Index i = 0; i < d->rest.mean.size(); ++i) {
            out += QByteArray::number(qlonglong(i));
            for (const analysis::DimStats* s : {&d->rest, &d->waiver})
                for (const Eigen::VectorXf* v : {&s->mean, &s->std, &s->maxAbs})
                    out += ',' + (s->count > 0 && i < v->size() ? csvNumber(double((*v)[i])) : QByteArray());
            out += '\n';
        }
    }
    return out;
}

QVariantMap ValuesView::saveOptions() const
{
    return {{QStringLiteral("statistic"), int(statistic())}};
}

void ValuesView::restoreOptions(const QVariantMap& options)
{
    if (options.contains(QStringLiteral("statistic")))
        setStatistic(Statistic(std::clamp(options.value(QStringLiteral("statistic")).toInt(), 0, 2)));
}

} // namespace sinkscope
