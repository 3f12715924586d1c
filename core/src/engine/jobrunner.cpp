// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/jobrunner.h"

#include "sinkscope/error.h"
#include "sinkscope/model.h"

#include <algorithm>

namespace sinkscope::detail {

ModelJobContext::ModelJobContext(const Model& model, JobProgressFn progress, const std::atomic<bool>* cancel)
    : m_model(model), m_progress(std::move(progress)), m_cancel(cancel)
{
    m_state.layers = model.info().layers;
}

const ModelInfo& ModelJobContext::model() const { return m_model.info(); }
std::shared_ptr<const Tokenizer> ModelJobContext::tokenizer() const { return m_model.tokenizer(); }
Encoding ModelJobContext::encode(const std::string& text, BosPolicy bos, int64_t truncateTo) const
{
    return m_model.encode(text, bos, truncateTo, m_cancel);
}

std::string ModelJobContext::device() const { return m_model.deviceName(); }
std::string ModelJobContext::dtype() const { return m_model.dtypeName(); }

void ModelJobContext::plan(int runs)
{
    m_state.runs += runs;
    report();
}

bool ModelJobContext::cancelRequested() const { return m_cancel && m_cancel->load(); }

void ModelJobContext::report()
{
    if (m_progress)
        m_progress(m_state);
}

std::function<void(int, int)> ModelJobContext::layerProgress()
{
    return [this](int done, int total) {
        m_state.layer = done;
        m_state.layers = total;
        report();
    };
}

std::shared_ptr<RunResult> ModelJobContext::run(const RunRequest& request, const std::string& label)
{
    if (cancelRequested())
        throw Error(ErrorCode::Cancelled, "The job was cancelled.");
    ++m_state.run;
    // A job that did not plan (or under-planned) still reports a truthful "run i of n".
    if (m_state.runs < m_state.run)
        m_state.runs = m_state.run;
    m_state.layer = 0;
    m_state.label = label;
    report();
    std::shared_ptr<RunResult> r = m_model.run(request, layerProgress(), m_cancel);
    if (cancelRequested())
        throw Error(ErrorCode::Cancelled, "The job was cancelled.");
    return r;
}

std::vector<std::shared_ptr<RunResult>> ModelJobContext::runBatch(const std::vector<RunRequest>& requests, int batchSize,
                                                                  const std::string& label)
{
    if (cancelRequested())
        throw Error(ErrorCode::Cancelled, "The job was cancelled.");
    if (requests.empty())
        return {};
    // Model::runBatch batches consecutive requests: order them by length (stable; requests with
    // interventions, and text requests whose length is not known yet, stay where they are
    // relative to each other), run, and hand the results back in request order.
    std::vector<size_t> order(requests.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    auto key = [&](size_t i) {
        const RunRequest& r = requests[i];
        const bool batchable = r.useIds && !r.interventions.any();
        return std::make_pair(batchable ? 0 : 1, batchable ? r.ids.size() : i);
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    std::vector<RunRequest> sorted;
    sorted.reserve(requests.size());
    for (size_t i : order)
        sorted.push_back(requests[i]);
    m_state.run += int(requests.size());
    if (m_state.runs < m_state.run)
        m_state.runs = m_state.run;
    m_state.layer = 0;
    m_state.label = label;
    report();
    std::vector<std::shared_ptr<RunResult>> got = m_model.runBatch(sorted, batchSize, layerProgress(), m_cancel);
    if (cancelRequested())
        throw Error(ErrorCode::Cancelled, "The job was cancelled.");
    std::vector<std::shared_ptr<RunResult>> out(requests.size());
    for (size_t j = 0; j < order.size(); ++j)
        out[order[j]] = std::move(got[j]);
    return out;
}

} // namespace sinkscope::detail

namespace sinkscope {

std::shared_ptr<const JobResult> runJob(const Model& model, Job& job, const JobProgressFn& progress,
                                        const std::atomic<bool>* cancel)
{
    detail::ModelJobContext context(model, progress, cancel);
    return job.execute(context);
}

} // namespace sinkscope
