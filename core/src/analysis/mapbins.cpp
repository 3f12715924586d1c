// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/mapbins.h"

#include "analysis/mapkernel.h"
#include "sinkscope/error.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace sinkscope {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// NaN and +-inf compare false: (v - v) is 0 only for a finite v. Vectorises, unlike isfinite.
inline bool finite(float v)
{
    return v - v == 0.0f;
}

// The per-cell accumulations (most of a pass's work after the product): scalar for the baseline
// ISA, AVX2 intrinsics on x86-64 (chosen at run time like the map kernel). NaN values (cells that
// are not shown) lose every comparison, so they never become a maximum or minimum.
inline void statsCell(float p, float v, float& share, float& cmax, float& cmin, float& cpos)
{
    share += p;
    cmax = cmax < v ? v : cmax;
    cmin = v < cmin ? v : cmin;
    cpos = (v > 0.0f && v < cpos) ? v : cpos;
}

inline void binsCell(float v, float& bmax, float& bsum, float& bcnt)
{
    const bool f = v - v == 0.0f;
    bmax = bmax < v ? v : bmax;
    bsum += f ? v : 0.0f;
    bcnt += f ? 1.0f : 0.0f;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SINKSCOPE_MAPBINS_AVX2 1
__attribute__((target("avx2,fma"))) void statsLoopAvx2(const float* P, const float* V, int64_t s0, int64_t s1, float* share,
                                                       float* cmax, float* cmin, float* cpos)
{
    int64_t s = s0;
    const __m256 zero = _mm256_setzero_ps();
    for (; s + 8 <= s1; s += 8) {
        const __m256 v = _mm256_loadu_ps(V + s);
        _mm256_storeu_ps(share + s, _mm256_add_ps(_mm256_loadu_ps(share + s), _mm256_loadu_ps(P + s)));
        // max/min return the second operand when either is NaN: the kept value.
        _mm256_storeu_ps(cmax + s, _mm256_max_ps(v, _mm256_loadu_ps(cmax + s)));
        _mm256_storeu_ps(cmin + s, _mm256_min_ps(v, _mm256_loadu_ps(cmin + s)));
        const __m256 c = _mm256_loadu_ps(cpos + s);
        const __m256 take = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GT_OQ), _mm256_cmp_ps(v, c, _CMP_LT_OQ));
        _mm256_storeu_ps(cpos + s, _mm256_blendv_ps(c, v, take));
    }
    for (; s < s1; ++s)
        statsCell(P[s], V[s], share[s], cmax[s], cmin[s], cpos[s]);
}

__attribute__((target("avx2,fma"))) void binsLoopAvx2(const float* V, int64_t a, int64_t e, float* bmax, float* bsum, float* bcnt)
{
    int64_t s = a;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; s + 8 <= e; s += 8) {
        const __m256 v = _mm256_loadu_ps(V + s);
        const __m256 f = _mm256_cmp_ps(v, v, _CMP_ORD_Q); // not NaN (shown values are never inf)
        _mm256_storeu_ps(bmax + s, _mm256_max_ps(v, _mm256_loadu_ps(bmax + s)));
        _mm256_storeu_ps(bsum + s, _mm256_add_ps(_mm256_loadu_ps(bsum + s), _mm256_and_ps(f, v)));
        _mm256_storeu_ps(bcnt + s, _mm256_add_ps(_mm256_loadu_ps(bcnt + s), _mm256_and_ps(f, one)));
    }
    for (; s < e; ++s)
        binsCell(V[s], bmax[s], bsum[s], bcnt[s]);
}

// One segment of rows of a block (rows of one bin group, or rows outside the window) for the
// probabilities: E[i] are the rows' exp values, inv[i] the factor that makes them probabilities,
// hi[i] the divisor of the row-normalised values (0: the row shows zeros), [s0[i], s1[i]) the
// visible keys. Each 8-key chunk is accumulated over the segment's rows in registers and added to
// the per-key arrays once, instead of a load and a store of every array for every row: the
// column statistics (share, max, min, smallest positive) and, for rows in the window, the bins'
// per-key max, sum and count over keys [k0, k1). The arrays are padded to whole chunks.
struct Segment {
    const float* const* E;
    const float* inv;
    const float* hi;
    const int64_t* s0;
    const int64_t* s1;
    int rows;
    bool rowNormalised;
    bool stats, bins, means;
    int64_t k0, k1;
};

__attribute__((target("avx2,fma"))) void segmentAvx2(const Segment& g, float* share, float* cmax, float* cmin, float* cpos,
                                                     float* bmax, float* bsum, float* bcnt)
{
    int64_t lo = g.s0[0], hi = g.s1[0];
    for (int i = 1; i < g.rows; ++i) {
        lo = std::min(lo, g.s0[i]);
        hi = std::max(hi, g.s1[i]);
    }
    if (g.bins && !g.stats) {
        lo = std::max(lo, g.k0);
        hi = std::min(hi, g.k1);
    }
    const __m256 iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 ninf = _mm256_set1_ps(-kInf), pinf = _mm256_set1_ps(kInf), zero = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 bk0 = _mm256_set1_ps(float(g.k0)), bk1 = _mm256_set1_ps(float(g.k1));
    for (int64_t s = lo / 8 * 8; s < hi; s += 8) {
        const __m256 idx = _mm256_add_ps(_mm256_set1_ps(float(s)), iota); // exact: T < 2^24
        __m256 sh = zero, mx = ninf, mn = pinf, ps = pinf, bx = ninf, bs = zero, bc = zero;
        const __m256 inBins = _mm256_and_ps(_mm256_cmp_ps(idx, bk0, _CMP_GE_OQ), _mm256_cmp_ps(idx, bk1, _CMP_LT_OQ));
        const bool chunkInBins = s >= g.k0 && s + 8 <= g.k1;
        for (int i = 0; i < g.rows; ++i) {
            if (s >= g.s1[i] || s + 8 <= g.s0[i])
                continue;
            if (s >= g.s0[i] && s + 8 <= g.s1[i] && (chunkInBins || !g.bins)) {
                // Every lane visible (most chunks): no masks.
                const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(g.E[i] + s), _mm256_set1_ps(g.inv[i]));
                __m256 v = p;
                if (g.rowNormalised)
                    v = g.hi[i] > 0 ? _mm256_div_ps(p, _mm256_set1_ps(g.hi[i])) : zero;
                if (g.stats) {
                    sh = _mm256_add_ps(sh, p);
                    mx = _mm256_max_ps(v, mx);
                    mn = _mm256_min_ps(v, mn);
                    ps = _mm256_min_ps(_mm256_blendv_ps(pinf, v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ)), ps);
                }
                if (g.bins) {
                    bx = _mm256_max_ps(v, bx);
                    if (g.means) {
                        const __m256 f = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
                        bs = _mm256_add_ps(bs, _mm256_and_ps(f, v));
                        bc = _mm256_add_ps(bc, _mm256_and_ps(f, one));
                    }
                }
                continue;
            }
            const __m256 m = _mm256_and_ps(_mm256_cmp_ps(idx, _mm256_set1_ps(float(g.s0[i])), _CMP_GE_OQ),
                                           _mm256_cmp_ps(idx, _mm256_set1_ps(float(g.s1[i])), _CMP_LT_OQ));
            const __m256 e = _mm256_maskload_ps(g.E[i] + s, _mm256_castps_si256(m));
            const __m256 p = _mm256_mul_ps(e, _mm256_set1_ps(g.inv[i]));
            __m256 v = p;
            if (g.rowNormalised)
                v = g.hi[i] > 0 ? _mm256_div_ps(p, _mm256_set1_ps(g.hi[i])) : zero;
            if (g.stats) {
                sh = _mm256_add_ps(sh, p); // masked lanes hold 0
                // max/min return the second operand when the first is NaN: the kept value.
                mx = _mm256_max_ps(_mm256_blendv_ps(ninf, v, m), mx);
                mn = _mm256_min_ps(_mm256_blendv_ps(pinf, v, m), mn);
                ps = _mm256_min_ps(_mm256_blendv_ps(pinf, v, _mm256_and_ps(m, _mm256_cmp_ps(v, zero, _CMP_GT_OQ))), ps);
            }
            if (g.bins) {
                const __m256 f = _mm256_and_ps(_mm256_and_ps(m, inBins), _mm256_cmp_ps(v, v, _CMP_ORD_Q));
                bx = _mm256_max_ps(_mm256_blendv_ps(ninf, v, f), bx);
                if (g.means) {
                    bs = _mm256_add_ps(bs, _mm256_and_ps(f, v));
                    bc = _mm256_add_ps(bc, _mm256_and_ps(f, one));
                }
            }
        }
        if (g.stats) {
            _mm256_storeu_ps(share + s, _mm256_add_ps(_mm256_loadu_ps(share + s), sh));
            _mm256_storeu_ps(cmax + s, _mm256_max_ps(mx, _mm256_loadu_ps(cmax + s)));
            _mm256_storeu_ps(cmin + s, _mm256_min_ps(mn, _mm256_loadu_ps(cmin + s)));
            _mm256_storeu_ps(cpos + s, _mm256_min_ps(ps, _mm256_loadu_ps(cpos + s)));
        }
        if (g.bins) {
            _mm256_storeu_ps(bmax + s, _mm256_max_ps(bx, _mm256_loadu_ps(bmax + s)));
            if (g.means) {
                _mm256_storeu_ps(bsum + s, _mm256_add_ps(_mm256_loadu_ps(bsum + s), bs));
                _mm256_storeu_ps(bcnt + s, _mm256_add_ps(_mm256_loadu_ps(bcnt + s), bc));
            }
        }
    }
}

bool haveAvx2()
{
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
#else
bool haveAvx2()
{
    return false;
}
#endif

void statsLoop(const float* P, const float* V, int64_t s0, int64_t s1, float* share, float* cmax, float* cmin, float* cpos)
{
#ifdef SINKSCOPE_MAPBINS_AVX2
    if (haveAvx2())
        return statsLoopAvx2(P, V, s0, s1, share, cmax, cmin, cpos);
#endif
    for (int64_t s = s0; s < s1; ++s)
        statsCell(P[s], V[s], share[s], cmax[s], cmin[s], cpos[s]);
}

void binsLoop(const float* V, int64_t a, int64_t e, float* bmax, float* bsum, float* bcnt)
{
#ifdef SINKSCOPE_MAPBINS_AVX2
    if (haveAvx2())
        return binsLoopAvx2(V, a, e, bmax, bsum, bcnt);
#endif
    for (int64_t s = a; s < e; ++s)
        binsCell(V[s], bmax[s], bsum[s], bcnt[s]);
}

struct Plan {
    const RunResult* run = nullptr;
    int64_t T = 0;
    AttentionRecipe recipe;
    const float* stored = nullptr; // the head's stored [T, T] probabilities, if any
    bool haveQK = false;
    mapkernel::HeadQK head;
    const mapkernel::PackedKeys* packed = nullptr;
    MapBinning b;
    int64_t blockRows = 32; // rows of logits per buffer: blockRows * T floats per thread
    bool segments = false;  // probabilities through Worker::block (AVX2) instead of Worker::row
    MapBins* out = nullptr;
};

// Padding, in floats, before and after each per-key array of a worker: the vectorised segment
// pass reads and writes whole 8-key chunks, which may start up to 7 keys before an array's range.
constexpr int64_t kPad = 8;

// One thread's share of the whole-map statistics (merged at the end) and its scratch rows.
struct Worker {
    std::vector<double> share;
    std::vector<float> unitShare; // one unit's column sums in float, added to `share` per unit
    int64_t shareEnd = 0;
    std::vector<float> colMax, colMin, colPos;
    std::vector<float> sample;
    std::vector<int32_t> sampleKey;
    std::vector<float> logits, probs, values;
    std::vector<float> binMax, binSum, binCount;
    // The block's rows for the segment pass: exp values, factors, divisors and visible keys.
    std::vector<const float*> rowE;
    std::vector<float> rowInv, rowHi;
    std::vector<int64_t> rowS0, rowS1;

    // Per-key arrays are used through these (index = key; for the bins, key - k0 + k0, see binBase).
    static float* at(std::vector<float>& v) { return v.data() + kPad; }
    float* binBase(std::vector<float>& v, const Plan& p) { return v.data() + kPad - p.b.k0; }

    void init(const Plan& p)
    {
        if (p.b.wholeMap) {
            share.assign(size_t(p.T), 0.0);
            unitShare.assign(size_t(p.T + 2 * kPad), 0.0f);
            colMax.assign(size_t(p.T + 2 * kPad), -kInf);
            colMin.assign(size_t(p.T + 2 * kPad), kInf);
            colPos.assign(size_t(p.T + 2 * kPad), kInf);
        }
        const size_t ld = size_t(mapkernel::paddedStride(p.T));
        logits.resize(size_t(p.blockRows) * ld);
        probs.resize(size_t(p.T));
        values.resize(size_t(p.T));
        const size_t nk = size_t(std::max<int64_t>(0, p.b.k1 - p.b.k0) + 2 * kPad);
        binMax.assign(nk, -kInf);
        binSum.assign(nk, 0.0f);
        binCount.assign(nk, 0.0f);
        rowE.resize(size_t(p.blockRows));
        rowInv.resize(size_t(p.blockRows));
        rowHi.resize(size_t(p.blockRows));
        rowS0.resize(size_t(p.blockRows));
        rowS1.resize(size_t(p.blockRows));
    }

    // Rows [r0, r1): whole bin groups when they lie in the window, so that one worker sees every
    // row of each of its groups.
    void run(const Plan& p, int64_t r0, int64_t r1)
    {
        for (int64_t c0 = r0; c0 < r1; c0 += p.blockRows) {
            const int64_t n = std::min(p.blockRows, r1 - c0);
            const int64_t cols = p.recipe.causal ? c0 + n : p.T;
            const int64_t ld = mapkernel::paddedStride(cols);
            const bool needLogits = p.haveQK && (!p.stored || p.b.quantity == MapQuantity::Logits);
            if (needLogits)
                mapkernel::logitRows(p.head, *p.packed, c0, n, cols, logits.data(), ld);
#ifdef SINKSCOPE_MAPBINS_AVX2
            if (p.segments) {
                block(p, c0, n, ld);
                continue;
            }
#endif
            for (int64_t i = 0; i < n; ++i)
                row(p, c0 + i, logits.data() + i * ld);
        }
        // Column sums over a few dozen rows in float, then in double: as exact as summing in
        // double throughout, at float speed.
        float* us = at(unitShare);
        for (int64_t s = 0; s < shareEnd; ++s) {
            share[size_t(s)] += double(us[s]);
            us[s] = 0.0f;
        }
        shareEnd = 0;
    }

#ifdef SINKSCOPE_MAPBINS_AVX2
    // The probabilities of rows [c0, c0 + n) (logits in `logits`, or the stored map): each row's
    // exp and factor, then the rows in segments of one bin group (or outside the window) through
    // segmentAvx2, and the sample. The same values as row(), bit for bit, except for the order in
    // which the share and the bins' sums add up.
    void block(const Plan& p, int64_t c0, int64_t n, int64_t ld)
    {
        const MapBinning& b = p.b;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t t = c0 + i;
            int64_t s0 = 0, s1 = 0;
            mapkernel::visibleKeys(p.recipe, p.T, t, &s0, &s1);
            s1 = std::max(s0, s1);
            float inv = 1.0f;
            const float* E = nullptr;
            if (p.stored) {
                E = p.stored + t * p.T;
            } else {
                float* L = logits.data() + i * ld;
                inv = mapkernel::softmaxRowUnscaled(L, s0, s1);
                E = L;
            }
            float hi = 0.0f;
            if (b.rowNormalised && s1 > s0)
                hi = mapkernel::maxOf(E + s0, s1 - s0) * inv; // = the largest probability (rounding is monotone)
            rowE[size_t(i)] = E;
            rowInv[size_t(i)] = inv;
            rowHi[size_t(i)] = hi;
            rowS0[size_t(i)] = s0;
            rowS1[size_t(i)] = s1;
            if (b.wholeMap) {
                shareEnd = std::max(shareEnd, s1);
                const int64_t stride = p.out->sampleStride;
                int64_t s = (stride - (t * p.T) % stride) % stride;
                if (s < s0)
                    s += (s0 - s + stride - 1) / stride * stride;
                for (; s < s1; s += stride) {
                    const float pv = E[s] * inv;
                    const float v = b.rowNormalised ? (hi > 0 ? pv / hi : 0.0f) : pv;
                    if (finite(v)) {
                        sample.push_back(v);
                        sampleKey.push_back(int32_t(s));
                    }
                }
            }
        }
        // Segments: maximal runs of rows with the same bin group (-1 before the window, -2 after).
        const auto groupOf = [&](int64_t t) -> int64_t {
            return t < b.q0 ? -1 : t >= b.q1 ? -2 : (t - b.q0) / b.binQueries;
        };
        for (int64_t i = 0; i < n;) {
            const int64_t g = groupOf(c0 + i);
            int64_t j = i + 1;
            while (j < n && groupOf(c0 + j) == g)
                ++j;
            Segment seg{rowE.data() + i, rowInv.data() + i, rowHi.data() + i, rowS0.data() + i, rowS1.data() + i,
                        int(j - i), b.rowNormalised, b.wholeMap, g >= 0, b.means, b.k0, b.k1};
            if (seg.stats || seg.bins)
                segmentAvx2(seg, at(unitShare), at(colMax), at(colMin), at(colPos), binBase(binMax, p),
                            binBase(binSum, p), binBase(binCount, p));
            const int64_t last = c0 + j - 1;
            if (g >= 0 && ((last - b.q0) % b.binQueries == b.binQueries - 1 || last == b.q1 - 1))
                flushBins(p, g);
            i = j;
        }
    }
#endif

    void row(const Plan& p, int64_t t, float* L)
    {
        const int64_t T = p.T;
        int64_t s0 = 0, s1 = 0;
        mapkernel::visibleKeys(p.recipe, T, t, &s0, &s1);
        s1 = std::max(s0, s1);
        const bool logitsShown = p.b.quantity == MapQuantity::Logits;
        // The probabilities of the row (valid on [s0, s1), 0 elsewhere by definition).
        const float* P = nullptr;
        if (p.stored) {
            P = p.stored + t * T;
        } else if (logitsShown) {
            std::copy(L + s0, L + s1, probs.data() + s0);
            mapkernel::softmaxRow(probs.data(), s0, s1);
            P = probs.data();
        } else {
            mapkernel::softmaxRow(L, s0, s1);
            P = L;
        }
        // What the colours encode (the heatmap's definition; see MapBinning::rowNormalised).
        const float* V = P;
        float* W = values.data();
        if (logitsShown) {
            float lo = kInf, hi = -kInf;
            for (int64_t s = s0; s < s1; ++s) {
                const float v = L[s];
                const bool f = finite(v);
                W[s] = f ? v : kNaN;
                lo = f && v < lo ? v : lo;
                hi = f && v > hi ? v : hi;
            }
            if (p.b.rowNormalised && hi >= lo) {
                const float range = hi - lo;
                for (int64_t s = s0; s < s1; ++s)
                    W[s] = range > 0 ? (W[s] - lo) / range : (finite(W[s]) ? 1.0f : kNaN);
            }
            V = W;
        } else if (p.b.rowNormalised) {
            const float hi = mapkernel::maxOf(P + s0, s1 - s0);
            for (int64_t s = s0; s < s1; ++s)
                W[s] = hi > 0 ? P[s] / hi : 0.0f;
            V = W;
        }
        if (p.b.wholeMap) {
            statsLoop(P, V, s0, s1, at(unitShare), at(colMax), at(colMin), at(colPos));
            shareEnd = std::max(shareEnd, s1);
            // Keys s >= s0 with (t*T + s) % stride == 0.
            const int64_t stride = p.out->sampleStride;
            int64_t s = (stride - (t * T) % stride) % stride;
            if (s < s0)
                s += (s0 - s + stride - 1) / stride * stride;
            for (; s < s1; s += stride)
                if (finite(V[s])) {
                    sample.push_back(V[s]);
                    sampleKey.push_back(int32_t(s));
                }
        }
        const MapBinning& b = p.b;
        if (t < b.q0 || t >= b.q1)
            return;
        const int64_t a = std::max(s0, b.k0), e = std::min(s1, b.k1);
        binsLoop(V, a, e, binBase(binMax, p), binBase(binSum, p), binBase(binCount, p));
        if ((t - b.q0) % b.binQueries == b.binQueries - 1 || t == b.q1 - 1)
            flushBins(p, (t - b.q0) / b.binQueries);
    }

    void flushBins(const Plan& p, int64_t bin)
    {
        const MapBinning& b = p.b;
        const int64_t nk = b.k1 - b.k0;
        for (int64_t j = 0; j * b.binKeys < nk; ++j) {
            const int64_t a = j * b.binKeys, e = std::min(nk, a + b.binKeys);
            float best = -kInf;
            double sum = 0.0, count = 0.0;
            if (e - a >= 8) {
                best = mapkernel::maxOf(binMax.data() + a + kPad, e - a); // vectorised for wide bins
            } else {
                for (int64_t s = a + kPad; s < e + kPad; ++s)
                    best = std::max(best, binMax[size_t(s)]);
            }
            if (b.means)
                for (int64_t s = a + kPad; s < e + kPad; ++s) {
                    sum += binSum[size_t(s)];
                    count += binCount[size_t(s)];
                }
            if (b.means) {
                p.out->max(bin, j) = count > 0 ? best : kNaN;
                p.out->mean(bin, j) = count > 0 ? float(sum / count) : kNaN;
            } else {
                p.out->max(bin, j) = best > -kInf ? best : kNaN; // shown values are never -inf
            }
        }
        std::fill(binMax.begin(), binMax.end(), -kInf);
        if (b.means) {
            std::fill(binSum.begin(), binSum.end(), 0.0f);
            std::fill(binCount.begin(), binCount.end(), 0.0f);
        }
    }
};

} // namespace

MapBins binAttentionMap(const RunResult& run, int layer, int head, const MapBinning& request)
{
    if (layer < 0 || layer >= run.model.layers || head < 0 || head >= run.model.heads)
        throw Error(ErrorCode::InvalidArgument, "Layer " + std::to_string(layer) + ", head " + std::to_string(head)
                                                    + " is outside the model.");
    const int64_t T = run.tokens;
    MapBinning b = request;
    if (b.q1 < 0)
        b.q1 = T;
    if (b.k1 < 0)
        b.k1 = T;
    if (b.q0 < 0 || b.q0 > b.q1 || b.q1 > T || b.k0 < 0 || b.k0 > b.k1 || b.k1 > T)
        throw Error(ErrorCode::InvalidArgument, "The map window is outside the " + std::to_string(T) + " tokens.");
    if (b.binQueries < 1 || b.binKeys < 1)
        throw Error(ErrorCode::InvalidArgument, "A map bin needs at least one cell per axis.");
    const bool haveQK = !run.queries.empty() && !run.keys.empty();
    if (b.quantity == MapQuantity::Logits && !haveQK)
        throw Error(ErrorCode::InvalidArgument, "Logits need the run's Q and K, which this run did not keep.");
    if (!run.hasAttention() && !haveQK)
        throw Error(ErrorCode::InvalidArgument, "This run kept neither the attention maps nor Q and K.");

    MapBins out;
    out.tokens = T;
    out.q0 = b.q0;
    out.q1 = b.q1;
    out.k0 = b.k0;
    out.k1 = b.k1;
    out.binQueries = b.binQueries;
    out.binKeys = b.binKeys;
    const int64_t gq = (b.q1 - b.q0 + b.binQueries - 1) / b.binQueries;
    const int64_t gk = (b.k1 - b.k0 + b.binKeys - 1) / b.binKeys;
    out.max.setConstant(gq, gk, kNaN);
    if (b.means)
        out.mean.setConstant(gq, gk, kNaN);
    out.hasWholeMap = b.wholeMap;
    out.sampleStride = std::max<int64_t>(1, T * T / std::max<int64_t>(1, b.sampleCells));

    Plan p;
    p.run = &run;
    p.T = T;
    p.b = b;
    p.out = &out;
    p.haveQK = haveQK;
    if (run.hasAttention())
        p.stored = run.attention.data() + (int64_t(layer) * run.model.heads + head) * T * T;
    std::unique_ptr<mapkernel::PackedKeys> packed;
    if (haveQK && (!p.stored || b.quantity == MapQuantity::Logits)) {
        p.head = mapkernel::headOf(run, layer, head);
        p.recipe = p.head.recipe;
        packed = std::make_unique<mapkernel::PackedKeys>(p.head);
        p.packed = packed.get();
    } else {
        p.recipe = run.recipe(layer);
    }
    // About 1 MiB of logits per worker: a few hundred KiB of rows stay in cache between the
    // product and the softmax.
    p.blockRows = std::clamp<int64_t>((int64_t(1) << 18) / std::max<int64_t>(1, T), 4, 64);
    // The segment pass pays off when a bin group has several rows to accumulate in registers (one
    // row per bin, as for prompts that fit the screen, is faster row by row); it compares key
    // indices as floats, exact below 2^24 tokens.
    p.segments = haveAvx2() && b.quantity == MapQuantity::Probabilities && b.binQueries > 1 && T < (int64_t(1) << 24);

    // Units of work: runs of rows, whole bin groups inside the window; the most expensive (last,
    // in a causal map) first, so that the workers finish together.
    std::vector<std::pair<int64_t, int64_t>> units;
    const int64_t r0 = b.wholeMap ? 0 : b.q0, r1 = b.wholeMap ? T : b.q1;
    const int64_t unitRows = std::max<int64_t>(p.blockRows, 16);
    for (int64_t t = r0; t < r1;) {
        int64_t e = 0;
        if (t < b.q0)
            e = std::min(b.q0, t + unitRows);
        else if (t < b.q1) {
            const int64_t groups = std::max<int64_t>(1, unitRows / b.binQueries);
            e = std::min(b.q1, t + groups * b.binQueries);
        } else
            e = std::min(r1, t + unitRows);
        units.emplace_back(t, e);
        t = e;
    }
    std::reverse(units.begin(), units.end());

    const int64_t cells = (r1 - r0) * T;
    int threads = b.threads > 0 ? b.threads : mapkernel::defaultThreads();
    if (cells < (int64_t(1) << 16))
        threads = 1; // not worth starting a thread for
    threads = int(std::min<int64_t>(threads, int64_t(units.size())));
    threads = std::max(threads, 1);
    std::vector<Worker> workers(static_cast<size_t>(threads));
    std::atomic<size_t> next{0};
    std::exception_ptr failure;
    std::mutex failureMutex;
    auto work = [&](Worker& w) {
        try {
            w.init(p);
            for (size_t u = next++; u < units.size(); u = next++) {
                if (b.cancel && b.cancel->load(std::memory_order_relaxed))
                    break;
                w.run(p, units[u].first, units[u].second);
            }
        } catch (...) {
            const std::lock_guard<std::mutex> lock(failureMutex);
            failure = std::current_exception();
            next = units.size();
        }
    };
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back(work, std::ref(workers[size_t(i)]));
    work(workers[0]);
    for (std::thread& th : pool)
        th.join();
    if (failure)
        std::rethrow_exception(failure);
    if (b.cancel && b.cancel->load())
        throw Error(ErrorCode::Cancelled, "The map was no longer wanted.");

    if (b.wholeMap) {
        out.share.setZero(T);
        out.columnMax.setConstant(T, -kInf);
        out.columnMin.setConstant(T, kInf);
        out.columnMinPositive.setConstant(T, kInf);
        std::vector<double> share(size_t(T), 0.0);
        for (const Worker& w : workers) {
            for (int64_t s = 0; s < T; ++s) {
                const size_t k = size_t(s + kPad);
                share[size_t(s)] += w.share[size_t(s)];
                out.columnMax[s] = std::max(out.columnMax[s], w.colMax[k]);
                out.columnMin[s] = std::min(out.columnMin[s], w.colMin[k]);
                out.columnMinPositive[s] = std::min(out.columnMinPositive[s], w.colPos[k]);
            }
            out.sample.insert(out.sample.end(), w.sample.begin(), w.sample.end());
            out.sampleKey.insert(out.sampleKey.end(), w.sampleKey.begin(), w.sampleKey.end());
        }
        for (int64_t s = 0; s < T; ++s) {
            out.share[s] = float(share[size_t(s)] / double(T));
            if (out.columnMax[s] == -kInf) {
                out.columnMax[s] = kNaN;
                out.columnMin[s] = kNaN;
            }
        }
    }
    return out;
}

} // namespace sinkscope
