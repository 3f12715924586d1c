// SPDX-License-Identifier: GPL-3.0-or-later
// Per-dimension statistics of value vectors and hidden states, and Sun et al.'s massive activations.
#include "sinkscope/analysis.h"

#include "sinkscope/error.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace sinkscope::analysis {

DimStats dimStats(const MatrixRef& rows, const std::vector<int>& which)
{
    const Eigen::Index d = rows.cols();
    DimStats s;
    s.count = int(which.size());
    if (which.empty())
        return s;
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(d), sq = Eigen::VectorXd::Zero(d);
    s.maxAbs.setZero(d);
    for (int j : which) {
        if (j < 0 || j >= rows.rows())
            throw Error(ErrorCode::InvalidArgument, "Element " + std::to_string(j) + " is outside the prompt.");
        sum += rows.row(j).transpose().cast<double>();
        s.maxAbs = s.maxAbs.cwiseMax(rows.row(j).transpose().cwiseAbs());
    }
    const Eigen::VectorXd mean = sum / double(which.size());
    // Second pass around the mean: the textbook sum-of-squares formula cancels badly for the
    // large, nearly constant dimensions this view exists to show.
    for (int j : which)
        sq += (rows.row(j).transpose().cast<double>() - mean).cwiseAbs2();
    s.mean = mean.cast<float>();
    s.std = (sq / double(which.size())).cwiseSqrt().cast<float>();
    return s;
}

float medianAbs(const MatrixRef& x)
{
    const Eigen::Index n = x.size();
    if (n == 0)
        return 0.0f;
    std::vector<float> v;
    v.reserve(size_t(n));
    for (Eigen::Index i = 0; i < x.rows(); ++i)
        for (Eigen::Index j = 0; j < x.cols(); ++j)
            v.push_back(std::fabs(x(i, j)));
    const size_t mid = size_t(n / 2);
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(mid), v.end());
    const float upper = v[mid];
    if (n % 2)
        return upper;
    const float lower = *std::max_element(v.begin(), v.begin() + std::ptrdiff_t(mid));
    return float(0.5 * (double(lower) + double(upper)));
}

HiddenStats hiddenStats(const MatrixRef& hidden, int topCount)
{
    const Eigen::Index T = hidden.rows(), D = hidden.cols();
    HiddenStats s;
    s.maxAbs.setZero(D);
    s.argmax.setZero(D);
    for (Eigen::Index d = 0; d < D; ++d)
        for (Eigen::Index t = 0; t < T; ++t) {
            const float a = std::fabs(hidden(t, d));
            if (a > s.maxAbs[d]) {
                s.maxAbs[d] = a;
                s.argmax[d] = int(t);
            }
        }
    // Top entries over all T x D (Sun et al. sort the flattened |h| of the layer); a short sorted
    // list instead of sorting T x D entries.
    auto larger = [](const Activation& a, const Activation& b) {
        const float x = std::fabs(a.value), y = std::fabs(b.value);
        if (x != y)
            return x > y;
        return a.element != b.element ? a.element < b.element : a.dim < b.dim;
    };
    const size_t n = size_t(std::max(0, topCount));
    for (Eigen::Index t = 0; t < T && n > 0; ++t)
        for (Eigen::Index d = 0; d < D; ++d) {
            const Activation a{int(t), int(d), hidden(t, d)};
            if (s.top.size() == n && !larger(a, s.top.back()))
                continue;
            s.top.insert(std::upper_bound(s.top.begin(), s.top.end(), a, larger), a);
            if (s.top.size() > n)
                s.top.pop_back();
        }
    s.median = medianAbs(hidden);
    return s;
}

std::vector<Activation> massiveActivations(const MatrixRef& hidden, float median, const MassiveThresholds& th)
{
    std::vector<Activation> out;
    const double rel = th.relative * double(median);
    for (Eigen::Index t = 0; t < hidden.rows(); ++t)
        for (Eigen::Index d = 0; d < hidden.cols(); ++d) {
            const double a = std::fabs(double(hidden(t, d)));
            if (a > th.absolute && a >= rel)
                out.push_back({int(t), int(d), hidden(t, d)});
        }
    std::stable_sort(out.begin(), out.end(),
                     [](const Activation& a, const Activation& b) { return std::fabs(a.value) > std::fabs(b.value); });
    return out;
}

} // namespace sinkscope::analysis
