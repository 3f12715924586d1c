// SPDX-License-Identifier: GPL-3.0-or-later
#include "promptsetrunner.h"

#include "engineclient.h"

#include "sinkscope/error.h"
#include "sinkscope/tokenizer.h"

#include <QDir>
#include <QFileInfo>

using namespace sinkscope;
namespace an = sinkscope::analysis;

PromptSetRunner::PromptSetRunner(EngineClient* engine, QObject* parent) : QObject(parent), m_engine(engine)
{
    // The engine also serves single runs; results only count while a set runs, and then every
    // run of the engine is one of ours (the window starts no other while a set runs).
    connect(m_engine, &EngineClient::runFinished, this, [this](std::shared_ptr<const RunResult> r) {
        if (m_running)
            onRunFinished(std::move(r));
    });
    connect(m_engine, &EngineClient::runFailed, this, [this](const QString& message) {
        if (m_running)
            onRunFailed(message);
    });
    connect(m_engine, &EngineClient::runCancelled, this, [this] {
        if (m_running)
            onRunCancelled();
    });
    // A model load drops the pending run without a signal: the set cannot go on.
    connect(m_engine, &EngineClient::loadStarted, this, [this] {
        if (m_running)
            abort(tr("A model was opened while the prompt set ran; the prompt set was stopped."));
    });
}

bool PromptSetRunner::start(const QString& file, const Settings& settings)
{
    if (m_running) {
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
    if (m_running) {
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
    m_settings = settings;
    m_source = source;
    m_prompts = set.prompts;
    m_runs.clear();
    m_issues.clear();
    m_index = 0;
    m_keepMaps = false;
    m_cancelRequested = false;
    m_tokenizer.reset();
    for (const an::PromptIssue& issue : set.issues)
        addIssue(issue.line, QString::fromStdString(issue.message));
    if (m_prompts.empty()) {
        Q_EMIT failed(tr("The prompt file has no usable prompt."));
        return false;
    }
    if (settings.length > 0) {
        // Truncating needs the token ids: the same tokenizer files the engine loaded.
        const QDir dir(QString::fromStdString(m_engine->modelInfo().dir));
        try {
            const QString config = dir.filePath(QStringLiteral("tokenizer_config.json"));
            m_tokenizer = Tokenizer::fromFile(dir.filePath(QStringLiteral("tokenizer.json")).toStdString(),
                                              QFileInfo::exists(config) ? config.toStdString() : std::string());
        } catch (const Error& e) {
            Q_EMIT failed(tr("Truncating to T tokens needs the model's tokenizer: %1").arg(QString::fromStdString(e.describe())));
            return false;
        }
    }
    m_running = true;
    Q_EMIT progressChanged(0, int(m_prompts.size()));
    issueNext();
    return true;
}

void PromptSetRunner::cancel()
{
    if (!m_running)
        return;
    // The flag stops the set between prompts; the engine's cancel stops a prompt that runs.
    m_cancelRequested = true;
    m_engine->cancel();
}

void PromptSetRunner::addIssue(int line, const QString& message)
{
    m_issues.push_back({line, message.toStdString()});
    Q_EMIT promptIssue(line, message);
}

void PromptSetRunner::issueNext()
{
    // Prompts skipped before reaching the engine are handled in this loop, not recursively.
    while (m_index < m_prompts.size()) {
        if (m_cancelRequested) {
            stopCancelled();
            return;
        }
        const an::Prompt& p = m_prompts[m_index];
        if (!m_tokenizer) {
            runCurrent();
            return;
        }
        try {
            m_encoding = m_tokenizer->encode(p.text, m_settings.bos);
        } catch (const Error& e) {
            addIssue(p.line, QString::fromStdString(e.describe()));
            ++m_index;
            Q_EMIT progressChanged(int(m_index), int(m_prompts.size()));
            continue;
        }
        if (int64_t(m_encoding.tokens.size()) < m_settings.length) {
            addIssue(p.line, tr("%1 tokens, fewer than T = %2 (prompt skipped)")
                                 .arg(m_encoding.tokens.size())
                                 .arg(m_settings.length));
            ++m_index;
            Q_EMIT progressChanged(int(m_index), int(m_prompts.size()));
            continue;
        }
        m_encoding.tokens.resize(size_t(m_settings.length));
        runCurrent();
        return;
    }
    m_running = false;
    m_result = summarize(false);
    Q_EMIT finished(m_result);
}

void PromptSetRunner::runCurrent()
{
    const an::Prompt& p = m_prompts[m_index];
    RunRequest req;
    if (m_tokenizer) {
        req.useIds = true;
        req.ids = m_encoding.ids();
    } else {
        req.text = p.text;
        req.bos = m_settings.bos;
    }
    // The maps are rebuilt from Q/K by the analysis; all L x H x T x T probabilities are kept
    // only when the engine cannot give Q/K.
    req.captureAttention = m_keepMaps;
    req.captureLogits = false;
    req.captureHidden = true;
    req.captureQK = true;
    req.captureValues = true;
    m_engine->run(req);
}

void PromptSetRunner::advance()
{
    ++m_index;
    Q_EMIT progressChanged(int(m_index), int(m_prompts.size()));
    issueNext();
}

void PromptSetRunner::onRunFinished(std::shared_ptr<const RunResult> run)
{
    if (!run->canMakeMaps() && !m_keepMaps) {
        m_keepMaps = true;
        runCurrent();
        return;
    }
    const an::Prompt& p = m_prompts[m_index];
    try {
        an::PromptRun r;
        r.line = p.line;
        r.text = p.text;
        const Encoding& enc = m_tokenizer ? m_encoding : run->encoding;
        for (const Token& t : enc.tokens)
            r.tokens.push_back(t.display);
        r.metrics = an::analyzeRun(*run, m_settings.options);
        m_runs.push_back(std::move(r));
    } catch (const Error& e) {
        addIssue(p.line, QString::fromStdString(e.describe()));
    }
    advance();
}

void PromptSetRunner::onRunFailed(const QString& message)
{
    // One prompt the model refuses (e.g. only whitespace) does not stop the set.
    addIssue(m_prompts[m_index].line, message);
    advance();
}

void PromptSetRunner::onRunCancelled()
{
    stopCancelled();
}

void PromptSetRunner::stopCancelled()
{
    m_running = false;
    m_result = summarize(true);
    Q_EMIT cancelled(m_result);
}

void PromptSetRunner::abort(const QString& message)
{
    m_running = false;
    m_result = summarize(true);
    Q_EMIT failed(message);
}

std::shared_ptr<PromptSetResult> PromptSetRunner::summarize(bool cancelled)
{
    auto out = std::make_shared<PromptSetResult>();
    out->source = m_source;
    out->total = int(m_prompts.size());
    out->cancelled = cancelled;
    out->runs = m_runs;
    out->issues = m_issues;
    out->groups = an::groupByLength(m_runs);
    for (const auto& [T, members] : out->groups.groups) {
        std::vector<an::RunMetrics> ms;
        for (size_t i : members)
            ms.push_back(m_runs[i].metrics);
        an::MetricsSpread spread;
        out->means[T] = an::aggregate(ms, &spread);
        out->spreads[T] = spread;
    }
    an::MetricsReport& rep = out->report;
    rep.model = m_engine->modelInfo();
    rep.device = m_engine->device().toStdString();
    rep.dtype = m_engine->dtype().toStdString();
    rep.bos = bosPolicyName(m_settings.bos);
    rep.length = m_settings.length;
    rep.options = m_settings.options;
    rep.promptSet = true;
    rep.singlePrompt = false;
    return out;
}
