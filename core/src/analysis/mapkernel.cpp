// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/mapkernel.h"

#include "sinkscope/error.h"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SINKSCOPE_MAPKERNEL_AVX2 1
#include <immintrin.h>
#endif

namespace sinkscope::mapkernel {

namespace {

constexpr int64_t kPanel = 16; // keys per packed panel: two AVX registers
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#ifdef SINKSCOPE_MAPKERNEL_AVX2
bool haveAvx2()
{
    // Evaluated once; the build targets the baseline ISA, so this is what enables the fast path.
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}

// MR query rows x 16 keys, accumulated over the head dimension: 2 * MR independent FMA chains,
// enough to keep both FMA units busy at MR = 6. The accumulators are named variables, not an
// array: GCC keeps an array's elements in registers but also stores every one back to the stack
// on each step of the loop, which made the kernel store-bound at less than half its FMA rate.
__attribute__((target("avx2,fma"))) inline void putRow(float* out, __m256 lo, __m256 hi, __m256 scale)
{
    _mm256_storeu_ps(out, _mm256_mul_ps(lo, scale));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(hi, scale));
}

template <int MR>
__attribute__((target("avx2,fma"))) void tile(const float* q, int64_t hd, const float* panel, float scale, float* out, int64_t ld)
{
    static_assert(MR >= 1 && MR <= 6, "one to six rows per tile");
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
    __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    for (int64_t d = 0; d < hd; ++d) {
        const __m256 b0 = _mm256_loadu_ps(panel + d * kPanel);
        const __m256 b1 = _mm256_loadu_ps(panel + d * kPanel + 8);
        const float* qd = q + d;
        __m256 x = _mm256_broadcast_ss(qd);
        a00 = _mm256_fmadd_ps(x, b0, a00);
        a01 = _mm256_fmadd_ps(x, b1, a01);
        if constexpr (MR > 1) {
            x = _mm256_broadcast_ss(qd + hd);
            a10 = _mm256_fmadd_ps(x, b0, a10);
            a11 = _mm256_fmadd_ps(x, b1, a11);
        }
        if constexpr (MR > 2) {
            x = _mm256_broadcast_ss(qd + 2 * hd);
            a20 = _mm256_fmadd_ps(x, b0, a20);
            a21 = _mm256_fmadd_ps(x, b1, a21);
        }
        if constexpr (MR > 3) {
            x = _mm256_broadcast_ss(qd + 3 * hd);
            a30 = _mm256_fmadd_ps(x, b0, a30);
            a31 = _mm256_fmadd_ps(x, b1, a31);
        }
        if constexpr (MR > 4) {
            x = _mm256_broadcast_ss(qd + 4 * hd);
            a40 = _mm256_fmadd_ps(x, b0, a40);
            a41 = _mm256_fmadd_ps(x, b1, a41);
        }
        if constexpr (MR > 5) {
            x = _mm256_broadcast_ss(qd + 5 * hd);
            a50 = _mm256_fmadd_ps(x, b0, a50);
            a51 = _mm256_fmadd_ps(x, b1, a51);
        }
    }
    const __m256 s = _mm256_set1_ps(scale);
    putRow(out, a00, a01, s);
    if constexpr (MR > 1)
        putRow(out + ld, a10, a11, s);
    if constexpr (MR > 2)
        putRow(out + 2 * ld, a20, a21, s);
    if constexpr (MR > 3)
        putRow(out + 3 * ld, a30, a31, s);
    if constexpr (MR > 4)
        putRow(out + 4 * ld, a40, a41, s);
    if constexpr (MR > 5)
        putRow(out + 5 * ld, a50, a51, s);
}

__attribute__((target("avx2,fma"))) void productAvx2(const HeadQK& h, const PackedKeys& keys, int64_t t0, int64_t n,
                                                     int64_t cols, float* out, int64_t ld)
{
    const int64_t hd = h.headDim;
    const float scale = float(h.recipe.scale);
    const int64_t panels = (cols + kPanel - 1) / kPanel;
    // Panel-major: one panel of keys (hd x 16 floats) stays in L1 while every row tile uses it.
    for (int64_t p = 0; p < panels; ++p) {
        const float* panel = keys.panel(p);
        // A causal row tile needs a panel only up to its last query.
        for (int64_t i = 0; i < n; i += 6) {
            const int64_t rows = std::min<int64_t>(6, n - i);
            if (h.recipe.causal && p * kPanel > t0 + i + rows - 1)
                continue;
            const float* q = h.q + (t0 + i) * hd;
            float* o = out + i * ld + p * kPanel;
            switch (rows) {
            case 6: tile<6>(q, hd, panel, scale, o, ld); break;
            case 5: tile<5>(q, hd, panel, scale, o, ld); break;
            case 4: tile<4>(q, hd, panel, scale, o, ld); break;
            case 3: tile<3>(q, hd, panel, scale, o, ld); break;
            case 2: tile<2>(q, hd, panel, scale, o, ld); break;
            default: tile<1>(q, hd, panel, scale, o, ld); break;
            }
        }
    }
}

// exp(x) for x <= 0 (softmax after subtracting the row maximum): Cephes' single-precision
// polynomial (about 1 ulp); x below -88 (including -inf) gives exactly 0.
__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x)
{
    const __m256 tooSmall = _mm256_cmp_ps(x, _mm256_set1_ps(-88.0f), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    const __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, z, x);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_cvttps_epi32(fx);
    e = _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(tooSmall, y);
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float maxAvx2(const float* x, int64_t n)
{
    __m256 m = _mm256_set1_ps(kNegInf);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_loadu_ps(x + i), m); // NaN in x: keeps m
    if (i < n) { // the last 1..7 entries through a masked load (the other lanes read nothing)
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i)), lane);
        const __m256 v = _mm256_maskload_ps(x + i, mask);
        m = _mm256_max_ps(_mm256_blendv_ps(_mm256_set1_ps(kNegInf), v, _mm256_castsi256_ps(mask)), m);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// x[i] = exp(x[i] - mx) in place; returns 1 / sum, the factor that makes them probabilities.
__attribute__((target("avx2,fma"))) float expAvx2(float* x, int64_t n, float mx)
{
    const __m256 m = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) { // the tail through a padded lane buffer: the same polynomial for every entry
        alignas(32) float tail[8];
        for (int j = 0; j < 8; ++j)
            tail[j] = i + j < n ? x[i + j] : kNegInf;
        const __m256 e = exp256(_mm256_sub_ps(_mm256_load_ps(tail), m));
        _mm256_store_ps(tail, e);
        acc = _mm256_add_ps(acc, e);
        for (int j = 0; i + j < n; ++j)
            x[i + j] = tail[j];
    }
    return 1.0f / hsum(acc);
}

__attribute__((target("avx2,fma"))) void scaleAvx2(float* x, int64_t n, float s)
{
    const __m256 f = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), f));
    for (; i < n; ++i)
        x[i] *= s;
}

// softcap * tanh(v / softcap) with tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2 |u|).
__attribute__((target("avx2,fma"))) void softcapAvx2(float* x, int64_t n, float cap)
{
    const __m256 c = _mm256_set1_ps(cap);
    const __m256 ic = _mm256_set1_ps(1.0f / cap);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 u = _mm256_mul_ps(_mm256_loadu_ps(x + i), ic);
        const __m256 a = _mm256_andnot_ps(sign, u);
        const __m256 e = exp256(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
        const __m256 t = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), e), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(c, _mm256_or_ps(t, _mm256_and_ps(sign, u))));
    }
    for (; i < n; ++i)
        x[i] = float(double(cap) * std::tanh(double(x[i]) / double(cap)));
}
#endif

} // namespace

HeadQK headOf(const RunResult& r, int layer, int head)
{
    if (layer < 0 || layer >= r.model.layers || head < 0 || head >= r.model.heads)
        throw Error(ErrorCode::InvalidArgument, "Layer " + std::to_string(layer) + ", head " + std::to_string(head)
                                                    + " is outside the model.");
    if (r.queries.empty() || r.keys.empty())
        throw Error(ErrorCode::InvalidArgument, "This run kept neither the attention maps nor Q and K.");
    const int group = r.model.heads / std::max(1, r.model.kvHeads);
    HeadQK h;
    h.q = r.queries.at({layer, head});
    h.k = r.keys.at({layer, head / std::max(1, group)});
    h.tokens = r.tokens;
    h.headDim = r.queries.size(3);
    h.recipe = r.recipe(layer);
    if (!r.maskBias.empty()) {
        if (int64_t(r.maskBias.size()) != r.tokens * r.tokens)
            throw Error(ErrorCode::InvalidArgument, "The run's mask bias is not [T, T].");
        h.maskBias = r.maskBias.data();
    }
    return h;
}

PackedKeys::PackedKeys(const HeadQK& h)
{
#ifdef SINKSCOPE_MAPKERNEL_AVX2
    if (!haveAvx2())
        return;
    const int64_t T = h.tokens, hd = h.headDim;
    const int64_t panels = (T + kPanel - 1) / kPanel;
    m_panelSize = hd * kPanel;
    m_data.assign(size_t(panels * m_panelSize), 0.0f);
    for (int64_t s = 0; s < T; ++s) {
        float* dst = m_data.data() + (s / kPanel) * m_panelSize + (s % kPanel);
        const float* src = h.k + s * hd;
        for (int64_t d = 0; d < hd; ++d)
            dst[d * kPanel] = src[d];
    }
#else
    (void)h;
#endif
}

void logitRows(const HeadQK& h, const PackedKeys& keys, int64_t t0, int64_t n, int64_t cols, float* out, int64_t ld)
{
    const int64_t T = h.tokens, hd = h.headDim;
    if (n <= 0 || cols <= 0)
        return;
#ifdef SINKSCOPE_MAPKERNEL_AVX2
    const bool fast = keys.packed();
#else
    const bool fast = false;
#endif
    if (fast) {
#ifdef SINKSCOPE_MAPKERNEL_AVX2
        productAvx2(h, keys, t0, n, cols, out, ld);
#endif
    } else {
        using Rows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        const Eigen::Map<const Rows> q(h.q + t0 * hd, n, hd);
        const Eigen::Map<const Rows> k(h.k, T, hd);
        Eigen::Map<Rows, 0, Eigen::OuterStride<>> o(out, n, cols, Eigen::OuterStride<>(ld));
        o.noalias() = q * k.topRows(cols).transpose();
        o *= float(h.recipe.scale);
    }
    for (int64_t i = 0; i < n; ++i) {
        const int64_t t = t0 + i;
        float* row = out + i * ld;
        int64_t s0 = 0, s1 = 0;
        visibleKeys(h.recipe, T, t, &s0, &s1);
        s1 = std::min(s1, cols);
        if (h.recipe.softcap > 0) {
#ifdef SINKSCOPE_MAPKERNEL_AVX2
            if (fast)
                softcapAvx2(row + s0, s1 - s0, float(h.recipe.softcap));
            else
#endif
                for (int64_t s = s0; s < s1; ++s)
                    row[s] = float(h.recipe.softcap * std::tanh(double(row[s]) / h.recipe.softcap));
        }
        if (h.maskBias) {
            const float* bias = h.maskBias + t * T;
            for (int64_t s = s0; s < s1; ++s)
                row[s] += bias[s];
        }
        std::fill(row, row + s0, kNegInf);
        std::fill(row + std::max(s0, s1), row + cols, kNegInf);
    }
}

float maxOf(const float* x, int64_t n)
{
#ifdef SINKSCOPE_MAPKERNEL_AVX2
    if (haveAvx2())
        return maxAvx2(x, n);
#endif
    float best = kNegInf;
    for (int64_t i = 0; i < n; ++i)
        best = x[i] > best ? x[i] : best;
    return best;
}

float softmaxRowUnscaled(float* row, int64_t s0, int64_t s1)
{
    const int64_t n = s1 - s0;
    if (n <= 0)
        return 0.0f;
    float* x = row + s0;
    const float mx = maxOf(x, n);
    if (!std::isfinite(mx)) {
        std::fill(x, x + n, 0.0f); // every key masked (possible only through a mask bias)
        return 0.0f;
    }
    // Keys a mask bias hides inside [s0, s1) are -inf, and the forward pass gives them exactly 0,
    // so the recomputed map must too (a blocked element receives nothing). The AVX2 exp returns
    // exactly 0 below -88, -inf included. Eigen's exp clamps its argument and would give them
    // ~1e-39, so that path zeroes them after the exp, leaving every other value as it was.
#ifdef SINKSCOPE_MAPKERNEL_AVX2
    if (haveAvx2())
        return expAvx2(x, n, mx);
#endif
    std::vector<int64_t> hidden;
    for (int64_t i = 0; i < n; ++i)
        if (x[i] == -std::numeric_limits<float>::infinity())
            hidden.push_back(i);
    Eigen::Map<Eigen::ArrayXf> a(x, n);
    a = (a - mx).exp();
    for (int64_t i : hidden)
        x[i] = 0.0f;
    return 1.0f / a.sum();
}

void softmaxRow(float* row, int64_t s0, int64_t s1)
{
    const float inv = softmaxRowUnscaled(row, s0, s1);
    if (inv == 0.0f)
        return; // zeros already
#ifdef SINKSCOPE_MAPKERNEL_AVX2
    if (haveAvx2())
        return scaleAvx2(row + s0, s1 - s0, inv);
#endif
    Eigen::Map<Eigen::ArrayXf>(row + s0, s1 - s0) *= inv;
}

int defaultThreads()
{
    const unsigned hw = std::thread::hardware_concurrency();
    return int(std::clamp<unsigned>(hw, 1, 4));
}

} // namespace sinkscope::mapkernel
