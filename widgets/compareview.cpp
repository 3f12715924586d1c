// SPDX-License-Identifier: GPL-3.0-or-later
#include "compareview.h"

#include "binnedheadmap.h"
#include "colormaps.h"
#include "plotstyle.h"
#include "currentresult.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"

#include "sinkscope/error.h"

#include <QLabel>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

namespace sinkscope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
} // namespace

ViewSpec CompareView::spec()
{
    return {QStringLiteral("compare"), tr("Compare"), QKeySequence(QStringLiteral("Ctrl+8")),
            tr("Two runs side by side (the current run A and a kept run B) and the difference B − A of the selected head."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new CompareView(current, selection, parent);
            },
            QStringLiteral("two-column")};
}

CompareView::CompareView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    m_stack = new QStackedWidget(this);
    m_placeholder = new QLabel(this);
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_plot = new QCustomPlot(this);
    m_stack->addWidget(m_placeholder);
    m_stack->addWidget(m_plot);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);

    m_plot->plotLayout()->clear();
    m_title = new QCPTextElement(m_plot, QString());
    m_plot->plotLayout()->addElement(0, 0, m_title);
    auto* row = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(1, 0, row);
    auto* group = new QCPMarginGroup(m_plot);
    const QString keyLabels[3] = {tr("key (A)"), tr("key (B)"), tr("key (aligned)")};
    int column = 0;
    for (int i = 0; i < 3; ++i) {
        m_rects[i] = new QCPAxisRect(m_plot);
        row->addElement(0, column++, m_rects[i]);
        m_rects[i]->setMarginGroup(QCP::msTop | QCP::msBottom, group);
        QCPAxis* x = m_rects[i]->axis(QCPAxis::atBottom);
        QCPAxis* y = m_rects[i]->axis(QCPAxis::atLeft);
        x->setLabel(keyLabels[i]);
        y->setLabel(i == 0 ? tr("query (A)") : i == 1 ? tr("query (B)") : tr("query (aligned)"));
        y->setRangeReversed(true);
        x->setTickLabelRotation(60);
        x->grid()->setVisible(false);
        y->grid()->setVisible(false);
        m_maps[i] = new QCPColorMap(x, y);
        m_maps[i]->setInterpolate(false);
        m_binned[i] = new BinnedHeadMap(m_maps[i], this);
        connect(m_binned[i], &BinnedHeadMap::shown, this, &CompareView::mapsDrawn);
        if (i == 1) {
            m_scale = new QCPColorScale(m_plot);
            row->addElement(0, column++, m_scale);
            m_scale->setLabel(tr("attention"));
            m_scale->setGradient(viridisGradient());
            m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
        }
    }
    m_diffScale = new QCPColorScale(m_plot);
    row->addElement(0, column++, m_diffScale);
    m_diffScale->setLabel(tr("B − A"));
    m_diffScale->setGradient(colorMapGradient(ColorMap::Diverging, noValueColor()));
    m_diffScale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    m_maps[0]->setColorScale(m_scale);
    m_maps[1]->setColorScale(m_scale);
    m_maps[2]->setColorScale(m_diffScale);

    connect(currentResult, &CurrentResult::resultChanged, this, [this] {
        m_pinnedA = SessionRun{};
        m_pairLabels[0] = QString();
        rebuild();
    });
    // A token click changes only the query/key: the maps are redrawn for another head only.
    connect(sharedSelection, &Selection::changed, this, [this] {
        if (!m_hasFigure || selection()->layer() != m_drawn[0] || selection()->head() != m_drawn[1])
            rebuild();
    });
    rebuild();
}

CompareView::~CompareView() = default;

void CompareView::setOther(const SessionRun& other)
{
    m_other = other;
    m_pairLabels[0] = m_pairLabels[1] = QString();
    rebuild();
    Q_EMIT otherChanged();
}

void CompareView::clearOther()
{
    m_pinnedA = SessionRun{};
    setOther(SessionRun{});
}

void CompareView::setPair(const SessionRun& a, const SessionRun& b)
{
    m_pinnedA = a;
    m_other = b;
    m_pairLabels[0] = QString::fromStdString(a.label);
    m_pairLabels[1] = QString::fromStdString(b.label);
    rebuild();
    Q_EMIT otherChanged();
}

std::shared_ptr<const RunResult> CompareView::runA() const
{
    return m_pinnedA.result ? m_pinnedA.result : current()->result();
}

bool CompareView::isComputing() const
{
    return m_binned[0]->isComputing() || m_binned[1]->isComputing() || m_binned[2]->isComputing();
}

void CompareView::showPlaceholder(const QString& text)
{
    for (BinnedHeadMap* m : m_binned)
        m->clear(); // a map still on its way is not wanted any more
    m_hasFigure = false;
    m_alignment = {};
    m_placeholder->setText(text);
    m_stack->setCurrentWidget(m_placeholder);
    Q_EMIT figureChanged();
}

void CompareView::rebuild()
{
    const std::shared_ptr<const RunResult> a = runA();
    const std::shared_ptr<const RunResult> b = m_other.result;
    if (!a || !b) {
        showPlaceholder(!b ? tr("No run to compare with yet. Run → Keep Run for Comparison keeps the current run as B; "
                                "then run another prompt, switch the BOS, open another model or apply a control, and "
                                "run again: the new run is A. Run → Compare With Session… takes B from a saved session.")
                           : tr("Run a prompt: the current run is A, compared with the kept run B."));
        return;
    }
    const int layer = selection()->layer(), head = selection()->head();
    if (layer >= b->model.layers || head >= b->model.heads) {
        showPlaceholder(tr("Layer %1, head %2 is not in run B (%3 layers × %4 heads).")
                            .arg(layer).arg(head).arg(b->model.layers).arg(b->model.heads));
        return;
    }
    if (!a->canMakeMaps() || !b->canMakeMaps()) {
        showPlaceholder(tr("A run of the comparison kept neither attention maps nor Q and K."));
        return;
    }
    m_alignment = alignRuns(a->encoding.ids(), b->encoding.ids());
    if (m_alignment.length <= 0) {
        showPlaceholder(tr("Runs A and B have no positions to compare."));
        return;
    }
    // Binned to the plot's pixels, a long prompt's on worker threads (the maps on screen stay
    // until the new ones arrive). The colour range of B − A is set when it is drawn.
    m_drawn[0] = layer;
    m_drawn[1] = head;
    m_requesting = true;
    m_binned[0]->showMap(a, layer, head);
    m_binned[1]->showMap(b, layer, head);
    m_binned[2]->showDifference(a, b, m_alignment, layer, head);
    m_requesting = false;
    m_scale->setDataRange(QCPRange(0.0, 1.0));
    const int n = m_alignment.length;

    // A pair's labels (e.g. "with block:3") say what the runs are when the model alone does not.
    auto sideName = [](const RunResult& r, const QString& label) {
        const QString name = QString::fromStdString(r.model.name);
        return label.isEmpty() ? name : name + QStringLiteral(", ") + label;
    };
    const QString aName = sideName(*a, m_pairLabels[0]), bName = sideName(*b, m_pairLabels[1]);
    m_heading = tr("L%1.H%2   A: %3 (%4 tokens%5)   B: %6 (%7 tokens%8)   aligned: %9, %10 positions")
                         .arg(layer).arg(head)
                         .arg(aName).arg(a->tokens).arg(a->encoding.bosAdded ? tr(", BOS") : QString())
                         .arg(bName).arg(b->tokens).arg(b->encoding.bosAdded ? tr(", BOS") : QString())
                         .arg(QString::fromStdString(m_alignment.rule)).arg(n);
    updateLabels();
    m_stack->setCurrentWidget(m_plot);
    m_plot->replot();
    m_hasFigure = true;
    Q_EMIT figureChanged();
    if (!isComputing())
        Q_EMIT mapsShown();
}

void CompareView::mapsDrawn()
{
    if (m_requesting || !m_hasFigure)
        return; // rebuild finishes the figure
    updateLabels();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT figureChanged();
    if (!isComputing())
        Q_EMIT mapsShown();
}

void CompareView::updateLabels()
{
    const QString keyLabels[3] = {tr("key (A)"), tr("key (B)"), tr("key (aligned)")};
    QStringList problems;
    for (int i = 0; i < 3; ++i) {
        const BinnedHeadMap* m = m_binned[i];
        QString label = keyLabels[i];
        if (m->isShown())
            label += QStringLiteral(" · ") + m->aggregateText();
        else if (!m->error().isEmpty() && !m->isComputing())
            problems << (i == 0 ? tr("A: ") : i == 1 ? tr("B: ") : tr("B − A: ")) + m->error();
        m_rects[i]->axis(QCPAxis::atBottom)->setLabel(label);
    }
    // Symmetric, so that white is exactly zero; a tiny floor keeps identical runs drawable.
    m_diffScale->setDataRange(QCPRange(-std::max(m_binned[2]->extent(), 1e-6), std::max(m_binned[2]->extent(), 1e-6)));
    QString title = m_heading;
    if (isComputing())
        title += tr("   · computing the maps …");
    if (!problems.isEmpty())
        title += QLatin1Char('\n') + problems.join(QLatin1Char('\n'));
    m_title->setText(title);
}

QString CompareView::defaultFileName() const
{
    return QStringLiteral("compare-l%1-h%2").arg(selection()->layer()).arg(selection()->head());
}

QByteArray CompareView::dataCsv() const
{
    return dataExportBytes(dataExport());
}

DataExport CompareView::dataExport() const
{
    if (!m_hasFigure)
        return {};
    const std::shared_ptr<const RunResult> a = runA();
    const std::shared_ptr<const RunResult> b = m_other.result;
    const int layer = selection()->layer(), head = selection()->head();
    const RunAlignment al = m_alignment;
    DataExport d;
    d.cells = int64_t(al.length) * al.length;
    d.job = [a, b, layer, head, al](CsvWriter& out) {
        QByteArray& buf = out.buffer();
        buf += "query_a,key_a,query_b,key_b,a,b,b_minus_a\n";
        // The aligned rows of both maps, a block at a time (never two T x T matrices).
        const int64_t block = mapRowsPerBlock(std::max(a->tokens, b->tokens));
        for (int64_t q0 = 0; q0 < al.length; q0 += block) {
            const int64_t n = std::min<int64_t>(block, al.length - q0);
            const RowMatrixXf ra = a->attentionRows(layer, head, al.offsetA + q0, n);
            const RowMatrixXf rb = b->attentionRows(layer, head, al.offsetB + q0, n);
            for (int64_t j = 0; j < n; ++j) {
                const int q = int(q0 + j);
                for (int k = 0; k < al.length; ++k) {
                    const int qa = al.offsetA + q, ka = al.offsetA + k, qb = al.offsetB + q, kb = al.offsetB + k;
                    if (isMaskedCell(*a, qa, ka) || isMaskedCell(*b, qb, kb))
                        continue;
                    const float va = ra(j, ka), vb = rb(j, kb);
                    buf += QByteArray::number(qa) + ',' + QByteArray::number(ka) + ',' + QByteArray::number(qb) + ','
                        + QByteArray::number(kb) + ',' + csvNumber(va) + ',' + csvNumber(vb) + ',' + csvNumber(vb - va) + '\n';
                }
                out.rowDone();
            }
            out.step(q0 + n, al.length);
        }
    };
    return d;
}

} // namespace sinkscope
