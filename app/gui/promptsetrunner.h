// SPDX-License-Identifier: GPL-3.0-or-later
// Runs a prompt set through the engine one prompt at a time (a new engine run would supersede the
// running one), analyses each result on the GUI thread and aggregates the metrics per prompt
// length T: prompts of different lengths are grouped, never averaged together, unless they are all
// truncated to one chosen T.
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/metricsio.h"
#include "sinkscope/tokenizer.h"

#include <QObject>
#include <QString>

#include <map>
#include <memory>
#include <vector>

class EngineClient;

/// The outcome of a prompt set (complete, or what was done before a cancel).
struct PromptSetResult {
    QString source;                                     ///< the prompt file ("" when given in memory)
    int total = 0;                                      ///< usable prompts of the set
    bool cancelled = false;
    std::vector<sinkscope::analysis::PromptRun> runs;   ///< per-prompt metrics, in file order
    std::vector<sinkscope::analysis::PromptIssue> issues; ///< bad lines and prompts that could not be used
    sinkscope::analysis::LengthGroups groups;           ///< runs by T
    std::map<int64_t, sinkscope::analysis::RunMetrics> means;      ///< per T: mean over the group
    std::map<int64_t, sinkscope::analysis::MetricsSpread> spreads; ///< per T: std over the group
    sinkscope::analysis::MetricsReport report;          ///< for metrics.json
};

class PromptSetRunner : public QObject {
    Q_OBJECT

public:
    struct Settings {
        sinkscope::BosPolicy bos = sinkscope::BosPolicy::Auto;
        int64_t length = 0; ///< truncate every prompt to T tokens (shorter ones are skipped); 0: group by T
        sinkscope::analysis::Options options;
    };

    explicit PromptSetRunner(EngineClient* engine, QObject* parent = nullptr);

    /// Reads a prompt file (text or JSONL) and starts it. False (after failed()) when the file
    /// cannot be read, has no usable prompt, no model is open or a set is already running.
    bool start(const QString& file, const Settings& settings);
    /// Starts an already parsed set; its issues are reported like those of a file.
    bool start(const sinkscope::analysis::PromptSet& set, const Settings& settings, const QString& source = {});
    /// Stops after the current prompt's current layer; what was done is kept (see result()).
    void cancel();

    bool isRunning() const { return m_running; }
    /// The latest outcome (partial after a cancel); null before the first set ends.
    std::shared_ptr<const PromptSetResult> result() const { return m_result; }

Q_SIGNALS:
    /// `done` prompts of `total` are finished (analysed, skipped or failed).
    void progressChanged(int done, int total);
    /// A line of the set could not be used; the rest runs on.
    void promptIssue(int line, const QString& message);
    void finished(std::shared_ptr<const PromptSetResult> result);
    void failed(const QString& message);
    /// Cancelled; result() holds the prompts finished before.
    void cancelled(std::shared_ptr<const PromptSetResult> result);

private:
    void issueNext();
    void runCurrent();
    void advance();
    void addIssue(int line, const QString& message);
    std::shared_ptr<PromptSetResult> summarize(bool cancelled);
    void onRunFinished(std::shared_ptr<const sinkscope::RunResult> run);
    void onRunFailed(const QString& message);
    void onRunCancelled();
    void abort(const QString& message);
    void stopCancelled();

    EngineClient* m_engine = nullptr;
    bool m_running = false;
    bool m_cancelRequested = false;
    bool m_keepMaps = false; ///< the engine cannot rebuild maps from Q/K: capture them
    Settings m_settings;
    QString m_source;
    std::vector<sinkscope::analysis::Prompt> m_prompts;
    size_t m_index = 0;
    sinkscope::Encoding m_encoding; ///< the current prompt's tokens when truncating
    std::shared_ptr<const sinkscope::Tokenizer> m_tokenizer;
    std::vector<sinkscope::analysis::PromptRun> m_runs;
    std::vector<sinkscope::analysis::PromptIssue> m_issues;
    std::shared_ptr<const PromptSetResult> m_result;
};
