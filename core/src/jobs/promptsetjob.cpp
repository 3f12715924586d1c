// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/promptsetjob.h"

#include "sinkscope/error.h"

#include <algorithm>
#include <optional>

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

    if (m_settings.batchSize < 1)
        throw Error(ErrorCode::InvalidArgument,
                    "The batch size must be at least 1, not " + std::to_string(m_settings.batchSize) + ".");

    auto out = std::make_shared<PromptSetResult>();
    out->total = int(prompts.size());
    out->issues = m_set.issues;
    ctx.plan(int(prompts.size()));
    // Maps are recomputed from Q/K; all L x H x T x T probabilities are kept only when a run
    // cannot rebuild them.
    bool keepMaps = false;
    size_t settled = 0;
    auto emit = [&](PromptEvent e) {
        e.done = ++settled;
        if (m_onEvent)
            m_onEvent(e);
    };
    auto eventFor = [&](size_t i) {
        PromptEvent event;
        event.index = i;
        event.count = prompts.size();
        event.line = prompts[i].line;
        return event;
    };
    // A prompt the model refuses: the CLI stops with the error, the GUI records it and goes on.
    auto refused = [&](size_t i, const Error& e) {
        if (m_settings.stopOnFailure)
            throw e;
        out->issues.push_back({prompts[i].line, e.describe()});
        PromptEvent event = eventFor(i);
        event.kind = PromptEvent::Kind::Failed;
        event.message = e.describe();
        emit(event);
    };

    // 1. Tokenize every prompt (cheap next to the runs) and keep the usable ones.
    struct Pending {
        size_t index;
        Encoding enc;
    };
    std::vector<Pending> pending;
    for (size_t i = 0; i < prompts.size() && !out->cancelled; ++i) {
        const Prompt& p = prompts[i];
        try {
            if (p.text.find_first_not_of(" \t\n\r\v\f") == std::string::npos) {
                // Never a prompt, in either front end (Model::run refuses such text too).
                out->issues.push_back({p.line, "The prompt contains only whitespace."});
                PromptEvent event = eventFor(i);
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
                    PromptEvent event = eventFor(i);
                    event.kind = PromptEvent::Kind::TooShort;
                    event.tokens = int64_t(enc.tokens.size());
                    emit(event);
                    continue;
                }
                enc.tokens.resize(size_t(m_settings.length));
            }
            pending.push_back({i, std::move(enc)});
        } catch (const Error& e) {
            if (e.code() == ErrorCode::Cancelled)
                out->cancelled = true;
            else
                refused(i, e);
        }
    }

    // 2. Batches: prompts of one length, in set order within the length, at most batchSize each.
    std::map<int64_t, std::vector<size_t>> byLength; // T -> indices into pending
    for (size_t j = 0; j < pending.size(); ++j)
        byLength[int64_t(pending[j].enc.tokens.size())].push_back(j);
    std::vector<std::vector<size_t>> batches;
    for (const auto& [T, members] : byLength)
        for (size_t b = 0; b < members.size(); b += size_t(m_settings.batchSize))
            batches.emplace_back(members.begin() + long(b),
                                 members.begin() + long(std::min(members.size(), b + size_t(m_settings.batchSize))));

    // 3. Run and analyse batch by batch; the runs are put back in set order at the end.
    std::vector<std::optional<PromptRun>> done(prompts.size());
    auto label = [&](const std::vector<size_t>& batch) {
        const Prompt& first = prompts[pending[batch.front()].index];
        std::string l = "prompt " + std::to_string(pending[batch.front()].index + 1)
                        + (first.line > 0 ? " (line " + std::to_string(first.line) + ")" : "");
        return batch.size() == 1 ? l : l + " and " + std::to_string(batch.size() - 1) + " more of its length";
    };
    auto request = [&](size_t j) {
        RunRequest req;
        req.useIds = true;
        req.ids = pending[j].enc.ids();
        req.captureLogits = false;
        req.captureAttention = keepMaps;
        return req;
    };
    auto runAll = [&](const std::vector<size_t>& batch) {
        std::vector<RunRequest> reqs;
        for (size_t j : batch)
            reqs.push_back(request(j));
        std::vector<std::shared_ptr<RunResult>> rs = ctx.runBatch(reqs, m_settings.batchSize, label(batch));
        if (!keepMaps && !rs.front()->canMakeMaps()) {
            keepMaps = true;
            for (RunRequest& r : reqs)
                r.captureAttention = true;
            ctx.plan(int(reqs.size()));
            rs = ctx.runBatch(reqs, m_settings.batchSize, label(batch));
        }
        return rs;
    };
    auto analysed = [&](size_t j, const std::shared_ptr<RunResult>& r) {
        const size_t i = pending[j].index;
        const Prompt& p = prompts[i];
        r->encoding = pending[j].enc;
        PromptRun run;
        run.line = p.line;
        run.text = p.text;
        for (const Token& t : pending[j].enc.tokens)
            run.tokens.push_back(t.display);
        run.metrics = analyzeRun(*r, m_settings.options);
        if (prompts.size() == 1)
            out->single = r;
        done[i] = std::move(run);
        PromptEvent event = eventFor(i);
        event.tokens = r->tokens;
        emit(event);
    };
    for (size_t b = 0; b < batches.size() && !out->cancelled; ++b) {
        const std::vector<size_t>& batch = batches[b];
        try {
            const std::vector<std::shared_ptr<RunResult>> rs = runAll(batch);
            for (size_t n = 0; n < batch.size(); ++n)
                analysed(batch[n], rs[n]);
        } catch (const Error& e) {
            if (e.code() == ErrorCode::Cancelled) {
                out->cancelled = true;
                break;
            }
            if (batch.size() == 1) {
                refused(pending[batch.front()].index, e);
            } else {
                // Which prompt of the batch failed? Run them one by one, so the refusal names that
                // prompt and the others still count (the same outcome as without batching).
                out->notes.push_back("A batch of " + std::to_string(batch.size()) + " prompts (" + label(batch)
                                     + ") failed (" + e.describe() + "); its prompts ran one by one.");
                for (size_t j : batch) {
                    if (done[pending[j].index])
                        continue; // analysed before the failure
                    try {
                        analysed(j, runAll({j}).front());
                    } catch (const Error& single) {
                        if (single.code() == ErrorCode::Cancelled) {
                            out->cancelled = true;
                            break;
                        }
                        refused(pending[j].index, single);
                    }
                }
            }
        }
        if (ctx.cancelRequested() && b + 1 < batches.size())
            out->cancelled = true;
    }
    for (size_t i = 0; i < done.size(); ++i)
        if (done[i]) {
            out->runs.push_back(std::move(*done[i]));
            out->promptIndex.push_back(i);
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
