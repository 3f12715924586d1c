// SPDX-License-Identifier: GPL-3.0-or-later
// Shard folders without a model: the slices of --shard I/N, the data file written and read back
// bit for bit (NaN payloads included), damaged files refused, and mergeShards' refusals with the
// exact messages, on constructed shards.
#include "sinkscope/error.h"
#include "sinkscope/shard.h"
#include "testsupport.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>

using namespace sinkscope;
using namespace sinkscope::analysis;

namespace {

Tensor tensor(std::vector<int64_t> shape, float start)
{
    Tensor t;
    int64_t n = 1;
    for (int64_t s : shape)
        n *= s;
    t.shape = std::move(shape);
    for (int64_t i = 0; i < n; ++i)
        t.data.push_back(start + 0.1f * float(i));
    return t;
}

// A prompt run with every field of RunMetrics set to something other than its default.
PromptRun constructedRun(int line, float seed)
{
    PromptRun r;
    r.line = line;
    r.text = "prompt " + std::to_string(line) + " \xc3\xa9";
    r.tokens = {"a", "b", "c"};
    RunMetrics& m = r.metrics;
    m.layers = 2, m.heads = 2, m.kvHeads = 1, m.headDim = 4, m.hiddenSize = 8, m.vocabSize = 11, m.maxPositions = 64;
    m.tokens = 3;
    m.causal = false;
    m.options.sinkElement = 1;
    m.options.epsilon = 0.25;
    m.options.massive = {50.0, 500.0};
    m.options.waiverThreshold = 0.4;
    m.importance = tensor({2, 2, 3}, seed);
    m.importance.data[1] = std::numeric_limits<float>::quiet_NaN();
    m.firstMassPerQuery = tensor({2, 2, 3}, seed + 1);
    m.firstTokenMass = RowMatrixXf::Constant(2, 2, seed);
    m.lastQueryMass = RowMatrixXf::Constant(2, 2, seed / 3);
    m.sinkRate = {1, 0.25, 3, 4, 1, 25.0};
    m.sinkCurve.mean = Eigen::VectorXf::Constant(2, seed);
    m.sinkCurve.std = Eigen::VectorXf::Constant(2, 0.5f);
    m.sinkCurve.lastMean = Eigen::VectorXf::Constant(2, 0.25f);
    m.sinkCurve.lastStd = Eigen::VectorXf::Constant(2, 0.125f);
    m.entropy = tensor({2, 2, 3}, seed + 2);
    m.share = tensor({2, 2, 3}, seed + 3);
    m.topAttended = {{0, 1, 2, 0.5f}, {1, 0, 0, 0.75f}};
    m.valueNorms = tensor({2, 1, 3}, seed + 4);
    m.contributionNorms = tensor({2, 2, 3}, seed + 5);
    m.writtenNorms = tensor({2, 2, 3}, seed + 6);
    m.waiverScores = tensor({2, 2, 3}, seed + 7);
    m.waiverBasis = "value";
    m.waiver = {{1, 1, 0, 0.9f}};
    m.keys = {{0, 0, 0, 1.f, 2.f, 0.3f, 0.1f, 4.f}};
    ValueDims vd;
    vd.layer = 1, vd.kvHead = 0, vd.waiverElements = {0, 2};
    vd.rest.count = 1, vd.rest.mean = Eigen::VectorXf::Constant(4, 1.f), vd.rest.std = Eigen::VectorXf::Constant(4, 2.f);
    vd.rest.maxAbs = Eigen::VectorXf::Constant(4, 3.f);
    vd.waiver = vd.rest;
    vd.waiver.count = 2;
    m.valueDims = {vd};
    HiddenStats h;
    h.maxAbs = Eigen::VectorXf::Constant(8, seed);
    h.argmax = Eigen::VectorXi::Constant(8, 2);
    h.top = {{1, 3, -7.f}, {0, 2, 6.f}};
    h.median = 0.5f;
    m.hidden = {h, h};
    m.massive = {{1, 3, 0, 120.f, 1}};
    m.hiddenNorms = {{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}};
    m.keyNorms = {{1.f, 0.5f}, {2.f, 1.5f}};
    m.valueNormsFirst = {{0.1f, 0.2f}, {0.3f, 0.4f}};
    m.unavailable = {"keys: no Q/K"};
    return r;
}

ShardOutput constructedShard(int index, int count, int prompts)
{
    ShardOutput s;
    s.shard = {index, count};
    s.promptFile = "prompts.txt";
    s.promptSha256 = std::string(64, 'a');
    s.promptCount = prompts;
    s.members = shardMembers(size_t(prompts), s.shard);
    for (size_t k : s.members) {
        s.runIndices.push_back(k);
        s.runs.push_back(constructedRun(int(k) + 1, float(k)));
    }
    s.report.model.name = "tiny";
    s.report.model.layers = 2;
    s.report.model.heads = 2;
    s.report.device = "cpu";
    s.report.dtype = "fp32";
    s.report.promptSet = true;
    return s;
}

QString writeShard(const QString& dir, const ShardOutput& s)
{
    QDir().mkpath(dir);
    for (const auto& [name, bytes] : shardFiles(s))
        test::writeBytes(QDir(dir).filePath(QString::fromStdString(name)), QByteArray::fromStdString(bytes));
    return dir;
}

QString mergeError(const std::vector<ShardOutput>& shards, const std::vector<std::string>& names)
{
    try {
        mergeShards(shards, names);
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return QStringLiteral("(merged)");
}

} // namespace

class TestShard : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void slices();
    void roundTripBitForBit();
    void damagedFilesRefused();
    void mergeOrderAndRefusals();
};

void TestShard::slices()
{
    QCOMPARE(shardMembers(7, {1, 3}), (std::vector<size_t>{1, 4}));
    QCOMPARE(shardMembers(7, {0, 3}), (std::vector<size_t>{0, 3, 6}));
    QCOMPARE(shardMembers(2, {2, 3}), std::vector<size_t>{});
    QCOMPARE(shardMembers(5, {0, 1}), (std::vector<size_t>{0, 1, 2, 3, 4}));
    QCOMPARE(parseShardSpec("2/5").index, 2);
    QCOMPARE(parseShardSpec("2/5").count, 5);
    for (const char* bad : {"", "/", "1/", "/3", "1 /3", "+1/3", "1/3 ", "0x1/3", "1/1e3", "1234567890/1234567891"})
        QVERIFY_THROWS_EXCEPTION(Error, parseShardSpec(bad));
}

void TestShard::roundTripBitForBit()
{
    QTemporaryDir tmp;
    ShardOutput s = constructedShard(1, 3, 8);
    s.report.runJson = "{\"x\": 1}";
    const QString dir = writeShard(tmp.filePath("s1"), s);
    const ShardOutput back = readShardFolder(dir.toStdString());
    // Written again, the read shard gives the same bytes: every field came back, NaN payload too.
    QCOMPARE(shardFiles(back), shardFiles(s));
    QCOMPARE(back.runs.size(), size_t(3));
    float nan = back.runs[0].metrics.importance.data[1], orig = s.runs[0].metrics.importance.data[1];
    QVERIFY(std::isnan(nan));
    QVERIFY(std::memcmp(&nan, &orig, sizeof nan) == 0);
    QCOMPARE(back.runs[2].metrics.hidden[1].top[0].value, -7.f);
    QCOMPARE(back.report.runJson, std::string("{\"x\": 1}"));
    // And the metrics folder built from them is the one built from the originals.
    QCOMPARE(metricsFiles(back.runs, back.report), metricsFiles(s.runs, s.report));
}

void TestShard::damagedFilesRefused()
{
    QTemporaryDir tmp;
    const QString dir = writeShard(tmp.filePath("s0"), constructedShard(0, 2, 4));
    const QString bin = QDir(dir).filePath("shard_runs.bin");
    const QByteArray good = test::readBytes(bin);
    auto error = [&](const QByteArray& bytes) {
        test::writeBytes(bin, bytes);
        try {
            readShardFolder(dir.toStdString());
        } catch (const Error& e) {
            return QString::fromStdString(e.what());
        }
        return QStringLiteral("(read)");
    };
    const QString prefix = bin + " is damaged: ";
    QCOMPARE(error(good.left(good.size() - 1)), prefix + "it ends early (write it again with analyze --shard).");
    QCOMPARE(error(good + "x"), prefix + "bytes follow the end of the data (write it again with analyze --shard).");
    QByteArray magic = good;
    magic[0] = 'X';
    QCOMPARE(error(magic), prefix + "it does not start as a shard data file (write it again with analyze --shard).");
    // A huge length field is refused before anything is allocated for it.
    QByteArray huge = good;
    const uint64_t big = uint64_t(1) << 60;
    std::memcpy(huge.data() + 16 + 8 + 8, &big, 8); // after magic, version, order, index+count: the file name's length
    QCOMPARE(error(huge), prefix + "a length field exceeds the file (write it again with analyze --shard).");
    // Not a shard at all.
    test::writeBytes(bin, good);
    test::writeBytes(QDir(dir).filePath("shard.json"), "{\"format\": \"sinkscope-metrics\"}");
    try {
        readShardFolder(dir.toStdString());
        QFAIL("a metrics file was read as a shard");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), dir + " is not a shard output (shard.json is not a sinkscope-shard file).");
    }
}

void TestShard::mergeOrderAndRefusals()
{
    const ShardOutput a = constructedShard(0, 3, 7), b = constructedShard(1, 3, 7), c = constructedShard(2, 3, 7);
    // Global prompt order, whatever the order of the folders.
    const MergedShards m = mergeShards({c, a, b}, {"c", "a", "b"});
    QCOMPARE(m.runs.size(), size_t(7));
    for (int k = 0; k < 7; ++k)
        QCOMPARE(m.runs[size_t(k)].line, k + 1);
    QCOMPARE(m.prompts, size_t(7));

    QCOMPARE(mergeError({a, b, c, b}, {"a", "b", "c", "b2"}), QString("shard 1/3 is given twice: b and b2."));
    QCOMPARE(mergeError({a, c}, {"a", "c"}),
             QString("shard 1/3 missing: merge needs all 3 shards of the run (0-based: 0/3 to 2/3)."));
    QCOMPARE(mergeError({a, constructedShard(1, 2, 7)}, {"a", "x"}),
             QString("a is shard 0/3 but x is shard 1/2: they come from runs with different shard counts."));
    ShardOutput otherFile = b;
    otherFile.promptSha256 = std::string(64, 'b');
    otherFile.promptFile = "other.txt";
    QCOMPARE(mergeError({a, otherFile, c}, {"a", "x", "c"}),
             QString("a and x are shards of different prompt files (prompts.txt: 7 prompts, sha256 aaaaaaaaaaaa; "
                     "other.txt: 7 prompts, sha256 bbbbbbbbbbbb)."));
    ShardOutput otherModel = b;
    otherModel.report.model.heads = 4;
    QCOMPARE(mergeError({a, otherModel, c}, {"a", "x", "c"}),
             QString("a and x are shards of different models (model dimensions 2 layers x 2 heads vs 2 layers x 4 "
                     "heads (or another size))."));
    ShardOutput otherSettings = b;
    otherSettings.report.options.massive.relative = 10;
    QCOMPARE(mergeError({a, otherSettings, c}, {"a", "x", "c"}),
             QString("a and x were analysed with different settings (--massive-rel 1000 vs 10)."));
    ShardOutput otherDevice = b;
    otherDevice.report.dtype = "bf16";
    QCOMPARE(mergeError({a, otherDevice, c}, {"a", "x", "c"}),
             QString("a and x were analysed with different settings (dtype fp32 vs bf16)."));
    // Every prompt skipped (too short) in every shard: refused as analyze refuses it.
    ShardOutput e0 = constructedShard(0, 1, 2);
    e0.runs.clear();
    e0.runIndices.clear();
    e0.report.length = 9;
    QCOMPARE(mergeError({e0}, {"e"}), QString("No prompt has --length 9 tokens."));
    QCOMPARE(mergeError({}, {}), QString("merge needs the shard folders of one analyze --shard run."));
}

QTEST_GUILESS_MAIN(TestShard)
#include "tst_shard.moc"
