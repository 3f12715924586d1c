// SPDX-License-Identifier: GPL-3.0-or-later
// The JobContext over a loaded Model, shared by runJob (CLI) and the engine thread.
#pragma once

#include "sinkscope/jobs.h"

#include <functional>

namespace sinkscope::detail {

class ModelJobContext final : public JobContext {
public:
    ModelJobContext(const Model& model, JobProgressFn progress, const std::atomic<bool>* cancel);
    const ModelInfo& model() const override;
    std::shared_ptr<const Tokenizer> tokenizer() const override;
    Encoding encode(const std::string& text, BosPolicy bos, int64_t truncateTo) const override;
    std::string device() const override;
    std::string dtype() const override;
    void plan(int runs) override;
    std::shared_ptr<RunResult> run(const RunRequest& request, const std::string& label) override;
    std::vector<std::shared_ptr<RunResult>> runBatch(const std::vector<RunRequest>& requests, int batchSize,
                                                     const std::string& label) override;
    bool cancelRequested() const override;

private:
    void report();
    /// The per-layer progress callback of Model::run / runBatch: updates the state and reports.
    std::function<void(int, int)> layerProgress();
    const Model& m_model;
    JobProgressFn m_progress;
    const std::atomic<bool>* m_cancel;
    JobProgress m_state;
};

} // namespace sinkscope::detail
