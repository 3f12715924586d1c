// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis layer against numbers worked out by hand on small constructed maps and vectors.
// Every expected value below is derived in the comment next to it, never by the code under test.
#include "sinkscope/analysis.h"
#include "sinkscope/error.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace sinkscope;
using namespace sinkscope::analysis;

using Floats = std::vector<float>;
Q_DECLARE_METATYPE(Floats)

namespace {

RowMatrixXf matrix(int rows, int cols, const Floats& v)
{
    return Eigen::Map<const RowMatrixXf>(v.data(), rows, cols);
}

RowMatrixXf square(const Floats& v)
{
    const int T = int(std::lround(std::sqrt(double(v.size()))));
    return matrix(T, T, v);
}

void compareVector(const Eigen::VectorXf& got, const Floats& want, float tol = 1e-5f)
{
    QCOMPARE(size_t(got.size()), want.size());
    for (size_t i = 0; i < want.size(); ++i)
        if (std::fabs(got[Eigen::Index(i)] - want[i]) > tol)
            QFAIL(qPrintable(QStringLiteral("entry %1: got %2, want %3").arg(i).arg(got[Eigen::Index(i)], 0, 'g', 9).arg(want[i], 0, 'g', 9)));
}

// Causal 3 x 3 map used by several rows:
//   t=0: 1    0    0
//   t=1: 0.5  0.5  0
//   t=2: 0.2  0.3  0.5
const Floats kCausal3 = {1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f};
// Bidirectional 3 x 3 map:
//   0.6 0.2 0.2 / 0.5 0.25 0.25 / 0.4 0.4 0.2
const Floats kBidi3 = {0.6f, 0.2f, 0.2f, 0.5f, 0.25f, 0.25f, 0.4f, 0.4f, 0.2f};

Tensor tensor(std::vector<int64_t> shape, Floats data)
{
    Tensor t;
    t.shape = std::move(shape);
    t.data = std::move(data);
    return t;
}

// A planted-waiver causal 4 x 4 map: every query t >= 1 puts 0.9 on element 0 and spreads 0.1
// evenly over its other visible keys.
const Floats kPlanted4 = {
    1.0f, 0, 0, 0,
    0.9f, 0.1f, 0, 0,
    0.9f, 0.05f, 0.05f, 0,
    0.9f, 0.1f / 3, 0.1f / 3, 0.1f / 3,
};

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void overHeadsOfOneElement();
    void meanEntropyPerHead();
    void importanceScores_data();
    void importanceScores();
    void uniformBaseline_data();
    void uniformBaseline();
    void firstMass_data();
    void firstMass();
    void entropy_data();
    void entropy();
    void shareAndTop_data();
    void shareAndTop();
    void sinkRateCounts_data();
    void sinkRateCounts();
    void sinkRateRejectsK();
    void sinkCurveOverHeads();
    void norms_data();
    void norms();
    void contributionAndWritten();
    void waiver_data();
    void waiver();
    void waiverExactlyZeroForOrdinaryElements();
    void keySide();
    void keySideRows_data();
    void keySideRows();
    void dimStatistics_data();
    void dimStatistics();
    void median_data();
    void median();
    void hiddenAndMassive_data();
    void hiddenAndMassive();
    void firstAgainstOthers();
    void accumulator();
    void promptFiles_data();
    void promptFiles();
    void runFindsPlantedWaiver();
    void threadsGiveTheSameMetrics();
    void aggregateOverPrompts();
    void aggregateRefusesMixedLengths();
};

void TestAnalysis::importanceScores_data()
{
    QTest::addColumn<Floats>("map");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<Floats>("alpha");
    // alpha_0 = (1 + 0.5 + 0.2) / 3 = 0.566667; alpha_1 = (0.5 + 0.3) / 2 = 0.4; alpha_2 = 0.5 / 1
    QTest::newRow("causal: mean over t >= k") << kCausal3 << true << Floats{0.5666667f, 0.4f, 0.5f};
    // column means: (0.6+0.5+0.4)/3 = 0.5; (0.2+0.25+0.4)/3 = 0.283333; (0.2+0.25+0.2)/3 = 0.216667
    QTest::newRow("bidirectional: mean over all t") << kBidi3 << false << Floats{0.5f, 0.2833333f, 0.2166667f};
    // T = 1: the only query sees only itself.
    QTest::newRow("single element") << Floats{1.0f} << true << Floats{1.0f};
}

void TestAnalysis::importanceScores()
{
    QFETCH(Floats, map);
    QFETCH(bool, causal);
    QFETCH(Floats, alpha);
    compareVector(importance(square(map), causal), alpha);
}

void TestAnalysis::uniformBaseline_data()
{
    QTest::addColumn<int>("tokens");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<Floats>("expected");
    // u_2 = (1/3) / 1; u_1 = (1/2 + 1/3) / 2 = 0.416667; u_0 = (1 + 1/2 + 1/3) / 3 = 0.611111
    QTest::newRow("causal T=3") << 3 << true << Floats{0.6111111f, 0.4166667f, 0.3333333f};
    QTest::newRow("bidirectional T=4") << 4 << false << Floats{0.25f, 0.25f, 0.25f, 0.25f};
}

void TestAnalysis::uniformBaseline()
{
    QFETCH(int, tokens);
    QFETCH(bool, causal);
    QFETCH(Floats, expected);
    compareVector(uniformImportance(tokens, causal).cast<float>(), expected);
}

void TestAnalysis::firstMass_data()
{
    QTest::addColumn<Floats>("map");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<float>("mass");
    // causal skips row 0: (0.5 + 0.2) / 2 = 0.35
    QTest::newRow("causal") << kCausal3 << true << 0.35f;
    // (0.6 + 0.5 + 0.4) / 3 = 0.5
    QTest::newRow("bidirectional") << kBidi3 << false << 0.5f;
    QTest::newRow("causal T=1 has no information") << Floats{1.0f} << true << 0.0f;
}

void TestAnalysis::firstMass()
{
    QFETCH(Floats, map);
    QFETCH(bool, causal);
    QFETCH(float, mass);
    QVERIFY(std::fabs(firstElementMass(square(map), causal) - mass) < 1e-6f);
}

void TestAnalysis::entropy_data()
{
    QTest::addColumn<Floats>("map");
    QTest::addColumn<Floats>("entropy");
    // rows: [1,0,0] -> 0; [0.5,0.5,0] -> ln 2 = 0.693147;
    // [0.25,0.25,0.5] -> 2 * 0.25 * ln 4 + 0.5 * ln 2 = 0.693147 + 0.346574 = 1.039721
    QTest::newRow("mixed rows") << Floats{1, 0, 0, 0.5f, 0.5f, 0, 0.25f, 0.25f, 0.5f} << Floats{0.0f, 0.6931472f, 1.0397208f};
    // uniform over 4 keys: ln 4 = 1.386294 in every row
    QTest::newRow("uniform bidirectional") << Floats(16, 0.25f) << Floats(4, 1.3862944f);
}

void TestAnalysis::entropy()
{
    QFETCH(Floats, map);
    QFETCH(Floats, entropy);
    compareVector(rowEntropy(square(map)), entropy);
}

void TestAnalysis::shareAndTop_data()
{
    QTest::addColumn<Floats>("map");
    QTest::addColumn<Floats>("share");
    QTest::addColumn<int>("top");
    // column sums 1.7, 0.8, 0.5 over T = 3 -> 0.566667, 0.266667, 0.166667
    QTest::newRow("first element") << kCausal3 << Floats{0.5666667f, 0.2666667f, 0.1666667f} << 0;
    // 1 0 0 0 / 0.2 0.8 0 0 / 0.1 0.1 0.8 0 / 0.1 0.1 0.7 0.1
    // column sums 1.4, 1.0, 1.5, 0.1 over T = 4 -> 0.35, 0.25, 0.375, 0.025: element 2 (a '.') wins
    QTest::newRow("a later element") << Floats{1, 0, 0, 0, 0.2f, 0.8f, 0, 0, 0.1f, 0.1f, 0.8f, 0, 0.1f, 0.1f, 0.7f, 0.1f}
                                     << Floats{0.35f, 0.25f, 0.375f, 0.025f} << 2;
    // ties go to the lower index
    QTest::newRow("tie") << Floats(4, 0.5f) << Floats{0.5f, 0.5f} << 0;
}

void TestAnalysis::shareAndTop()
{
    QFETCH(Floats, map);
    QFETCH(Floats, share);
    QFETCH(int, top);
    const Eigen::VectorXf s = receivedShare(square(map));
    compareVector(s, share);
    QCOMPARE(topElement(s).element, top);
    QVERIFY(std::fabs(topElement(s).share - share[size_t(top)]) < 1e-6f);
}

void TestAnalysis::sinkRateCounts_data()
{
    QTest::addColumn<int>("k");
    QTest::addColumn<double>("epsilon");
    QTest::addColumn<int>("above");
    QTest::addColumn<double>("percent");
    // alpha [2 layers, 2 heads, T = 3]; alpha_0 = 0.9, 0.2, 0.31, 0.3; alpha_1 = 0.05, 0.5, 0.1, 0.1
    // k = 0, eps = 0.3: 0.9 and 0.31 are > 0.3 (0.3 is not) -> 2 of 4 = 50 %
    QTest::newRow("k=0 eps=0.3") << 0 << 0.3 << 2 << 50.0;
    // eps = 0.1: all four alpha_0 exceed 0.1 -> 100 %
    QTest::newRow("k=0 eps=0.1") << 0 << 0.1 << 4 << 100.0;
    // k = 1, eps = 0.3: only 0.5 -> 1 of 4 = 25 %
    QTest::newRow("k=1 eps=0.3") << 1 << 0.3 << 1 << 25.0;
}

void TestAnalysis::sinkRateCounts()
{
    QFETCH(int, k);
    QFETCH(double, epsilon);
    QFETCH(int, above);
    QFETCH(double, percent);
    const Tensor alpha = tensor({2, 2, 3}, {0.9f, 0.05f, 0.05f, 0.2f, 0.5f, 0.3f, 0.31f, 0.1f, 0.6f, 0.3f, 0.1f, 0.6f});
    const SinkRate r = sinkRate(alpha, k, epsilon);
    QCOMPARE(r.pairs, 4);
    QCOMPARE(r.above, above);
    QCOMPARE(r.percent, percent);
    QCOMPARE(r.tokens, int64_t(3));
    QCOMPARE(r.k, k);
}

void TestAnalysis::sinkRateRejectsK()
{
    const Tensor alpha = tensor({1, 1, 2}, {0.5f, 0.5f});
    QVERIFY_THROWS_EXCEPTION(Error, sinkRate(alpha, 2, 0.3));
    QVERIFY_THROWS_EXCEPTION(Error, sinkRate(alpha, -1, 0.3));
}

void TestAnalysis::sinkCurveOverHeads()
{
    // [1 layer, 2 heads, T = 3] first-element mass per query:
    // head 0: 1, 0.5, 0.2 -> mean over t >= 1 = 0.35, last 0.2
    // head 1: 1, 0.9, 0.7 -> mean over t >= 1 = 0.8,  last 0.7
    // over heads: mean (0.35 + 0.8) / 2 = 0.575, std |0.8 - 0.35| / 2 = 0.225;
    //             last mean (0.2 + 0.7) / 2 = 0.45, std 0.25
    const Tensor mass = tensor({1, 2, 3}, {1, 0.5f, 0.2f, 1, 0.9f, 0.7f});
    const SinkCurve c = sinkCurve(mass, true);
    compareVector(c.mean, {0.575f});
    compareVector(c.std, {0.225f});
    compareVector(c.lastMean, {0.45f});
    compareVector(c.lastStd, {0.25f});
}

void TestAnalysis::overHeadsOfOneElement()
{
    // alpha [2 layers, 3 heads, T = 2]; element 1:
    // layer 0: heads 0.1, 0.4, 0.7 -> mean 0.4, std sqrt((0.09 + 0 + 0.09) / 3) = sqrt(0.06)
    // layer 1: heads 0.5, 0.5, 0.5 -> mean 0.5, std 0
    const Tensor alpha = tensor({2, 3, 2}, {9, 0.1f, 9, 0.4f, 9, 0.7f, 0, 0.5f, 0, 0.5f, 0, 0.5f});
    const OverHeads o = overHeadsAt(alpha, 1);
    QCOMPARE(o.mean.size(), Eigen::Index(2));
    QVERIFY(std::abs(o.mean[0] - 0.4) < 1e-7);
    QVERIFY(std::abs(o.std[0] - std::sqrt(0.06)) < 1e-7);
    QVERIFY(std::abs(o.mean[1] - 0.5) < 1e-7);
    QVERIFY(std::abs(o.std[1]) < 1e-7);
    // Element 0: layer 0 all 9 -> mean 9, std 0.
    QVERIFY(std::abs(overHeadsAt(alpha, 0).mean[0] - 9.0) < 1e-6);
    QVERIFY_THROWS_EXCEPTION(Error, overHeadsAt(alpha, 2));
    QVERIFY_THROWS_EXCEPTION(Error, overHeadsAt(alpha, -1));
    QVERIFY_THROWS_EXCEPTION(Error, overHeadsAt(tensor({6}, {0, 0, 0, 0, 0, 0}), 0));
}

void TestAnalysis::meanEntropyPerHead()
{
    // entropy [1 layer, 2 heads, T = 3]: head 0: 0, ln 2, 1.5; head 1: 0, 0.2, 0.4.
    const Tensor h = tensor({1, 2, 3}, {0, float(std::log(2.0)), 1.5f, 0, 0.2f, 0.4f});
    // Causal: row 0 has no choice, mean over t = 1, 2: (ln 2 + 1.5) / 2; (0.2 + 0.4) / 2 = 0.3.
    QVERIFY(std::abs(meanRowEntropy(h, 0, 0, true) - (std::log(2.0) + 1.5) / 2) < 1e-6);
    QVERIFY(std::abs(meanRowEntropy(h, 0, 1, true) - 0.3) < 1e-6);
    // Bidirectional: every row, (0 + 0.2 + 0.4) / 3 = 0.2.
    QVERIFY(std::abs(meanRowEntropy(h, 0, 1, false) - 0.2) < 1e-6);
    // One token: its own row (entropy 0); no tokens: no value.
    QCOMPARE(meanRowEntropy(tensor({1, 1, 1}, {0}), 0, 0, true), 0.0);
    Tensor empty;
    empty.shape = {1, 1, 0};
    QVERIFY(std::isnan(meanRowEntropy(empty, 0, 0, true)));
    QVERIFY_THROWS_EXCEPTION(Error, meanRowEntropy(h, 0, 2, true));
    QVERIFY_THROWS_EXCEPTION(Error, meanRowEntropy(h, 1, 0, true));
}

void TestAnalysis::norms_data()
{
    QTest::addColumn<int>("cols");
    QTest::addColumn<Floats>("rows");
    QTest::addColumn<Floats>("norms");
    QTest::newRow("3-4-5") << 2 << Floats{3, 4, 0, 0} << Floats{5, 0};
    QTest::newRow("1-2-2") << 3 << Floats{1, 2, 2, -2, 1, -2} << Floats{3, 3};
}

void TestAnalysis::norms()
{
    QFETCH(int, cols);
    QFETCH(Floats, rows);
    QFETCH(Floats, norms);
    compareVector(rowNorms(matrix(int(rows.size()) / cols, cols, rows)), norms);
}

void TestAnalysis::contributionAndWritten()
{
    // values v_0 = [1, 0], v_1 = [0, 2]; W_O^h [hd = 2, D = 3] = [[1, 2, 2], [0, 0, 1]]
    // v_0 W = [1, 2, 2] -> 3; v_1 W = [0, 0, 2] -> 2
    const RowMatrixXf v = matrix(2, 2, {1, 0, 0, 2});
    const RowMatrixXf wo = matrix(2, 3, {1, 2, 2, 0, 0, 1});
    compareVector(contributionNorms(v, wo), {3, 2});
    // written_j = c_j * column sum: causal 3 x 3 column sums 1.7, 0.8, 0.5 with c = 2, 1, 4
    // -> 3.4, 0.8, 2.0
    compareVector(writtenNorms(square(kCausal3), Eigen::Vector3f(2, 1, 4)), {3.4f, 0.8f, 2.0f});
    QVERIFY_THROWS_EXCEPTION(Error, contributionNorms(v, matrix(3, 1, {1, 1, 1})));
}

void TestAnalysis::waiver_data()
{
    QTest::addColumn<Floats>("map");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<Floats>("norms");
    QTest::addColumn<Floats>("excess");
    QTest::addColumn<Floats>("deficit");
    QTest::addColumn<Floats>("score");
    // Planted waiver at 0 with ||v_0|| = 0.01, others 1.
    // alpha_0 = (1 + 3 * 0.9) / 4 = 0.925; u_0 = (1 + 1/2 + 1/3 + 1/4) / 4 = 0.5208333
    // excess_0 = (0.925 - 0.5208333) / (1 - 0.5208333) = 0.4041667 / 0.4791667 = 0.8434783
    // alpha_1 = (0.1 + 0.05 + 0.0333) / 3 = 0.0611111 < u_1 = (1/2+1/3+1/4)/3 = 0.3611111 -> 0
    // alpha_2 = (0.05 + 0.0333) / 2 = 0.0416667 < u_2 = (1/3+1/4)/2 = 0.2916667 -> 0
    // alpha_3 = 0.0333 < u_3 = 0.25 -> 0
    // median of (0.01, 1, 1, 1) = (1 + 1) / 2 = 1; deficit_0 = 1 - 0.01 = 0.99, others 1 - 1 = 0
    // score_0 = 0.8434783 * 0.99 = 0.8350435
    QTest::newRow("planted first-element waiver") << kPlanted4 << true << Floats{0.01f, 1, 1, 1}
                                                  << Floats{0.8434783f, 0, 0, 0} << Floats{0.99f, 0, 0, 0}
                                                  << Floats{0.8350435f, 0, 0, 0};
    // Near 1: 0.99 on element 0 and a zero value vector.
    // alpha_0 = (1 + 3 * 0.99) / 4 = 0.9925; excess = (0.9925 - 0.5208333) / 0.4791667 = 0.9843478
    // deficit_0 = 1 - 0 / 1 = 1 -> score 0.9843478
    const Floats strong = {1, 0, 0, 0, 0.99f, 0.01f, 0, 0, 0.99f, 0.005f, 0.005f, 0, 0.99f, 0.01f / 3, 0.01f / 3, 0.01f / 3};
    QTest::newRow("strong waiver scores near 1") << strong << true << Floats{0, 1, 1, 1}
                                                 << Floats{0.9843478f, 0, 0, 0} << Floats{1, 0, 0, 0}
                                                 << Floats{0.9843478f, 0, 0, 0};
    // Bidirectional 2 x 2: 0.8 0.2 / 0.6 0.4, norms 0.5 and 2.
    // alpha = 0.7, 0.3; u = 0.5; excess_0 = 0.2 / 0.5 = 0.4, excess_1 clipped to 0
    // median = (0.5 + 2) / 2 = 1.25; deficit_0 = 1 - 0.4 = 0.6, deficit_1 = clip(1 - 1.6) = 0
    // score = 0.24, 0
    QTest::newRow("bidirectional") << Floats{0.8f, 0.2f, 0.6f, 0.4f} << false << Floats{0.5f, 2}
                                   << Floats{0.4f, 0} << Floats{0.6f, 0} << Floats{0.24f, 0};
    // A sink that writes as much as the others is not a waiver: deficit 0 -> score 0.
    QTest::newRow("sink with ordinary values") << kPlanted4 << true << Floats{1, 1, 1, 1}
                                               << Floats{0.8434783f, 0, 0, 0} << Floats{0, 0, 0, 0} << Floats{0, 0, 0, 0};
}

void TestAnalysis::waiver()
{
    QFETCH(Floats, map);
    QFETCH(bool, causal);
    QFETCH(Floats, norms);
    QFETCH(Floats, excess);
    QFETCH(Floats, deficit);
    QFETCH(Floats, score);
    const WaiverScores w = waiverScores(square(map), causal, Eigen::Map<const Eigen::VectorXf>(norms.data(), Eigen::Index(norms.size())));
    compareVector(w.excess, excess);
    compareVector(w.deficit, deficit);
    compareVector(w.score, score);
}

void TestAnalysis::waiverExactlyZeroForOrdinaryElements()
{
    // Uniform causal attention and equal norms: nothing is special, every score is exactly 0.
    const int T = 6;
    RowMatrixXf A = RowMatrixXf::Zero(T, T);
    for (int t = 0; t < T; ++t)
        A.row(t).head(t + 1).setConstant(1.0f / float(t + 1));
    const WaiverScores w = waiverScores(A, true, Eigen::VectorXf::Constant(T, 0.7f));
    for (int j = 0; j < T; ++j)
        QCOMPARE(w.score[j], 0.0f);
    // The planted waiver's neighbours score exactly 0 too (their norm is the median).
    const WaiverScores p = waiverScores(square(kPlanted4), true, Eigen::Vector4f(0, 1, 1, 1));
    QCOMPARE(p.score[1], 0.0f);
    QCOMPARE(p.score[2], 0.0f);
    QCOMPARE(p.score[3], 0.0f);
}

void TestAnalysis::keySide()
{
    // Q = [1,0], [1,1], [0,2]; K = [2,0], [0,1], [1,1]; element 0, causal.
    // ||q|| = 1, 1.414214, 2; ||k|| = 2, 1, 1.414214
    // q_t . k_0 = 2, 2, 0; cos = 2/(1*2) = 1, 2/(1.414214*2) = 0.707107, 0
    // keyNormOthers = (1 + 1.414214) / 2 = 1.207107
    // meanCosine over t >= 0 = (1 + 0.707107 + 0) / 3 = 0.569036; meanQueryNorm = 4.414214 / 3 = 1.471405
    // others: t=1, j=1: 1 / 1.414214 = 0.707107; t=2, j=1: 2 / 2 = 1; t=2, j=2: 2 / (2 * 1.414214) = 0.707107
    //   mean = 2.414214 / 3 = 0.804738
    const RowMatrixXf Q = matrix(3, 2, {1, 0, 1, 1, 0, 2});
    const RowMatrixXf K = matrix(3, 2, {2, 0, 0, 1, 1, 1});
    const KeyDecomposition d = keyDecomposition(Q, K, 0, true);
    compareVector(d.dot, {2, 2, 0});
    compareVector(d.queryNorm, {1, 1.4142136f, 2});
    compareVector(d.cosine, {1, 0.7071068f, 0});
    QVERIFY(std::fabs(d.keyNorm - 2.0f) < 1e-6f);
    QVERIFY(std::fabs(d.keyNormOthers - 1.2071068f) < 1e-6f);
    QVERIFY(std::fabs(d.meanCosine - 0.5690356f) < 1e-6f);
    QVERIFY(std::fabs(d.meanQueryNorm - 1.4714045f) < 1e-6f);
    QVERIFY(std::fabs(d.meanCosineOthers - 0.8047379f) < 1e-6f);
    // the split really is a factorisation: dot = ||q|| ||k|| cos
    for (int t = 0; t < 3; ++t)
        QVERIFY(std::fabs(d.dot[t] - d.queryNorm[t] * d.keyNorm * d.cosine[t]) < 1e-5f);
    QVERIFY_THROWS_EXCEPTION(Error, keyDecomposition(Q, K, 3, true));
}

void TestAnalysis::keySideRows_data()
{
    QTest::addColumn<int>("element");
    QTest::addColumn<bool>("causal");
    QTest::addColumn<float>("keyNormOthers");
    QTest::addColumn<float>("meanCosine");
    QTest::addColumn<float>("meanCosineOthers");
    QTest::addColumn<float>("meanQueryNorm");
    // Same Q and K as keySide(). Cosines of every (query, key) pair:
    //          k_0 = [2,0]  k_1 = [0,1]  k_2 = [1,1]
    // q_0=[1,0]   1           0            0.707107
    // q_1=[1,1]   0.707107    0.707107     1
    // q_2=[0,2]   0           1            0.707107
    // bidirectional, s = 0: cos mean (1 + 0.707107 + 0) / 3 = 0.569036; others: columns 1 and 2 of
    // every row: (0 + 0.707107 + 0.707107 + 1 + 1 + 0.707107) / 6 = 4.121320 / 6 = 0.686887
    QTest::newRow("bidirectional s=0") << 0 << false << 1.2071068f << 0.5690356f << 0.6868867f << 1.4714045f;
    // causal, s = 1: queries 1 and 2; cos (0.707107 + 1) / 2 = 0.853553; others: t=1 j=0 0.707107,
    // t=2 j=0 0, t=2 j=2 0.707107 -> 1.414214 / 3 = 0.471405; ||q|| (1.414214 + 2) / 2 = 1.707107;
    // ||k|| of the others (2 + 1.414214) / 2 = 1.707107
    QTest::newRow("causal s=1") << 1 << true << 1.7071068f << 0.8535534f << 0.4714045f << 1.7071068f;
}

void TestAnalysis::keySideRows()
{
    QFETCH(int, element);
    QFETCH(bool, causal);
    QFETCH(float, keyNormOthers);
    QFETCH(float, meanCosine);
    QFETCH(float, meanCosineOthers);
    QFETCH(float, meanQueryNorm);
    const KeyDecomposition d = keyDecomposition(matrix(3, 2, {1, 0, 1, 1, 0, 2}), matrix(3, 2, {2, 0, 0, 1, 1, 1}), element, causal);
    QVERIFY(std::fabs(d.keyNormOthers - keyNormOthers) < 1e-6f);
    QVERIFY(std::fabs(d.meanCosine - meanCosine) < 1e-6f);
    QVERIFY(std::fabs(d.meanCosineOthers - meanCosineOthers) < 1e-6f);
    QVERIFY(std::fabs(d.meanQueryNorm - meanQueryNorm) < 1e-6f);
}

void TestAnalysis::dimStatistics_data()
{
    QTest::addColumn<std::vector<int>>("which");
    QTest::addColumn<Floats>("mean");
    QTest::addColumn<Floats>("std");
    QTest::addColumn<Floats>("maxAbs");
    // X = [1, -2] / [3, 0] / [5, 4]
    // rows 0, 2: dim 0 = 1, 5 -> mean 3, std 2; dim 1 = -2, 4 -> mean 1, std 3; max |x| 5, 4
    QTest::newRow("rows 0 and 2") << std::vector<int>{0, 2} << Floats{3, 1} << Floats{2, 3} << Floats{5, 4};
    // row 1 alone: mean = the row, std 0
    QTest::newRow("row 1") << std::vector<int>{1} << Floats{3, 0} << Floats{0, 0} << Floats{3, 0};
    // all: dim 0 = 1, 3, 5 -> mean 3, std sqrt(8/3) = 1.632993; dim 1 = -2, 0, 4 -> mean 0.666667,
    // deviations -2.666667, -0.666667, 3.333333 -> squares 7.111111 + 0.444444 + 11.111111 = 18.666667
    // -> std sqrt(6.222222) = 2.494438; max |x| 5, 4
    QTest::newRow("all") << std::vector<int>{0, 1, 2} << Floats{3, 0.6666667f} << Floats{1.6329932f, 2.4944383f}
                         << Floats{5, 4};
}

void TestAnalysis::dimStatistics()
{
    QFETCH(std::vector<int>, which);
    QFETCH(Floats, mean);
    QFETCH(Floats, std);
    QFETCH(Floats, maxAbs);
    const RowMatrixXf X = matrix(3, 2, {1, -2, 3, 0, 5, 4});
    const DimStats s = dimStats(X, which);
    QCOMPARE(s.count, int(which.size()));
    compareVector(s.mean, mean);
    compareVector(s.std, std);
    compareVector(s.maxAbs, maxAbs);
}

void TestAnalysis::median_data()
{
    QTest::addColumn<int>("cols");
    QTest::addColumn<Floats>("values");
    QTest::addColumn<float>("median");
    // |x| = 1, 5, 3, 2 -> sorted 1, 2, 3, 5 -> (2 + 3) / 2
    QTest::newRow("even") << 2 << Floats{1, -5, 3, 2} << 2.5f;
    // |x| = 7, 1, 4 -> 4
    QTest::newRow("odd") << 3 << Floats{-7, 1, 4} << 4.0f;
}

void TestAnalysis::median()
{
    QFETCH(int, cols);
    QFETCH(Floats, values);
    QFETCH(float, median);
    QCOMPARE(medianAbs(matrix(int(values.size()) / cols, cols, values)), median);
}

void TestAnalysis::hiddenAndMassive_data()
{
    QTest::addColumn<double>("absolute");
    QTest::addColumn<double>("relative");
    QTest::addColumn<int>("flagged");
    // hidden [T = 3, D = 4]: all 1 except h[0, 2] = 2000 and h[1, 3] = -300.
    // |h| sorted: ten 1s, 300, 2000 -> median (1 + 1) / 2 = 1.
    // Sun et al. defaults (> 100 and >= 1000 x 1): only 2000.
    QTest::newRow("defaults") << 100.0 << 1000.0 << 1;
    // relative 100: 300 >= 100 too
    QTest::newRow("relative 100") << 100.0 << 100.0 << 2;
    // absolute 5000: nothing
    QTest::newRow("absolute 5000") << 5000.0 << 1000.0 << 0;
}

void TestAnalysis::hiddenAndMassive()
{
    QFETCH(double, absolute);
    QFETCH(double, relative);
    QFETCH(int, flagged);
    RowMatrixXf h = RowMatrixXf::Ones(3, 4);
    h(0, 2) = 2000.0f;
    h(1, 3) = -300.0f;
    const HiddenStats s = hiddenStats(h);
    QCOMPARE(s.median, 1.0f);
    compareVector(s.maxAbs, {1, 1, 2000, 300});
    QCOMPARE(s.argmax[2], 0);
    QCOMPARE(s.argmax[3], 1);
    QCOMPARE(s.argmax[0], 0); // ties: lowest element
    QCOMPARE(int(s.top.size()), 3);
    QCOMPARE(s.top[0].value, 2000.0f);
    QCOMPARE(s.top[1].value, -300.0f);
    QCOMPARE(s.top[1].element, 1);
    QCOMPARE(s.top[1].dim, 3);
    QCOMPARE(std::fabs(s.top[2].value), 1.0f);
    const std::vector<Activation> m = massiveActivations(h, s.median, {absolute, relative});
    QCOMPARE(int(m.size()), flagged);
    if (flagged > 0) {
        QCOMPARE(m[0].element, 0);
        QCOMPARE(m[0].dim, 2);
        QCOMPARE(m[0].value, 2000.0f);
    }
    if (flagged > 1)
        QCOMPARE(m[1].value, -300.0f);
}

void TestAnalysis::firstAgainstOthers()
{
    // first 4; others (1 + 2 + 3) / 3 = 2
    const FirstVsOthers f = firstVsOthers(Eigen::Vector4f(4, 1, 2, 3));
    QCOMPARE(f.first, 4.0f);
    QCOMPARE(f.others, 2.0f);
    QCOMPARE(firstVsOthers(Eigen::VectorXf::Constant(1, 3.0f)).others, 0.0f);
}

void TestAnalysis::accumulator()
{
    // [1, 2] and [3, 6]: mean [2, 4], population std [1, 2]
    Accumulator a;
    a.add({1, 2});
    a.add({3, 6});
    QCOMPARE(a.count(), 2);
    QCOMPARE(a.mean(), (Floats{2, 4}));
    QCOMPARE(a.std(), (Floats{1, 2}));
    QVERIFY_THROWS_EXCEPTION(Error, a.add({1}));
}

void TestAnalysis::promptFiles_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<bool>("jsonl");
    QTest::addColumn<QStringList>("texts");
    QTest::addColumn<QList<int>>("lines");
    QTest::addColumn<QList<int>>("badLines");
    QTest::newRow("text with blank lines and CRLF")
        << QByteArray("one\n\ntwo words\r\n   \nthree") << false << QStringList{"one", "two words", "three"}
        << QList<int>{1, 3, 5} << QList<int>{};
    QTest::newRow("text with invalid UTF-8 on line 2")
        << QByteArray("first\n\xff\xfe bad\nthird\n") << false << QStringList{"first", "third"} << QList<int>{1, 3}
        << QList<int>{2};
    QTest::newRow("jsonl with bad lines")
        << QByteArray("{\"text\": \"a\"}\n\n{\"text\": 5}\nnot json\n{\"x\": 1}\n{\"text\": \"\"}\n[\"a\"]\n"
                      "{\"text\": \"b\\nc\", \"id\": 7}\r\n")
        << true << QStringList{"a", "b\nc"} << QList<int>{1, 8} << QList<int>{3, 4, 5, 6, 7};
    QTest::newRow("jsonl with a raw tab inside a string")
        << QByteArray("{\"text\": \"a\tb\"}\n{\"text\": \"a\\tb\"}\n") << true << QStringList{"a\tb"} << QList<int>{2}
        << QList<int>{1};
    QTest::newRow("byte-order mark") << QByteArray("\xEF\xBB\xBF{\"text\": \"x\"}\n") << true << QStringList{"x"}
                                     << QList<int>{1} << QList<int>{};
    QTest::newRow("empty file") << QByteArray() << false << QStringList{} << QList<int>{} << QList<int>{};
}

void TestAnalysis::promptFiles()
{
    QFETCH(QByteArray, bytes);
    QFETCH(bool, jsonl);
    QFETCH(QStringList, texts);
    QFETCH(QList<int>, lines);
    QFETCH(QList<int>, badLines);
    const PromptSet set = parsePromptSet(bytes.toStdString());
    QCOMPARE(set.jsonl, jsonl);
    QStringList gotTexts;
    QList<int> gotLines, gotBad;
    for (const Prompt& p : set.prompts) {
        gotTexts << QString::fromStdString(p.text);
        gotLines << p.line;
    }
    for (const PromptIssue& i : set.issues) {
        gotBad << i.line;
        QVERIFY(!i.message.empty());
    }
    QCOMPARE(gotTexts, texts);
    QCOMPARE(gotLines, lines);
    QCOMPARE(gotBad, badLines);
}

namespace {

// One layer, two heads sharing one KV head, T = 4. Head 0 is the planted waiver map (0.9 on
// element 0), head 1 attends uniformly. Values: v_0 = 0, the others have norm 1. Hidden state 2
// ([L+1 = 2, T, D = 4]) carries 2000 at (element 0, dim 1); everything else is 1.
RunResult plantedRun(float sinkMass)
{
    RunResult r;
    r.model.layers = 1;
    r.model.heads = 2;
    r.model.kvHeads = 1;
    r.model.headDim = 2;
    r.model.hiddenSize = 4;
    r.model.attention = "causal";
    r.tokens = 4;
    const int T = 4;
    Floats head0(16, 0.0f), head1(16, 0.0f);
    head0[0] = 1;
    for (int t = 1; t < T; ++t) {
        head0[size_t(t * T)] = sinkMass;
        for (int s = 1; s <= t; ++s)
            head0[size_t(t * T + s)] = (1 - sinkMass) / float(t);
        for (int s = 0; s <= t; ++s)
            head1[size_t(t * T + s)] = 1.0f / float(t + 1);
    }
    head1[0] = 1;
    r.attention = head0;
    r.attention.insert(r.attention.end(), head1.begin(), head1.end());
    r.values = tensor({1, 1, T, 2}, {0, 0, 1, 0, 0, 1, 0.6f, 0.8f});
    Floats hidden(size_t(2 * T * 4), 1.0f);
    hidden[size_t(1 * T * 4 + 0 * 4 + 1)] = 2000.0f;
    r.hidden = tensor({2, T, 4}, hidden);
    return r;
}

} // namespace

void TestAnalysis::runFindsPlantedWaiver()
{
    const RunMetrics m = analyzeRun(plantedRun(0.9f));
    // head 0: alpha_0 = (1 + 3 * 0.9) / 4 = 0.925 > 0.3; head 1 (uniform): alpha_0 = (1 + 1/2 + 1/3 + 1/4) / 4
    // = 0.520833 > 0.3 -> Sink_0 = 2 of 2 = 100 %
    QCOMPARE(m.sinkRate.percent, 100.0);
    QVERIFY(std::fabs(m.importance.data[0] - 0.925f) < 1e-6f);
    // first-token mass: head 0 = 0.9; head 1 = (1/2 + 1/3 + 1/4) / 3 = 0.361111
    QVERIFY(std::fabs(m.firstTokenMass(0, 0) - 0.9f) < 1e-6f);
    QVERIFY(std::fabs(m.firstTokenMass(0, 1) - 0.3611111f) < 1e-6f);
    // value norms 0, 1, 1, 1 (0.6^2 + 0.8^2 = 1); no W_O here, so the waiver uses ||v||
    QCOMPARE(m.waiverBasis, std::string("value"));
    QCOMPARE(m.valueNorms.data, (Floats{0, 1, 1, 1}));
    // head 0: excess (0.925 - 0.5208333) / 0.4791667 = 0.8434783, deficit 1 -> 0.8434783 at element 0
    QCOMPARE(int(m.waiver.size()), 2);
    QCOMPARE(m.waiver[0].head, 0);
    QCOMPARE(m.waiver[0].element, 0);
    QVERIFY(std::fabs(m.waiver[0].value - 0.8434783f) < 1e-5f);
    // head 1 is uniform: alpha_0 equals the uniform baseline, excess ~ 0
    QVERIFY(m.waiver[1].value < 1e-5f);
    // the waiver element is reported apart in the value statistics: element 0 only
    QCOMPARE(int(m.valueDims.size()), 1);
    QCOMPARE(m.valueDims[0].waiverElements, std::vector<int>{0});
    QCOMPARE(m.valueDims[0].waiver.count, 1);
    QCOMPARE(m.valueDims[0].rest.count, 3);
    // rest = [1,0], [0,1], [0.6,0.8]: mean dim 0 = 1.6 / 3 = 0.533333
    QVERIFY(std::fabs(m.valueDims[0].rest.mean[0] - 0.5333333f) < 1e-6f);
    // hidden: index 1 has 2000 at (0, 1); median 1 -> massive with the defaults
    QCOMPARE(int(m.massive.size()), 1);
    QCOMPARE(m.massive[0].layer, 1);
    QCOMPARE(m.massive[0].dim, 1);
    QCOMPARE(m.massive[0].element, 0);
    QCOMPARE(m.massive[0].value, 2000.0f);
    // ||h_0|| at index 1 = sqrt(3 + 2000^2) = 2000.00075; others 2
    QVERIFY(std::fabs(m.hiddenNorms[1].first - 2000.00075f) < 1e-2f);
    QCOMPARE(m.hiddenNorms[1].others, 2.0f);
    // ||v_0|| = 0 against (1 + 1 + 1) / 3
    QCOMPARE(m.valueNormsFirst[0].first, 0.0f);
    QCOMPARE(m.valueNormsFirst[0].others, 1.0f);
    // top attended: head 0 share of element 0 = (1 + 2.7) / 4 = 0.925
    QCOMPARE(m.topAttended[0].element, 0);
    QVERIFY(std::fabs(m.topAttended[0].value - 0.925f) < 1e-6f);
    QVERIFY(!m.unavailable.empty()); // no W_O, no Q/K
}

void TestAnalysis::aggregateOverPrompts()
{
    // Sink mass 0.9 and 0.5 on head 0. alpha_0 of head 0: 0.925 and (1 + 1.5) / 4 = 0.625
    // -> mean 0.775, std 0.15. Head 1 is the same in both.
    MetricsSpread spread;
    const RunMetrics m = aggregate({analyzeRun(plantedRun(0.9f)), analyzeRun(plantedRun(0.5f))}, &spread);
    QCOMPARE(m.prompts, 2);
    QVERIFY(std::fabs(m.importance.data[0] - 0.775f) < 1e-6f);
    QVERIFY(std::fabs(spread.importance.data[0] - 0.15f) < 1e-6f);
    // first-token mass head 0: 0.9 and 0.5 -> 0.7
    QVERIFY(std::fabs(m.firstTokenMass(0, 0) - 0.7f) < 1e-6f);
    // both prompts: 2 of 2 heads above 0.3 -> 100 %, std 0
    QCOMPARE(m.sinkRate.percent, 100.0);
    QCOMPARE(spread.sinkRatePercent, 0.0);
    // massive activation flagged in both, value kept
    QCOMPARE(int(m.massive.size()), 1);
    QCOMPARE(m.massive[0].prompts, 2);
    QCOMPARE(m.massive[0].value, 2000.0f);
    // waiver re-derived from the mean scores: head 0 at element 0
    // prompt 2: alpha_0 = 0.625, excess = (0.625 - 0.5208333) / 0.4791667 = 0.2173913; mean with
    // 0.8434783 = 0.5304348
    QCOMPARE(m.waiver[0].element, 0);
    QVERIFY(std::fabs(m.waiver[0].value - 0.5304348f) < 1e-5f);
}

void TestAnalysis::aggregateRefusesMixedLengths()
{
    RunResult shorter = plantedRun(0.9f);
    // keep the top-left 3 x 3 of each head's map (rows still sum to 1 for t < 3)
    Floats att;
    for (int h = 0; h < 2; ++h)
        for (int t = 0; t < 3; ++t)
            for (int s = 0; s < 3; ++s)
                att.push_back(shorter.attention[size_t(h * 16 + t * 4 + s)]);
    shorter.attention = att;
    shorter.tokens = 3;
    shorter.values = {};
    shorter.hidden = {};
    QVERIFY_THROWS_EXCEPTION(Error, aggregate({analyzeRun(plantedRun(0.9f)), analyzeRun(shorter)}));
    QVERIFY_THROWS_EXCEPTION(Error, aggregate({}));
}

void TestAnalysis::threadsGiveTheSameMetrics()
{
    // The heads of a layer are walked on several threads; every metric is bit for bit the
    // one-thread walk's (maps recomputed from random Q/K: 2 layers x 5 heads, T = 200).
    RunResult r;
    const int L = 2, H = 5, T = 200, hd = 8;
    r.model.layers = L;
    r.model.heads = H;
    r.model.kvHeads = H;
    r.model.headDim = hd;
    r.model.attention = "causal";
    r.tokens = T;
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.0f, 1.5f);
    Floats q(size_t(L * H * T * hd)), k(q.size());
    for (float& v : q)
        v = n(rng);
    for (float& v : k)
        v = n(rng);
    r.queries = tensor({L, H, T, hd}, q);
    r.keys = tensor({L, H, T, hd}, k);
    AttentionRecipe recipe;
    recipe.scale = 1.0 / std::sqrt(double(hd));
    r.recipes.assign(size_t(L), recipe);
    Options one, three;
    one.threads = 1;
    three.threads = 3;
    const RunMetrics a = analyzeRun(r, one), b = analyzeRun(r, three);
    QCOMPARE(b.importance.data, a.importance.data);
    QCOMPARE(b.entropy.data, a.entropy.data);
    QCOMPARE(b.share.data, a.share.data);
    QCOMPARE(b.firstMassPerQuery.data, a.firstMassPerQuery.data);
    QVERIFY(b.firstTokenMass == a.firstTokenMass);
    QCOMPARE(int(b.keys.size()), L * H);
    for (size_t i = 0; i < a.keys.size(); ++i)
        QCOMPARE(b.keys[i].element, a.keys[i].element);
    // And the maps were really walked: the importance is not all zero.
    QVERIFY(*std::max_element(a.importance.data.begin(), a.importance.data.end()) > 0.0f);
}

QTEST_GUILESS_MAIN(TestAnalysis)
#include "tst_analysis.moc"
