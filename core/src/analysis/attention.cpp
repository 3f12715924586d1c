// SPDX-License-Identifier: GPL-3.0-or-later
// Per-head attention metrics: Gu et al.'s importance and sink rate, first-element mass, entropy,
// norm-based waiver measures and the key-side decomposition. Sums run in double so that a 4k-token
// column does not lose the small entries next to a sink's large ones.
#include "sinkscope/analysis.h"

#include "sinkscope/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace sinkscope::analysis {

namespace {

// Mean and population std of v (false, nothing written, for an empty v).
bool meanAndStd(const std::vector<double>& v, double* mean, double* sd)
{
    if (v.empty())
        return false;
    double m = 0.0;
    for (double x : v)
        m += x;
    m /= double(v.size());
    double var = 0.0;
    for (double x : v)
        var += (x - m) * (x - m);
    *mean = m;
    *sd = std::sqrt(var / double(v.size()));
    return true;
}


void requireSquare(const MatrixRef& map)
{
    if (map.rows() != map.cols())
        throw Error(ErrorCode::InvalidArgument, "An attention map must be square (queries x keys).");
}

float clip01(double x)
{
    return float(std::min(1.0, std::max(0.0, x)));
}

} // namespace

Eigen::VectorXf importance(const MatrixRef& map, bool causal)
{
    requireSquare(map);
    const Eigen::Index T = map.rows();
    Eigen::VectorXf alpha(T);
    for (Eigen::Index k = 0; k < T; ++k) {
        double sum = 0.0;
        const Eigen::Index first = causal ? k : 0;
        for (Eigen::Index t = first; t < T; ++t)
            sum += map(t, k);
        alpha[k] = float(sum / double(T - first));
    }
    return alpha;
}

Eigen::VectorXd uniformImportance(int64_t tokens, bool causal)
{
    Eigen::VectorXd u(tokens);
    if (!causal) {
        u.setConstant(tokens > 0 ? 1.0 / double(tokens) : 0.0);
        return u;
    }
    // Suffix sums of 1/(t+1) from the end so each alpha is O(1).
    double suffix = 0.0;
    for (int64_t k = tokens - 1; k >= 0; --k) {
        suffix += 1.0 / double(k + 1);
        u[k] = suffix / double(tokens - k);
    }
    return u;
}

float firstElementMass(const MatrixRef& map, bool causal)
{
    requireSquare(map);
    const Eigen::Index T = map.rows();
    const Eigen::Index first = causal ? 1 : 0;
    if (T <= first)
        return 0.0f;
    double sum = 0.0;
    for (Eigen::Index t = first; t < T; ++t)
        sum += map(t, 0);
    return float(sum / double(T - first));
}

Eigen::VectorXf rowEntropy(const MatrixRef& map)
{
    Eigen::VectorXf h(map.rows());
    for (Eigen::Index t = 0; t < map.rows(); ++t) {
        double e = 0.0;
        for (Eigen::Index s = 0; s < map.cols(); ++s) {
            const double p = map(t, s);
            if (p > 0.0)
                e -= p * std::log(p);
        }
        h[t] = float(e);
    }
    return h;
}

Eigen::VectorXf receivedShare(const MatrixRef& map)
{
    requireSquare(map);
    const Eigen::Index T = map.rows();
    Eigen::VectorXf share(T);
    for (Eigen::Index k = 0; k < T; ++k) {
        double sum = 0.0;
        for (Eigen::Index t = 0; t < T; ++t)
            sum += map(t, k);
        share[k] = float(sum / double(T));
    }
    return share;
}

TopElement topElement(const VectorRef& share)
{
    TopElement top;
    for (Eigen::Index k = 0; k < share.size(); ++k)
        if (top.element < 0 || share[k] > top.share) {
            top.element = int(k);
            top.share = share[k];
        }
    return top;
}

SinkRate sinkRate(const Tensor& alpha, int k, double epsilon)
{
    if (alpha.shape.size() != 3)
        throw Error(ErrorCode::InvalidArgument, "The sink rate needs importance scores shaped [layers, heads, T].");
    SinkRate rate;
    rate.k = k;
    rate.epsilon = epsilon;
    rate.tokens = alpha.size(2);
    if (k < 0 || k >= rate.tokens)
        throw Error(ErrorCode::InvalidArgument, "The sink element " + std::to_string(k) + " is outside the "
                                                    + std::to_string(rate.tokens) + " elements of the prompt.");
    const int64_t L = alpha.size(0), H = alpha.size(1), T = rate.tokens;
    // Compared in float, as the reference implementation compares float32 scores with a Python
    // scalar: an alpha stored as 0.3f is not above epsilon = 0.3.
    const float eps = float(epsilon);
    for (int64_t l = 0; l < L; ++l)
        for (int64_t h = 0; h < H; ++h) {
            ++rate.pairs;
            if (alpha.data[size_t((l * H + h) * T + k)] > eps)
                ++rate.above;
        }
    rate.percent = rate.pairs > 0 ? 100.0 * rate.above / rate.pairs : 0.0;
    return rate;
}

SinkCurve sinkCurve(const Tensor& mass, bool causal)
{
    if (mass.shape.size() != 3)
        throw Error(ErrorCode::InvalidArgument, "The sink curve needs first-element masses shaped [layers, heads, T].");
    const int64_t L = mass.size(0), H = mass.size(1), T = mass.size(2);
    SinkCurve c;
    c.mean.setZero(L);
    c.std.setZero(L);
    c.lastMean.setZero(L);
    c.lastStd.setZero(L);
    const int64_t first = causal ? 1 : 0;
    for (int64_t l = 0; l < L; ++l) {
        std::vector<double> avg(size_t(H), 0.0), last(size_t(H), 0.0);
        for (int64_t h = 0; h < H; ++h) {
            const float* row = mass.data.data() + (l * H + h) * T;
            double sum = 0.0;
            for (int64_t t = first; t < T; ++t)
                sum += row[t];
            avg[size_t(h)] = T > first ? sum / double(T - first) : 0.0;
            last[size_t(h)] = T > 0 ? row[T - 1] : 0.0;
        }
        auto meanStd = [](const std::vector<double>& v, float& mean, float& sd) {
            double m = 0.0, s = 0.0;
            if (meanAndStd(v, &m, &s)) {
                mean = float(m);
                sd = float(s);
            }
        };
        meanStd(avg, c.mean[l], c.std[l]);
        meanStd(last, c.lastMean[l], c.lastStd[l]);
    }
    return c;
}

OverHeads overHeadsAt(const Tensor& x, int64_t element)
{
    if (x.shape.size() != 3)
        throw Error(ErrorCode::InvalidArgument, "A per-head curve needs values shaped [layers, heads, T].");
    const int64_t L = x.size(0), H = x.size(1), T = x.size(2);
    if (element < 0 || element >= T)
        throw Error(ErrorCode::InvalidArgument, "Element " + std::to_string(element) + " is outside the "
                                                    + std::to_string(T) + " elements.");
    OverHeads o;
    o.mean.setZero(L);
    o.std.setZero(L);
    std::vector<double> v(static_cast<size_t>(H));
    for (int64_t l = 0; l < L; ++l) {
        for (int64_t h = 0; h < H; ++h)
            v[size_t(h)] = double(x.data[size_t((l * H + h) * T + element)]);
        meanAndStd(v, &o.mean[l], &o.std[l]);
    }
    return o;
}

double meanRowEntropy(const Tensor& entropy, int layer, int head, bool causal)
{
    if (entropy.shape.size() != 3)
        throw Error(ErrorCode::InvalidArgument, "Row entropies must be shaped [layers, heads, T].");
    const int64_t T = entropy.size(2);
    const float* row = entropy.at({layer, head}); // throws for a head outside
    const int64_t first = causal && T > 1 ? 1 : 0;
    if (T <= first)
        return std::numeric_limits<double>::quiet_NaN();
    double sum = 0.0;
    for (int64_t t = first; t < T; ++t)
        sum += double(row[t]);
    return sum / double(T - first);
}

Eigen::VectorXf rowNorms(const MatrixRef& rows)
{
    Eigen::VectorXf n(rows.rows());
    for (Eigen::Index j = 0; j < rows.rows(); ++j)
        n[j] = float(rows.row(j).cast<double>().norm());
    return n;
}

Eigen::VectorXf contributionNorms(const MatrixRef& values, const MatrixRef& woHead)
{
    if (values.cols() != woHead.rows())
        throw Error(ErrorCode::InvalidArgument, "The values and the output projection of a head disagree in head_dim.");
    const Eigen::MatrixXd out = values.cast<double>() * woHead.cast<double>();
    Eigen::VectorXf n(out.rows());
    for (Eigen::Index j = 0; j < out.rows(); ++j)
        n[j] = float(out.row(j).norm());
    return n;
}

Eigen::VectorXf writtenNorms(const MatrixRef& map, const VectorRef& contribution)
{
    requireSquare(map);
    if (contribution.size() != map.cols())
        throw Error(ErrorCode::InvalidArgument, "One contribution norm per key is needed.");
    Eigen::VectorXf w(map.cols());
    for (Eigen::Index j = 0; j < map.cols(); ++j) {
        // ||A[t,j] v_j W_O|| = A[t,j] ||v_j W_O|| because probabilities are non-negative.
        double sum = 0.0;
        for (Eigen::Index t = 0; t < map.rows(); ++t)
            sum += map(t, j);
        w[j] = float(sum * double(contribution[j]));
    }
    return w;
}

WaiverScores waiverScores(const MatrixRef& map, bool causal, const VectorRef& norms)
{
    requireSquare(map);
    if (norms.size() != map.rows())
        throw Error(ErrorCode::InvalidArgument, "One norm per element is needed for the waiver score.");
    return waiverScoresFromImportance(importance(map, causal), causal, norms);
}

WaiverScores waiverScoresFromImportance(const VectorRef& alpha, bool causal, const VectorRef& norms)
{
    const Eigen::Index T = alpha.size();
    if (norms.size() != T)
        throw Error(ErrorCode::InvalidArgument, "One norm per element is needed for the waiver score.");
    const Eigen::VectorXd u = uniformImportance(T, causal);

    // The median (not the mean) as the head's typical element: it is exact for equal norms, so an
    // element like the others scores exactly 0, and one near-zero waiver cannot drag it down.
    std::vector<float> sorted(norms.data(), norms.data() + T);
    std::sort(sorted.begin(), sorted.end());
    double median = 0.0;
    if (T > 0)
        median = T % 2 ? sorted[size_t(T / 2)] : 0.5 * (double(sorted[size_t(T / 2 - 1)]) + double(sorted[size_t(T / 2)]));

    WaiverScores w;
    w.excess.setZero(T);
    w.deficit.setZero(T);
    w.score.setZero(T);
    for (Eigen::Index j = 0; j < T; ++j) {
        if (u[j] < 1.0)
            w.excess[j] = clip01((double(alpha[j]) - u[j]) / (1.0 - u[j]));
        if (median > 0.0)
            w.deficit[j] = clip01(1.0 - double(norms[j]) / median);
        w.score[j] = w.excess[j] * w.deficit[j];
    }
    return w;
}

KeyDecomposition keyDecomposition(const MatrixRef& queries, const MatrixRef& keys, int element, bool causal)
{
    const Eigen::Index T = keys.rows();
    if (queries.rows() != T || queries.cols() != keys.cols())
        throw Error(ErrorCode::InvalidArgument, "Q and K of a head must have the same shape [T, head_dim].");
    if (element < 0 || element >= T)
        throw Error(ErrorCode::InvalidArgument, "The element " + std::to_string(element) + " is outside the prompt.");
    const Eigen::MatrixXd q = queries.cast<double>(), k = keys.cast<double>();
    Eigen::VectorXd qn(T), kn(T);
    for (Eigen::Index i = 0; i < T; ++i) {
        qn[i] = q.row(i).norm();
        kn[i] = k.row(i).norm();
    }
    auto cosine = [&](Eigen::Index t, Eigen::Index j) {
        const double d = qn[t] * kn[j];
        return d > 0.0 ? q.row(t).dot(k.row(j)) / d : 0.0;
    };

    KeyDecomposition r;
    r.element = element;
    r.dot.resize(T);
    r.queryNorm.resize(T);
    r.cosine.resize(T);
    for (Eigen::Index t = 0; t < T; ++t) {
        r.dot[t] = float(q.row(t).dot(k.row(element)));
        r.queryNorm[t] = float(qn[t]);
        r.cosine[t] = float(cosine(t, element));
    }
    r.keyNorm = float(kn[element]);
    if (T > 1)
        r.keyNormOthers = float((kn.sum() - kn[element]) / double(T - 1));

    // Mean cosine with the other visible keys without the T x T loop: with unit vectors q^ and k^,
    // sum_{j visible, j != s} cos(q_t, k_j) = q^_t . (sum_{j visible} k^_j) - q^_t . k^_s, and the
    // visible sums are prefix sums (causal) or one total (bidirectional). Zero vectors stay zero,
    // matching cosine() above.
    auto unit = [](const Eigen::MatrixXd& m) {
        Eigen::MatrixXd u = m;
        for (Eigen::Index i = 0; i < u.rows(); ++i) {
            const double n = u.row(i).norm();
            if (n > 0.0)
                u.row(i) /= n;
        }
        return u;
    };
    const Eigen::MatrixXd qu = unit(q), ku = unit(k);
    Eigen::RowVectorXd visible = Eigen::RowVectorXd::Zero(k.cols());
    if (causal)
        for (Eigen::Index j = 0; j < element; ++j)
            visible += ku.row(j);
    else
        visible = ku.colwise().sum();
    double cosSum = 0.0, qSum = 0.0, otherSum = 0.0;
    int64_t queriesSeen = 0, others = 0;
    for (Eigen::Index t = causal ? element : 0; t < T; ++t) {
        if (causal)
            visible += ku.row(t);
        const double own = qu.row(t).dot(ku.row(element));
        cosSum += own;
        qSum += qn[t];
        ++queriesSeen;
        otherSum += qu.row(t).dot(visible) - own;
        others += causal ? int64_t(t) : int64_t(T - 1);
    }
    if (queriesSeen > 0) {
        r.meanCosine = float(cosSum / double(queriesSeen));
        r.meanQueryNorm = float(qSum / double(queriesSeen));
    }
    if (others > 0)
        r.meanCosineOthers = float(otherSum / double(others));
    return r;
}

FirstVsOthers firstVsOthers(const VectorRef& norms)
{
    FirstVsOthers f;
    if (norms.size() == 0)
        return f;
    f.first = norms[0];
    if (norms.size() > 1)
        f.others = float((norms.cast<double>().sum() - double(norms[0])) / double(norms.size() - 1));
    return f;
}

} // namespace sinkscope::analysis
