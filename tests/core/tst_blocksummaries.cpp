// SPDX-License-Identifier: GPL-3.0-or-later
// The forward pass's per-block summary kernel (core/src/torch/blocksummaries.h): row entropy,
// first-key mass and column sums of constructed probability blocks, against values worked out
// here in fp64 from the same fp32 probabilities (uniform rows: ln n; peaked rows, masked zeros,
// subnormals, every tail length of the 8-wide loop), and ||v W|| from a Gram matrix against v W
// formed directly. Both the vectorised and the scalar code.
#include "torch/blocksummaries.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace sinkscope::detail;

namespace {

// -sum p ln p over the entries > 0, in fp64, from the fp32 values the kernel reads.
double referenceEntropy(const float* row, int64_t keys)
{
    double h = 0;
    for (int64_t k = 0; k < keys; ++k)
        if (row[k] > 0)
            h -= double(row[k]) * std::log(double(row[k]));
    return h;
}

struct Block {
    int64_t rows = 0, keys = 0;
    std::vector<float> p; // [rows, keys]
};

struct Out {
    std::vector<float> entropy, first;
    std::vector<double> columns;
};

Out summarize(const Block& b, bool simd, double columnStart = 0)
{
    Out o;
    o.entropy.assign(size_t(b.rows), std::numeric_limits<float>::quiet_NaN());
    o.first.assign(size_t(b.rows), std::numeric_limits<float>::quiet_NaN());
    o.columns.assign(size_t(b.keys), columnStart);
    summarizeProbabilityBlock(b.p.data(), b.rows, b.keys, o.entropy.data(), o.first.data(), o.columns.data(), simd);
    return o;
}

// Checks every summary of `b` against the fp64 definitions; entropy to `relTol` of its value.
void checkBlock(const Block& b, bool simd, double relTol, const QString& what)
{
    const Out o = summarize(b, simd, 0.25);
    for (int64_t r = 0; r < b.rows; ++r) {
        const float* row = b.p.data() + r * b.keys;
        const double want = referenceEntropy(row, b.keys);
        const double got = o.entropy[size_t(r)];
        QVERIFY2(std::abs(got - want) <= relTol * want + 1e-30,
                 qPrintable(QStringLiteral("%1 row %2: entropy %3, want %4").arg(what).arg(r).arg(got, 0, 'g', 10).arg(want, 0, 'g', 10)));
        QCOMPARE(o.first[size_t(r)], row[0]);
    }
    for (int64_t k = 0; k < b.keys; ++k) {
        double want = 0.25; // the kernel adds to what is there
        for (int64_t r = 0; r < b.rows; ++r)
            want += double(b.p[size_t(r * b.keys + k)]);
        QVERIFY2(std::abs(o.columns[size_t(k)] - want) <= 1e-12 * want,
                 qPrintable(QStringLiteral("%1 key %2: column %3, want %4").arg(what).arg(k).arg(o.columns[size_t(k)]).arg(want)));
    }
}

// Rows of softmax(scale * z) for standard normal z, formed in fp64 and rounded to fp32; row r of
// a causal block sees keys 0 .. keys - rows + r, the later ones are exact zeros.
Block softmaxBlock(int64_t rows, int64_t keys, double scale, unsigned seed, bool causal)
{
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal;
    Block b{rows, keys, std::vector<float>(size_t(rows * keys), 0.0f)};
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t seen = causal ? keys - rows + r + 1 : keys;
        std::vector<double> z(static_cast<size_t>(seen));
        double mx = -1e300, sum = 0;
        for (double& v : z) {
            v = scale * normal(rng);
            mx = std::max(mx, v);
        }
        for (double& v : z)
            sum += (v = std::exp(v - mx));
        for (int64_t k = 0; k < seen; ++k)
            b.p[size_t(r * keys + k)] = float(z[size_t(k)] / sum);
    }
    return b;
}

} // namespace

class TestBlockSummaries : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void paths_data();
    void uniformRows_data() { paths_data(); }
    void uniformRows();
    void softmaxRows_data() { paths_data(); }
    void softmaxRows();
    void peakedRows_data() { paths_data(); }
    void peakedRows();
    void zerosAndSubnormals_data() { paths_data(); }
    void zerosAndSubnormals();
    void partialOutputs_data() { paths_data(); }
    void partialOutputs();
    void pathsAgree();
    void gramNorms_data() { paths_data(); }
    void gramNorms();
};

void TestBlockSummaries::initTestCase()
{
    qInfo("vectorised path on this CPU: %s", probabilityBlockSimd() ? "yes" : "no (both rows run the scalar code)");
}

void TestBlockSummaries::paths_data()
{
    QTest::addColumn<bool>("simd");
    QTest::newRow("vectorised") << true;
    QTest::newRow("scalar") << false;
}

void TestBlockSummaries::uniformRows()
{
    QFETCH(bool, simd);
    // Every remainder of the 8-wide loop, and a long row.
    for (int64_t n : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 100, 1027}) {
        Block b{3, n, std::vector<float>(size_t(3 * n), 1.0f / float(n))};
        const Out o = summarize(b, simd);
        for (int64_t r = 0; r < 3; ++r) {
            // 1/n rounded to fp32 is off by at most 6e-8 relative: ln n to 2e-7 of itself.
            QVERIFY2(std::abs(o.entropy[size_t(r)] - std::log(double(n))) <= 2e-7 * std::max(1.0, std::log(double(n))),
                     qPrintable(QStringLiteral("n = %1: %2").arg(n).arg(double(o.entropy[size_t(r)]), 0, 'g', 10)));
            QCOMPARE(o.first[size_t(r)], 1.0f / float(n));
        }
        for (int64_t k = 0; k < n; ++k)
            QCOMPARE(o.columns[size_t(k)], 3.0 * double(1.0f / float(n)));
        checkBlock(b, simd, 3e-7, QStringLiteral("uniform n = %1").arg(n));
    }
}

void TestBlockSummaries::softmaxRows()
{
    QFETCH(bool, simd);
    unsigned seed = 1;
    for (double scale : {0.01, 1.0, 4.0, 30.0})
        for (int64_t keys : {13, 64, 517})
            for (bool causal : {false, true})
                checkBlock(softmaxBlock(11, keys, scale, seed++, causal), simd, 3e-7,
                           QStringLiteral("scale %1 keys %2 causal %3").arg(scale).arg(keys).arg(causal));
}

void TestBlockSummaries::peakedRows()
{
    QFETCH(bool, simd);
    // One key takes 1 - eps, the others share eps: the entropy is about eps (ln(n / eps) + 1), tiny
    // next to the terms' sizes, and must come out to fp32 precision, not to an absolute 1e-7.
    for (double eps : {1e-2, 1e-4, 1e-6, 1e-7, 1e-9, 1e-12})
        for (int64_t n : {2, 9, 300}) {
            Block b{1, n, std::vector<float>(size_t(n), float(eps / double(n - 1)))};
            b.p[size_t(n / 2)] = float(1.0 - eps);
            checkBlock(b, simd, 3e-7, QStringLiteral("eps %1 n %2").arg(eps).arg(n));
            const double h = summarize(b, simd).entropy[0];
            QVERIFY(h > 0);
        }
    // A one-hot row (the first query of a causal prompt) has entropy exactly +0.
    Block one{1, 20, std::vector<float>(20, 0.0f)};
    one.p[0] = 1.0f;
    const float h = summarize(one, simd).entropy[0];
    QCOMPARE(h, 0.0f);
    QVERIFY(!std::signbit(h));
}

void TestBlockSummaries::zerosAndSubnormals()
{
    QFETCH(bool, simd);
    // Masked keys are exact zeros (0 ln 0 = 0, no NaN); subnormal terms are below 1e-36 and count 0.
    const float sub = std::numeric_limits<float>::denorm_min() * 1000.0f;
    QVERIFY(sub > 0 && sub < std::numeric_limits<float>::min());
    Block b{2, 11, {0.5f, 0.0f, 0.25f, sub, 0.0f, 0.125f, 0.0f, 0.0f, 0.125f, sub, 0.0f,
                    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f}};
    const Out o = summarize(b, simd);
    // 0.5 ln 2 + 0.25 ln 4 + 2 (0.125 ln 8) = 1.75 ln 2
    QVERIFY(std::abs(double(o.entropy[0]) - 1.75 * std::log(2.0)) <= 1e-7);
    QCOMPARE(o.entropy[1], 0.0f);
    QCOMPARE(o.first[1], 0.0f);
    QCOMPARE(o.columns[3], double(sub));
    QCOMPARE(o.columns[10], 1.0);
    checkBlock(b, simd, 3e-7, QStringLiteral("zeros"));
}

void TestBlockSummaries::partialOutputs()
{
    QFETCH(bool, simd);
    const Block b = softmaxBlock(5, 21, 2.0, 99, true);
    const Out all = summarize(b, simd);
    // Each output alone is what it is with the others; absent ones are not touched.
    std::vector<float> entropy(5, -1.0f), first(5, -1.0f);
    std::vector<double> columns(21, 0.0);
    summarizeProbabilityBlock(b.p.data(), 5, 21, entropy.data(), nullptr, nullptr, simd);
    QCOMPARE(entropy, all.entropy);
    summarizeProbabilityBlock(b.p.data(), 5, 21, nullptr, first.data(), nullptr, simd);
    QCOMPARE(first, all.first);
    summarizeProbabilityBlock(b.p.data(), 5, 21, nullptr, nullptr, columns.data(), simd);
    QCOMPARE(columns, all.columns);
    // Column sums accumulate over calls (one call per query block).
    summarizeProbabilityBlock(b.p.data(), 5, 21, nullptr, nullptr, columns.data(), simd);
    for (size_t k = 0; k < columns.size(); ++k)
        QCOMPARE(columns[k], 2.0 * all.columns[k]);
    // Empty blocks write nothing.
    summarizeProbabilityBlock(b.p.data(), 0, 21, entropy.data(), first.data(), columns.data(), simd);
    QCOMPARE(entropy, all.entropy);
}

void TestBlockSummaries::pathsAgree()
{
    if (!probabilityBlockSimd())
        QSKIP("this CPU has no AVX2: only the scalar code runs here");
    const Block b = softmaxBlock(64, 300, 3.0, 7, true);
    const Out v = summarize(b, true), s = summarize(b, false);
    for (int64_t r = 0; r < b.rows; ++r)
        QVERIFY(std::abs(double(v.entropy[size_t(r)]) - double(s.entropy[size_t(r)])) <= 3e-7 * double(s.entropy[size_t(r)]));
    QCOMPARE(v.first, s.first);
    QCOMPARE(v.columns, s.columns); // the same fp64 additions in the same order
}

void TestBlockSummaries::gramNorms()
{
    QFETCH(bool, simd);
    // ||v W|| for random W [hd, D] and rows v, against v W formed directly in fp64 (not through
    // the Gram matrix the kernel gets). hd covers the 32-column chunks and their remainders.
    std::mt19937 rng(5);
    std::normal_distribution<double> normal;
    const int64_t D = 24, rows = 7;
    for (int64_t hd : {1, 4, 8, 31, 32, 33, 64, 80, 128}) {
        const int64_t stride = hd + 3; // rows interleaved with other data, as in the q|k|v projection
        std::vector<double> w(size_t(hd * D));
        for (double& x : w)
            x = normal(rng) / std::sqrt(double(D));
        std::fill(w.begin(), w.begin() + D, 0.0); // row 0 of W is zero: e_0 W = 0
        std::vector<double> gram(size_t(hd * hd), 0.0);
        for (int64_t i = 0; i < hd; ++i)
            for (int64_t j = 0; j < hd; ++j)
                for (int64_t d = 0; d < D; ++d)
                    gram[size_t(i * hd + j)] += w[size_t(i * D + d)] * w[size_t(j * D + d)];
        std::vector<float> v(size_t(rows * stride), 1e30f);
        for (int64_t t = 0; t < rows; ++t)
            for (int64_t i = 0; i < hd; ++i)
                v[size_t(t * stride + i)] = t == 0 ? (i == 0 ? 3.0f : 0.0f) : float(normal(rng));
        std::vector<float> out(size_t(rows), -1.0f);
        sinkscope::detail::gramNorms(v.data(), rows, stride, gram.data(), hd, out.data(), simd);
        QCOMPARE(out[0], 0.0f); // 3 e_0 lies in the null space of W
        for (int64_t t = 1; t < rows; ++t) {
            double n2 = 0;
            for (int64_t d = 0; d < D; ++d) {
                double acc = 0;
                for (int64_t i = 0; i < hd; ++i)
                    acc += double(v[size_t(t * stride + i)]) * w[size_t(i * D + d)];
                n2 += acc * acc;
            }
            const double want = std::sqrt(n2), got = out[size_t(t)];
            QVERIFY2(std::abs(got - want) <= 2e-7 * want + 1e-30,
                     qPrintable(QStringLiteral("hd %1 row %2: %3, want %4").arg(hd).arg(t).arg(got, 0, 'g', 10).arg(want, 0, 'g', 10)));
        }
    }
}

QTEST_GUILESS_MAIN(TestBlockSummaries)
#include "tst_blocksummaries.moc"
