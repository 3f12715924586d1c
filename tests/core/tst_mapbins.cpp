// SPDX-License-Identifier: GPL-3.0-or-later
// Head maps from Q/K and their screen-resolution bins (sinkscope/mapbins.h). The references are
// computed here independently: the map in double precision straight from the definition, and the
// bins by a plain loop over the full map.
#include "sinkscope/analysis.h"
#include "sinkscope/error.h"
#include "sinkscope/mapbins.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace sinkscope;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Recipe {
    bool causal = true;
    int window = 0;
    double softcap = 0.0;
    bool bias = false; // an intervention bias with some -inf entries
};

// One layer, two query heads sharing one KV head, random Q/K of head size hd.
std::shared_ptr<RunResult> makeRun(int T, int hd, const Recipe& spec, unsigned seed = 3)
{
    auto r = std::make_shared<RunResult>();
    r->model.layers = 1;
    r->model.heads = 2;
    r->model.kvHeads = 1;
    r->model.headDim = hd;
    r->model.attention = spec.causal ? "causal" : "bidirectional";
    r->tokens = T;
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.5f);
    r->queries.shape = {1, 2, T, hd};
    r->queries.data.resize(size_t(2 * T * hd));
    r->keys.shape = {1, 1, T, hd};
    r->keys.data.resize(size_t(T * hd));
    for (float& v : r->queries.data)
        v = n(rng);
    for (float& v : r->keys.data)
        v = n(rng);
    // A sink: key 0 aligned with every query direction's mean, so that column 0 stands out.
    for (int d = 0; d < hd; ++d)
        r->keys.data[size_t(d)] = 2.0f;
    AttentionRecipe recipe;
    recipe.scale = 1.0 / std::sqrt(double(hd));
    recipe.causal = spec.causal;
    recipe.window = spec.window;
    recipe.softcap = spec.softcap;
    r->recipes = {recipe};
    if (spec.bias) {
        r->maskBias.assign(size_t(T * T), 0.0f);
        for (int t = 0; t < T; ++t)
            for (int s = 0; s < T; ++s)
                if ((t * 7 + s * 3) % 11 == 0 && s != t)
                    r->maskBias[size_t(t * T + s)] = -std::numeric_limits<float>::infinity();
                else if ((t + s) % 5 == 0)
                    r->maskBias[size_t(t * T + s)] = 0.75f;
    }
    return r;
}

bool visible(const AttentionRecipe& r, int t, int s)
{
    return !(r.causal && s > t) && !(r.window > 0 && t - s >= r.window);
}

// The definition, in double: logits = scale q.k, soft-capped, plus bias; softmax over visible keys.
void referenceMap(const RunResult& r, int head, std::vector<double>* probs, std::vector<double>* logits)
{
    const int T = int(r.tokens), hd = int(r.queries.size(3));
    const AttentionRecipe& rc = r.recipes[0];
    probs->assign(size_t(T * T), 0.0);
    logits->assign(size_t(T * T), -INFINITY);
    for (int t = 0; t < T; ++t) {
        double mx = -INFINITY;
        for (int s = 0; s < T; ++s) {
            if (!visible(rc, t, s))
                continue;
            double dot = 0;
            for (int d = 0; d < hd; ++d)
                dot += double(r.queries.data[size_t((head * T + t) * hd + d)]) * double(r.keys.data[size_t(s * hd + d)]);
            double l = rc.scale * dot;
            if (rc.softcap > 0)
                l = rc.softcap * std::tanh(l / rc.softcap);
            if (!r.maskBias.empty())
                l += double(r.maskBias[size_t(t * T + s)]);
            (*logits)[size_t(t * T + s)] = l;
            mx = std::max(mx, l);
        }
        double z = 0;
        for (int s = 0; s < T; ++s)
            if (visible(rc, t, s) && std::isfinite((*logits)[size_t(t * T + s)]))
                z += std::exp((*logits)[size_t(t * T + s)] - mx);
        for (int s = 0; s < T; ++s)
            if (visible(rc, t, s) && std::isfinite((*logits)[size_t(t * T + s)]))
                (*probs)[size_t(t * T + s)] = std::exp((*logits)[size_t(t * T + s)] - mx) / z;
    }
}

// The shown value of every cell from the full map, by the definition of MapBinning (NaN: not shown).
RowMatrixXf shownValues(const RunResult& r, const RowMatrixXf& P, const RowMatrixXf& L, bool logits, bool rowNorm)
{
    const int T = int(r.tokens);
    const AttentionRecipe& rc = r.recipes[0];
    RowMatrixXf V = RowMatrixXf::Constant(T, T, kNaN);
    for (int t = 0; t < T; ++t) {
        float lo = INFINITY, hi = -INFINITY;
        for (int s = 0; s < T; ++s) {
            if (!visible(rc, t, s))
                continue;
            const float v = logits ? L(t, s) : P(t, s);
            if (!std::isfinite(v))
                continue;
            V(t, s) = v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        if (!rowNorm)
            continue;
        for (int s = 0; s < T; ++s) {
            if (std::isnan(V(t, s)))
                continue;
            if (logits)
                V(t, s) = hi > lo ? (V(t, s) - lo) / (hi - lo) : 1.0f;
            else
                V(t, s) = hi > 0 ? V(t, s) / hi : 0.0f;
        }
    }
    return V;
}

// Equal entry by entry, NaN equal to NaN (the masked bins).
bool sameCells(const RowMatrixXf& a, const RowMatrixXf& b)
{
    if (a.rows() != b.rows() || a.cols() != b.cols())
        return false;
    for (Eigen::Index i = 0; i < a.size(); ++i)
        if (!(a.data()[i] == b.data()[i] || (std::isnan(a.data()[i]) && std::isnan(b.data()[i]))))
            return false;
    return true;
}

bool sameCells(const Eigen::VectorXf& a, const Eigen::VectorXf& b)
{
    return sameCells(RowMatrixXf(a.transpose()), RowMatrixXf(b.transpose()));
}

} // namespace

class TestMapBins : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void mapMatchesDefinition_data();
    void mapMatchesDefinition();
    void binsMatchFullMap_data();
    void binsMatchFullMap();
    void zoomedWindowIsExact();
    void storedMapsAndThreads();
    void sinkColumnAndSample();
    void badRequests();
};

void TestMapBins::mapMatchesDefinition_data()
{
    QTest::addColumn<int>("tokens");
    QTest::addColumn<int>("headDim");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<int>("window");
    QTest::addColumn<double>("softcap");
    QTest::addColumn<bool>("bias");
    // Sizes that are not multiples of the 6-row / 16-key tiles nor of the 8-lane vectors.
    QTest::newRow("causal") << 37 << 5 << true << 0 << 0.0 << false;
    QTest::newRow("bidirectional") << 29 << 7 << false << 0 << 0.0 << false;
    QTest::newRow("sliding window") << 41 << 8 << true << 6 << 0.0 << false;
    QTest::newRow("bidirectional window") << 23 << 3 << false << 4 << 0.0 << false;
    QTest::newRow("softcap") << 33 << 16 << true << 0 << 1.5 << false;
    QTest::newRow("mask bias") << 35 << 6 << true << 0 << 0.0 << true;
    QTest::newRow("long head") << 203 << 64 << true << 0 << 0.0 << false;
}

void TestMapBins::mapMatchesDefinition()
{
    QFETCH(int, tokens);
    QFETCH(int, headDim);
    QFETCH(bool, causal);
    QFETCH(int, window);
    QFETCH(double, softcap);
    QFETCH(bool, bias);
    const auto r = makeRun(tokens, headDim, {causal, window, softcap, bias});
    std::vector<double> P, L;
    for (int head = 0; head < 2; ++head) {
        referenceMap(*r, head, &P, &L);
        const RowMatrixXf A = r->attentionMap(0, head);
        const RowMatrixXf X = r->attentionLogits(0, head);
        for (int t = 0; t < tokens; ++t)
            for (int s = 0; s < tokens; ++s) {
                const double want = P[size_t(t * tokens + s)];
                if (std::abs(double(A(t, s)) - want) > 2e-6 + 2e-5 * want)
                    QFAIL(qPrintable(QStringLiteral("p[%1,%2] = %3, want %4").arg(t).arg(s).arg(A(t, s)).arg(want)));
                const double wl = L[size_t(t * tokens + s)];
                if (std::isinf(wl))
                    QVERIFY2(std::isinf(X(t, s)) && X(t, s) < 0, qPrintable(QStringLiteral("logit %1,%2").arg(t).arg(s)));
                else if (std::abs(double(X(t, s)) - wl) > 1e-4 * (1 + std::abs(wl)))
                    QFAIL(qPrintable(QStringLiteral("logit[%1,%2] = %3, want %4").arg(t).arg(s).arg(X(t, s)).arg(wl)));
            }
        // Any block of rows is the same floats as the whole map.
        const RowMatrixXf rows = r->attentionRows(0, head, 7, 9);
        QVERIFY(rows == A.middleRows(7, 9));
    }
}

void TestMapBins::binsMatchFullMap_data()
{
    QTest::addColumn<bool>("causal");
    QTest::addColumn<int>("window");
    QTest::addColumn<double>("softcap");
    QTest::addColumn<bool>("bias");
    QTest::newRow("causal") << true << 0 << 0.0 << false;
    QTest::newRow("bidirectional") << false << 0 << 0.0 << false;
    QTest::newRow("sliding window") << true << 5 << 0.0 << false;
    QTest::newRow("softcap") << true << 0 << 1.5 << false;
    QTest::newRow("mask bias") << true << 0 << 0.0 << true;
}

void TestMapBins::binsMatchFullMap()
{
    QFETCH(bool, causal);
    QFETCH(int, window);
    QFETCH(double, softcap);
    QFETCH(bool, bias);
    const int T = 38;
    const auto r = makeRun(T, 6, {causal, window, softcap, bias});
    const RowMatrixXf P = r->attentionMap(0, 1);
    const RowMatrixXf L = r->attentionLogits(0, 1);
    struct Case {
        int q0, q1, k0, k1, bq, bk;
    };
    // Bins that do not divide the window (partial last bins), square and unequal bins, windows.
    const Case cases[] = {{0, T, 0, T, 4, 3}, {0, T, 0, T, 5, 7}, {0, T, 0, T, 1, 1}, {3, 31, 2, 35, 6, 4}, {10, 11, 0, T, 1, 9}};
    for (bool logits : {false, true})
        for (bool rowNorm : {false, true}) {
            const RowMatrixXf V = shownValues(*r, P, L, logits, rowNorm);
            for (const Case& c : cases) {
                MapBinning b;
                b.quantity = logits ? MapQuantity::Logits : MapQuantity::Probabilities;
                b.rowNormalised = rowNorm;
                b.q0 = c.q0;
                b.q1 = c.q1;
                b.k0 = c.k0;
                b.k1 = c.k1;
                b.binQueries = c.bq;
                b.binKeys = c.bk;
                const MapBins m = binAttentionMap(*r, 0, 1, b);
                // Without the means: the same maxima, no mean matrix.
                MapBinning noMeans = b;
                noMeans.means = false;
                const MapBins mx = binAttentionMap(*r, 0, 1, noMeans);
                QCOMPARE(mx.mean.size(), Eigen::Index(0));
                QVERIFY(sameCells(mx.max, m.max));
                const int gq = (c.q1 - c.q0 + c.bq - 1) / c.bq, gk = (c.k1 - c.k0 + c.bk - 1) / c.bk;
                QCOMPARE(int(m.max.rows()), gq);
                QCOMPARE(int(m.max.cols()), gk);
                for (int i = 0; i < gq; ++i)
                    for (int j = 0; j < gk; ++j) {
                        float best = -INFINITY;
                        double sum = 0;
                        int n = 0;
                        for (int t = c.q0 + i * c.bq; t < std::min(c.q1, c.q0 + (i + 1) * c.bq); ++t)
                            for (int s = c.k0 + j * c.bk; s < std::min(c.k1, c.k0 + (j + 1) * c.bk); ++s)
                                if (!std::isnan(V(t, s))) {
                                    best = std::max(best, V(t, s));
                                    sum += V(t, s);
                                    ++n;
                                }
                        const QString where = QStringLiteral("logits %1 rownorm %2 window %3..%4 x %5..%6 bins %7x%8 cell %9,%10")
                                                  .arg(logits).arg(rowNorm).arg(c.q0).arg(c.q1).arg(c.k0).arg(c.k1).arg(c.bq).arg(c.bk).arg(i).arg(j);
                        if (n == 0) {
                            QVERIFY2(std::isnan(m.max(i, j)) && std::isnan(m.mean(i, j)), qPrintable(where));
                            continue;
                        }
                        QVERIFY2(m.max(i, j) == best, qPrintable(where + QStringLiteral(": max %1 want %2").arg(m.max(i, j)).arg(best)));
                        QVERIFY2(std::abs(double(m.mean(i, j)) - sum / n) <= 1e-6 * (1 + std::abs(sum / n)),
                                 qPrintable(where + QStringLiteral(": mean %1 want %2").arg(m.mean(i, j)).arg(sum / n)));
                    }
                // The whole-map statistics, whatever the window.
                QVERIFY(m.hasWholeMap);
                const Eigen::VectorXf share = analysis::receivedShare(P);
                for (int s = 0; s < T; ++s) {
                    QVERIFY(std::abs(m.share[s] - share[s]) < 1e-6f);
                    float mx = -INFINITY, mn = INFINITY, pos = INFINITY;
                    for (int t = 0; t < T; ++t) {
                        const float v = V(t, s);
                        if (std::isnan(v))
                            continue;
                        mx = std::max(mx, v);
                        mn = std::min(mn, v);
                        if (v > 0)
                            pos = std::min(pos, v);
                    }
                    if (std::isinf(mx)) {
                        QVERIFY(std::isnan(m.columnMax[s]) && std::isnan(m.columnMin[s]));
                    } else {
                        QCOMPARE(m.columnMax[s], mx);
                        QCOMPARE(m.columnMin[s], mn);
                    }
                    QCOMPARE(m.columnMinPositive[s], pos);
                }
            }
        }
}

void TestMapBins::zoomedWindowIsExact()
{
    // 1 x 1 bins of a window are the map's own cells, and no statistics pass is needed for them.
    const auto r = makeRun(300, 64, {true, 0, 0.0, false});
    const RowMatrixXf A = r->attentionMap(0, 0);
    MapBinning b;
    b.q0 = 200;
    b.q1 = 240;
    b.k0 = 100;
    b.k1 = 140;
    b.wholeMap = false;
    const MapBins m = binAttentionMap(*r, 0, 0, b);
    QVERIFY(!m.hasWholeMap);
    QCOMPARE(m.max.rows(), Eigen::Index(40));
    for (int i = 0; i < 40; ++i)
        for (int j = 0; j < 40; ++j) {
            QCOMPARE(m.max(i, j), A(200 + i, 100 + j));
            QCOMPARE(m.mean(i, j), A(200 + i, 100 + j));
        }
    // Above the diagonal of a causal map: masked, no value.
    b.q0 = 0;
    b.q1 = 10;
    b.k0 = 50;
    b.k1 = 60;
    const MapBins above = binAttentionMap(*r, 0, 0, b);
    for (int i = 0; i < 10; ++i)
        for (int j = 0; j < 10; ++j)
            QVERIFY(std::isnan(above.max(i, j)));
}

void TestMapBins::storedMapsAndThreads()
{
    const int T = 300; // enough cells for the work to be split between threads
    const auto qk = makeRun(T, 16, {true, 0, 0.0, false});
    // The same maps stored (as a run with capture on keeps them), without Q/K.
    auto stored = std::make_shared<RunResult>(*qk);
    stored->attention.resize(size_t(2 * T * T));
    for (int h = 0; h < 2; ++h) {
        const RowMatrixXf A = qk->attentionMap(0, h);
        std::copy(A.data(), A.data() + T * T, stored->attention.begin() + h * T * T);
    }
    stored->queries = Tensor{};
    stored->keys = Tensor{};
    MapBinning b;
    b.binQueries = 7;
    b.binKeys = 4;
    b.rowNormalised = true;
    b.threads = 1;
    const MapBins one = binAttentionMap(*qk, 0, 1, b);
    b.threads = 3;
    const MapBins three = binAttentionMap(*qk, 0, 1, b);
    const MapBins fromStored = binAttentionMap(*stored, 0, 1, b);
    // Every bin group is one worker's: the bins do not depend on the thread count.
    QVERIFY(sameCells(one.max, three.max));
    QVERIFY(sameCells(one.mean, three.mean));
    QVERIFY(sameCells(one.max, fromStored.max));
    QVERIFY((one.share - three.share).cwiseAbs().maxCoeff() < 1e-6f);
    QVERIFY(sameCells(one.columnMax, fromStored.columnMax));
    QVERIFY(std::isnan(one.max(0, 2))); // queries 0..6 x keys 8..11: all masked
    // Logits need Q/K.
    b.quantity = MapQuantity::Logits;
    QVERIFY_THROWS_EXCEPTION(Error, binAttentionMap(*stored, 0, 1, b));
}

void TestMapBins::sinkColumnAndSample()
{
    const int T = 64;
    const auto r = makeRun(T, 8, {true, 0, 0.0, false});
    const RowMatrixXf A = r->attentionMap(0, 0);
    MapBinning b;
    b.binQueries = b.binKeys = 8;
    b.sampleCells = 100; // stride 40
    const MapBins m = binAttentionMap(*r, 0, 0, b);
    QCOMPARE(m.sampleStride, int64_t(40));
    QCOMPARE(analysis::topElement(m.share).element, analysis::topElement(analysis::receivedShare(A)).element);
    QCOMPARE(analysis::topElement(m.share).element, 0); // the planted sink key
    std::vector<std::pair<int, float>> want, got;
    for (int c = 0; c < T * T; c += 40)
        if (c % T <= c / T) // visible in a causal map
            want.emplace_back(c % T, A(c / T, c % T));
    for (size_t i = 0; i < m.sample.size(); ++i)
        got.emplace_back(m.sampleKey[i], m.sample[i]);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    QVERIFY(want == got);
}

void TestMapBins::badRequests()
{
    const auto r = makeRun(10, 4, {});
    MapBinning b;
    QVERIFY_THROWS_EXCEPTION(Error, binAttentionMap(*r, 1, 0, b)); // layer outside
    QVERIFY_THROWS_EXCEPTION(Error, binAttentionMap(*r, 0, 2, b)); // head outside
    b.q1 = 11;
    QVERIFY_THROWS_EXCEPTION(Error, binAttentionMap(*r, 0, 0, b));
    b.q1 = -1;
    b.k0 = 5;
    b.k1 = 4;
    QVERIFY_THROWS_EXCEPTION(Error, binAttentionMap(*r, 0, 0, b));
    b.k0 = 0;
    b.k1 = -1;
    b.binKeys = 0;
    QVERIFY_THROWS_EXCEPTION(Error, binAttentionMap(*r, 0, 0, b));
    b.binKeys = 1;
    const MapBins ok = binAttentionMap(*r, 0, 0, b);
    QCOMPARE(ok.max.rows(), Eigen::Index(10));
    // A cancelled pass says so rather than returning partial bins.
    const std::atomic<bool> cancelled{true};
    b.cancel = &cancelled;
    try {
        binAttentionMap(*r, 0, 0, b);
        QFAIL("a cancelled pass returned");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Cancelled);
    }
}

QTEST_GUILESS_MAIN(TestMapBins)
#include "tst_mapbins.moc"
