// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/runresult.h"

#include <QObject>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <vector>

namespace sinkscope {

namespace analysis {
struct Classification;
}
class Selection;

/// The one current result of the workspace: the RunResult on screen and the analysis derived
/// from it (analysis::analyzeRun, computed on a worker thread so the GUI never waits for it).
/// It alone sets the Selection's bounds. Views subscribe to its signals and read its accessors.
///
/// Order of events for setResult(r): result() becomes r and metrics() nullptr, resultChanged(),
/// then the selection's bounds are set from r (Selection::changed; a null r leaves them), then — later, on the GUI
/// thread — metricsAvailable() or metricsFailed(). A newer setResult supersedes an analysis in
/// flight: its outcome is dropped, never delivered. setResult also drops the classification
/// (classificationChanged() before resultChanged(), when there was one): a verdict belongs to
/// the tokens it probed, and whoever made it may publish it again for the new run.
class CurrentResult : public QObject
{
    Q_OBJECT
public:
    /// Another run shown next to the current one (e.g. a second sink curve), with its label.
    struct Overlay {
        QString label;
        std::shared_ptr<const analysis::RunMetrics> metrics;
    };

    explicit CurrentResult(Selection* selection, QObject* parent = nullptr);
    /// Waits for a running analysis to end (its result is dropped).
    ~CurrentResult() override;

    Selection* selection() const { return m_selection; }
    /// The run on screen (nullptr: none).
    std::shared_ptr<const RunResult> result() const { return m_result; }
    /// The analysis of result() (nullptr while it is computed, after a failure, or with no result).
    std::shared_ptr<const analysis::RunMetrics> metrics() const { return m_metrics; }
    /// Why the last analysis failed ("" when it did not).
    QString metricsError() const { return m_metricsError; }
    /// True while the analysis of result() runs.
    bool isAnalyzing() const { return m_analyzing; }

    /// Settings of the analysis (waiver threshold, ε, …). Setting different ones re-analyses.
    const analysis::Options& options() const { return m_options; }
    void setOptions(const analysis::Options& options);

    /// Shows `result` and analyses it off the GUI thread (nullptr: clear).
    void setResult(std::shared_ptr<const RunResult> result);
    /// Shows `result` with analysis computed elsewhere (a saved session, a headless figure):
    /// metricsAvailable() is emitted before this returns. With `metrics` nullptr the result is
    /// shown without any analysis (metrics() stays nullptr; e.g. a benchmark of the heatmap alone).
    void setResult(std::shared_ptr<const RunResult> result, std::shared_ptr<const analysis::RunMetrics> metrics);
    void clear() { setResult(nullptr); }

    /// The latest classification (per-head verdicts, ClassifyJob) published for result()
    /// (nullptr: none yet, or the result changed since). Views that show verdicts read it here.
    std::shared_ptr<const analysis::Classification> classification() const { return m_classification; }
    /// Publishes `c` as the classification of result() (nullptr clears); emits classificationChanged().
    void setClassification(std::shared_ptr<const analysis::Classification> c);

    const std::vector<Overlay>& overlays() const { return m_overlays; }
    /// Adds a run to show beside the current one (views that can overlay runs draw it).
    void addOverlay(const QString& label, std::shared_ptr<const analysis::RunMetrics> metrics);
    /// Keeps the current analysis as an overlay; false when there is none yet.
    bool pinCurrent(const QString& label);
    void removeOverlay(int index);
    void clearOverlays();

Q_SIGNALS:
    /// result() changed (possibly to nullptr); metrics() is nullptr until metricsAvailable().
    void resultChanged();
    /// metrics() now holds the analysis of result().
    void metricsAvailable();
    /// The analysis of result() failed; metricsError() says why.
    void metricsFailed(const QString& message);
    void overlaysChanged();
    /// classification() changed (possibly to nullptr).
    void classificationChanged();

private:
    void startAnalysis();
    void deliver(uint64_t generation, std::shared_ptr<const analysis::RunMetrics> metrics, const QString& error);

    Selection* m_selection;
    std::shared_ptr<const RunResult> m_result;
    std::shared_ptr<const analysis::RunMetrics> m_metrics;
    QString m_metricsError;
    std::shared_ptr<const analysis::Classification> m_classification;
    analysis::Options m_options;
    bool m_analyzing = false;
    std::vector<Overlay> m_overlays;
    /// The part both setResult overloads share: takes the result, drops old metrics, sets the bounds.
    void adopt(std::shared_ptr<const RunResult> result);
    // Bumped by every setResult; a worker whose generation is no longer the newest gives up.
    std::shared_ptr<std::atomic<uint64_t>> m_generation;
    QThreadPool m_pool;
};

} // namespace sinkscope
