// SPDX-License-Identifier: GPL-3.0-or-later
// The GUI side of a prompt set: it starts the core's PromptSetJob on the engine thread (the same
// job `sinkscope-cli analyze` runs) and turns its replies into signals. It never loops over runs
// and never re-reads model files: the job tokenizes with the loaded model's tokenizer.
#pragma once

#include "sinkscope/promptsetjob.h"

#include <QObject>
#include <QString>

#include <memory>

class EngineClient;

/// The outcome of a prompt set (complete, or what was done before a cancel), and its file.
struct PromptSetResult : sinkscope::analysis::PromptSetResult {
    QString source; ///< the prompt file ("" when given in memory)
};

class PromptSetRunner : public QObject {
    Q_OBJECT

public:
    using Settings = sinkscope::analysis::PromptSetSettings;

    explicit PromptSetRunner(EngineClient* engine, QObject* parent = nullptr);

    /// Reads a prompt file (text or JSONL) and starts it. False (after failed()) when the file
    /// cannot be read, has no usable prompt, no model is open or a set is already running.
    bool start(const QString& file, const Settings& settings);
    /// Starts an already parsed set; its issues are reported like those of a file.
    bool start(const sinkscope::analysis::PromptSet& set, const Settings& settings, const QString& source = {});
    /// Stops after the current prompt's current layer; what was done is kept (see result()).
    void cancel();

    bool isRunning() const { return m_job != 0; }
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
    void onJobFinished(quint64 id, std::shared_ptr<const sinkscope::JobResult> result);
    void onJobFailed(quint64 id, const QString& message, bool cancelled);

    EngineClient* m_engine = nullptr;
    uint64_t m_job = 0; ///< the running job's request id (0: none)
    QString m_source;
    std::shared_ptr<const PromptSetResult> m_result;
};
