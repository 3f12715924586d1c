// SPDX-License-Identifier: GPL-3.0-or-later
#include "torch/blocksummaries.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SINKSCOPE_BLOCKSUMMARIES_AVX2 1
#include <immintrin.h>
#endif

namespace sinkscope::detail {

namespace {

// Below the smallest normal float a term p ln p is under 1e-36: counted as 0, which also takes
// the exact zeros of masked keys (0 ln 0 = 0) without a log of 0.
constexpr float kSmallest = std::numeric_limits<float>::min();

template <bool Entropy, bool Columns>
void scalarBlock(const float* p, int64_t rows, int64_t keys, float* entropy, float* first, double* columns)
{
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = p + r * keys;
        if (first)
            first[r] = row[0];
        double acc = 0;
        for (int64_t k = 0; k < keys; ++k) {
            const float x = row[k];
            if constexpr (Entropy)
                if (x >= kSmallest)
                    acc += double(x * std::log(x));
            if constexpr (Columns)
                columns[k] += double(x);
        }
        if constexpr (Entropy)
            entropy[r] = float(0.0 - acc);
    }
}

// v G v^T for x = v in fp64; y = G x accumulated row of G by row of G (the axpy order the
// vectorised code uses too).
double scalarQuadratic(const double* x, const double* gram, int64_t hd, double* y)
{
    for (int64_t j = 0; j < hd; ++j)
        y[j] = 0;
    for (int64_t i = 0; i < hd; ++i) {
        const double* g = gram + i * hd;
        for (int64_t j = 0; j < hd; ++j)
            y[j] += x[i] * g[j];
    }
    double s = 0;
    for (int64_t j = 0; j < hd; ++j)
        s += x[j] * y[j];
    return s;
}

#ifdef SINKSCOPE_BLOCKSUMMARIES_AVX2
bool haveAvx2()
{
    // Evaluated once; the build targets the baseline ISA, so this is what enables the fast path.
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}

// ln x for normal, finite x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), and ln(m) from Cephes'
// single-precision polynomial in u = m - 1 (about 1 ulp); e ln 2 is added in two parts so that the
// large part is exact.
__attribute__((target("avx2,fma"))) inline __m256 log256(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256i bits = _mm256_castps_si256(x);
    // Mantissa in [0.5, 1) and the matching exponent.
    __m256 m = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
    __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
    // m < sqrt(1/2): take 2m and e - 1 instead (2m - 1 is exact).
    const __m256 low = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
    e = _mm256_sub_ps(e, _mm256_and_ps(low, one));
    const __m256 u = _mm256_add_ps(_mm256_sub_ps(m, one), _mm256_and_ps(low, m));
    const __m256 z = _mm256_mul_ps(u, u);
    __m256 y = _mm256_set1_ps(7.0376836292E-2f);
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(-1.1514610310E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(1.1676998740E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(-1.2420140846E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(1.4249322787E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(-1.6668057665E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(2.0000714765E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(-2.4999993993E-1f));
    y = _mm256_fmadd_ps(y, u, _mm256_set1_ps(3.3333331174E-1f));
    y = _mm256_mul_ps(_mm256_mul_ps(y, u), z);               // u^3 P(u)
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y); // small part of e ln 2
    y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);         // - u^2 / 2
    return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(u, y));
}

// Adds x ln x of the lanes with x >= FLT_MIN (the others add 0) to two fp64 accumulators.
__attribute__((target("avx2,fma"))) inline void addTerms(__m256 x, __m256d& lo, __m256d& hi)
{
    const __m256 normal = _mm256_cmp_ps(x, _mm256_set1_ps(kSmallest), _CMP_GE_OQ);
    const __m256 safe = _mm256_max_ps(x, _mm256_set1_ps(kSmallest));
    const __m256 t = _mm256_and_ps(normal, _mm256_mul_ps(x, log256(safe)));
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
}

__attribute__((target("avx2,fma"))) inline void addColumns(double* c, __m256 x)
{
    _mm256_storeu_pd(c, _mm256_add_pd(_mm256_loadu_pd(c), _mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    _mm256_storeu_pd(c + 4, _mm256_add_pd(_mm256_loadu_pd(c + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
}

template <bool Entropy, bool Columns>
__attribute__((target("avx2,fma"))) void avx2Block(const float* p, int64_t rows, int64_t keys, float* entropy,
                                                   float* first, double* columns)
{
    const int64_t whole = keys - keys % 8;
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = p + r * keys;
        if (first)
            first[r] = row[0];
        __m256d lo = _mm256_setzero_pd(), hi = lo;
        for (int64_t k = 0; k < whole; k += 8) {
            const __m256 x = _mm256_loadu_ps(row + k);
            if constexpr (Entropy)
                addTerms(x, lo, hi);
            if constexpr (Columns)
                addColumns(columns + k, x);
        }
        if (whole < keys) {
            // The last keys % 8 keys, padded with zeros (which add nothing).
            alignas(32) float tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            std::memcpy(tail, row + whole, size_t(keys - whole) * sizeof(float));
            if constexpr (Entropy)
                addTerms(_mm256_load_ps(tail), lo, hi);
            if constexpr (Columns)
                for (int64_t k = whole; k < keys; ++k)
                    columns[k] += double(row[k]);
        }
        if constexpr (Entropy) {
            const __m256d s = _mm256_add_pd(lo, hi);
            __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
            h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
            entropy[r] = float(0.0 - _mm_cvtsd_f64(h));
        }
    }
}

// v G v^T with y = G x for 32 columns at a time in eight registers (eight independent FMA chains
// per row of G); the last hd % 32 columns in scalar code.
__attribute__((target("avx2,fma"))) double avx2Quadratic(const double* x, const double* gram, int64_t hd, double* y)
{
    const int64_t whole = hd - hd % 32;
    for (int64_t j0 = 0; j0 < whole; j0 += 32) {
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int64_t i = 0; i < hd; ++i) {
            const __m256d b = _mm256_broadcast_sd(x + i);
            const double* g = gram + i * hd + j0;
            a0 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g), a0);
            a1 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 4), a1);
            a2 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 8), a2);
            a3 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 12), a3);
            a4 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 16), a4);
            a5 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 20), a5);
            a6 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 24), a6);
            a7 = _mm256_fmadd_pd(b, _mm256_loadu_pd(g + 28), a7);
        }
        double* o = y + j0;
        _mm256_storeu_pd(o, a0);
        _mm256_storeu_pd(o + 4, a1);
        _mm256_storeu_pd(o + 8, a2);
        _mm256_storeu_pd(o + 12, a3);
        _mm256_storeu_pd(o + 16, a4);
        _mm256_storeu_pd(o + 20, a5);
        _mm256_storeu_pd(o + 24, a6);
        _mm256_storeu_pd(o + 28, a7);
    }
    for (int64_t j = whole; j < hd; ++j)
        y[j] = 0;
    if (whole < hd)
        for (int64_t i = 0; i < hd; ++i) {
            const double* g = gram + i * hd;
            for (int64_t j = whole; j < hd; ++j)
                y[j] += x[i] * g[j];
        }
    double s = 0;
    for (int64_t j = 0; j < hd; ++j)
        s += x[j] * y[j];
    return s;
}
#endif

template <bool Entropy, bool Columns>
void block(const float* p, int64_t rows, int64_t keys, float* entropy, float* first, double* columns, bool simd)
{
#ifdef SINKSCOPE_BLOCKSUMMARIES_AVX2
    if (simd && haveAvx2())
        return avx2Block<Entropy, Columns>(p, rows, keys, entropy, first, columns);
#else
    (void)simd;
#endif
    scalarBlock<Entropy, Columns>(p, rows, keys, entropy, first, columns);
}

} // namespace

bool probabilityBlockSimd()
{
#ifdef SINKSCOPE_BLOCKSUMMARIES_AVX2
    return haveAvx2();
#else
    return false;
#endif
}

void summarizeProbabilityBlock(const float* p, int64_t rows, int64_t keys, float* entropy, float* first,
                               double* columns, bool simd)
{
    if (rows <= 0 || keys <= 0)
        return;
    if (entropy && columns)
        block<true, true>(p, rows, keys, entropy, first, columns, simd);
    else if (entropy)
        block<true, false>(p, rows, keys, entropy, first, columns, simd);
    else if (columns)
        block<false, true>(p, rows, keys, entropy, first, columns, simd);
    else
        block<false, false>(p, rows, keys, entropy, first, columns, simd);
}

void gramNorms(const float* v, int64_t rows, int64_t stride, const double* gram, int64_t hd, float* out, bool simd)
{
    if (rows <= 0 || hd <= 0)
        return;
    std::vector<double> buffer(size_t(2 * hd));
    double* x = buffer.data();
    double* y = x + hd;
#ifdef SINKSCOPE_BLOCKSUMMARIES_AVX2
    const bool vectorised = simd && haveAvx2();
#else
    (void)simd;
#endif
    for (int64_t t = 0; t < rows; ++t) {
        const float* vt = v + t * stride;
        for (int64_t i = 0; i < hd; ++i)
            x[i] = double(vt[i]);
#ifdef SINKSCOPE_BLOCKSUMMARIES_AVX2
        const double s = vectorised ? avx2Quadratic(x, gram, hd, y) : scalarQuadratic(x, gram, hd, y);
#else
        const double s = scalarQuadratic(x, gram, hd, y);
#endif
        out[t] = float(std::sqrt(std::max(s, 0.0)));
    }
}

} // namespace sinkscope::detail
