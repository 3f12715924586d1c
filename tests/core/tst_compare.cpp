// SPDX-License-Identifier: GPL-3.0-or-later
// Comparing runs: alignment of two token sequences and the difference of one head's maps, on
// hand-built runs whose maps are known.
#include "sinkscope/compare.h"
#include "sinkscope/error.h"

#include <QTest>

using namespace sinkscope;

namespace {

// A run of T tokens whose stored map for (l, h) has A[q, k] = 100 * l + 10 * h + q + k / 100
// (not a distribution; the difference only needs known numbers).
RunResult knownRun(int T, int L = 2, int H = 3)
{
    RunResult r;
    r.model.layers = L;
    r.model.heads = H;
    r.tokens = T;
    r.attention.resize(size_t(L * H * T * T));
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
            for (int q = 0; q < T; ++q)
                for (int k = 0; k < T; ++k)
                    r.attention[size_t(((l * H + h) * T + q) * T + k)] = float(100 * l + 10 * h + q + k / 100.0);
    return r;
}

} // namespace

class TestCompare : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void align_data()
    {
        QTest::addColumn<QList<int>>("a");
        QTest::addColumn<QList<int>>("b");
        QTest::addColumn<int>("offsetA");
        QTest::addColumn<int>("offsetB");
        QTest::addColumn<int>("length");
        QTest::addColumn<QString>("rule");
        QTest::newRow("same") << QList<int>{1, 5, 6} << QList<int>{1, 5, 6} << 0 << 0 << 3 << "same tokens";
        QTest::newRow("BOS in A only") << QList<int>{1, 5, 6, 7} << QList<int>{5, 6, 7} << 1 << 0 << 3 << "end";
        QTest::newRow("BOS in B only") << QList<int>{5, 6} << QList<int>{1, 5, 6} << 0 << 1 << 2 << "end";
        QTest::newRow("other prompt") << QList<int>{1, 5, 6, 7} << QList<int>{1, 8, 9} << 0 << 0 << 3 << "start";
        QTest::newRow("same length, different") << QList<int>{1, 2} << QList<int>{3, 4} << 0 << 0 << 2 << "start";
    }
    void align()
    {
        QFETCH(QList<int>, a);
        QFETCH(QList<int>, b);
        QFETCH(int, offsetA);
        QFETCH(int, offsetB);
        QFETCH(int, length);
        QFETCH(QString, rule);
        const RunAlignment r = alignRuns(std::vector<int32_t>(a.begin(), a.end()), std::vector<int32_t>(b.begin(), b.end()));
        QCOMPARE(r.offsetA, offsetA);
        QCOMPARE(r.offsetB, offsetB);
        QCOMPARE(r.length, length);
        QCOMPARE(QString::fromStdString(r.rule), rule);
    }

    void difference()
    {
        const RunResult a = knownRun(5), b = knownRun(4);
        RunAlignment al;
        al.offsetA = 1;
        al.length = 4;
        const RowMatrixXf d = attentionDifference(a, b, al, 1, 2);
        QCOMPARE(d.rows(), 4);
        QCOMPARE(d.cols(), 4);
        // b(q, k) - a(q + 1, k + 1) = (q + k/100) - (q + 1 + (k + 1)/100) = -1.01
        for (int q = 0; q < 4; ++q)
            for (int k = 0; k < 4; ++k)
                QVERIFY(std::abs(d(q, k) - -1.01f) < 1e-4f);
    }

    void refusesWhatIsNotInBoth()
    {
        const RunResult a = knownRun(3, 2, 3), b = knownRun(3, 1, 3);
        RunAlignment al;
        al.length = 3;
        QVERIFY_THROWS_EXCEPTION(Error, attentionDifference(a, b, al, 1, 0)); // layer 1 only in A
        al.length = 4;
        QVERIFY_THROWS_EXCEPTION(Error, attentionDifference(a, a, al, 0, 0)); // past T
        RunResult noMaps = knownRun(3);
        noMaps.attention.clear();
        al.length = 3;
        QVERIFY_THROWS_EXCEPTION(Error, attentionDifference(a, noMaps, al, 0, 0));
    }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "tst_compare.moc"
