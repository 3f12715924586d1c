// SPDX-License-Identifier: GPL-3.0-or-later
// One head's attention map of one run (or the difference of two runs' maps) at the resolution it
// is drawn at: the one way the controls, compare and classification views put a map on screen.
#pragma once

#include "sinkscope/compare.h"
#include "sinkscope/runresult.h"

#include <QObject>
#include <QPointer>
#include <QSize>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <cstdint>
#include <memory>

class QCPColorMap;

namespace sinkscope {

/// Keeps a QCPColorMap (or, without one, a matrix of a given pixel size) filled with one head's
/// map, binned by the core (binAttentionMap) to at most one bin per pixel of the plot's axis rect:
/// each drawn cell is a block of blockQueries() x blockKeys() cells of the map, 1 x 1 (exact
/// cells) when the map has no more cells than pixels.
///  - showMap: the block maximum of the probabilities over the block's visible cells (a sink
///    stripe keeps its colour at any size).
///  - showDifference: B - A over the aligned positions, the block mean of B minus the block mean
///    of A, which is the mean of B - A over the block (exact per block) when both runs see the
///    same cells; with 1 x 1 blocks it is the cell's difference, hidden where either run masks it.
/// Cells without a value (masked keys, a block with no visible cell) are NaN.
///
/// A map of more than asyncTokens() tokens is binned on a worker thread: the call returns at
/// once, the cells on screen stay until the new ones are drawn (then shown() is emitted), and a
/// newer request cancels and supersedes one still on its way. Shorter maps are drawn before the
/// call returns (shown() is emitted from inside it). When the axis rect is resized so that the
/// blocks would change, the map is binned again. The destructor cancels a pending map and waits
/// for its worker (the core stops after its current block of rows).
class BinnedHeadMap : public QObject
{
    Q_OBJECT
public:
    /// What the drawn cells hold.
    enum class Aggregate { Maximum, Mean };

    /// Draws into `map` (which must outlive this); its axis rect gives the pixels.
    explicit BinnedHeadMap(QCPColorMap* map, QObject* parent = nullptr);
    /// No plot: the bins are only kept (values()), for at most `pixels` bins per axis.
    explicit BinnedHeadMap(QSize pixels, QObject* parent = nullptr);
    ~BinnedHeadMap() override;

    /// Shows head (layer, head) of `run` (all T x T cells; the axes get the run's token ticks and
    /// the range of the T elements). Throws nothing: a run without maps or a head outside the
    /// model draws nothing and sets error().
    void showMap(std::shared_ptr<const RunResult> run, int layer, int head);
    /// Shows B - A for head (layer, head) over `alignment` (compare.h); the axes count aligned
    /// positions, with A's token ticks. When the blocks are larger than one cell and the runs'
    /// recipes of that layer mask different cells (causal against bidirectional, another
    /// sliding window), no block mean is a mean of B - A: nothing is drawn and error() says so.
    void showDifference(std::shared_ptr<const RunResult> a, std::shared_ptr<const RunResult> b,
                        const RunAlignment& alignment, int layer, int head);
    /// Forgets the request and empties the map.
    void clear();

    /// True while a map is being binned on the worker thread, or a rebinning for the plot's
    /// laid-out size is queued.
    bool isComputing() const { return m_pending != 0 || m_sizeCheckQueued; }
    /// True once the latest request's cells are drawn.
    bool isShown() const { return m_shown; }
    /// Why the latest request drew nothing ("" when it did or is on its way).
    QString error() const { return m_error; }
    /// The drawn values: [query bins, key bins] (row = query bin); empty before the first map.
    const RowMatrixXf& values() const { return m_values; }
    /// Cells per drawn block along queries and keys of the map on screen (1: exact cells).
    int blockQueries() const { return m_block[0]; }
    int blockKeys() const { return m_block[1]; }
    Aggregate aggregate() const { return m_aggregate; }
    /// The largest |value| drawn (0 without values).
    double extent() const { return m_extent; }
    /// The layer and head drawn (-1 before the first map).
    int layer() const { return m_drawn[0]; }
    int head() const { return m_drawn[1]; }
    /// Says what a drawn cell is, for a legend or axis label: "exact cells" or
    /// "blocks of 14 queries × 10 keys: maximum" ("…: mean of B − A" for a difference).
    QString aggregateText() const;

    /// Maps longer than this are binned off the GUI thread (the heatmap uses the same threshold).
    static int asyncTokens() { return 1024; }
    /// The fewest pixels assumed per axis (a plot that is not laid out yet).
    static int minPixels() { return 256; }

Q_SIGNALS:
    /// The latest request is done: its cells are in the colour map (the owner replots) and in
    /// values() (isShown()), or nothing was drawn and error() says why.
    void shown();

private:
    struct Request {
        std::shared_ptr<const RunResult> a, b; ///< b: the difference B - A
        RunAlignment alignment;
        int layer = 0, head = 0;
        int blockQueries = 1, blockKeys = 1;
        int length = 0; ///< cells per axis of what is drawn (T, or the aligned length)
    };
    struct Drawn {
        RowMatrixXf values;
        QString error;
    };
    static Drawn compute(const Request& r, const std::atomic<bool>* cancel);
    void start(Request r);
    void apply(const Request& r, Drawn d);
    void blocksFor(Request& r) const;
    void checkSize();

    QPointer<QCPColorMap> m_map;
    QSize m_pixels;
    Request m_request;
    bool m_haveRequest = false;
    uint64_t m_generation = 0;
    uint64_t m_pending = 0; ///< generation on the worker (0: none)
    std::shared_ptr<std::atomic<bool>> m_cancel;
    bool m_shown = false;
    bool m_sizeCheckQueued = false;
    QString m_error;
    RowMatrixXf m_values;
    int m_block[2] = {1, 1};
    int m_drawn[2] = {-1, -1};
    Aggregate m_aggregate = Aggregate::Maximum;
    double m_extent = 0.0;
    QThreadPool m_pool;
};

} // namespace sinkscope
