// SPDX-License-Identifier: GPL-3.0-or-later
// Controls: designating and removing waivers with structured masks and position ids, as the
// paper does, and what they cost the model's output (docs/METHODS.md, "Controls").
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/jobs.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sinkscope::analysis {

/// A parsed control SPEC.
struct ControlSpec {
    enum class Kind {
        Block,        ///< block:J - no query but J itself attends to J
        Designate,    ///< designate:J - queries t >= J see keys J..t only, and J.. count positions from 0
        Shift,        ///< positions:shift=D - every position id + D
        PositionZero, ///< positions:J=0 - element J gets position id 0
        Evict         ///< evict:K,W - every query sees the first K elements and its last W (itself included)
    } kind = Kind::Block;
    int element = 0;  ///< J
    int shift = 0;    ///< D
    int sinks = 0;    ///< K
    int window = 0;   ///< W
    std::string text; ///< the SPEC as given
};
/// Parses "block:J", "designate:J", "positions:shift=D", "positions:J=0", "evict:K,W".
/// Throws Error(InvalidArgument) with the reason (unknown kind, not a number, W < 1, K + W < 2).
ControlSpec parseControlSpec(const std::string& text);

/// The interventions of `spec` for a prompt of T tokens. Throws Error(InvalidArgument) when J is
/// outside the prompt or position ids would leave 0..maxPositions-1.
Interventions controlInterventions(const ControlSpec& spec, int64_t tokens, bool causal, int64_t maxPositions);

/// The designated-waiver variant of evict:K,W (K >= 1): the first K elements are evicted and
/// element K takes their place as the one element every query keeps (with position id 0) next to
/// its recent window of W. Empty (no intervention) for K = 0, K >= T or another kind.
Interventions designatedEviction(const ControlSpec& spec, int64_t tokens);

/// [P] negative log-likelihood of the prompt's tokens from logits [T, V] (natural log). Causal:
/// position t predicts ids[t+1] (P = T - 1); bidirectional (masked-LM head): position t
/// reconstructs ids[t] (P = T).
std::vector<double> tokenNll(const std::vector<float>& logits, const std::vector<int32_t>& ids, int64_t vocab, bool causal);
/// [T] KL(softmax(a_t) || softmax(b_t)) per position of two logit arrays [T, V], in nats.
std::vector<double> klPerPosition(const std::vector<float>& a, const std::vector<float>& b, int64_t tokens, int64_t vocab);

/// The outcome of a control over one prompt or the mean over a prompt set.
struct ControlResult final : JobResult {
    ControlSpec spec;
    ModelInfo model;
    int prompts = 0;
    double nllBefore = 0.0, nllAfter = 0.0; ///< mean NLL per predicted token, averaged over prompts
    double klMean = 0.0;                    ///< mean over positions and prompts
    std::vector<double> klPerPosition;      ///< [T_max] mean over the prompts that reach each position
    RowMatrixXf firstMassBefore, firstMassAfter; ///< [L, H] first-element mass (RunResult::firstTokenMass), mean over prompts
    std::vector<double> nllFull, nllEvicted, nllWindowOnly; ///< evict only: [P_max] per position
    std::vector<double> nllDesignated; ///< evict with K >= 1: element K as the designated waiver instead of 0..K-1
    /// The single prompt's runs (before / after), for views; null for a prompt set.
    std::shared_ptr<const RunResult> before, after;
};

/// Runs the control on every prompt: the prompt as is and with the control (evict: also with
/// the window alone, K = 0, and with a designated waiver, designatedEviction). Needs a model
/// with an output head.
class ControlJob final : public Job {
public:
    ControlJob(PromptSet set, ControlSpec spec, BosPolicy bos = BosPolicy::Auto);
    /// Controls one prompt given as the tokens of a run (e.g. the run on screen), as they are:
    /// no re-tokenization, so the "before" run has exactly the tokens of that run.
    ControlJob(Encoding tokens, ControlSpec spec);
    std::string name() const override { return "control"; }
    std::shared_ptr<const JobResult> execute(JobContext& context) override;

private:
    PromptSet m_set;
    std::optional<Encoding> m_encoding;
    ControlSpec m_spec;
    BosPolicy m_bos = BosPolicy::Auto;
};

/// control.json (keys: control, nll_before, nll_after, kl_mean, kl_per_position,
/// first_token_mass {before, after} [L][H], and for evict nll_per_position {full, evicted}) and
/// control.csv (per position) / eviction.csv, name -> bytes.
std::map<std::string, std::string> controlFiles(const ControlResult& r);

} // namespace sinkscope::analysis
