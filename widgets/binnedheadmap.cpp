// SPDX-License-Identifier: GPL-3.0-or-later
#include "binnedheadmap.h"

#include "qcustomplot_wrapper.h"
#include "tokenticker.h"

#include "sinkscope/error.h"
#include "sinkscope/mapbins.h"

#include <QTimer>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinkscope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Characters of a token kept on a map's axes: these maps share a figure with other panels.
constexpr int kAxisLabelChars = 8;

// Which keys a query of `layer` sees, as binAttentionMap decides it: the layer's recipe, or for a
// run without recipes the model's attention kind.
// Whether two runs' recipes of `layer` mask the same cells of an n x n aligned block (the masks
// depend only on q - k, so the offsets do not matter).
bool sameVisibility(const RunResult& a, const RunResult& b, int layer, int n)
{
    const AttentionRecipe ra = a.recipe(layer), rb = b.recipe(layer);
    auto window = [n](int w) { return w > 0 && w < n ? w : 0; };
    return ra.causal == rb.causal && window(ra.window) == window(rb.window);
}

int blocksOf(int cells, int pixels)
{
    return std::max(1, (cells + std::max(1, pixels) - 1) / std::max(1, pixels));
}

} // namespace

BinnedHeadMap::BinnedHeadMap(QCPColorMap* map, QObject* parent) : QObject(parent), m_map(map)
{
    m_pool.setMaxThreadCount(1);
    if (map && map->parentPlot())
        connect(map->parentPlot(), &QCustomPlot::afterReplot, this, &BinnedHeadMap::checkSize);
}

BinnedHeadMap::BinnedHeadMap(QSize pixels, QObject* parent) : QObject(parent), m_pixels(pixels)
{
    m_pool.setMaxThreadCount(1);
}

BinnedHeadMap::~BinnedHeadMap()
{
    if (m_cancel)
        m_cancel->store(true);
    m_pool.waitForDone();
}

QString BinnedHeadMap::aggregateText() const
{
    if (m_block[0] == 1 && m_block[1] == 1)
        return tr("exact cells");
    return tr("blocks of %1 queries × %2 keys: %3")
        .arg(m_block[0])
        .arg(m_block[1])
        .arg(m_aggregate == Aggregate::Mean ? tr("mean of B − A") : tr("maximum"));
}

void BinnedHeadMap::showMap(std::shared_ptr<const RunResult> run, int layer, int head)
{
    Request r;
    r.a = std::move(run);
    r.layer = layer;
    r.head = head;
    r.length = r.a ? int(r.a->tokens) : 0;
    start(std::move(r));
}

void BinnedHeadMap::showDifference(std::shared_ptr<const RunResult> a, std::shared_ptr<const RunResult> b,
                                   const RunAlignment& alignment, int layer, int head)
{
    Request r;
    r.a = std::move(a);
    r.b = std::move(b);
    r.alignment = alignment;
    r.layer = layer;
    r.head = head;
    r.length = alignment.length;
    start(std::move(r));
}

void BinnedHeadMap::clear()
{
    ++m_generation;
    if (m_cancel)
        m_cancel->store(true);
    m_cancel.reset();
    m_pending = 0;
    m_haveRequest = false;
    m_shown = false;
    m_error.clear();
    m_values = RowMatrixXf();
    m_block[0] = m_block[1] = 1;
    m_drawn[0] = m_drawn[1] = -1;
    m_extent = 0.0;
    if (m_map)
        m_map->data()->clear();
}

void BinnedHeadMap::blocksFor(Request& r) const
{
    int pw = m_pixels.width(), ph = m_pixels.height();
    if (m_map) {
        // The axis rect's size as the next replot lays it out (QCustomPlot lays out on replot
        // only; a resize since then is caught by checkSize after that replot).
        if (QCustomPlot* plot = m_map->parentPlot(); plot && plot->isVisible()) {
            plot->plotLayout()->update(QCPLayoutElement::upPreparation);
            plot->plotLayout()->update(QCPLayoutElement::upMargins);
            plot->plotLayout()->update(QCPLayoutElement::upLayout);
        }
        const QCPAxisRect* rect = m_map->keyAxis()->axisRect();
        pw = std::max(rect->width(), minPixels());
        ph = std::max(rect->height(), minPixels());
    }
    r.blockKeys = blocksOf(r.length, pw);
    r.blockQueries = blocksOf(r.length, ph);
}

BinnedHeadMap::Drawn BinnedHeadMap::compute(const Request& r, const std::atomic<bool>* cancel)
{
    Drawn d;
    MapBinning b;
    b.quantity = MapQuantity::Probabilities;
    b.wholeMap = false; // the blocks only: no colour statistics are needed
    b.binQueries = r.blockQueries;
    b.binKeys = r.blockKeys;
    b.cancel = cancel;
    try {
        if (!r.b) {
            b.means = false; // a map draws the maxima only
            d.values = binAttentionMap(*r.a, r.layer, r.head, b).max;
            return d;
        }
        const RunAlignment& al = r.alignment;
        b.means = true;
        MapBinning ba = b, bb = b;
        ba.q0 = ba.k0 = al.offsetA;
        ba.q1 = ba.k1 = al.offsetA + al.length;
        bb.q0 = bb.k0 = al.offsetB;
        bb.q1 = bb.k1 = al.offsetB + al.length;
        const MapBins A = binAttentionMap(*r.a, r.layer, r.head, ba);
        const MapBins B = binAttentionMap(*r.b, r.layer, r.head, bb);
        // The mean of B - A over a block's cells: mean(B) - mean(A) (the same cells are visible
        // in both, checked before; NaN where a block has none).
        d.values = B.mean - A.mean;
    } catch (const Error& e) {
        d.values = RowMatrixXf();
        d.error = QString::fromStdString(e.what());
    }
    return d;
}

void BinnedHeadMap::start(Request r)
{
    ++m_generation;
    if (m_cancel)
        m_cancel->store(true); // whatever is on the worker is not wanted any more
    m_cancel.reset();
    m_pending = 0;
    m_shown = false;
    m_error.clear();
    m_request = r;
    m_haveRequest = true;

    QString refused;
    const int layers = r.a ? r.a->model.layers : 0, heads = r.a ? r.a->model.heads : 0;
    if (!r.a || r.length <= 0)
        refused = tr("There is no map to draw (no tokens, or no aligned positions).");
    else if (!r.a->canMakeMaps() || (r.b && !r.b->canMakeMaps()))
        refused = tr("The run kept neither attention maps nor Q and K.");
    else if (r.layer < 0 || r.head < 0 || r.layer >= layers || r.head >= heads
             || (r.b && (r.layer >= r.b->model.layers || r.head >= r.b->model.heads)))
        refused = tr("Layer %1, head %2 is not in the model.").arg(r.layer).arg(r.head);
    if (m_map && refused.isEmpty()) {
        // The axes first: their labels take room from the axis rect, which decides the blocks.
        const int offset = r.b ? r.alignment.offsetA : 0;
        for (QCPAxis* axis : {m_map->keyAxis(), m_map->valueAxis()}) {
            setTokenTicks(axis, r.a->encoding, offset, r.length, kAxisLabelChars);
            axis->setRange(-0.5, r.length - 0.5);
        }
    }
    blocksFor(r);
    m_request = r;
    if (refused.isEmpty() && r.b && (r.blockQueries > 1 || r.blockKeys > 1)
        && !sameVisibility(*r.a, *r.b, r.layer, r.length))
        refused = tr("The difference is not drawn at blocks of %1 × %2 cells: the runs mask different cells "
                     "(causal and bidirectional, or another sliding window), so a block's means are not over the "
                     "same cells. Export the data for the exact cells.")
                      .arg(r.blockQueries)
                      .arg(r.blockKeys);
    if (!refused.isEmpty()) {
        Drawn d;
        d.error = refused;
        apply(r, std::move(d));
        return;
    }
    const int64_t work = std::max<int64_t>(r.a->tokens, r.b ? r.b->tokens : 0);
    if (work <= asyncTokens()) {
        apply(r, compute(r, nullptr));
        return;
    }
    // A long prompt: T x T x head-dim work that must not hold up the window.
    const uint64_t generation = m_generation;
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    m_cancel = cancel;
    m_pending = generation;
    m_pool.start([this, r, cancel, generation] {
        if (cancel->load())
            return; // superseded while queued
        Drawn d = compute(r, cancel.get());
        if (cancel->load())
            return;
        // The destructor waits for this worker, so `this` is alive; Qt drops calls queued to a
        // deleted object.
        QMetaObject::invokeMethod(
            this,
            [this, r, generation, d = std::move(d)]() mutable {
                if (generation == m_generation)
                    apply(r, std::move(d));
            },
            Qt::QueuedConnection);
    });
}

void BinnedHeadMap::apply(const Request& r, Drawn d)
{
    m_pending = 0;
    m_cancel.reset();
    m_shown = d.error.isEmpty();
    m_error = d.error;
    m_values = std::move(d.values);
    m_aggregate = r.b ? Aggregate::Mean : Aggregate::Maximum;
    m_block[0] = r.blockQueries;
    m_block[1] = r.blockKeys;
    m_drawn[0] = r.layer;
    m_drawn[1] = r.head;
    m_extent = 0.0;
    for (Eigen::Index i = 0; i < m_values.size(); ++i)
        if (std::isfinite(m_values.data()[i]))
            m_extent = std::max(m_extent, double(std::abs(m_values.data()[i])));
    if (m_map) {
        QCPColorMapData* data = m_map->data();
        const int n = r.length;
        if (!m_shown || n <= 0) {
            data->clear();
        } else {
            const int bq = r.blockQueries, bk = r.blockKeys;
            // At least two cells per axis: QCustomPlot gives a one-cell axis no extent (the
            // extra cell lies past the map and stays empty).
            const int gk = std::max(2, int(m_values.cols())), gq = std::max(2, int(m_values.rows()));
            data->setSize(gk, gq);
            data->setRange(QCPRange((bk - 1) / 2.0, (gk - 1) * bk + (bk - 1) / 2.0),
                           QCPRange((bq - 1) / 2.0, (gq - 1) * bq + (bq - 1) / 2.0));
            for (int j = 0; j < gq; ++j)
                for (int i = 0; i < gk; ++i) {
                    const float v = j < m_values.rows() && i < m_values.cols() ? m_values(j, i) : std::nanf("");
                    data->setCell(i, j, std::isfinite(v) ? double(v) : kNaN);
                }
        }
    }
    Q_EMIT shown();
}

void BinnedHeadMap::checkSize()
{
    // After a replot the axis rect has its laid-out size: bin again when the blocks would change.
    if (!m_haveRequest || !m_error.isEmpty() || m_sizeCheckQueued || !m_map)
        return;
    Request r = m_request;
    blocksFor(r);
    if (r.blockQueries == m_request.blockQueries && r.blockKeys == m_request.blockKeys)
        return;
    m_sizeCheckQueued = true;
    // Not from inside the replot (QCustomPlot ignores a replot asked for during one).
    QTimer::singleShot(0, this, [this] {
        m_sizeCheckQueued = false;
        if (!m_haveRequest || !m_error.isEmpty())
            return;
        Request again = m_request;
        blocksFor(again);
        if (again.blockQueries != m_request.blockQueries || again.blockKeys != m_request.blockKeys)
            start(std::move(again));
    });
}

} // namespace sinkscope
