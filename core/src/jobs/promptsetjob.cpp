// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/promptsetjob.h"

#include "sinkscope/error.h"

namespace sinkscope::analysis {

PromptSetJob::PromptSetJob(PromptSet set, PromptSetSettings settings, std::function<void(const PromptEvent&)> onEvent)
    : m_set(std::move(set)), m_settings(settings), m_onEvent(std::move(onEvent))
{
}

std::shared_ptr<const JobResult> PromptSetJob::execute(JobContext& ctx)
{
    const std::vector<Prompt>& prompts = m_set.prompts;
    if (prompts.empty())
        throw Error(ErrorCode::InvalidArgument, "The prompt file has no usable prompt.");
    if (m_settings.length > 0 && m_settings.options.sinkElement >= m_settings.length)
        throw Error(ErrorCode::InvalidArgument, "The sink element k must be smaller than the length T.");
    // The loaded model's tokenizer, whatever folder layout it came from (an HF cache root too).
    const std::shared_ptr<const Tokenizer> tokenizer = ctx.tokenizer();
    if (!tokenizer)
        throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; a prompt set needs text prompts.");

    auto out = std::make_shared<PromptSetResult>();
    out->total = int(prompts.size());
    out->issues = m_set.issues;
    ctx.plan(int(prompts.size()));
    // Maps are recomputed from Q/K; all L x H x T x T probabilities are kept only when a run
    // cannot rebuild them.
    bool keepMaps = false;
    auto emit = [&](PromptEvent e) {
        if (m_onEvent)
            m_onEvent(e);
    };
    for (size_t i = 0; i < prompts.size(); ++i) {
        const Prompt& p = prompts[i];
        PromptEvent event;
        event.index = i;
        event.count = prompts.size();
        event.line = p.line;
        try {
            if (p.text.find_first_not_of(" \t\n\r\v\f") == std::string::npos) {
                // Never a prompt, in either front end (Model::run refuses such text too).
                out->issues.push_back({p.line, "The prompt contains only whitespace."});
                event.kind = PromptEvent::Kind::Failed;
                event.message = out->issues.back().message;
                emit(event);
                continue;
            }
            Encoding enc = ctx.encode(p.text, m_settings.bos, m_settings.length);
            if (m_settings.length > 0) {
                if (int64_t(enc.tokens.size()) < m_settings.length) {
                    out->issues.push_back({p.line, std::to_string(enc.tokens.size()) + " tokens, fewer than T = "
                                                       + std::to_string(m_settings.length) + " (prompt skipped)"});
                    event.kind = PromptEvent::Kind::TooShort;
                    event.tokens = int64_t(enc.tokens.size());
                    emit(event);
                    continue;
                }
                enc.tokens.resize(size_t(m_settings.length));
            }
            RunRequest req;
            req.useIds = true;
            req.ids = enc.ids();
            req.captureLogits = false;
            req.captureAttention = keepMaps;
            const std::string label = "prompt " + std::to_string(i + 1) + (p.line > 0 ? " (line " + std::to_string(p.line) + ")" : "");
            std::shared_ptr<RunResult> r = ctx.run(req, label);
            if (!r->canMakeMaps()) {
                keepMaps = true;
                req.captureAttention = true;
                ctx.plan(1);
                r = ctx.run(req, label);
            }
            r->encoding = enc;
            PromptRun run;
            run.line = p.line;
            run.text = p.text;
            for (const Token& t : enc.tokens)
                run.tokens.push_back(t.display);
            run.metrics = analyzeRun(*r, m_settings.options);
            if (prompts.size() == 1)
                out->single = r;
            event.tokens = r->tokens;
            out->runs.push_back(std::move(run));
            emit(event);
        } catch (const Error& e) {
            if (e.code() == ErrorCode::Cancelled) {
                out->cancelled = true;
                break;
            }
            if (m_settings.stopOnFailure)
                throw;
            out->issues.push_back({p.line, e.describe()});
            event.kind = PromptEvent::Kind::Failed;
            event.message = e.describe();
            emit(event);
        }
        if (ctx.cancelRequested()) {
            out->cancelled = i + 1 < prompts.size();
            break;
        }
    }

    out->groups = groupByLength(out->runs);
    for (const auto& [T, members] : out->groups.groups) {
        std::vector<RunMetrics> ms;
        for (size_t i : members)
            ms.push_back(out->runs[i].metrics);
        MetricsSpread spread;
        out->means[T] = aggregate(ms, &spread);
        out->spreads[T] = spread;
    }
    MetricsReport& rep = out->report;
    rep.model = ctx.model();
    rep.device = ctx.device();
    rep.dtype = ctx.dtype();
    rep.bos = bosPolicyName(m_settings.bos);
    rep.length = m_settings.length;
    rep.options = m_settings.options;
    rep.promptSet = true;
    rep.singlePrompt = prompts.size() == 1;
    return out;
}

} // namespace sinkscope::analysis
