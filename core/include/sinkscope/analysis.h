// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis layer: attention-sink, waiver and per-dimension metrics as pure functions over
// plain arrays (unit-testable on constructed inputs) and over a RunResult. Every definition, with
// its source, is in docs/METRICS.md. Element indices are 0-based throughout (k = 0 is the first
// element, Gu et al.'s Sink_1).
#pragma once

#include "sinkscope/runresult.h"

#include <Eigen/Core>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sinkscope::analysis {

/// A read-only view of a row-major float matrix: a T x T attention map (row = query, column =
/// key), or a [T, d] stack of vectors (one row per element).
using MatrixRef = Eigen::Ref<const RowMatrixXf>;
/// A read-only view of a float vector.
using VectorRef = Eigen::Ref<const Eigen::VectorXf>;

// ---------------------------------------------------------------------------------------------
// Attention-sink metrics of one head's map A [T, T]
// ---------------------------------------------------------------------------------------------

/// [T] Gu et al.'s importance alpha_k = mean over the queries that can see k of A[t, k]: t >= k
/// when `causal`, every t otherwise. Sums in double.
Eigen::VectorXf importance(const MatrixRef& map, bool causal);

/// [T] alpha_k that a map spreading every query uniformly over the keys it can see would have:
/// causal: (1 / (T - k)) * sum_{t >= k} 1 / (t + 1); bidirectional: 1 / T.
Eigen::VectorXd uniformImportance(int64_t tokens, bool causal);

/// Mean mass on the first element: mean over t >= 1 of A[t, 0] when `causal` (row 0 has no choice;
/// same as RunResult::firstTokenMass), over every t otherwise. 0 for an empty map or causal T < 2.
float firstElementMass(const MatrixRef& map, bool causal);

/// [T] row entropy -sum_s A[t, s] ln A[t, s] in nats (0 ln 0 = 0).
Eigen::VectorXf rowEntropy(const MatrixRef& map);

/// [T] attention share received by each key: sum_t A[t, k] / T (sums to 1 for a row-stochastic map).
Eigen::VectorXf receivedShare(const MatrixRef& map);

/// The element that receives the most attention and its share (see receivedShare); ties go to the
/// lower index. element = -1 for an empty vector.
struct TopElement {
    int element = -1;
    float share = 0.0f;
};
/// Arg-max of a [T] share vector (as from receivedShare).
TopElement topElement(const VectorRef& share);

/// Gu et al.'s Sink_k^epsilon over all (layer, head) pairs of one prompt.
struct SinkRate {
    int k = 0;              ///< element index (0 = the first element)
    double epsilon = 0.3;
    int64_t tokens = 0;     ///< T the rate was measured at
    int pairs = 0;          ///< (layer, head) pairs counted
    int above = 0;          ///< pairs with alpha_k > epsilon
    double percent = 0.0;   ///< 100 * above / pairs
};
/// Sink_k^epsilon from importance [L, H, T] (alpha). Throws Error(InvalidArgument) when k >= T.
SinkRate sinkRate(const Tensor& importance, int k, double epsilon);

/// Per-layer sink curve: mean and population std over heads of the first-element mass, averaged
/// over queries (firstElementMass) and for the last query only (A[T-1, 0], StreamingLLM).
struct SinkCurve {
    Eigen::VectorXf mean, std;         ///< [L] over heads of firstElementMass
    Eigen::VectorXf lastMean, lastStd; ///< [L] over heads of A[T-1, 0]
};
/// Sink curve from the first-element mass per query [L, H, T] (A[l, h, t, 0]).
SinkCurve sinkCurve(const Tensor& firstMassPerQuery, bool causal);

/// Per layer, the mean and population std over heads of a per-head number.
struct OverHeads {
    Eigen::VectorXd mean, std; ///< [L]
};
/// Mean and population std over heads of x[l, h, element] for a per-element tensor [L, H, T]
/// (e.g. importance: the sink curve of alpha of one element, such as a head's waiver).
/// Throws Error(InvalidArgument) for another shape or an element outside 0..T-1.
OverHeads overHeadsAt(const Tensor& perElement, int64_t element);

/// Mean row entropy of one head from the entropies [L, H, T] (RunMetrics::entropy): the mean over
/// the queries that have a choice, t >= 1 when `causal` and T > 1 (row 0 of a causal map can only
/// look at itself), every t otherwise; NaN when T = 0. Throws Error(InvalidArgument) for another
/// shape or a head outside it.
double meanRowEntropy(const Tensor& entropy, int layer, int head, bool causal);

// ---------------------------------------------------------------------------------------------
// Waiver metrics (norm-based view, Kobayashi et al. 2020)
// ---------------------------------------------------------------------------------------------

/// [T] Euclidean norm of each row of a [T, d] matrix (e.g. ||v_j||, ||k_j||, ||h_j||).
Eigen::VectorXf rowNorms(const MatrixRef& rows);

/// [T] contribution norms ||v_j W_O^h|| for values [T, hd] and the head's slice of the output
/// projection woHead [hd, D] (o_proj.weight[:, h*hd:(h+1)*hd] transposed).
Eigen::VectorXf contributionNorms(const MatrixRef& values, const MatrixRef& woHead);

/// [T] written norms sum_t ||A[t, j] v_j W_O^h|| = contribution_j * sum_t A[t, j].
Eigen::VectorXf writtenNorms(const MatrixRef& map, const VectorRef& contribution);

/// The waiver score of every element of one head and its two factors, each in [0, 1]:
///   excess_j  = clip((alpha_j - u_j) / (1 - u_j), 0, 1), u_j = uniformImportance (0 when u_j = 1)
///   deficit_j = clip(1 - c_j / median_i c_i, 0, 1) (0 when the median is 0)
///   score_j   = excess_j * deficit_j
/// where c is the contribution norm ||v_j W_O^h|| (or ||v_j|| when W_O is not available).
struct WaiverScores {
    Eigen::VectorXf excess;  ///< [T] attention received beyond a uniform share
    Eigen::VectorXf deficit; ///< [T] output written below the head's typical element
    Eigen::VectorXf score;   ///< [T] excess * deficit
};
/// Waiver scores of one head from its map [T, T] and per-element norms c [T].
WaiverScores waiverScores(const MatrixRef& map, bool causal, const VectorRef& norms);
/// The same from the head's importance alpha [T] (as from importance()), for callers that walk a
/// long map block by block and never hold it whole.
WaiverScores waiverScoresFromImportance(const VectorRef& alpha, bool causal, const VectorRef& norms);

/// Key-side decomposition of q_t . k_s = ||q_t|| ||k_s|| cos(q_t, k_s) for one head and element s.
struct KeyDecomposition {
    int element = 0;
    Eigen::VectorXf dot;       ///< [T] q_t . k_s (every t; only t >= s can attend when causal)
    Eigen::VectorXf queryNorm; ///< [T] ||q_t||
    Eigen::VectorXf cosine;    ///< [T] cos(q_t, k_s) (0 when a norm is 0)
    float keyNorm = 0.0f;           ///< ||k_s||
    float keyNormOthers = 0.0f;     ///< mean ||k_j|| over j != s (0 when T == 1)
    float meanCosine = 0.0f;        ///< mean of cos(q_t, k_s) over the queries that can see s
    float meanCosineOthers = 0.0f;  ///< mean of cos(q_t, k_j) over those queries and visible j != s
    float meanQueryNorm = 0.0f;     ///< mean ||q_t|| over the queries that can see s
};
/// Decomposes one head's q.k for element s from Q [T, hd] and K [T, hd] (post-position-encoding).
KeyDecomposition keyDecomposition(const MatrixRef& queries, const MatrixRef& keys, int element, bool causal);

// ---------------------------------------------------------------------------------------------
// Per-dimension statistics
// ---------------------------------------------------------------------------------------------

/// Per-dimension statistics over a set of rows of a [T, d] matrix.
struct DimStats {
    int count = 0;           ///< rows used
    Eigen::VectorXf mean;    ///< [d]
    Eigen::VectorXf std;     ///< [d] population std (divide by count)
    Eigen::VectorXf maxAbs;  ///< [d] max |x|
};
/// Statistics of the rows listed in `rows` (all of size 0 when the list is empty).
DimStats dimStats(const MatrixRef& rows, const std::vector<int>& which);

/// Median of |x| over all entries (mean of the two middle values for an even count; 0 when empty).
float medianAbs(const MatrixRef& x);

/// One entry of a hidden state [T, D].
struct Activation {
    int element = 0;
    int dim = 0;
    float value = 0.0f; ///< signed value
};

/// Magnitude statistics of one layer's hidden state [T, D] (Sun et al.'s layer-wise view).
struct HiddenStats {
    Eigen::VectorXf maxAbs;           ///< [D] max over elements of |h|
    Eigen::VectorXi argmax;           ///< [D] element where it occurs (lowest on ties)
    std::vector<Activation> top;      ///< the 3 largest |h| over all entries, largest first
    float median = 0.0f;              ///< median |h| over all entries
};
/// Statistics of one hidden state [T, D].
HiddenStats hiddenStats(const MatrixRef& hidden, int topCount = 3);

/// Sun et al.'s criterion, both thresholds settable: |h| > absolute and |h| >= relative * median.
struct MassiveThresholds {
    double absolute = 100.0;
    double relative = 1000.0;
};
/// Entries of hidden [T, D] that are massive activations, ordered by decreasing |value|.
std::vector<Activation> massiveActivations(const MatrixRef& hidden, float median, const MassiveThresholds& thresholds);

/// A norm of the first element against the mean norm of the others.
struct FirstVsOthers {
    float first = 0.0f;
    float others = 0.0f; ///< 0 when there is only one element
};
/// First entry and mean of the rest of a [T] norm vector.
FirstVsOthers firstVsOthers(const VectorRef& norms);

// ---------------------------------------------------------------------------------------------
// Everything for one run
// ---------------------------------------------------------------------------------------------

/// Settings of analyzeRun.
struct Options {
    int sinkElement = 0;          ///< k of Sink_k^epsilon
    double epsilon = 0.3;         ///< threshold of Sink_k^epsilon
    MassiveThresholds massive;
    double waiverThreshold = 0.5; ///< elements scoring at least this are "waiver elements" in valueDims
    /// Threads that walk a layer's heads' maps at once; 0: the threads the run's own pass used
    /// (RunResult::threads, so `--threads` holds for the analysis too), at least 1. The metrics do
    /// not depend on it.
    int threads = 0;
};

/// The top-scoring element of one head (a record of `waiver` / `top_attended`).
struct HeadElement {
    int layer = 0;
    int head = 0;
    int element = 0;
    float value = 0.0f; ///< waiver score / attention share
};

/// Per-dimension value statistics of one (layer, KV head), waiver elements apart from the rest.
struct ValueDims {
    int layer = 0;
    int kvHead = 0;
    std::vector<int> waiverElements; ///< elements scoring >= waiverThreshold for a head of the group
    DimStats rest;                   ///< over the other elements
    DimStats waiver;                 ///< over the waiver elements (count 0 when none)
};

/// Key decomposition summary of one (layer, head) at its top-attended element.
struct KeySummary {
    int layer = 0;
    int head = 0;
    int element = 0;
    float keyNorm = 0.0f, keyNormOthers = 0.0f;
    float meanCosine = 0.0f, meanCosineOthers = 0.0f;
    float meanQueryNorm = 0.0f;
};

/// A massive activation with the hidden-state index it was found at.
struct MassiveActivation {
    int layer = 0;      ///< hidden-state index: 0 = embedding output, l = after block l (1-based)
    int dim = 0;
    int element = 0;
    float value = 0.0f;
    int prompts = 1;    ///< prompts that flagged it (aggregates)
};

/// All metrics of one prompt's run. Tensors left empty are listed in `unavailable`.
struct RunMetrics : ModelDimensions { ///< the analysed model's dimensions
    int64_t tokens = 0;
    bool causal = true;
    Options options;
    int prompts = 1;                    ///< runs averaged into these numbers

    Tensor importance;                  ///< [L, H, T] alpha_k
    Tensor firstMassPerQuery;           ///< [L, H, T] A[t, 0]
    RowMatrixXf firstTokenMass;         ///< [L, H] firstElementMass
    RowMatrixXf lastQueryMass;          ///< [L, H] A[T-1, 0]
    SinkRate sinkRate;
    SinkCurve sinkCurve;
    Tensor entropy;                     ///< [L, H, T] nats
    Tensor share;                       ///< [L, H, T] receivedShare
    std::vector<HeadElement> topAttended; ///< per head, layer-major
    Tensor valueNorms;                  ///< [L, Hkv, T]
    Tensor contributionNorms;           ///< [L, H, T]
    Tensor writtenNorms;                ///< [L, H, T]
    Tensor waiverScores;                ///< [L, H, T]
    std::string waiverBasis;            ///< "contribution" or "value": the norms c of the deficit
    std::vector<HeadElement> waiver;    ///< top waiver per head, layer-major
    std::vector<KeySummary> keys;       ///< per head (needs Q/K)
    std::vector<ValueDims> valueDims;   ///< per (layer, KV head) (needs values)
    std::vector<HiddenStats> hidden;    ///< per hidden-state index 0..L (needs hidden)
    std::vector<MassiveActivation> massive;
    std::vector<FirstVsOthers> hiddenNorms; ///< [L+1] ||h||
    std::vector<FirstVsOthers> keyNorms;    ///< [L] ||k|| (mean over KV heads)
    std::vector<FirstVsOthers> valueNormsFirst; ///< [L] ||v|| (mean over KV heads)
    std::vector<std::string> unavailable;   ///< "metric: reason" for what the captures did not allow
};

/// Computes every metric of one run from its captures (maps stored or recomputed from Q/K; the
/// device summaries are used where present). Throws Error(InvalidArgument) when the run has
/// neither attention maps nor Q/K, or options are out of range.
RunMetrics analyzeRun(const RunResult& run, const Options& options = {});

// ---------------------------------------------------------------------------------------------
// Aggregation over prompts
// ---------------------------------------------------------------------------------------------

/// Element-wise mean, population std and count of equally sized vectors (Welford, in double).
class Accumulator {
public:
    /// Adds one vector; throws Error(InvalidArgument) when its size differs from the first one.
    void add(const std::vector<float>& values);
    int count() const { return m_count; }
    std::vector<float> mean() const;
    std::vector<float> std() const;

private:
    int m_count = 0;
    std::vector<double> m_mean, m_m2;
};

/// Spread of the main tensors over prompts (population std), next to the mean RunMetrics.
struct MetricsSpread {
    Tensor importance, firstMassPerQuery, entropy, valueNorms, waiverScores; ///< shapes as in RunMetrics
    RowMatrixXf firstTokenMass;                                              ///< [L, H]
    double sinkRatePercent = 0.0;
};

/// Mean of per-prompt metrics measured at the same T on the same model: every tensor is averaged
/// element-wise; Sink_k^epsilon percent is the mean of the per-prompt percents (Gu et al. average
/// the indicator over samples); waiver and top-attended records are re-derived from the mean
/// scores/shares; hidden top-3 and medians are averaged (Sun et al.), per-dimension maxima averaged
/// with the most frequent arg-max element; massive activations are the union, value averaged over
/// the prompts that flagged each (layer, dim, element). Throws Error(InvalidArgument) for an empty
/// list or mixed T / shapes. `spread`, when given, receives the std.
RunMetrics aggregate(const std::vector<RunMetrics>& runs, MetricsSpread* spread = nullptr);

// ---------------------------------------------------------------------------------------------
// Prompt sets
// ---------------------------------------------------------------------------------------------

/// One prompt of a prompt set and the 1-based line it came from.
struct Prompt {
    int line = 0;
    std::string text;
};

/// A line that could not be used, with the reason.
struct PromptIssue {
    int line = 0;
    std::string message;
};

/// The prompts of a prompt-set file and the lines that were rejected.
struct PromptSet {
    bool jsonl = false;
    std::vector<Prompt> prompts;
    std::vector<PromptIssue> issues;
    std::string sha256; ///< SHA-256 (hex) of the file's bytes (readPromptSet; empty otherwise)
};

/// Parses a prompt set: JSONL (one object with a non-empty string "text" per line) when
/// `forceJsonl` or the first non-blank line starts with '{', else plain text (one prompt per line,
/// trailing "\r" removed). Blank lines are skipped; bad lines (invalid UTF-8, bad JSON, no "text")
/// are reported in `issues` and the rest is kept.
PromptSet parsePromptSet(const std::string& bytes, bool forceJsonl = false);

/// Reads and parses a prompt-set file (JSONL when it ends in ".jsonl"). Throws Error(Io).
PromptSet readPromptSet(const std::string& path);

} // namespace sinkscope::analysis
