// SPDX-License-Identifier: GPL-3.0-or-later
#include "hiddenview.h"

#include "currentresult.h"
#include "figureexport.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"

#include <QLabel>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

namespace {
const QColor kTopColors[3] = {QColor(0xc0, 0x39, 0x2b), QColor(0xe6, 0x7e, 0x22), QColor(0xf1, 0xc4, 0x0f)};
const QColor kMedianColor(0x55, 0x55, 0x55);
const QColor kNormColors[3] = {QColor(0x1f, 0x5f, 0xa8), QColor(0x2a, 0x9d, 0x8f), QColor(0x8e, 0x44, 0xad)};
const QColor kBarColor(0x1f, 0x5f, 0xa8);
const QColor kMassiveColor(0xe6, 0x39, 0x46);
// The magnitude map keeps at most this many cells per axis; beyond, each cell is a block maximum.
constexpr int kMapCells = 768;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void setLogAxis(QCPAxis* axis)
{
    axis->setScaleType(QCPAxis::stLogarithmic);
    axis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
}
} // namespace

ViewSpec HiddenView::spec()
{
    return {QStringLiteral("hidden"), tr("Hidden-state dimensions"), QKeySequence(QStringLiteral("Ctrl+5")),
            tr("Massive activations: per-layer top magnitudes, per-dimension maxima, element × dimension map, norms."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new HiddenView(current, selection, parent);
            },
            QStringLiteral("two-column")};
}

HiddenView::HiddenView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(300, 300);
    m_plot->plotLayout()->clear();
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);
    auto* grid = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(1, 0, grid);
    m_plot->plotLayout()->setRowStretchFactors({0.01, 1.0});
    m_layersRect = new QCPAxisRect(m_plot);
    m_dimsRect = new QCPAxisRect(m_plot);
    m_mapRect = new QCPAxisRect(m_plot);
    m_normsRect = new QCPAxisRect(m_plot);
    grid->addElement(0, 0, m_layersRect);
    grid->addElement(0, 1, m_dimsRect);
    grid->addElement(1, 0, m_normsRect);
    grid->addElement(1, 1, m_mapRect);
    for (QCPAxisRect* r : {m_layersRect, m_dimsRect, m_mapRect, m_normsRect})
        r->axis(QCPAxis::atBottom)->grid()->setVisible(false);

    m_layersRect->axis(QCPAxis::atBottom)->setLabel(tr("hidden state (0: embeddings)"));
    m_layersRect->axis(QCPAxis::atLeft)->setLabel(tr("|h|"));
    setLogAxis(m_layersRect->axis(QCPAxis::atLeft));
    auto fixedTicks = [](QCPAxis* axis) {
        auto t = QSharedPointer<QCPAxisTickerFixed>::create();
        t->setTickStep(1.0);
        t->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(t);
        axis->setSubTicks(false);
    };
    fixedTicks(m_layersRect->axis(QCPAxis::atBottom));
    fixedTicks(m_normsRect->axis(QCPAxis::atBottom));
    QCPAxis* lx = m_layersRect->axis(QCPAxis::atBottom);
    QCPAxis* ly = m_layersRect->axis(QCPAxis::atLeft);
    const char* names[3] = {"top-1", "top-2", "top-3"};
    for (int i = 0; i < 3; ++i) {
        m_top[i] = m_plot->addGraph(lx, ly);
        m_top[i]->setName(tr(names[i]));
        m_top[i]->setPen(QPen(kTopColors[i], 1.6));
        m_top[i]->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kTopColors[i], kTopColors[i], 6));
    }
    m_median = m_plot->addGraph(lx, ly);
    m_median->setName(tr("median"));
    m_median->setPen(QPen(kMedianColor, 1.4, Qt::DashLine));
    m_median->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kMedianColor, Qt::white, 6));

    m_dimsRect->axis(QCPAxis::atBottom)->setLabel(tr("dimension"));
    m_dimsRect->axis(QCPAxis::atLeft)->setLabel(tr("max |h|"));
    m_dimBars = new QCPBars(m_dimsRect->axis(QCPAxis::atBottom), m_dimsRect->axis(QCPAxis::atLeft));
    m_dimBars->setName(tr("max |h|"));
    m_dimBars->setPen(Qt::NoPen);
    m_dimBars->setBrush(kBarColor);
    m_dimBars->setWidth(0.9);

    m_mapRect->axis(QCPAxis::atBottom)->setLabel(tr("dimension"));
    m_mapRect->axis(QCPAxis::atLeft)->setLabel(tr("element"));
    m_mapRect->axis(QCPAxis::atLeft)->setRangeReversed(true);
    m_map = new QCPColorMap(m_mapRect->axis(QCPAxis::atBottom), m_mapRect->axis(QCPAxis::atLeft));
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_map->setGradient(viridisGradient());
    m_map->setDataScaleType(QCPAxis::stLogarithmic);

    m_normsRect->axis(QCPAxis::atBottom)->setLabel(tr("layer (‖h‖: hidden state)"));
    m_normsRect->axis(QCPAxis::atLeft)->setLabel(tr("norm"));
    setLogAxis(m_normsRect->axis(QCPAxis::atLeft));
    const char* normNames[3] = {"‖h‖", "‖k‖", "‖v‖"};
    for (int w = 0; w < 3; ++w)
        for (int f = 0; f < 2; ++f) {
            QCPGraph* g = m_plot->addGraph(m_normsRect->axis(QCPAxis::atBottom), m_normsRect->axis(QCPAxis::atLeft));
            g->setName(tr("%1 %2").arg(QString::fromUtf8(normNames[w]), f == 0 ? tr("first element") : tr("others (mean)")));
            g->setPen(QPen(kNormColors[w], 1.5, f == 0 ? Qt::SolidLine : Qt::DashLine));
            g->setScatterStyle(QCPScatterStyle(f == 0 ? QCPScatterStyle::ssDisc : QCPScatterStyle::ssCircle, kNormColors[w],
                                               f == 0 ? kNormColors[w] : QColor(Qt::white), 5));
            m_norms[w][f] = g;
        }

    for (QCPAxisRect* r : {m_layersRect, m_normsRect}) {
        auto* legend = new QCPLegend;
        r->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignLeft);
        legend->setLayer(QStringLiteral("legend"));
        legend->setFont(QFont(font().family(), 7));
        legend->setBrush(QColor(255, 255, 255, 200));
        if (r == m_layersRect) {
            for (QCPGraph* g : {m_top[0], m_top[1], m_top[2], m_median})
                legend->addItem(new QCPPlottableLegendItem(legend, g));
        } else {
            for (auto& pair : m_norms)
                for (QCPGraph* g : pair)
                    legend->addItem(new QCPPlottableLegendItem(legend, g));
        }
    }

    m_stack = makePlaceholderStack(m_plot, &m_placeholder, this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack, 1);

    if (selection())
        connect(selection(), &Selection::changed, this, [this] {
            if (m_hasFigure && selection()->layer() + 1 != m_state)
                rebuildState();
        });
    if (current()) {
        connect(current(), &CurrentResult::resultChanged, this, &HiddenView::rebuild);
        connect(current(), &CurrentResult::metricsAvailable, this, &HiddenView::rebuild);
        connect(current(), &CurrentResult::metricsFailed, this, &HiddenView::rebuild);
    }
    rebuild();
}

HiddenView::~HiddenView() = default;

QString HiddenView::placeholderText() const
{
    return m_hasFigure ? QString() : m_placeholder->text();
}

QString HiddenView::defaultFileName() const
{
    QString stem = m_result ? safeFileStem(QString::fromStdString(m_result->model.name)) : QString();
    if (!stem.isEmpty())
        stem += QLatin1Char('-');
    return m_hasFigure ? stem + QStringLiteral("hidden-state-%1").arg(m_state) : stem + QStringLiteral("hidden");
}

QStringList HiddenView::massiveLabels() const
{
    return m_labels;
}

void HiddenView::rebuild()
{
    m_result = current() ? current()->result() : nullptr;
    m_metrics = current() ? current()->metrics() : nullptr;
    QString placeholder;
    if (!m_result)
        placeholder = tr("Run a prompt to see the hidden-state magnitudes of each layer.");
    else if (!m_metrics && !current()->metricsError().isEmpty())
        placeholder = tr("The analysis of this run failed: %1").arg(current()->metricsError());
    else if (!m_metrics)
        placeholder = tr("Analysing the run …");
    else if (m_metrics->hidden.empty() || m_result->hidden.empty())
        placeholder = tr("This run did not capture the hidden states.");
    m_hasFigure = placeholder.isEmpty();
    if (!m_hasFigure) {
        m_state = -1;
        m_labels.clear();
        m_placeholder->setText(placeholder);
        m_stack->setCurrentIndex(0);
        m_plot->clearItems();
        for (QCPGraph* g : {m_top[0], m_top[1], m_top[2], m_median})
            g->data()->clear();
        m_dimBars->data()->clear();
        m_map->data()->clear();
        Q_EMIT figureChanged();
        return;
    }
    const analysis::RunMetrics& m = *m_metrics;
    const int states = int(m.hidden.size());
    for (int i = 0; i < 3; ++i) {
        QVector<double> xs, ys;
        for (int s = 0; s < states; ++s)
            if (int(m.hidden[size_t(s)].top.size()) > i) {
                xs << double(s);
                ys << std::abs(double(m.hidden[size_t(s)].top[size_t(i)].value));
            }
        m_top[i]->setData(xs, ys, true);
    }
    QVector<double> xs, med;
    for (int s = 0; s < states; ++s) {
        xs << double(s);
        med << double(m.hidden[size_t(s)].median);
    }
    m_median->setData(xs, med, true);
    m_layersRect->axis(QCPAxis::atBottom)->setRange(-0.5, states - 0.5);
    m_layersRect->axis(QCPAxis::atLeft)->rescale();
    m_layersRect->axis(QCPAxis::atLeft)->scaleRange(1.5);

    auto firstOthers = [](const std::vector<analysis::FirstVsOthers>& v, QCPGraph* first, QCPGraph* others) {
        QVector<double> x, a, b;
        for (size_t i = 0; i < v.size(); ++i) {
            x << double(i);
            a << double(v[i].first);
            b << double(v[i].others);
        }
        first->setData(x, a, true);
        others->setData(x, b, true);
    };
    firstOthers(m.hiddenNorms, m_norms[0][0], m_norms[0][1]);
    firstOthers(m.keyNorms, m_norms[1][0], m_norms[1][1]);
    firstOthers(m.valueNormsFirst, m_norms[2][0], m_norms[2][1]);
    m_normsRect->axis(QCPAxis::atBottom)->setRange(-0.5, states - 0.5);
    m_normsRect->axis(QCPAxis::atLeft)->rescale();
    m_normsRect->axis(QCPAxis::atLeft)->scaleRange(1.5);

    m_stack->setCurrentIndex(1);
    rebuildState();
}

void HiddenView::rebuildState()
{
    const analysis::RunMetrics& m = *m_metrics;
    const int states = int(m.hidden.size());
    m_state = std::clamp((selection() ? selection()->layer() : 0) + 1, 0, states - 1);
    const analysis::HiddenStats& hs = m.hidden[size_t(m_state)];
    const int D = int(hs.maxAbs.size());
    QVector<double> dims, maxima;
    for (int d = 0; d < D; ++d) {
        dims << double(d);
        maxima << double(hs.maxAbs[d]);
    }
    m_dimBars->setData(dims, maxima, true);
    m_dimsRect->axis(QCPAxis::atBottom)->setRange(-1, std::max(D, 1));
    m_dimsRect->axis(QCPAxis::atLeft)->setRange(0, std::max(hs.maxAbs.size() ? double(hs.maxAbs.maxCoeff()) * 1.2 : 1.0, 1e-6));

    // Massive activations of this state, labelled at their bar.
    m_plot->clearItems();
    m_labels.clear();
    for (const analysis::MassiveActivation& a : m.massive) {
        if (a.layer != m_state || a.dim >= D)
            continue;
        const QString text = tr("d%1 @ %2").arg(a.dim).arg(a.element);
        m_labels << text;
        auto* label = new QCPItemText(m_plot);
        label->setClipAxisRect(m_dimsRect);
        label->position->setAxes(m_dimsRect->axis(QCPAxis::atBottom), m_dimsRect->axis(QCPAxis::atLeft));
        label->position->setCoords(a.dim, double(hs.maxAbs[a.dim]));
        label->setPositionAlignment(Qt::AlignBottom | Qt::AlignHCenter);
        label->setText(text);
        label->setColor(kMassiveColor);
        label->setFont(QFont(font().family(), 8, QFont::Bold));
    }

    // Element × dimension map of |h| for this state, block maxima when larger than the budget.
    const Tensor& h = m_result->hidden;
    const int T = int(h.size(1));
    const int HD = int(h.size(2));
    const float* base = h.at({m_state});
    const int bt = std::max(1, (T + kMapCells - 1) / kMapCells);
    const int bd = std::max(1, (HD + kMapCells - 1) / kMapCells);
    const int gt = std::max(2, (T + bt - 1) / bt);
    const int gd = std::max(2, (HD + bd - 1) / bd);
    QCPColorMapData* data = m_map->data();
    data->setSize(gd, gt);
    data->setRange(QCPRange((bd - 1) / 2.0, (gd - 1) * bd + (bd - 1) / 2.0), QCPRange((bt - 1) / 2.0, (gt - 1) * bt + (bt - 1) / 2.0));
    double lo = std::numeric_limits<double>::infinity();
    double hi = 0.0;
    for (int j = 0; j < gt; ++j)
        for (int i = 0; i < gd; ++i) {
            float best = -1.0f;
            for (int t = j * bt; t < std::min((j + 1) * bt, T); ++t)
                for (int d = i * bd; d < std::min((i + 1) * bd, HD); ++d)
                    best = std::max(best, std::abs(base[int64_t(t) * HD + d]));
            data->setCell(i, j, best >= 0 ? double(best) : kNaN);
            if (best > 0) {
                lo = std::min(lo, double(best));
                hi = std::max(hi, double(best));
            }
        }
    if (!(hi > 0)) {
        lo = 1e-3;
        hi = 1.0;
    }
    m_map->setDataRange(QCPRange(std::max(lo, hi * 1e-4), hi > lo ? hi : lo * 10));
    m_mapRect->axis(QCPAxis::atBottom)->setRange(-0.5, HD - 0.5);
    m_mapRect->axis(QCPAxis::atLeft)->setRange(-0.5, T - 0.5);

    const QString where = m_state == 0 ? tr("embedding output") : tr("after block %1").arg(m_state - 1);
    m_title->setText(m_labels.isEmpty()
                         ? tr("Hidden state %1 (%2) · no massive activations (|h| > %3 and ≥ %4 × median)")
                               .arg(m_state).arg(where).arg(m.options.massive.absolute).arg(m.options.massive.relative)
                         : tr("Hidden state %1 (%2) · massive: %3").arg(m_state).arg(where, m_labels.join(QStringLiteral(", "))));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
}

QByteArray HiddenView::dataCsv() const
{
    if (!m_hasFigure)
        return {};
    const analysis::RunMetrics& m = *m_metrics;
    QByteArray out = "state,top1,top2,top3,median,h_first,h_others,k_first,k_others,v_first,v_others\n";
    for (size_t s = 0; s < m.hidden.size(); ++s) {
        const analysis::HiddenStats& hs = m.hidden[s];
        out += QByteArray::number(qulonglong(s));
        for (size_t i = 0; i < 3; ++i)
            out += ',' + (i < hs.top.size() ? csvNumber(std::abs(double(hs.top[i].value))) : QByteArray());
        out += ',' + csvNumber(double(hs.median));
        // ‖k‖ and ‖v‖ exist per layer (states 0..L-1 line up with layers 0..L-1).
        for (const auto* v : {&m.hiddenNorms, &m.keyNorms, &m.valueNormsFirst})
            out += s < v->size() ? ',' + csvNumber(double((*v)[s].first)) + ',' + csvNumber(double((*v)[s].others))
                                 : QByteArray(",,");
        out += '\n';
    }
    const analysis::HiddenStats& hs = m.hidden[size_t(m_state)];
    out += "\ndim,max_abs,element\n";
    for (Eigen::Index d = 0; d < hs.maxAbs.size(); ++d)
        out += QByteArray::number(qlonglong(d)) + ',' + csvNumber(double(hs.maxAbs[d])) + ','
            + QByteArray::number(hs.argmax.size() > d ? hs.argmax[d] : -1) + '\n';
    out += "\nmassive_state,dim,element,value\n";
    for (const analysis::MassiveActivation& a : m.massive)
        out += QByteArray::number(a.layer) + ',' + QByteArray::number(a.dim) + ',' + QByteArray::number(a.element) + ','
            + csvNumber(double(a.value)) + '\n';
    return out;
}

} // namespace sinkscope
