// SPDX-License-Identifier: GPL-3.0-or-later
// All metrics of one run (analyzeRun) and their mean over prompts (aggregate).
#include "sinkscope/analysis.h"

#include "sinkscope/error.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

namespace sinkscope::analysis {

namespace {

Tensor makeTensor(std::vector<int64_t> shape)
{
    Tensor t;
    int64_t n = 1;
    for (int64_t s : shape)
        n *= s;
    t.shape = std::move(shape);
    t.data.assign(size_t(n), 0.0f);
    return t;
}

bool hasShape(const Tensor& t, const std::vector<int64_t>& shape)
{
    return !t.empty() && t.shape == shape;
}

Eigen::Map<const RowMatrixXf> slice(const Tensor& t, int64_t a, int64_t b)
{
    // [A, B, R, C] -> the [R, C] matrix at (a, b)
    return Eigen::Map<const RowMatrixXf>(t.at({a, b}), t.size(2), t.size(3));
}

float* row(Tensor& t, int64_t a, int64_t b)
{
    return t.data.data() + (a * t.size(1) + b) * t.size(2);
}

const float* row(const Tensor& t, int64_t a, int64_t b)
{
    return t.data.data() + (a * t.size(1) + b) * t.size(2);
}

void put(Tensor& t, int64_t a, int64_t b, const Eigen::VectorXf& v)
{
    std::copy(v.data(), v.data() + v.size(), row(t, a, b));
}

std::vector<HeadElement> topPerHead(const Tensor& t)
{
    std::vector<HeadElement> out;
    if (t.empty())
        return out;
    for (int64_t l = 0; l < t.size(0); ++l)
        for (int64_t h = 0; h < t.size(1); ++h) {
            const TopElement top = topElement(Eigen::Map<const Eigen::VectorXf>(row(t, l, h), t.size(2)));
            out.push_back({int(l), int(h), top.element, top.share});
        }
    return out;
}

/// What the analysis needs from one head's map, gathered block by block of query rows so that a
/// long prompt never holds the T x T map: column sums (double, ascending t: the same sums the
/// whole-map functions form), the first column and the row entropies.
struct HeadMapStats {
    Eigen::VectorXd columnSums;
    Eigen::VectorXf firstColumn, entropy;
};

HeadMapStats headMapStats(const RunResult& r, int layer, int head, bool causal)
{
    const int64_t T = r.tokens;
    HeadMapStats s;
    s.columnSums.setZero(T);
    s.firstColumn.setZero(T);
    s.entropy.setZero(T);
    const int64_t rows = r.mapBlockRows();
    for (int64_t t0 = 0; t0 < T; t0 += rows) {
        const int64_t n = std::min(rows, T - t0);
        if (r.hasAttention()) {
            const RowMatrixXf A = r.attentionRows(layer, head, t0, n);
            for (int64_t i = 0; i < n; ++i) {
                const int64_t keys = causal ? t0 + i + 1 : T; // the rest of a causal row is exactly 0
                for (int64_t k = 0; k < keys; ++k)
                    s.columnSums[k] += A(i, k);
            }
            s.firstColumn.segment(t0, n) = A.col(0);
            s.entropy.segment(t0, n) = rowEntropy(A);
            continue;
        }
        // From the logits, softmax row by row as RunResult::attentionRows defines it (equal up to fp32 rounding: the exp differs),
        // and the entropy as -sum p ln p = ln Z + sum p (max - x): every term is >= 0, so there is no
        // cancellation, and no logarithm per element (a 16k-token prompt has 4e9 of them).
        RowMatrixXf X = r.attentionLogitRows(layer, head, t0, n);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t keys = causal ? t0 + i + 1 : T;
            auto x = X.row(i).head(keys);
            const float mx = x.maxCoeff();
            if (!std::isfinite(mx))
                continue; // a fully masked row: all zeros, as attentionRows gives
            const Eigen::RowVectorXf e = (x.array() - mx).exp().matrix();
            const float z = e.sum();
            double h = 0.0;
            for (int64_t k = 0; k < keys; ++k) {
                const float p = e[k] / z;
                s.columnSums[k] += p;
                if (p > 0.0f)
                    h += double(p) * (double(mx) - double(x[k]));
            }
            s.firstColumn[t0 + i] = e[0] / z;
            s.entropy[t0 + i] = float(std::log(double(z)) + h);
        }
    }
    return s;
}

bool layerCausal(const RunResult& r, int layer)
{
    return r.recipe(layer).causal;
}

// headMapStats of every head of one layer, on up to `threads` threads (each head is one task, so
// the numbers are those of a sequential walk).
std::vector<HeadMapStats> layerMapStats(const RunResult& r, int layer, int heads, bool causal, int threads)
{
    std::vector<HeadMapStats> out(size_t(std::max(0, heads)));
    threads = std::clamp(threads, 1, std::max(1, heads));
    std::atomic<int> next{0};
    std::exception_ptr failure;
    std::mutex failureMutex;
    auto work = [&] {
        try {
            for (int h = next++; h < heads; h = next++)
                out[size_t(h)] = headMapStats(r, layer, h, causal);
        } catch (...) {
            const std::lock_guard<std::mutex> lock(failureMutex);
            failure = std::current_exception();
            next = heads;
        }
    };
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back(work);
    work();
    for (std::thread& t : pool)
        t.join();
    if (failure)
        std::rethrow_exception(failure);
    return out;
}

} // namespace

RunMetrics analyzeRun(const RunResult& r, const Options& opt)
{
    if (!r.canMakeMaps())
        throw Error(ErrorCode::InvalidArgument, "The analysis needs the attention maps or Q and K of the run.");
    if (!(opt.epsilon >= 0.0 && opt.epsilon < 1.0))
        throw Error(ErrorCode::InvalidArgument, "epsilon must be in [0, 1).");
    RunMetrics m;
    m.options = opt;
    m.tokens = r.tokens;
    m.dimensions() = r.model.dimensions();
    m.kvHeads = std::max(1, m.kvHeads);
    m.causal = r.model.attention != "bidirectional";
    const int64_t L = m.layers, H = m.heads, G = m.kvHeads, T = m.tokens;
    const int64_t group = std::max<int64_t>(1, H / G);
    if (opt.sinkElement < 0 || opt.sinkElement >= T)
        throw Error(ErrorCode::InvalidArgument, "The sink element " + std::to_string(opt.sinkElement)
                                                    + " is outside the prompt's " + std::to_string(T) + " elements.");

    m.importance = makeTensor({L, H, T});
    m.firstMassPerQuery = makeTensor({L, H, T});
    m.entropy = makeTensor({L, H, T});
    m.share = makeTensor({L, H, T});
    m.firstTokenMass = RowMatrixXf::Zero(L, H);
    m.lastQueryMass = RowMatrixXf::Zero(L, H);

    const bool deviceContribution = hasShape(r.contributionNorms, {L, H, T});
    if (deviceContribution)
        m.contributionNorms = r.contributionNorms;
    if (hasShape(r.valueNorms, {L, G, T})) {
        m.valueNorms = r.valueNorms;
    } else if (hasShape(r.values, {L, G, T, m.headDim})) {
        m.valueNorms = makeTensor({L, G, T});
        for (int64_t l = 0; l < L; ++l)
            for (int64_t g = 0; g < G; ++g)
                put(m.valueNorms, l, g, rowNorms(slice(r.values, l, g)));
    }
    if (deviceContribution) {
        m.waiverBasis = "contribution";
        m.writtenNorms = makeTensor({L, H, T});
        m.waiverScores = makeTensor({L, H, T});
    } else {
        m.unavailable.push_back("contribution_norms: the run did not compute ||v W_O|| (needs the engine's summaries)");
        m.unavailable.push_back("written_norms: needs contribution_norms");
        if (!m.valueNorms.empty()) {
            m.waiverBasis = "value";
            m.waiverScores = makeTensor({L, H, T});
        } else {
            m.unavailable.push_back("value_norms: the run did not capture values");
            m.unavailable.push_back("waiver: needs value or contribution norms");
        }
    }
    const bool haveQK = hasShape(r.queries, {L, H, T, m.headDim}) && hasShape(r.keys, {L, G, T, m.headDim});
    if (!haveQK)
        m.unavailable.push_back("key_decomposition: the run did not capture Q and K");

    const int threads = opt.threads > 0 ? opt.threads : std::max(1, r.threads);
    for (int l = 0; l < L; ++l) {
        const bool causal = layerCausal(r, l);
        const std::vector<HeadMapStats> layerStats = layerMapStats(r, l, int(H), causal, threads);
        for (int h = 0; h < H; ++h) {
            // The same quantities importance(), receivedShare(), firstElementMass(), rowEntropy()
            // and writtenNorms() take from a whole map (causal maps are exactly 0 above the diagonal).
            const HeadMapStats& st = layerStats[size_t(h)];
            const int64_t firstQuery = causal ? 1 : 0;
            Eigen::VectorXf alpha(T), share(T);
            for (int64_t k = 0; k < T; ++k) {
                alpha[k] = float(st.columnSums[k] / double(T - (causal ? k : 0)));
                share[k] = float(st.columnSums[k] / double(T));
            }
            put(m.importance, l, h, alpha);
            put(m.firstMassPerQuery, l, h, st.firstColumn);
            put(m.entropy, l, h, st.entropy);
            put(m.share, l, h, share);
            double firstSum = 0.0;
            for (int64_t t = firstQuery; t < T; ++t)
                firstSum += st.firstColumn[t];
            m.firstTokenMass(l, h) = T > firstQuery ? float(firstSum / double(T - firstQuery)) : 0.0f;
            m.lastQueryMass(l, h) = T > 0 ? st.firstColumn[T - 1] : 0.0f;
            if (!m.waiverScores.empty()) {
                Eigen::VectorXf norms;
                if (deviceContribution) {
                    norms = Eigen::Map<const Eigen::VectorXf>(row(m.contributionNorms, l, h), T);
                    Eigen::VectorXf written(T);
                    for (int64_t k = 0; k < T; ++k)
                        written[k] = float(st.columnSums[k] * double(norms[k]));
                    put(m.writtenNorms, l, h, written);
                } else {
                    norms = Eigen::Map<const Eigen::VectorXf>(row(m.valueNorms, l, h / group), T);
                }
                put(m.waiverScores, l, h, waiverScoresFromImportance(alpha, causal, norms).score);
            }
            if (haveQK) {
                const int element = topElement(share).element;
                const KeyDecomposition kd = keyDecomposition(slice(r.queries, l, h), slice(r.keys, l, h / group),
                                                             element, causal);
                m.keys.push_back({l, h, element, kd.keyNorm, kd.keyNormOthers, kd.meanCosine, kd.meanCosineOthers,
                                  kd.meanQueryNorm});
            }
        }
    }
    m.sinkRate = sinkRate(m.importance, opt.sinkElement, opt.epsilon);
    m.sinkCurve = sinkCurve(m.firstMassPerQuery, m.causal);
    m.topAttended = topPerHead(m.share);
    m.waiver = topPerHead(m.waiverScores);

    if (hasShape(r.values, {L, G, T, m.headDim})) {
        for (int l = 0; l < L; ++l)
            for (int g = 0; g < G; ++g) {
                ValueDims vd;
                vd.layer = l;
                vd.kvHead = g;
                std::vector<int> rest;
                for (int j = 0; j < T; ++j) {
                    bool waiver = false;
                    for (int64_t h = g * group; h < (g + 1) * group && !m.waiverScores.empty(); ++h)
                        waiver = waiver || double(row(m.waiverScores, l, h)[j]) >= opt.waiverThreshold;
                    (waiver ? vd.waiverElements : rest).push_back(j);
                }
                vd.rest = dimStats(slice(r.values, l, g), rest);
                vd.waiver = dimStats(slice(r.values, l, g), vd.waiverElements);
                m.valueDims.push_back(std::move(vd));
            }
    } else {
        m.unavailable.push_back("value_dims: the run did not capture values");
    }
    if (!m.valueNorms.empty())
        for (int64_t l = 0; l < L; ++l) {
            FirstVsOthers f;
            for (int64_t g = 0; g < G; ++g) {
                const FirstVsOthers x = firstVsOthers(Eigen::Map<const Eigen::VectorXf>(row(m.valueNorms, l, g), T));
                f.first += x.first / float(G);
                f.others += x.others / float(G);
            }
            m.valueNormsFirst.push_back(f);
        }
    if (haveQK) {
        for (int64_t l = 0; l < L; ++l) {
            FirstVsOthers f;
            for (int64_t g = 0; g < G; ++g) {
                const FirstVsOthers x = firstVsOthers(rowNorms(slice(r.keys, l, g)));
                f.first += x.first / float(G);
                f.others += x.others / float(G);
            }
            m.keyNorms.push_back(f);
        }
    }
    if (!r.hidden.empty() && r.hidden.shape.size() == 3 && r.hidden.size(0) == L + 1 && r.hidden.size(1) == T) {
        const int64_t D = r.hidden.size(2);
        for (int64_t i = 0; i <= L; ++i) {
            const Eigen::Map<const RowMatrixXf> h(r.hidden.at({i}), T, D);
            HiddenStats s = hiddenStats(h);
            for (const Activation& a : massiveActivations(h, s.median, opt.massive))
                m.massive.push_back({int(i), a.dim, a.element, a.value, 1});
            m.hiddenNorms.push_back(firstVsOthers(rowNorms(h)));
            m.hidden.push_back(std::move(s));
        }
    } else {
        m.unavailable.push_back("hidden_dims, massive_activations: the run did not capture hidden states");
    }
    return m;
}

// ---------------------------------------------------------------------------------------------

void Accumulator::add(const std::vector<float>& v)
{
    if (m_count == 0) {
        m_mean.assign(v.size(), 0.0);
        m_m2.assign(v.size(), 0.0);
    } else if (v.size() != m_mean.size()) {
        throw Error(ErrorCode::InvalidArgument, "Cannot average arrays of different sizes ("
                                                    + std::to_string(v.size()) + " vs " + std::to_string(m_mean.size()) + ").");
    }
    ++m_count;
    for (size_t i = 0; i < v.size(); ++i) {
        const double x = v[i], d = x - m_mean[i];
        m_mean[i] += d / double(m_count);
        m_m2[i] += d * (x - m_mean[i]);
    }
}

std::vector<float> Accumulator::mean() const
{
    return std::vector<float>(m_mean.begin(), m_mean.end());
}

std::vector<float> Accumulator::std() const
{
    std::vector<float> s(m_m2.size(), 0.0f);
    for (size_t i = 0; i < s.size() && m_count > 0; ++i)
        s[i] = float(std::sqrt(std::max(0.0, m_m2[i] / double(m_count))));
    return s;
}

namespace {

// Mean (and std) of one tensor member over runs; empty when any run lacks it.
Tensor meanOf(const std::vector<RunMetrics>& runs, Tensor RunMetrics::*member, Tensor* spread)
{
    Accumulator acc;
    for (const RunMetrics& r : runs) {
        if ((r.*member).empty())
            return {};
        if ((r.*member).shape != (runs.front().*member).shape)
            throw Error(ErrorCode::InvalidArgument, "Cannot average results of different shapes.");
        acc.add((r.*member).data);
    }
    Tensor t;
    t.shape = (runs.front().*member).shape;
    t.data = acc.mean();
    if (spread) {
        spread->shape = t.shape;
        spread->data = acc.std();
    }
    return t;
}

RowMatrixXf meanOf(const std::vector<RunMetrics>& runs, RowMatrixXf RunMetrics::*member, RowMatrixXf* spread)
{
    Accumulator acc;
    const RowMatrixXf& first = runs.front().*member;
    for (const RunMetrics& r : runs) {
        const RowMatrixXf& x = r.*member;
        if (x.rows() != first.rows() || x.cols() != first.cols())
            throw Error(ErrorCode::InvalidArgument, "Cannot average results of different shapes.");
        acc.add(std::vector<float>(x.data(), x.data() + x.size()));
    }
    RowMatrixXf m = Eigen::Map<const RowMatrixXf>(acc.mean().data(), first.rows(), first.cols());
    if (spread)
        *spread = Eigen::Map<const RowMatrixXf>(acc.std().data(), first.rows(), first.cols());
    return m;
}

std::vector<FirstVsOthers> meanOf(const std::vector<RunMetrics>& runs, std::vector<FirstVsOthers> RunMetrics::*member)
{
    std::vector<FirstVsOthers> out = runs.front().*member;
    for (const RunMetrics& r : runs)
        if ((r.*member).size() != out.size())
            return {};
    for (size_t i = 0; i < out.size(); ++i) {
        double a = 0.0, b = 0.0;
        for (const RunMetrics& r : runs) {
            a += (r.*member)[i].first;
            b += (r.*member)[i].others;
        }
        out[i] = {float(a / double(runs.size())), float(b / double(runs.size()))};
    }
    return out;
}

template <typename K>
K mode(const std::vector<K>& values)
{
    std::map<K, int> counts;
    for (const K& v : values)
        ++counts[v];
    K best = values.front();
    int n = 0;
    for (const auto& [k, c] : counts) // ordered: ties go to the smaller key
        if (c > n) {
            best = k;
            n = c;
        }
    return best;
}

// Mean of per-dimension statistics over the runs that have rows in that group.
DimStats meanDims(const std::vector<const DimStats*>& parts)
{
    DimStats s;
    int used = 0;
    for (const DimStats* p : parts) {
        if (p->count == 0)
            continue;
        if (used == 0) {
            s.mean = p->mean;
            s.std = p->std;
            s.maxAbs = p->maxAbs;
        } else {
            s.mean += p->mean;
            s.std += p->std;
            s.maxAbs += p->maxAbs;
        }
        s.count += p->count;
        ++used;
    }
    if (used > 0) {
        s.mean /= float(used);
        s.std /= float(used);
        s.maxAbs /= float(used);
    }
    return s;
}

} // namespace

RunMetrics aggregate(const std::vector<RunMetrics>& runs, MetricsSpread* spread)
{
    if (runs.empty())
        throw Error(ErrorCode::InvalidArgument, "There are no runs to aggregate.");
    const RunMetrics& f = runs.front();
    for (const RunMetrics& r : runs)
        if (r.tokens != f.tokens || r.dimensions() != f.dimensions() || r.causal != f.causal)
            throw Error(ErrorCode::InvalidArgument,
                        "Only runs of the same model at the same prompt length can be averaged (T = "
                            + std::to_string(f.tokens) + " and T = " + std::to_string(r.tokens) + ").");
    const size_t n = runs.size();
    MetricsSpread local;
    MetricsSpread& sp = spread ? *spread : local;

    RunMetrics m;
    m.tokens = f.tokens;
    m.dimensions() = f.dimensions();
    m.causal = f.causal;
    m.options = f.options;
    m.prompts = 0;
    for (const RunMetrics& r : runs)
        m.prompts += r.prompts;

    m.importance = meanOf(runs, &RunMetrics::importance, &sp.importance);
    m.firstMassPerQuery = meanOf(runs, &RunMetrics::firstMassPerQuery, &sp.firstMassPerQuery);
    m.entropy = meanOf(runs, &RunMetrics::entropy, &sp.entropy);
    m.share = meanOf(runs, &RunMetrics::share, nullptr);
    m.valueNorms = meanOf(runs, &RunMetrics::valueNorms, &sp.valueNorms);
    m.contributionNorms = meanOf(runs, &RunMetrics::contributionNorms, nullptr);
    m.writtenNorms = meanOf(runs, &RunMetrics::writtenNorms, nullptr);
    m.waiverScores = meanOf(runs, &RunMetrics::waiverScores, &sp.waiverScores);
    m.firstTokenMass = meanOf(runs, &RunMetrics::firstTokenMass, &sp.firstTokenMass);
    m.lastQueryMass = meanOf(runs, &RunMetrics::lastQueryMass, nullptr);
    m.waiverBasis = f.waiverBasis;
    for (const RunMetrics& r : runs)
        if (r.waiverBasis != m.waiverBasis)
            m.waiverBasis = "mixed";

    Accumulator rate;
    m.sinkRate = f.sinkRate;
    m.sinkRate.pairs = m.sinkRate.above = 0;
    for (const RunMetrics& r : runs) {
        rate.add({float(r.sinkRate.percent)});
        m.sinkRate.pairs += r.sinkRate.pairs;
        m.sinkRate.above += r.sinkRate.above;
    }
    m.sinkRate.percent = m.sinkRate.pairs > 0 ? 100.0 * m.sinkRate.above / m.sinkRate.pairs : 0.0;
    sp.sinkRatePercent = rate.std().front();
    if (!m.firstMassPerQuery.empty())
        m.sinkCurve = sinkCurve(m.firstMassPerQuery, m.causal);
    m.topAttended = topPerHead(m.share);
    m.waiver = topPerHead(m.waiverScores);

    // Key decomposition: mean of each summary, element = most frequent.
    bool keysEverywhere = true;
    for (const RunMetrics& r : runs)
        keysEverywhere = keysEverywhere && r.keys.size() == f.keys.size();
    if (keysEverywhere)
        for (size_t i = 0; i < f.keys.size(); ++i) {
            KeySummary k = f.keys[i];
            std::vector<int> elements;
            k.keyNorm = k.keyNormOthers = k.meanCosine = k.meanCosineOthers = k.meanQueryNorm = 0.0f;
            for (const RunMetrics& r : runs) {
                const KeySummary& x = r.keys[i];
                elements.push_back(x.element);
                k.keyNorm += x.keyNorm / float(n);
                k.keyNormOthers += x.keyNormOthers / float(n);
                k.meanCosine += x.meanCosine / float(n);
                k.meanCosineOthers += x.meanCosineOthers / float(n);
                k.meanQueryNorm += x.meanQueryNorm / float(n);
            }
            k.element = mode(elements);
            m.keys.push_back(k);
        }

    bool valuesEverywhere = true;
    for (const RunMetrics& r : runs)
        valuesEverywhere = valuesEverywhere && r.valueDims.size() == f.valueDims.size();
    if (valuesEverywhere)
        for (size_t i = 0; i < f.valueDims.size(); ++i) {
            ValueDims vd;
            vd.layer = f.valueDims[i].layer;
            vd.kvHead = f.valueDims[i].kvHead;
            std::set<int> elements;
            std::vector<const DimStats*> rest, waiver;
            for (const RunMetrics& r : runs) {
                elements.insert(r.valueDims[i].waiverElements.begin(), r.valueDims[i].waiverElements.end());
                rest.push_back(&r.valueDims[i].rest);
                waiver.push_back(&r.valueDims[i].waiver);
            }
            vd.waiverElements.assign(elements.begin(), elements.end());
            vd.rest = meanDims(rest);
            vd.waiver = meanDims(waiver);
            m.valueDims.push_back(std::move(vd));
        }

    bool hiddenEverywhere = true;
    for (const RunMetrics& r : runs)
        hiddenEverywhere = hiddenEverywhere && r.hidden.size() == f.hidden.size();
    if (hiddenEverywhere)
        for (size_t i = 0; i < f.hidden.size(); ++i) {
            HiddenStats s;
            const Eigen::Index D = f.hidden[i].maxAbs.size();
            s.maxAbs.setZero(D);
            s.argmax.setZero(D);
            for (Eigen::Index d = 0; d < D; ++d) {
                std::vector<int> where;
                for (const RunMetrics& r : runs) {
                    s.maxAbs[d] += r.hidden[i].maxAbs[d] / float(n);
                    where.push_back(r.hidden[i].argmax[d]);
                }
                s.argmax[d] = mode(where);
            }
            for (size_t rank = 0; rank < f.hidden[i].top.size(); ++rank) {
                double magnitude = 0.0;
                std::vector<std::pair<int, int>> where;
                for (const RunMetrics& r : runs) {
                    const Activation& a = r.hidden[i].top.at(rank);
                    magnitude += std::fabs(a.value) / double(n);
                    where.push_back({a.element, a.dim});
                }
                const auto [element, dim] = mode(where);
                s.top.push_back({element, dim, float(magnitude)});
            }
            for (const RunMetrics& r : runs)
                s.median += r.hidden[i].median / float(n);
            m.hidden.push_back(std::move(s));
        }

    std::map<std::tuple<int, int, int>, std::pair<double, int>> massive;
    for (const RunMetrics& r : runs)
        for (const MassiveActivation& a : r.massive) {
            auto& [sum, count] = massive[{a.layer, a.dim, a.element}];
            sum += double(a.value) * a.prompts;
            count += a.prompts;
        }
    for (const auto& [key, sc] : massive)
        m.massive.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), float(sc.first / sc.second), sc.second});
    std::stable_sort(m.massive.begin(), m.massive.end(), [](const MassiveActivation& a, const MassiveActivation& b) {
        return std::make_tuple(a.layer, -std::fabs(a.value)) < std::make_tuple(b.layer, -std::fabs(b.value));
    });

    m.hiddenNorms = meanOf(runs, &RunMetrics::hiddenNorms);
    m.keyNorms = meanOf(runs, &RunMetrics::keyNorms);
    m.valueNormsFirst = meanOf(runs, &RunMetrics::valueNormsFirst);

    std::set<std::string> missing;
    for (const RunMetrics& r : runs)
        missing.insert(r.unavailable.begin(), r.unavailable.end());
    m.unavailable.assign(missing.begin(), missing.end());
    return m;
}

} // namespace sinkscope::analysis
