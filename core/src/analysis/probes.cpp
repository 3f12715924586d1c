// SPDX-License-Identifier: GPL-3.0-or-later
// Probe design, probe numbers and verdicts (docs/METHODS.md). Pure functions over RunResults.
#include "sinkscope/classify.h"

#include "sinkscope/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace sinkscope::analysis {

namespace {

bool isCausal(const RunResult& r)
{
    if (!r.recipes.empty())
        return r.recipes.front().causal;
    return r.model.attention != "bidirectional";
}

double clip01(double x)
{
    return std::min(1.0, std::max(0.0, x));
}

// splitmix64: the same replacement token on every platform.
uint64_t splitmix(uint64_t& s)
{
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Median (mean of the two middle values for an even count); reorders `x`.
double medianOf(std::vector<double> x)
{
    if (x.empty())
        return 0.0;
    const size_t m = x.size() / 2;
    std::nth_element(x.begin(), x.begin() + long(m), x.end());
    const double hi = x[m];
    if (x.size() % 2)
        return hi;
    return 0.5 * (hi + *std::max_element(x.begin(), x.begin() + long(m)));
}

RunRequest probeRequest(std::vector<int32_t> ids)
{
    RunRequest r;
    r.useIds = true;
    r.ids = std::move(ids);
    r.captureAttention = false;
    r.captureLogits = false;
    r.captureHidden = false;
    r.captureValues = false;
    r.captureQK = true;
    return r;
}

} // namespace

HeadSink headSinkFromImportance(const VectorRef& alpha, bool causal, double sinkExcess, int minQueries)
{
    HeadSink s;
    const int64_t T = alpha.size();
    const Eigen::VectorXd u = uniformImportance(T, causal);
    for (int j = 0; j < T; ++j) {
        const int64_t seenBy = causal ? T - 1 - j : T - 1;
        if (seenBy < minQueries)
            continue;
        // METRICS.md's excess, as waiverScores computes it.
        const float excess = u[j] >= 1.0 ? 0.0f : float(clip01((double(alpha[j]) - u[j]) / (1.0 - u[j])));
        if (excess > s.excess) {
            s.excess = excess;
            s.primary = j;
        }
        if (excess >= sinkExcess)
            s.elements.push_back(j);
    }
    s.present = s.excess >= sinkExcess;
    return s;
}

HeadSink headSink(const MatrixRef& map, bool causal, double sinkExcess, int minQueries)
{
    if (map.rows() == 0)
        return {};
    return headSinkFromImportance(importance(map, causal), causal, sinkExcess, minQueries);
}

double attentionMass(const MatrixRef& map, const std::vector<int>& keys, const std::vector<int>& queries)
{
    if (queries.empty())
        return 0.0;
    double sum = 0.0;
    for (int t : queries)
        for (int j : keys)
            if (j >= 0 && j < map.cols())
                sum += map(t, j);
    return sum / double(queries.size());
}

std::vector<int> queriesAfter(int p, int64_t tokens, bool causal)
{
    std::vector<int> q;
    for (int t = causal ? p + 1 : 0; t < tokens; ++t)
        if (t != p)
            q.push_back(t);
    return q;
}

std::vector<int> queriesSeeingBoth(int p, int q, int64_t tokens, bool causal)
{
    std::vector<int> out;
    for (int t = causal ? std::max(p, q) + 1 : 0; t < tokens; ++t)
        if (t != p && t != q)
            out.push_back(t);
    return out;
}

int probeRunCount(const ProbeDesign& design)
{
    return 1 + int(design.variants.size());
}

ProbeDesign designProbes(const RunResult& base, const ProbeTokens& tok, const ClassifySettings& st)
{
    const int64_t T = base.tokens;
    if (T < 4)
        throw Error(ErrorCode::InvalidArgument,
                    "Classifying needs a prompt of at least 4 tokens (this one has " + std::to_string(T) + ").");
    if (!base.canMakeMaps())
        throw Error(ErrorCode::InvalidArgument, "The base run has neither attention maps nor Q/K.");
    if (base.hidden.empty())
        throw Error(ErrorCode::InvalidArgument, "The base run has no hidden states (ablation and transplant need them).");
    const bool causal = isCausal(base);
    const int L = base.model.layers, H = base.model.heads;
    const int D = int(base.hidden.size(2));
    ProbeDesign d;
    d.learned = base.model.position == "learned";

    // Sinks of every head, and the positions most heads use as their waiver.
    std::map<int, int> votes;
    std::set<int> allElements;
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
            HeadSink s = headSink(base.attentionMap(l, h), causal, st.sinkExcess, st.minQueries);
            if (s.present) {
                ++votes[s.primary];
                allElements.insert(s.elements.begin(), s.elements.end());
            }
            d.sinks.push_back(std::move(s));
        }
    std::vector<std::pair<int, int>> ranked; // (-votes, position)
    for (const auto& [p, n] : votes)
        ranked.push_back({-n, p});
    std::sort(ranked.begin(), ranked.end());

    // Partners: ordinary positions (no head's waiver element, not the first), nearest the middle
    // first; causal models need a query after them.
    const std::vector<int32_t> ids = base.encoding.ids();
    std::vector<int> ordinary;
    for (int t = 1; t < (causal ? T - 1 : T); ++t)
        if (!allElements.count(t) && !base.encoding.tokens[size_t(t)].special)
            ordinary.push_back(t);
    const double mid = double(T) / 2.0;
    std::stable_sort(ordinary.begin(), ordinary.end(),
                     [mid](int a, int b) { return std::abs(a - mid) < std::abs(b - mid); });
    size_t next = 0;
    for (const auto& [negVotes, p] : ranked) {
        if (int(d.candidates.size()) >= st.maxCandidates) {
            d.notes.push_back("waiver position " + std::to_string(p) + " (" + std::to_string(-negVotes)
                              + " heads) not probed: more than " + std::to_string(st.maxCandidates) + " candidates");
            continue;
        }
        d.candidates.push_back(p);
        if (next < ordinary.size())
            d.partner[p] = ordinary[next++];
        else
            d.notes.push_back("waiver position " + std::to_string(p) + " has no ordinary partner position: no move, swap or transplant for it");
    }
    if (d.candidates.empty()) {
        d.notes.push_back("no head has a waiver: nothing to probe");
        return d;
    }

    // Content swaps: every candidate gets the same replacement token.
    std::set<int32_t> avoid(tok.special.begin(), tok.special.end());
    for (int p : d.candidates)
        avoid.insert(ids[size_t(p)]);
    auto replaced = [&](int32_t with) {
        std::vector<int32_t> v = ids;
        for (int p : d.candidates)
            v[size_t(p)] = with;
        return v;
    };
    {
        uint64_t s = st.seed;
        int32_t pick = -1;
        for (int tries = 0; tries < 1000 && pick < 0 && tok.vocabSize > 0; ++tries) {
            const int32_t id = int32_t(splitmix(s) % uint64_t(tok.vocabSize));
            if (!avoid.count(id) && (!tok.newline || id != *tok.newline))
                pick = id;
        }
        if (pick >= 0)
            d.variants.push_back({"content_random", probeRequest(replaced(pick)), 0});
        else
            d.notes.push_back("content_random: no token to draw");
    }
    if (tok.newline && !avoid.count(*tok.newline))
        d.variants.push_back({"content_newline", probeRequest(replaced(*tok.newline)), 0});
    else
        d.notes.push_back("content_newline: the tokenizer has no one-token newline that is not a candidate");
    if (!d.partner.empty())
        d.variants.push_back({"content_word", probeRequest(replaced(ids[size_t(d.partner.begin()->second)])), 0});

    // BOS removed (when the encoder added one) or added (when the tokenizer has one).
    if (base.encoding.bosAdded) {
        std::vector<int32_t> v(ids.begin() + 1, ids.end());
        d.variants.push_back({"bos_removed", probeRequest(v), -1});
    } else if (tok.bos) {
        std::vector<int32_t> v = ids;
        v.insert(v.begin(), *tok.bos);
        if (int64_t(v.size()) <= base.model.maxPositions || base.model.maxPositions <= 0)
            d.variants.push_back({"bos_added", probeRequest(v), +1});
    } else {
        d.notes.push_back("bos: the tokenizer has no BOS token");
    }

    // Move the candidate: the candidate's token and its partner's token trade places.
    if (!d.partner.empty()) {
        std::vector<int32_t> v = ids;
        for (const auto& [p, q] : d.partner)
            std::swap(v[size_t(p)], v[size_t(q)]);
        d.variants.push_back({"move", probeRequest(v), 0});
    }

    // Position-row swap (learned absolute positions): p gets q's position id and the reverse.
    const int64_t maxPos = base.model.maxPositions > 0 ? base.model.maxPositions : T;
    if (d.learned && !d.partner.empty()) {
        RunRequest r = probeRequest(ids);
        r.interventions.positionIds.resize(size_t(T));
        std::iota(r.interventions.positionIds.begin(), r.interventions.positionIds.end(), int64_t(0));
        for (const auto& [p, q] : d.partner)
            std::swap(r.interventions.positionIds[size_t(p)], r.interventions.positionIds[size_t(q)]);
        d.variants.push_back({"position_swap", r, 0});
    }

    // Shift every position id by delta.
    {
        int64_t delta = st.shift > 0 ? st.shift : T;
        delta = std::min<int64_t>(delta, maxPos - T);
        if (delta > 0) {
            RunRequest r = probeRequest(ids);
            r.interventions.positionIds.resize(size_t(T));
            std::iota(r.interventions.positionIds.begin(), r.interventions.positionIds.end(), delta);
            d.variants.push_back({"shift", r, 0});
        } else {
            d.notes.push_back("shift: the prompt fills the position table");
        }
    }

    // One token repeated T times (after the BOS when the encoder added one), Gu et al.
    {
        const size_t first = base.encoding.bosAdded ? 1 : 0;
        int32_t rep = ids[first];
        for (size_t t = first; t < ids.size(); ++t)
            if (!base.encoding.tokens[t].special) {
                rep = ids[t];
                break;
            }
        std::vector<int32_t> v = ids;
        std::fill(v.begin() + long(first), v.end(), rep);
        d.variants.push_back({"repeated", probeRequest(v), 0});
    }

    // Feature ablation: the candidates' outlier dimensions at each layer input, set to the mean
    // over the ordinary elements, or to zero. Outliers are found with the median and the median
    // absolute deviation: robust to the other elements that carry the same feature (a second ".").
    {
        std::set<int> special(d.candidates.begin(), d.candidates.end());
        special.insert(allElements.begin(), allElements.end());
        std::vector<int> others;
        for (int t = 0; t < T; ++t)
            if (!special.count(t))
                others.push_back(t);
        RunRequest mean = probeRequest(ids), zero = probeRequest(ids);
        std::vector<double> column(others.size());
        for (int l = 0; l < L && !others.empty(); ++l) {
            const float* h = base.hidden.at({l});
            auto at = [&](int t, int k) { return double(h[size_t(t) * size_t(D) + size_t(k)]); };
            std::vector<double> mu(size_t(D), 0.0), med(size_t(D), 0.0), mad(size_t(D), 0.0);
            double meanMad = 0.0;
            for (int k = 0; k < D; ++k) {
                for (size_t i = 0; i < others.size(); ++i)
                    column[i] = at(others[i], k);
                mu[size_t(k)] = std::accumulate(column.begin(), column.end(), 0.0) / double(column.size());
                med[size_t(k)] = medianOf(column);
                for (double& x : column)
                    x = std::abs(x - med[size_t(k)]);
                mad[size_t(k)] = 1.4826 * medianOf(column);
                meanMad += mad[size_t(k)];
            }
            meanMad /= double(D);
            for (int p : d.candidates) {
                std::vector<std::pair<double, int>> z;
                for (int k = 0; k < D; ++k) {
                    const double dev = std::abs(at(p, k) - med[size_t(k)]);
                    const double scale = std::max(mad[size_t(k)], meanMad);
                    if (scale > 0 && dev >= st.outlierZ * scale)
                        z.push_back({-dev / scale, k});
                }
                std::sort(z.begin(), z.end());
                for (size_t i = 0; i < z.size() && int(i) < st.maxOutlierDims; ++i) {
                    const int k = z[i].second;
                    mean.interventions.dims.push_back({l, k, p, float(mu[size_t(k)])});
                    zero.interventions.dims.push_back({l, k, p, 0.0f});
                }
            }
        }
        if (!mean.interventions.dims.empty()) {
            d.variants.push_back({"ablate_mean", mean, 0});
            d.variants.push_back({"ablate_zero", zero, 0});
        } else {
            d.notes.push_back("ablation: the candidates have no outlier dimension at any layer input");
        }
    }

    // Transplant: the partner's state is replaced by the candidate's at every layer input.
    if (!d.partner.empty()) {
        RunRequest r = probeRequest(ids);
        for (int l = 0; l < L; ++l) {
            const float* h = base.hidden.at({l});
            for (const auto& [p, q] : d.partner) {
                Interventions::TokenOverwrite o;
                o.layer = l;
                o.token = q;
                o.hidden.assign(h + size_t(p) * size_t(D), h + size_t(p + 1) * size_t(D));
                r.interventions.tokens.push_back(std::move(o));
            }
        }
        d.variants.push_back({"transplant", r, 0});
    }
    return d;
}

ProbeNumbers probeNumbers(const ProbeDesign& d, const RunResult& base,
                          const std::vector<std::shared_ptr<const RunResult>>& runs, int layer, int head,
                          const ClassifySettings& st, std::map<std::string, ProbeEvidence>* evidence)
{
    ProbeNumbers n;
    const int H = base.model.heads;
    const HeadSink& sink = d.sinks.at(size_t(layer * H + head));
    n["sink_excess"] = sink.excess;
    if (!sink.present)
        return n;
    const int p = sink.primary;
    if (std::find(d.candidates.begin(), d.candidates.end(), p) == d.candidates.end())
        return n;
    const bool causal = isCausal(base);
    const int64_t T = base.tokens;
    const RowMatrixXf A = base.attentionMap(layer, head);
    const std::vector<int> after = queriesAfter(p, T, causal);
    const double baseAfter = attentionMass(A, {p}, after);
    const auto partner = d.partner.find(p);
    const int q = partner == d.partner.end() ? -1 : partner->second;
    const std::vector<int> both = q >= 0 ? queriesSeeingBoth(p, q, T, causal) : std::vector<int>{};
    const double baseBoth = q >= 0 ? attentionMass(A, {p}, both) : 0.0;

    for (size_t i = 0; i < d.variants.size() && i < runs.size(); ++i) {
        const ProbeVariant& v = d.variants[i];
        const RowMatrixXf B = runs[i]->attentionMap(layer, head);
        const int64_t Tv = runs[i]->tokens;
        ProbeEvidence ev;
        auto retention = [&]() -> std::optional<double> {
            // Share of the waiver's attention that stays at the same index p.
            if (baseAfter <= 0.0 || p >= Tv)
                return std::nullopt;
            ev = {baseAfter, attentionMass(B, {p}, queriesAfter(p, Tv, causal))};
            return clip01(ev.after / baseAfter);
        };
        auto split = [&](int signalAt) -> std::optional<double> {
            // Of the attention on {p, q}, the share at `signalAt`; undefined when little is left.
            if (q < 0 || both.empty() || baseBoth <= 0.0)
                return std::nullopt;
            const double ap = attentionMass(B, {p}, both), aq = attentionMass(B, {q}, both);
            if (ap + aq < st.minConflictMass * baseBoth)
                return std::nullopt;
            const double bp = baseBoth, bq = attentionMass(A, {q}, both);
            ev = {(signalAt == p ? bp : bq) / (bp + bq), (signalAt == p ? ap : aq) / (ap + aq)};
            return ev.after;
        };
        std::optional<double> x;
        if (v.name.rfind("content_", 0) == 0 || v.name.rfind("bos_", 0) == 0 || v.name == "shift"
            || v.name.rfind("ablate_", 0) == 0)
            x = retention();
        else if (v.name == "move")
            x = split(p);         // the position signal stayed at p, the token went to q
        else if (v.name == "position_swap")
            x = split(q);         // the position signal went to q, the token stayed at p
        else if (v.name == "transplant")
            x = split(q);         // q now holds p's state
        else if (v.name == "repeated" && p == 0 && sink.excess > 0) {
            const Eigen::VectorXf ones = Eigen::VectorXf::Ones(B.rows());
            ev = {double(sink.excess), double(waiverScores(B, causal, ones).excess[0])};
            x = clip01(ev.after / ev.before);
        }
        if (x) {
            n[v.name] = *x;
            if (evidence)
                (*evidence)[v.name] = ev;
        }
    }
    return n;
}

const char* verdictName(Verdict v)
{
    switch (v) {
    case Verdict::Positional: return "positional";
    case Verdict::Feature: return "feature";
    case Verdict::Mixed: return "mixed";
    case Verdict::None: return "none";
    }
    return "none";
}

HeadVerdict decideHead(int layer, int head, const HeadSink& sink, ProbeNumbers n, bool learned, const ClassifySettings& st)
{
    HeadVerdict v;
    v.layer = layer;
    v.head = head;
    v.waiverElements = sink.elements;
    if (!sink.present) {
        v.verdict = Verdict::None;
        v.confidence = st.sinkExcess > 0 ? clip01(1.0 - sink.excess / st.sinkExcess) : 1.0;
        v.probes = std::move(n);
        return v;
    }
    // Conflict probes put the position signal and the content in different places; dependence
    // probes take one of them away. Each number is "how positional the head behaved" in [0, 1].
    std::vector<double> conflict, dependence;
    auto take = [&](const char* name, std::vector<double>& into) {
        auto it = n.find(name);
        if (it != n.end())
            into.push_back(it->second);
    };
    take("move", conflict);
    take("position_swap", conflict);
    for (const char* name : {"content_random", "content_newline", "content_word", "bos_removed", "bos_added", "repeated"})
        take(name, dependence);
    if (auto it = n.find("shift"); it != n.end() && learned)
        dependence.push_back(1.0 - it->second); // learned positions: a waiver that needs its position vanishes
    auto mean = [](const std::vector<double>& x) {
        return std::accumulate(x.begin(), x.end(), 0.0) / double(x.size());
    };
    double S = 0.0, agreement = 0.0;
    if (!conflict.empty()) {
        S = mean(conflict);
        n["conflict"] = S;
        agreement = 1.0;
        if (!dependence.empty()) {
            n["dependence"] = mean(dependence);
            agreement = 1.0 - std::abs(S - mean(dependence));
        }
    } else if (!dependence.empty()) {
        S = mean(dependence);
        n["dependence"] = S;
        agreement = 0.0; // no decisive probe: confidence halved
    } else {
        v.verdict = Verdict::Mixed;
        v.confidence = 0.0;
        v.probes = std::move(n);
        return v;
    }
    n["position_score"] = S;
    const double weight = 0.5 + 0.5 * agreement;
    if (S >= st.positionalAt) {
        v.verdict = Verdict::Positional;
        v.confidence = clip01((S - 0.5) / 0.5) * weight;
    } else if (S <= st.featureAt) {
        v.verdict = Verdict::Feature;
        v.confidence = clip01((0.5 - S) / 0.5) * weight;
    } else {
        v.verdict = Verdict::Mixed;
        const double halfBand = std::max(st.positionalAt - 0.5, 0.5 - st.featureAt);
        v.confidence = clip01(1.0 - std::abs(S - 0.5) / halfBand) * weight;
    }
    v.probes = std::move(n);
    return v;
}

Verdict modelVerdict(const std::vector<HeadVerdict>& heads, double modelShare, std::map<std::string, int>* counts)
{
    std::map<std::string, int> c{{"positional", 0}, {"feature", 0}, {"mixed", 0}, {"none", 0}};
    for (const HeadVerdict& h : heads)
        ++c[verdictName(h.verdict)];
    if (counts)
        *counts = c;
    const int withWaiver = c["positional"] + c["feature"] + c["mixed"];
    if (withWaiver == 0)
        return Verdict::None;
    if (c["positional"] >= modelShare * withWaiver)
        return Verdict::Positional;
    if (c["feature"] >= modelShare * withWaiver)
        return Verdict::Feature;
    return Verdict::Mixed;
}

std::vector<HeadVerdict> combinePrompts(const std::vector<std::vector<HeadVerdict>>& perPrompt)
{
    if (perPrompt.empty())
        return {};
    if (perPrompt.size() == 1)
        return perPrompt.front();
    const size_t heads = perPrompt.front().size();
    const double P = double(perPrompt.size());
    std::vector<HeadVerdict> out;
    for (size_t i = 0; i < heads; ++i) {
        HeadVerdict v;
        v.layer = perPrompt.front()[i].layer;
        v.head = perPrompt.front()[i].head;
        std::map<Verdict, int> votes;
        std::map<std::string, std::pair<double, int>> sums;
        std::map<int, int> elementVotes;
        for (const auto& prompt : perPrompt) {
            const HeadVerdict& h = prompt.at(i);
            ++votes[h.verdict];
            for (const auto& [name, x] : h.probes) {
                sums[name].first += x;
                ++sums[name].second;
            }
            for (int e : h.waiverElements)
                ++elementVotes[e];
        }
        int best = 0;
        bool tie = false;
        for (const auto& [verdict, count] : votes) {
            if (count > best) {
                best = count;
                v.verdict = verdict;
                tie = false;
            } else if (count == best) {
                tie = true;
            }
        }
        if (tie)
            v.verdict = Verdict::Mixed;
        const double agreement = double(tie ? 0 : best) / P;
        double conf = 0.0;
        int agreeing = 0;
        for (const auto& prompt : perPrompt)
            if (prompt.at(i).verdict == v.verdict) {
                conf += prompt.at(i).confidence;
                ++agreeing;
            }
        v.confidence = agreeing ? conf / agreeing * agreement : 0.0;
        for (const auto& [name, s] : sums)
            v.probes[name] = s.first / s.second;
        v.probes["agreement"] = agreement;
        for (const auto& [e, count] : elementVotes)
            if (2 * count >= int(perPrompt.size()))
                v.waiverElements.push_back(e);
        out.push_back(std::move(v));
    }
    return out;
}

} // namespace sinkscope::analysis
