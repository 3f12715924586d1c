// SPDX-License-Identifier: GPL-3.0-or-later
// Why did a head pick its waiver? Probes (runs with interventions), their per-head numbers, the
// per-head and per-model verdicts, and the classify job that runs them. Every probe number, rule
// and default is defined in docs/METHODS.md; the pure functions here are what it describes.
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/jobs.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sinkscope::analysis {

/// Thresholds and choices of the classifier (defaults and reasons in docs/METHODS.md).
struct ClassifySettings {
    double sinkExcess = 0.3;      ///< a head has a waiver when its top element's excess >= this
    int minQueries = 4;           ///< a waiver must be seen by at least this many queries besides itself
    double positionalAt = 0.7;    ///< position score S >= this: positional
    double featureAt = 0.3;       ///< S <= this: feature (between: mixed)
    double minConflictMass = 0.2; ///< a conflict probe counts when p and q keep this share of the base mass
    int maxCandidates = 4;        ///< distinct waiver positions probed per prompt
    double outlierZ = 6.0;        ///< outlier dimension: |h_pd - mean_d| >= z * max(std_d, mean std)
    int maxOutlierDims = 8;       ///< per (layer, candidate), the largest first
    int shift = 0;                ///< position-id offset of the shift probe; 0: T (clipped to the table)
    uint64_t seed = 1;            ///< for the random replacement token
    double modelShare = 0.6;      ///< model verdict: this share of the heads with a waiver agree
    BosPolicy bos = BosPolicy::Auto;
    int64_t length = 0;           ///< truncate prompts to T tokens (shorter ones skipped); 0: as they are
    /// A prompt's probe runs of equal length without interventions run together, at most this
    /// many per [B, T] forward pass (JobContext::runBatch); 1: one by one. Results are per probe.
    int batchSize = 8;
};

/// The sink of one head in one run: its element with the largest excess (METRICS.md
/// waiverScores.excess: attention received above a uniform share, in [0, 1]).
struct HeadSink {
    int primary = 0;              ///< element with the largest excess (lower index on ties)
    float excess = 0.0f;          ///< its excess
    std::vector<int> elements;    ///< every element with excess >= sinkExcess, ascending
    bool present = false;         ///< excess >= sinkExcess
};
/// The sink of a head from its map [T, T]. Only elements seen by at least `minQueries` queries
/// besides themselves count (alpha of the last elements of a causal prompt averages over too few).
HeadSink headSink(const MatrixRef& map, bool causal, double sinkExcess, int minQueries = 4);
/// The same from the head's importance alpha [T] (METRICS.md), e.g. RunMetrics::importance.
HeadSink headSinkFromImportance(const VectorRef& alpha, bool causal, double sinkExcess, int minQueries = 4);

/// Mean over the queries `queries` of the attention that keys `keys` receive: (1/|Q|) sum_t sum_j A[t, j].
/// 0 when `queries` is empty.
double attentionMass(const MatrixRef& map, const std::vector<int>& keys, const std::vector<int>& queries);
/// Queries that can see p, without p itself: t > p (causal), t != p (bidirectional).
std::vector<int> queriesAfter(int p, int64_t tokens, bool causal);
/// Queries that can see both p and q, without them: t > max(p, q) (causal), t not in {p, q}.
std::vector<int> queriesSeeingBoth(int p, int q, int64_t tokens, bool causal);

/// One probe: a run of the prompt with interventions (or other tokens), and how its elements line
/// up with the base run.
struct ProbeVariant {
    std::string name;       ///< "content_random", "move", ... (METHODS.md)
    RunRequest request;     ///< ids and interventions; captures Q/K only
    int indexShift = 0;     ///< element i of the base is element i + indexShift here (BOS added/removed)
};

/// What the probes need from the tokenizer (filled by the job, or by a test).
struct ProbeTokens {
    int32_t vocabSize = 0;
    std::optional<int32_t> newline;   ///< a one-token "\n"
    std::optional<int32_t> bos;       ///< the BOS id, for adding one
    std::vector<int32_t> special;     ///< ids never drawn as the random replacement
};

/// The probe plan of one prompt: waiver candidates, their partner positions and the runs.
struct ProbeDesign {
    std::vector<int> candidates;          ///< waiver positions probed (primaries, most heads first)
    std::map<int, int> partner;           ///< candidate p -> the ordinary position q it is moved/swapped with
    std::vector<ProbeVariant> variants;   ///< one run each; every run serves all heads
    std::vector<std::string> notes;       ///< probes left out and why
    std::vector<HeadSink> sinks;          ///< per head, layer-major, from the base run
    bool learned = false;                 ///< learned absolute positions (position swap and shift count)
};
/// Plans the probes from the base run (which must have Q/K or maps, and the hidden states).
/// Throws Error(InvalidArgument) for fewer than 4 tokens.
ProbeDesign designProbes(const RunResult& base, const ProbeTokens& tokens, const ClassifySettings& settings);

/// Probe numbers of one head (name -> value in [0, 1]; a probe that does not apply is absent).
using ProbeNumbers = std::map<std::string, double>;

/// What a probe number was computed from: the statistic on the base run and on the probe's run
/// (retention probes: the waiver mass at p; move / position_swap / transplant: the share of the
/// {p, q} attention at the position signal's / the copy's place; repeated: excess of element 0).
struct ProbeEvidence {
    double before = 0.0;
    double after = 0.0;
};

/// The numbers of head (layer, head) from the base run and the variant runs (same order as
/// design.variants). `evidence`, when given, receives before/after per probe.
ProbeNumbers probeNumbers(const ProbeDesign& design, const RunResult& base,
                          const std::vector<std::shared_ptr<const RunResult>>& variants, int layer, int head,
                          const ClassifySettings& settings, std::map<std::string, ProbeEvidence>* evidence = nullptr);

/// A verdict.
enum class Verdict { Positional, Feature, Mixed, None };
const char* verdictName(Verdict v);

/// The verdict of one head.
struct HeadVerdict {
    int layer = 0, head = 0;
    Verdict verdict = Verdict::None;
    double confidence = 0.0;          ///< [0, 1]
    std::vector<int> waiverElements;
    ProbeNumbers probes;              ///< with position_score / conflict / dependence when defined
    std::map<std::string, ProbeEvidence> evidence; ///< per probe (single prompt only)
};
/// Applies the rules of METHODS.md to a head's probe numbers; adds conflict, dependence and
/// position_score to `numbers` when they are defined. `learned`: the shift probe counts (learned
/// absolute positions; RoPE is invariant to a common shift).
HeadVerdict decideHead(int layer, int head, const HeadSink& sink, ProbeNumbers numbers, bool learned,
                       const ClassifySettings& settings);

/// Verdicts of every head of a model, and the model's verdict.
struct Classification final : JobResult {
    ModelInfo model;
    std::string device, dtype;
    ClassifySettings settings;
    int64_t tokens = 0;                     ///< T (0 when the prompts differ in length)
    int prompts = 0;
    int forwardPasses = 0;                  ///< every run made, base runs included
    std::vector<HeadVerdict> heads;         ///< layer-major, one per (layer, head)
    std::map<std::string, int> counts;      ///< verdict name -> heads
    Verdict modelVerdict = Verdict::None;
    std::vector<std::string> notes;
    /// Per prompt (set order): line and the per-head verdicts, layer-major.
    struct PromptVerdicts {
        int line = 0;
        int64_t tokens = 0;
        std::vector<Verdict> verdicts;
        std::vector<double> confidence;
    };
    std::vector<PromptVerdicts> perPrompt;
    /// Single prompt only: the base run, the probe design and its runs (for before/after maps).
    std::shared_ptr<const RunResult> base;
    ProbeDesign design;
    std::vector<std::shared_ptr<const RunResult>> probeRuns;
};

/// Model verdict from per-head verdicts: none when no head has a waiver; positional / feature when
/// at least `modelShare` of the heads with a waiver have it; else mixed. Also fills `counts`.
Verdict modelVerdict(const std::vector<HeadVerdict>& heads, double modelShare, std::map<std::string, int>* counts);

/// Combines per-prompt verdicts of the same model (each layer-major over all heads): majority
/// verdict (ties: mixed), confidence = mean confidence of the agreeing prompts x agreement,
/// probe numbers averaged over the prompts where defined, agreement among the probes, waiver
/// elements those in at least half of the prompts.
std::vector<HeadVerdict> combinePrompts(const std::vector<std::vector<HeadVerdict>>& perPrompt);

/// Forward passes a classify of one prompt makes: 1 base run + the probe variants.
int probeRunCount(const ProbeDesign& design);

/// Classifies every head over a prompt set (one prompt: a set of one).
class ClassifyJob final : public Job {
public:
    /// `onPlan`, when given, is called on the job's thread with each prompt's design before its
    /// probe runs start (the CLI prints the number of forward passes).
    ClassifyJob(PromptSet set, ClassifySettings settings, std::function<void(int line, const ProbeDesign&)> onPlan = {});
    /// Classifies one prompt given as the tokens of a run (e.g. the run on screen), as they are.
    ClassifyJob(Encoding tokens, ClassifySettings settings);
    std::string name() const override { return "classify"; }
    std::shared_ptr<const JobResult> execute(JobContext& context) override;

private:
    PromptSet m_set;
    std::optional<Encoding> m_encoding;
    ClassifySettings m_settings;
    std::function<void(int, const ProbeDesign&)> m_onPlan;
};

/// classification.json (keys: model_verdict, verdict_counts, settings, heads) and the CSV tables
/// classification.csv, verdicts_by_layer.csv and per_prompt.csv, name -> bytes.
std::map<std::string, std::string> classificationFiles(const Classification& c);

} // namespace sinkscope::analysis
