// SPDX-License-Identifier: GPL-3.0-or-later
#include "controlsview.h"

#include "binnedheadmap.h"
#include "colormaps.h"
#include "currentresult.h"
#include "jobservice.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"

#include "sinkscope/error.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QRegularExpression>
#include <QPushButton>
#include <QSpinBox>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace sinkscope {

namespace an = sinkscope::analysis;

namespace {

// The order of the kind box; its item data is the kind.
constexpr an::ControlSpec::Kind kKinds[] = {an::ControlSpec::Kind::Block, an::ControlSpec::Kind::Designate,
                                            an::ControlSpec::Kind::Shift, an::ControlSpec::Kind::PositionZero,
                                            an::ControlSpec::Kind::Evict};

const QColor kBefore(0x44, 0x44, 0x44);
const QColor kAfter(0xd6, 0x27, 0x28);
const QColor kNllColours[4] = {QColor(0x44, 0x44, 0x44), QColor(0xd6, 0x27, 0x28), QColor(0x1f, 0x77, 0xb4),
                               QColor(0x2c, 0xa0, 0x2c)};

QVector<double> toVector(const std::vector<double>& x)
{
    return QVector<double>(x.begin(), x.end());
}

QVector<double> positions(size_t n)
{
    QVector<double> xs(static_cast<int>(n));
    for (int i = 0; i < int(n); ++i)
        xs[i] = i;
    return xs;
}

// A curve panel: its title in row 0 of the curves' grid over its axis rect in row 1, so that the
// rects of all panels line up. The quantity and its unit are named in the title, and the y axis
// has no label: a rotated axis label longer than the rect is cut at both ends, which a
// two-column figure's short panels always did.
struct CurvePanel {
    QCPTextElement* title = nullptr;
    QCPAxisRect* rect = nullptr;
    QCPLegend* legend = nullptr; ///< inset in the rect (placeLegendWhereFewestPoints); none for one curve
};

// Placed in column `column` of `curves` first: a legend takes its plot from the layout it is put in.
CurvePanel curvePanel(QCustomPlot* plot, QCPLayoutGrid* curves, int column, const QString& title, const QString& x,
                      int legendColumns)
{
    CurvePanel p;
    p.title = new QCPTextElement(plot, title);
    p.title->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    curves->addElement(0, column, p.title);
    p.rect = new QCPAxisRect(plot);
    curves->addElement(1, column, p.rect);
    p.rect->axis(QCPAxis::atBottom)->setLabel(x);
    p.rect->setupFullAxesBox(false);
    // Layers and positions are whole numbers: a whole number of them per tick.
    auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    p.rect->axis(QCPAxis::atBottom)->setTicker(ticker);
    if (legendColumns > 0) {
        p.legend = new QCPLegend;
        p.rect->insetLayout()->addElement(p.legend, Qt::AlignTop | Qt::AlignRight);
        p.legend->setLayer(QStringLiteral("legend"));
        p.legend->setBrush(QColor(255, 255, 255, 200));
        p.legend->setColumnSpacing(6); // a figure's legends are made compact by FigureStyle
        p.legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
        p.legend->setWrap(legendColumns);
    }
    return p;
}


QCPGraph* addGraph(QCustomPlot* plot, QCPAxisRect* rect, const QString& name, const QColor& colour, bool dashed = false)
{
    QCPGraph* g = plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    g->setName(name);
    QPen pen(colour, 1.6);
    if (dashed)
        pen.setStyle(Qt::DashLine);
    g->setPen(pen);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(colour, 1.2), Qt::white, 4));
    return g;
}

// Point markers only where they can be told apart: a long prompt's per-position curves have
// thousands of points, and drawing a circle for each made every replot (a head change redraws
// the whole plot) take about as long as the maps themselves.
void setMarkers(QCPGraph* g)
{
    constexpr int kMaxMarkers = 256;
    QCPScatterStyle style = g->scatterStyle();
    style.setShape(g->dataCount() > kMaxMarkers ? QCPScatterStyle::ssNone : QCPScatterStyle::ssCircle);
    g->setScatterStyle(style);
}

void rescale(QCPAxisRect* rect)
{
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    bool first = true;
    for (QCPGraph* g : rect->graphs()) {
        if (g->dataCount() == 0)
            continue;
        g->rescaleAxes(!first);
        first = false;
    }
    x->setRange(x->range().lower - 0.5, x->range().upper + 0.5);
    const QCPRange r = y->range();
    const double pad = std::max(1e-6, 0.08 * (r.upper - r.lower));
    y->setRange(std::min(0.0, r.lower - pad), r.upper + pad);
}

} // namespace

ViewSpec ControlsView::spec()
{
    return {QStringLiteral("controls"), tr("Controls"), QKeySequence(QStringLiteral("Ctrl+7")),
            tr("Designate or remove a waiver with a structured mask or position ids, and see the attention and the cost "
               "before and after."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new ControlsView(current, selection, parent);
            },
            QStringLiteral("two-column")};
}

ControlsView::ControlsView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    auto* inputs = new QHBoxLayout;
    m_kind = new QComboBox(this);
    m_kind->addItem(tr("block:J — no query but J attends to J"), int(an::ControlSpec::Kind::Block));
    m_kind->addItem(tr("designate:J — J becomes the first visible element"), int(an::ControlSpec::Kind::Designate));
    m_kind->addItem(tr("positions:shift=D — every position id + D"), int(an::ControlSpec::Kind::Shift));
    m_kind->addItem(tr("positions:J=0 — J gets position id 0"), int(an::ControlSpec::Kind::PositionZero));
    m_kind->addItem(tr("evict:K,W — first K elements + a window of W"), int(an::ControlSpec::Kind::Evict));
    auto spin = [this](QLabel** label, const QString& name, const QString& tip, int value) {
        *label = new QLabel(name, this);
        auto* box = new QSpinBox(this);
        // Wide ranges on purpose: an element outside the prompt or a window too small is the
        // core's to refuse, with its reason, not a value the box silently clamps.
        box->setRange(0, 1 << 24);
        box->setValue(value);
        box->setToolTip(tip);
        (*label)->setBuddy(box);
        return box;
    };
    m_element = spin(&m_elementLabel, tr("J"), tr("The element: click a token in the strip to pick it"), 0);
    m_shift = spin(&m_shiftLabel, tr("D"), tr("Added to every position id"), 1);
    m_sinks = spin(&m_sinksLabel, tr("K"), tr("First elements every query keeps"), 1);
    m_window = spin(&m_windowLabel, tr("W"), tr("Recent elements every query keeps, itself included"), 4);
    m_specLabel = new QLabel(this);
    m_apply = new QPushButton(tr("Apply"), this);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_compare = new QPushButton(tr("Send to Compare"), this);
    m_compare->setToolTip(tr("Show the run before the control (A) beside the run with it (B) in the compare view"));
    m_progress = new QProgressBar(this);
    m_progress->setTextVisible(true);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    inputs->addWidget(m_kind);
    for (auto [label, box] : {std::pair{m_elementLabel, m_element}, std::pair{m_shiftLabel, m_shift},
                              std::pair{m_sinksLabel, m_sinks}, std::pair{m_windowLabel, m_window}}) {
        inputs->addWidget(label);
        inputs->addWidget(box);
    }
    inputs->addWidget(m_specLabel);
    inputs->addStretch(1);
    inputs->addWidget(m_apply);
    inputs->addWidget(m_cancel);
    inputs->addWidget(m_compare);
    inputs->addWidget(m_progress, 1);

    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_cost = new QLabel(this);
    QFont bold = m_cost->font();
    bold.setBold(true);
    m_cost->setFont(bold);

    m_plot = new QCustomPlot(this);
    m_stack = makePlaceholderStack(m_plot, &m_placeholder, this);
    m_plot->plotLayout()->clear();
    // Graphs go into their panel's legend only (the first legend made would take them all).
    m_plot->setAutoAddPlottableToLegend(false);
    m_title = new QCPTextElement(m_plot, QString());
    m_plot->plotLayout()->addElement(0, 0, m_title);
    auto* maps = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(1, 0, maps);
    auto* group = new QCPMarginGroup(m_plot);
    for (int i = 0; i < 2; ++i) {
        m_mapRects[i] = new QCPAxisRect(m_plot);
        maps->addElement(0, i, m_mapRects[i]);
        m_mapRects[i]->setMarginGroup(QCP::msTop | QCP::msBottom, group);
        QCPAxis* x = m_mapRects[i]->axis(QCPAxis::atBottom);
        QCPAxis* y = m_mapRects[i]->axis(QCPAxis::atLeft);
        x->setLabel(i == 0 ? tr("key (before)") : tr("key (after)"));
        y->setLabel(tr("query"));
        y->setRangeReversed(true);
        x->setTickLabelRotation(60);
        x->grid()->setVisible(false);
        y->grid()->setVisible(false);
        m_maps[i] = new QCPColorMap(x, y);
        m_maps[i]->setInterpolate(false);
        m_binned[i] = new BinnedHeadMap(m_maps[i], this);
        connect(m_binned[i], &BinnedHeadMap::shown, this, &ControlsView::mapsDrawn);
    }
    m_scale = new QCPColorScale(m_plot);
    maps->addElement(0, 2, m_scale);
    m_scale->setLabel(tr("attention"));
    m_scale->setGradient(viridisGradient());
    m_scale->setDataRange(QCPRange(0.0, 1.0));
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    for (QCPColorMap* m : m_maps)
        m->setColorScale(m_scale);

    m_curves = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(2, 0, m_curves);
    const CurvePanel sink = curvePanel(m_plot, m_curves, 0, tr("First-element mass, head mean"), tr("layer"), 1);
    const CurvePanel kl = curvePanel(m_plot, m_curves, 1, tr("KL(before ‖ after), nats"), tr("position"), 0);
    const CurvePanel nll = curvePanel(m_plot, m_curves, 2, tr("Next-token NLL, nats"), tr("predicting position"), 2);
    m_sinkRect = sink.rect;
    m_klRect = kl.rect;
    m_nllRect = nll.rect;
    m_nllTitle = nll.title;
    m_sinkLegend = sink.legend;
    m_sinkGraphs[0] = addGraph(m_plot, m_sinkRect, tr("before"), kBefore);
    m_sinkGraphs[1] = addGraph(m_plot, m_sinkRect, tr("after"), kAfter);
    m_klGraph = addGraph(m_plot, m_klRect, tr("KL"), kAfter);
    // Short: the legend is two columns inside a panel a third of a two-column figure wide.
    // "waiver": the window with a designated waiver in front (docs/METHODS.md).
    const QString nllNames[4] = {tr("full"), tr("evicted"), tr("window only"), tr("waiver")};
    for (int i = 0; i < 4; ++i)
        m_nllGraphs[i] = addGraph(m_plot, m_nllRect, nllNames[i], kNllColours[i], i == 2);
    for (QCPGraph* g : m_sinkGraphs)
        g->addToLegend(m_sinkLegend);
    m_nllLegend = nll.legend;
    m_curves->setRowStretchFactor(0, 0.01); // the headers take the height of their text
    // Shown for evict only (updateCurves); out of the layout, the plot still owns it.
    showNllPanel(false);
    m_plot->plotLayout()->setRowStretchFactor(1, 3);
    m_plot->plotLayout()->setRowStretchFactor(2, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(inputs);
    layout->addWidget(m_status);
    layout->addWidget(m_cost);
    layout->addWidget(m_stack, 1);

    connect(m_kind, qOverload<int>(&QComboBox::currentIndexChanged), this, &ControlsView::updateInputs);
    for (QSpinBox* box : {m_element, m_shift, m_sinks, m_window})
        connect(box, qOverload<int>(&QSpinBox::valueChanged), this, &ControlsView::updateInputs);
    connect(m_apply, &QPushButton::clicked, this, &ControlsView::apply);
    connect(m_cancel, &QPushButton::clicked, this, &ControlsView::cancel);
    connect(m_compare, &QPushButton::clicked, this, &ControlsView::sendToCompare);
    // A click on a token picks J: the strip sets the query (Shift+click the key).
    auto pick = [this](int index) {
        if (index >= 0)
            m_element->setValue(index);
    };
    connect(sharedSelection, &Selection::queryChanged, this, pick);
    connect(sharedSelection, &Selection::keyChanged, this, pick);
    // A token click changes only the query/key: the maps are redrawn for another head only.
    connect(sharedSelection, &Selection::changed, this, [this] {
        if (selection()->layer() != m_drawn[0] || selection()->head() != m_drawn[1])
            drawMaps();
    });
    connect(currentResult, &CurrentResult::resultChanged, this, [this] {
        // A control belongs to the tokens it ran on; another run makes it stale.
        const auto r = current()->result();
        if (m_result && m_result->before && (!r || r->encoding.ids() != m_result->before->encoding.ids()))
            setResult(nullptr);
        updateButtons();
        showPlaceholder();
    });
    updateInputs();
    setResult(nullptr);
}

ControlsView::~ControlsView()
{
    cancel();
}

QString ControlsView::specText() const
{
    switch (kKinds[std::max(0, m_kind->currentIndex())]) {
    case an::ControlSpec::Kind::Block: return QStringLiteral("block:%1").arg(m_element->value());
    case an::ControlSpec::Kind::Designate: return QStringLiteral("designate:%1").arg(m_element->value());
    case an::ControlSpec::Kind::Shift: return QStringLiteral("positions:shift=%1").arg(m_shift->value());
    case an::ControlSpec::Kind::PositionZero: return QStringLiteral("positions:%1=0").arg(m_element->value());
    case an::ControlSpec::Kind::Evict: return QStringLiteral("evict:%1,%2").arg(m_sinks->value()).arg(m_window->value());
    }
    return {};
}

bool ControlsView::setControl(const QString& text, QString* error)
{
    an::ControlSpec s;
    try {
        s = an::parseControlSpec(text.toStdString());
    } catch (const Error& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
    for (int i = 0; i < int(std::size(kKinds)); ++i)
        if (kKinds[i] == s.kind)
            m_kind->setCurrentIndex(i);
    if (s.kind == an::ControlSpec::Kind::Shift)
        m_shift->setValue(s.shift);
    else if (s.kind == an::ControlSpec::Kind::Evict) {
        m_sinks->setValue(s.sinks);
        m_window->setValue(s.window);
    } else
        m_element->setValue(s.element);
    return true;
}

int ControlsView::element() const
{
    return m_element->value();
}

void ControlsView::updateInputs()
{
    const an::ControlSpec::Kind k = kKinds[std::max(0, m_kind->currentIndex())];
    const bool element = k == an::ControlSpec::Kind::Block || k == an::ControlSpec::Kind::Designate
        || k == an::ControlSpec::Kind::PositionZero;
    m_elementLabel->setVisible(element);
    m_element->setVisible(element);
    m_shiftLabel->setVisible(k == an::ControlSpec::Kind::Shift);
    m_shift->setVisible(k == an::ControlSpec::Kind::Shift);
    for (QWidget* w : std::initializer_list<QWidget*>{m_sinksLabel, m_sinks, m_windowLabel, m_window})
        w->setVisible(k == an::ControlSpec::Kind::Evict);
    m_specLabel->setText(specText());
}

void ControlsView::updateButtons()
{
    JobService* s = JobService::current();
    const bool canRun = s && s->canRun();
    m_apply->setEnabled(!m_job && canRun && current()->result());
    m_apply->setToolTip(canRun ? tr("Run the prompt on screen as it is and with the control")
                               : tr("A control needs the model: open the model folder to run it"));
    m_cancel->setEnabled(m_job != 0);
    m_compare->setEnabled(m_result && m_result->before && m_result->after);
}

void ControlsView::fail(const QString& message)
{
    m_status->setText(message);
    Q_EMIT controlFailed(message);
}

void ControlsView::apply()
{
    if (m_job)
        return;
    const auto r = current()->result();
    if (!r)
        return fail(tr("Run a prompt first: a control runs on the prompt on screen."));
    JobService* s = JobService::current();
    if (!s || !s->canRun())
        return fail(tr("Open a model first: a control runs on the loaded model."));
    an::ControlSpec spec;
    try {
        spec = an::parseControlSpec(specText().toStdString());
    } catch (const Error& e) {
        return fail(tr("Cannot apply %1: %2").arg(specText(), QString::fromStdString(e.what())));
    }
    if (m_service != s) {
        if (m_service)
            disconnect(m_service, nullptr, this, nullptr);
        m_service = s;
        connect(s, &JobService::jobProgress, this, &ControlsView::onProgress);
        connect(s, &JobService::jobFinished, this, &ControlsView::onFinished);
        connect(s, &JobService::jobFailed, this, &ControlsView::onFailed);
    }
    m_progress->setRange(0, 0);
    m_status->setText(tr("Applying %1…").arg(specText()));
    m_job = s->startJob(std::make_shared<an::ControlJob>(r->encoding, spec));
    updateButtons();
}

void ControlsView::cancel()
{
    if (m_job && m_service)
        m_service->cancelJob(m_job);
}

void ControlsView::onProgress(quint64 id, const JobProgress& p)
{
    if (id != m_job)
        return;
    showJobProgress(m_progress, m_status, p);
}

void ControlsView::onFinished(quint64 id, std::shared_ptr<const JobResult> r)
{
    if (id != m_job)
        return;
    m_job = 0;
    showJobEnded(m_progress);
    auto c = std::dynamic_pointer_cast<const an::ControlResult>(r);
    if (!c) {
        updateButtons();
        return fail(tr("The job returned no control result."));
    }
    m_status->setText(tr("Applied %1.").arg(QString::fromStdString(c->spec.text)));
    setResult(c);
    Q_EMIT controlFinished();
}

void ControlsView::onFailed(quint64 id, const QString& message, bool cancelled)
{
    if (id != m_job)
        return;
    m_job = 0;
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    updateButtons();
    fail(cancelled ? tr("Control cancelled; the previous result is kept.")
                   : tr("Control failed: %1 The previous result is kept.").arg(message));
}

void ControlsView::setResult(std::shared_ptr<const an::ControlResult> result)
{
    m_result = std::move(result);
    rebuild();
    updateButtons();
}

QString ControlsView::costText() const
{
    if (!m_result)
        return {};
    const double d = m_result->nllAfter - m_result->nllBefore;
    return tr("%1: NLL before %2, after %3 (%4%5) · mean KL %6 nats")
        .arg(QString::fromStdString(m_result->spec.text))
        .arg(m_result->nllBefore, 0, 'f', 4)
        .arg(m_result->nllAfter, 0, 'f', 4)
        .arg(d >= 0 ? QStringLiteral("+") : QString())
        .arg(d, 0, 'f', 4)
        .arg(m_result->klMean, 0, 'f', 4);
}

QString ControlsView::statusText() const
{
    return m_status->text();
}

void ControlsView::showPlaceholder()
{
    if (m_result)
        return;
    m_placeholder->setText(!current()->result()
                               ? tr("Run a prompt first: a control runs on the prompt on screen.")
                               : tr("Pick a control and its element (click a token in the strip, or set J), then Apply: "
                                    "the prompt runs as it is and with the control, and the maps, the sink curve and "
                                    "the cost are shown before and after."));
    m_stack->setCurrentIndex(0);
}

void ControlsView::rebuild()
{
    m_cost->setText(costText());
    if (!m_result) {
        for (BinnedHeadMap* m : m_binned)
            m->clear(); // a map still on its way is not wanted any more
        showPlaceholder();
        Q_EMIT figureChanged();
        return;
    }
    const an::ControlResult& r = *m_result;
    const bool evict = r.spec.kind == an::ControlSpec::Kind::Evict;
    for (QCPGraph* g : m_sinkGraphs)
        g->data()->clear();
    if (r.before && r.after && !r.before->firstMassPerQuery.empty() && !r.after->firstMassPerQuery.empty()) {
        const bool causal = r.model.attention != "bidirectional";
        const an::SinkCurve b = an::sinkCurve(r.before->firstMassPerQuery, causal);
        const an::SinkCurve a = an::sinkCurve(r.after->firstMassPerQuery, causal);
        const QVector<double> xs = positions(size_t(b.mean.size()));
        QVector<double> yb(xs.size()), ya(xs.size());
        for (int l = 0; l < xs.size(); ++l) {
            yb[l] = double(b.mean[l]);
            ya[l] = double(a.mean[l]);
        }
        m_sinkGraphs[0]->setData(xs, yb, true);
        m_sinkGraphs[1]->setData(xs, ya, true);
    }
    m_klGraph->setData(positions(r.klPerPosition.size()), toVector(r.klPerPosition), true);
    setMarkers(m_klGraph);
    const std::vector<double>* nll[4] = {&r.nllFull, &r.nllEvicted, &r.nllWindowOnly, &r.nllDesignated};
    for (int i = 0; i < 4; ++i) {
        m_nllGraphs[i]->setData(positions(nll[i]->size()), toVector(*nll[i]), true);
        setMarkers(m_nllGraphs[i]);
        // The designated waiver is absent for K = 0 (nothing to designate): no legend entry then.
        m_nllGraphs[i]->setVisible(!nll[i]->empty());
        if (nll[i]->empty())
            m_nllGraphs[i]->removeFromLegend(m_nllLegend);
        else if (!m_nllLegend->hasItemWithPlottable(m_nllGraphs[i]))
            m_nllGraphs[i]->addToLegend(m_nllLegend);
    }
    // The NLL-against-position plot exists for evict only.
    showNllPanel(evict);
    for (QCPAxisRect* rect : {m_sinkRect, m_klRect, m_nllRect})
        rescale(rect);
    placeLegendWhereFewestPoints(m_sinkRect, m_sinkLegend);
    placeLegendWhereFewestPoints(m_nllRect, m_nllLegend);
    m_stack->setCurrentIndex(1);
    drawMaps();
}

void ControlsView::showNllPanel(bool show)
{
    const bool placed = m_nllRect->layout() != nullptr;
    if (show && !placed) {
        m_curves->addElement(0, 2, m_nllTitle);
        m_curves->addElement(1, 2, m_nllRect);
    } else if (!show && placed) {
        m_curves->take(m_nllTitle);
        m_curves->take(m_nllRect);
        m_curves->simplify();
    }
    m_nllTitle->setVisible(show);
    m_nllRect->setVisible(show);
}

RowMatrixXf ControlsView::beforeMap() const
{
    const int l = selection()->layer(), h = selection()->head();
    if (!m_result || !m_result->before || l < 0 || h < 0 || l >= m_result->model.layers || h >= m_result->model.heads)
        return {};
    return m_result->before->attentionMap(l, h);
}

RowMatrixXf ControlsView::afterMap() const
{
    const int l = selection()->layer(), h = selection()->head();
    if (!m_result || !m_result->after || l < 0 || h < 0 || l >= m_result->model.layers || h >= m_result->model.heads)
        return {};
    return m_result->after->attentionMap(l, h);
}

bool ControlsView::isComputing() const
{
    return m_binned[0]->isComputing() || m_binned[1]->isComputing();
}

void ControlsView::drawMaps()
{
    if (!m_result)
        return;
    m_drawn[0] = selection()->layer();
    m_drawn[1] = selection()->head();
    // Binned to the plot's pixels; a long prompt's on a worker thread (the maps on screen stay
    // until the new ones arrive).
    const std::shared_ptr<const RunResult> runs[2] = {m_result->before, m_result->after};
    m_requesting = true;
    for (int i = 0; i < 2; ++i) {
        if (runs[i])
            m_binned[i]->showMap(runs[i], m_drawn[0], m_drawn[1]);
        else
            m_binned[i]->clear();
    }
    m_requesting = false;
    updateMapTitle();
    m_plot->replot();
    Q_EMIT figureChanged();
    if (!isComputing())
        Q_EMIT mapsShown();
}

void ControlsView::mapsDrawn()
{
    if (m_requesting)
        return; // drawMaps finishes the figure
    updateMapTitle();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
    if (!isComputing())
        Q_EMIT mapsShown();
}

void ControlsView::updateMapTitle()
{
    if (!m_result)
        return;
    for (int i = 0; i < 2; ++i) {
        const BinnedHeadMap* m = m_binned[i];
        QString label = i == 0 ? tr("key (before)") : tr("key (after)");
        if (m->isShown())
            label += QStringLiteral(" · ") + m->aggregateText();
        else if (!m->error().isEmpty() && !m->isComputing())
            label += QStringLiteral(" · ") + m->error();
        m_mapRects[i]->axis(QCPAxis::atBottom)->setLabel(label);
    }
    QString title = tr("%1 · L%2.H%3 before (left) and after (right)")
                        .arg(QString::fromStdString(m_result->spec.text))
                        .arg(m_drawn[0])
                        .arg(m_drawn[1]);
    if (isComputing())
        title += tr(" · computing the maps …");
    m_title->setText(title);
}

void ControlsView::sendToCompare()
{
    if (!m_result || !m_result->before || !m_result->after)
        return;
    // Both runs are the tokens on screen given as ids (no prompt text of their own).
    SessionRun a, b;
    a.model = b.model = describeModelFolder(m_result->before->model.dir);
    a.label = "before";
    a.result = m_result->before;
    b.label = "with " + m_result->spec.text;
    b.result = m_result->after;
    Q_EMIT compareRequested(a, b);
}

QString ControlsView::defaultFileName() const
{
    QString spec = m_result ? QString::fromStdString(m_result->spec.text) : specText();
    spec.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9]+")), QStringLiteral("-"));
    return QString::fromStdString(m_result ? m_result->model.name : std::string("model")) + QStringLiteral("-control-")
        + spec + QStringLiteral("-l%1-h%2").arg(selection()->layer()).arg(selection()->head());
}

QByteArray ControlsView::dataCsv() const
{
    return dataExportBytes(dataExport());
}

DataExport ControlsView::dataExport() const
{
    if (!m_result)
        return {};
    // A snapshot for the job: the shared result, the selected head, and the sink curves as drawn.
    const std::shared_ptr<const an::ControlResult> result = m_result;
    const int layer = selection()->layer(), head = selection()->head();
    std::vector<std::pair<int, double>> sinks[2];
    for (int i = 0; i < 2; ++i) {
        const QSharedPointer<QCPGraphDataContainer> d = m_sinkGraphs[i]->data();
        for (auto it = d->constBegin(); it != d->constEnd(); ++it)
            sinks[i].emplace_back(int(it->key), it->value);
    }
    const bool haveMaps = layer >= 0 && head >= 0 && layer < result->model.layers && head < result->model.heads;
    DataExport d;
    const int64_t T = result->before ? result->before->tokens : 0;
    d.cells = haveMaps ? T * (T + 1) : 0; // two maps' visible cells, about
    d.job = [result, layer, head, haveMaps, sinks = std::move(sinks[0]), sinksAfter = std::move(sinks[1])](CsvWriter& out) {
        const an::ControlResult& r = *result;
        QByteArray& b = out.buffer();
        auto row = [&](const char* series, const QByteArray& l, const QByteArray& h, const QByteArray& pos,
                       const QByteArray& key, double v) {
            b += QByteArray(series) + ',' + l + ',' + h + ',' + pos + ',' + key + ',' + csvNumber(v) + '\n';
            out.rowDone();
        };
        b += "series,layer,head,position,key,value\n";
        row("nll_before", {}, {}, {}, {}, r.nllBefore);
        row("nll_after", {}, {}, {}, {}, r.nllAfter);
        row("kl_mean", {}, {}, {}, {}, r.klMean);
        for (size_t t = 0; t < r.klPerPosition.size(); ++t)
            row("kl", {}, {}, QByteArray::number(qulonglong(t)), {}, r.klPerPosition[t]);
        for (int l = 0; l < r.firstMassBefore.rows(); ++l)
            for (int h = 0; h < r.firstMassBefore.cols(); ++h) {
                row("first_mass_before", QByteArray::number(l), QByteArray::number(h), {}, {}, r.firstMassBefore(l, h));
                row("first_mass_after", QByteArray::number(l), QByteArray::number(h), {}, {}, r.firstMassAfter(l, h));
            }
        for (const auto& [l, v] : sinks)
            row("sink_before", QByteArray::number(l), {}, {}, {}, v);
        for (const auto& [l, v] : sinksAfter)
            row("sink_after", QByteArray::number(l), {}, {}, {}, v);
        const char* nllNames[4] = {"nll_full", "nll_evicted", "nll_window_only", "nll_designated"};
        const std::vector<double>* nll[4] = {&r.nllFull, &r.nllEvicted, &r.nllWindowOnly, &r.nllDesignated};
        for (int i = 0; i < 4; ++i)
            for (size_t t = 0; t < nll[i]->size(); ++t)
                row(nllNames[i], {}, {}, QByteArray::number(qulonglong(t)), {}, (*nll[i])[t]);
        if (!haveMaps)
            return;
        // Every visible cell of both maps at full resolution (T(T+1)/2 rows per map when causal),
        // formed a block of rows at a time and appended in place.
        const QByteArray l = QByteArray::number(layer), h = QByteArray::number(head);
        const RunResult* runs[2] = {r.before.get(), r.after.get()};
        int64_t total = 0, done = 0;
        for (const RunResult* run : runs)
            total += run ? run->tokens * run->tokens : 0;
        for (int i = 0; i < 2; ++i) {
            const RunResult* run = runs[i];
            if (!run)
                continue;
            const int64_t T = run->tokens;
            const QByteArray prefix = QByteArray(i == 0 ? "map_before," : "map_after,") + l + ',' + h + ',';
            const int64_t block = mapRowsPerBlock(T);
            for (int64_t q0 = 0; q0 < T; q0 += block) {
                const int64_t n = std::min(block, T - q0);
                const RowMatrixXf rows = run->attentionRows(layer, head, q0, n);
                for (int64_t j = 0; j < n; ++j) {
                    const int q = int(q0 + j);
                    const QByteArray query = QByteArray::number(q) + ',';
                    for (int k = 0; k < int(T); ++k)
                        if (!isMaskedCell(*run, q, k))
                            b.append(prefix).append(query).append(QByteArray::number(k)).append(',').append(csvNumber(rows(j, k))).append('\n');
                    out.rowDone();
                }
                done += n * T;
                out.step(done, total);
            }
        }
    };
    return d;
}

} // namespace sinkscope
