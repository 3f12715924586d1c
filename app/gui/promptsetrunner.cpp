// SPDX-License-Identifier: GPL-3.0-or-later
#include "promptsetrunner.h"

#include "engineclient.h"

#include "sinkscope/error.h"
#include "sinkscope/tokenizer.h"

#include <QMetaObject>
#include <QPointer>

using namespace sinkscope;
namespace an = sinkscope::analysis;

PromptSetRunner::PromptSetRunner(EngineClient* engine, QObject* parent) : QObject(parent), m_engine(engine)
{
    connect(m_engine, &EngineClient::jobFinished, this, &PromptSetRunner::onJobFinished);
    connect(m_engine, &EngineClient::jobFailed, this, &PromptSetRunner::onJobFailed);
    // A model load supersedes the job (the engine ends it as cancelled); say why.
    connect(m_engine, &EngineClient::loadStarted, this, [this] {
        if (!isRunning())
            return;
        m_job = 0;
        Q_EMIT failed(tr("A model was opened while the prompt set ran; the prompt set was stopped."));
    });
}

bool PromptSetRunner::start(const QString& file, const Settings& settings)
{
    if (isRunning()) {
        Q_EMIT failed(tr("A prompt set is already running."));
        return false;
    }
    an::PromptSet set;
    try {
        set = an::readPromptSet(file.toStdString());
    } catch (const Error& e) {
        Q_EMIT failed(tr("Could not read the prompt file: %1").arg(QString::fromStdString(e.describe())));
        return false;
    }
    return start(set, settings, file);
}

bool PromptSetRunner::start(const an::PromptSet& set, const Settings& settings, const QString& source)
{
    if (isRunning()) {
        Q_EMIT failed(tr("A prompt set is already running."));
        return false;
    }
    if (!m_engine->hasModel()) {
        Q_EMIT failed(tr("Open a model folder first."));
        return false;
    }
    if (settings.length > 0 && settings.options.sinkElement >= settings.length) {
        Q_EMIT failed(tr("The sink element k must be smaller than the length T."));
        return false;
    }
    if (!(settings.options.epsilon >= 0.0 && settings.options.epsilon < 1.0)) {
        Q_EMIT failed(tr("The threshold ε must be in [0, 1)."));
        return false;
    }
    for (const an::PromptIssue& issue : set.issues)
        Q_EMIT promptIssue(issue.line, QString::fromStdString(issue.message));
    if (set.prompts.empty()) {
        Q_EMIT failed(tr("The prompt file has no usable prompt."));
        return false;
    }
    m_source = source;
    Settings s = settings;
    s.stopOnFailure = false; // one prompt the model refuses does not stop the set
    // Per-prompt events come from the engine thread: queue them onto this object's thread.
    QPointer<PromptSetRunner> self(this);
    const int64_t length = s.length;
    auto job = std::make_shared<an::PromptSetJob>(set, s, [self, length](const an::PromptEvent& e) {
        QMetaObject::invokeMethod(self.data(), [self, e, length] {
            if (!self || !self->isRunning())
                return;
            if (e.kind == an::PromptEvent::Kind::TooShort)
                Q_EMIT self->promptIssue(e.line, tr("%1 tokens, fewer than T = %2 (prompt skipped)").arg(e.tokens).arg(length));
            else if (e.kind == an::PromptEvent::Kind::Failed)
                Q_EMIT self->promptIssue(e.line, QString::fromStdString(e.message));
            Q_EMIT self->progressChanged(int(e.done), int(e.count)); // events come by length, not in set order
        }, Qt::QueuedConnection);
    });
    m_job = m_engine->runJob(job);
    Q_EMIT progressChanged(0, int(set.prompts.size()));
    return true;
}

void PromptSetRunner::cancel()
{
    if (isRunning())
        m_engine->cancelJob(m_job);
}

void PromptSetRunner::onJobFinished(quint64 id, std::shared_ptr<const JobResult> result)
{
    if (id != m_job || !m_job)
        return;
    m_job = 0;
    const auto* r = dynamic_cast<const an::PromptSetResult*>(result.get());
    if (!r) {
        Q_EMIT failed(tr("The prompt set ended without a result."));
        return;
    }
    auto out = std::make_shared<PromptSetResult>();
    static_cast<an::PromptSetResult&>(*out) = *r;
    out->source = m_source;
    m_result = out;
    if (out->cancelled)
        Q_EMIT cancelled(m_result);
    else
        Q_EMIT finished(m_result);
}

void PromptSetRunner::onJobFailed(quint64 id, const QString& message, bool wasCancelled)
{
    if (id != m_job || !m_job)
        return;
    m_job = 0;
    if (wasCancelled) {
        // Cancelled before its first prompt finished: an empty partial result.
        auto out = std::make_shared<PromptSetResult>();
        out->source = m_source;
        out->cancelled = true;
        m_result = out;
        Q_EMIT cancelled(m_result);
        return;
    }
    Q_EMIT failed(message);
}
