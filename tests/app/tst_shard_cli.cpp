// SPDX-License-Identifier: GPL-3.0-or-later
// analyze --shard I/N and merge as real processes on the demo decoder: shards merged give the
// very files one unsharded analyze writes (byte for byte at --batch 1; to fp32 rounding when
// batches hold other prompts than in the unsharded run); --shard and merge refuse what they
// must, with the exact reason, and write nothing then.
#include "sinkscope/demomodels.h"
#include "testsupport.h"
#include "clirunner.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

// Seven usable prompts (a blank line between them does not count): three lengths, so the
// metrics have length groups, and shards of 3, 2 and 2 prompts for N = 3.
const QByteArray kPrompts = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.\n"
                            "The cat sat on the mat. The dog slept by the door. The bird sang in the tree.\n"
                            "\n"
                            "Attention sinks absorb excess attention. Small value vectors let them do so.\n"
                            "The cat sat on the mat. The dog slept by the door. The bird sang in the tree.\n"
                            "A short one.\n"
                            "The dog slept by the door. The cat sat on the mat. The bird sang in the tree.\n"
                            "Once upon a time. The end.\n";

// The first difference between two folders ("" when they hold the same files with the same
// bytes). `skipJson` lists, per JSON file, top-level keys that are allowed to differ.
QString folderDifference(const QString& a, const QString& b, const QMap<QString, QStringList>& skipJson = {})
{
    const QStringList fa = entries(a), fb = entries(b);
    if (fa != fb)
        return QStringLiteral("files differ: %1 vs %2").arg(fa.join(','), fb.join(','));
    for (const QString& f : fa) {
        QByteArray x = readBytes(QDir(a).filePath(f)), y = readBytes(QDir(b).filePath(f));
        if (skipJson.contains(f)) {
            QJsonObject ox = QJsonDocument::fromJson(x).object(), oy = QJsonDocument::fromJson(y).object();
            for (const QString& key : skipJson.value(f)) {
                if (!ox.contains(key) || !oy.contains(key))
                    return QStringLiteral("%1: the key %2 that may differ is missing").arg(f, key);
                ox.remove(key);
                oy.remove(key);
            }
            x = QJsonDocument(ox).toJson();
            y = QJsonDocument(oy).toJson();
        }
        if (x != y) {
            int at = 0;
            while (at < x.size() && at < y.size() && x[at] == y[at])
                ++at;
            return QStringLiteral("%1 differs at byte %2: ...%3... vs ...%4...")
                .arg(f)
                .arg(at)
                .arg(QString::fromUtf8(x.mid(std::max(0, at - 40), 80)), QString::fromUtf8(y.mid(std::max(0, at - 40), 80)));
        }
    }
    return {};
}

// The first place where two JSON values differ by more than fp32 rounding (relative `tol` against
// max(1, |b|)); "" when none. Strings, keys and array lengths must be equal.
QString jsonDifference(const QJsonValue& a, const QJsonValue& b, double tol, const QString& where = QStringLiteral("$"))
{
    if (a.type() != b.type())
        return where + ": types differ";
    if (a.isDouble()) {
        const double got = a.toDouble(), want = b.toDouble();
        return std::abs(got - want) <= tol * std::max(1.0, std::abs(want))
                   ? QString()
                   : QStringLiteral("%1: %2 vs %3").arg(where).arg(got).arg(want);
    }
    if (a.isArray()) {
        const QJsonArray x = a.toArray(), y = b.toArray();
        if (x.size() != y.size())
            return where + ": lengths differ";
        for (qsizetype i = 0; i < x.size(); ++i) {
            const QString d = jsonDifference(x[i], y[i], tol, QStringLiteral("%1[%2]").arg(where).arg(i));
            if (!d.isEmpty())
                return d;
        }
        return {};
    }
    if (a.isObject()) {
        const QJsonObject x = a.toObject(), y = b.toObject();
        if (x.keys() != y.keys())
            return where + ": keys differ";
        for (const QString& k : x.keys()) {
            const QString d = jsonDifference(x[k], y[k], tol, where + "." + k);
            if (!d.isEmpty())
                return d;
        }
        return {};
    }
    return a == b ? QString() : where + ": values differ";
}

} // namespace

class TestShardCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void mergedEqualsUnsharded_data();
    void mergedEqualsUnsharded();
    void shardFolderContents();
    void batchedShardsAgreeToRounding();
    void emptyShardAndOnePromptFile();
    void shardOptionErrors_data();
    void shardOptionErrors();
    void mergeRefusals_data();
    void mergeRefusals();
    void mergeOutputFolderRules();

private:
    QString path(const QString& name) const { return QDir(m_tmp.path()).filePath(name); }
    // analyze of `prompts` into `out` with the extra arguments; QVERIFY on success.
    void analyze(const QString& prompts, const QString& out, const QStringList& extra = {}, const QString& model = {});
    QTemporaryDir m_tmp;
    QString m_model, m_encoder, m_prompts;
};

void TestShardCli::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    m_model = path("demo-decoder");
    writeDemoModel(DemoKind::Decoder, m_model.toStdString());
    m_encoder = path("demo-encoder");
    writeDemoModel(DemoKind::Encoder, m_encoder.toStdString());
    m_prompts = path("prompts.txt");
    writeBytes(m_prompts, kPrompts);
    // The unsharded run and its three shards, one prompt per forward pass (see
    // batchedShardsAgreeToRounding for batches); the refusal tests start from them too.
    for (int i = 0; i < 3; ++i)
        analyze(m_prompts, path(QStringLiteral("s%1").arg(i)), {"--batch", "1", "--shard", QStringLiteral("%1/3").arg(i)});
    analyze(m_prompts, path("single"), {"--batch", "1"});
}

void TestShardCli::analyze(const QString& prompts, const QString& out, const QStringList& extra, const QString& model)
{
    const Outcome r = cli(QStringList{"analyze", "--model", model.isEmpty() ? m_model : model, "--prompts", prompts, "--out", out}
                          + extra);
    QVERIFY2(r.code == 0, qPrintable(r.err));
}

void TestShardCli::mergedEqualsUnsharded_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("shards");
    // --batch 1: every prompt's forward pass is the same computation in the shards as in the
    // unsharded run, so the merged folder must be the unsharded one byte for byte.
    QTest::newRow("3 shards") << QStringList{"--batch", "1"} << 3;
    QTest::newRow("2 shards, length 12, k 1, per-prompt tensors")
        << QStringList{"--batch", "1", "--length", "12", "--k", "1", "--per-prompt-tensors"} << 2;
}

void TestShardCli::mergedEqualsUnsharded()
{
    QFETCH(QStringList, args);
    QFETCH(int, shards);
    QString single = path("single");
    QStringList dirs;
    if (shards == 3) { // the run of initTestCase
        dirs = QStringList{path("s2"), path("s0"), path("s1")}; // any order
    } else {
        single = path("eq-single");
        analyze(m_prompts, single, args);
        for (int i = 0; i < shards; ++i) {
            dirs << path(QStringLiteral("eq-s%1").arg(i));
            analyze(m_prompts, dirs.last(), args + QStringList{"--shard", QStringLiteral("%1/%2").arg(i).arg(shards)});
        }
    }
    // A shard folder holds the shard files, not metrics.
    QCOMPARE(entries(dirs.last()), (QStringList{"shard.json", "shard_runs.bin"}));
    const QString merged = path(QStringLiteral("eq-merged-%1").arg(shards));
    const Outcome m = cli(QStringList{"merge"} + dirs + QStringList{"--out", merged});
    QVERIFY2(m.code == 0, qPrintable(m.err));
    // metrics.json and the CSV files hold no wall time and no thread count: nothing may differ.
    const QString diff = folderDifference(single, merged);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    if (shards == 3)
        QVERIFY2(readJson(QDir(merged).filePath("metrics.json")).contains("groups"),
                 "the prompt set must have several lengths, or the test does not cover length groups");
}

void TestShardCli::shardFolderContents()
{
    const QJsonObject id = readJson(QDir(path("s1")).filePath("shard.json"));
    QCOMPARE(id.value("format").toString(), QStringLiteral("sinkscope-shard"));
    QCOMPARE(id.value("shard").toObject().value("index").toInt(), 1);
    QCOMPARE(id.value("shard").toObject().value("count").toInt(), 3);
    QCOMPARE(id.value("prompt_file").toObject().value("prompts").toInt(), 7);
    // Prompts 1 and 4 (0-based, the blank line not counted) are lines 2 and 6.
    QCOMPARE(id.value("prompts_in_shard").toInt(), 2);
    QCOMPARE(id.value("analysed_lines").toArray(), (QJsonArray{2, 6}));
    QCOMPARE(id.value("prompt_file").toObject().value("sha256").toString().toLatin1(),
             QCryptographicHash::hash(kPrompts, QCryptographicHash::Sha256).toHex());
}

void TestShardCli::batchedShardsAgreeToRounding()
{
    // With batches the shards put other prompts of a length together than the unsharded run does
    // (its own slice only), and a [B, T] matrix product rounds differently from a [1, T] one: the
    // merged metrics then agree with the unsharded run to fp32 rounding, not bit for bit
    // (docs/CLUSTER.md). Unsharded at --batch 32 against the --batch 1 shards of initTestCase.
    const QString single = path("batched-single");
    analyze(m_prompts, single, {"--batch", "32"});
    const QString merged = path("batched-merged");
    const Outcome m = cli({"merge", path("s0"), path("s1"), path("s2"), "--out", merged});
    QVERIFY2(m.code == 0, qPrintable(m.err));
    QCOMPARE(entries(merged), entries(single));
    const QString diff = jsonDifference(readJson(QDir(merged).filePath("metrics.json")),
                                        readJson(QDir(single).filePath("metrics.json")), 1e-5);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
}

void TestShardCli::emptyShardAndOnePromptFile()
{
    // N above the number of prompts: shard 1/2 of a one-prompt file holds nothing, and is still
    // a valid shard, so that an array job of fixed size never fails on a short file.
    const QString one = path("one.txt");
    writeBytes(one, "The cat sat on the mat. The dog slept by the door.\n");
    QStringList shards;
    for (int i = 0; i < 2; ++i) {
        shards << path(QStringLiteral("one-s%1").arg(i));
        analyze(one, shards.last(), {"--shard", QStringLiteral("%1/2").arg(i)});
    }
    QCOMPARE(readJson(QDir(shards[1]).filePath("shard.json")).value("prompts_in_shard").toInt(), 0);
    QCOMPARE(readJson(QDir(shards[1]).filePath("shard.json")).value("analysed").toInt(), 0);
    const QString single = path("one-single"), merged = path("one-merged");
    analyze(one, single);
    const Outcome m = cli({"merge", shards[1], shards[0], "--out", merged});
    QVERIFY2(m.code == 0, qPrintable(m.err));
    // A one-prompt file also writes run.json; its wall time is the one field that must differ
    // (the forward pass was timed twice).
    QVERIFY(QFileInfo::exists(QDir(merged).filePath("run.json")));
    const QString diff = folderDifference(single, merged, {{"run.json", {"run_ms"}}});
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
}

void TestShardCli::shardOptionErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    const QString p = QStringLiteral("--prompts");
    QTest::newRow("N = 0") << QStringList{p, "PROMPTS", "--shard", "0/0"}
                           << "error: --shard 0/0: the shard count N must be at least 1";
    QTest::newRow("I = N") << QStringList{p, "PROMPTS", "--shard", "3/3"}
                           << "error: --shard 3/3: shard I must be below N (I is 0-based: 0 to 2)";
    QTest::newRow("not a number") << QStringList{p, "PROMPTS", "--shard", "a/3"}
                                  << "error: --shard needs I/N with whole numbers, 0 <= I < N (I is 0-based), got 'a/3'";
    QTest::newRow("negative") << QStringList{p, "PROMPTS", "--shard", "-1/3"}
                              << "error: --shard needs I/N with whole numbers, 0 <= I < N (I is 0-based), got '-1/3'";
    QTest::newRow("no slash") << QStringList{p, "PROMPTS", "--shard", "1"}
                              << "error: --shard needs I/N with whole numbers, 0 <= I < N (I is 0-based), got '1'";
    QTest::newRow("three parts") << QStringList{p, "PROMPTS", "--shard", "1/3/4"}
                                 << "error: --shard needs I/N with whole numbers, 0 <= I < N (I is 0-based), got '1/3/4'";
    QTest::newRow("one prompt") << QStringList{"--prompt", "hello there", "--shard", "0/2"}
                                << "error: --shard needs --prompts FILE: one --prompt cannot be split";
    QTest::newRow("batch 0") << QStringList{p, "PROMPTS", "--batch", "0"}
                             << "error: --batch must be a whole number from 1 to 1024, got '0'";
}

void TestShardCli::shardOptionErrors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    args.replaceInStrings("PROMPTS", m_prompts);
    const QString out = path("refused-shard");
    const Outcome r = cli(QStringList{"analyze", "--model", m_model, "--out", out} + args);
    QCOMPARE(r.code, 2);
    QCOMPARE(r.err.section('\n', 0, 0), message);
    QVERIFY(!QFileInfo::exists(out));
}

void TestShardCli::mergeRefusals_data()
{
    // Through the program, with real models; the other refusals (duplicate shard, other N, other
    // prompt file, other settings, damaged data) are tst_shard's, on constructed shards.
    QTest::addColumn<QStringList>("dirs"); // names under the temporary folder
    QTest::addColumn<QStringList>("setup"); // analyze arguments for the extra shard "x" ({} = none)
    QTest::addColumn<QString>("message");
    QTest::newRow("missing") << QStringList{"s0", "s2"} << QStringList{}
                             << "error: shard 1/3 missing: merge needs all 3 shards of the run (0-based: 0/3 to 2/3).";
    QTest::newRow("other model") << QStringList{"s0", "s1", "x"} << QStringList{"ENCODER", "--shard", "2/3"}
                                 << "error: TMP/s0 and TMP/x are shards of different models (model demo-decoder vs "
                                    "demo-encoder).";
    QTest::newRow("not a shard") << QStringList{"s0", "s1", "single"} << QStringList{}
                                 << "error: TMP/single is not a shard output (it has no shard.json; write shards with "
                                    "analyze --shard I/N).";
    QTest::newRow("no folders") << QStringList{} << QStringList{}
                                << "error: merge needs the shard folders: sinkscope-cli merge DIR... --out OUTDIR";
}

void TestShardCli::mergeRefusals()
{
    QFETCH(QStringList, dirs);
    QFETCH(QStringList, setup);
    QFETCH(QString, message);
    if (!setup.isEmpty()) {
        QString prompts = m_prompts, model = m_model;
        if (setup.first() == "ENCODER") {
            model = m_encoder;
            setup.removeFirst();
        }
        QDir(path("x")).removeRecursively();
        analyze(prompts, path("x"), setup, model);
    }
    QStringList args{"merge"};
    for (const QString& d : dirs)
        args << path(d);
    const QString out = path("refused-merge");
    const Outcome r = cli(args + QStringList{"--out", out});
    QVERIFY2(r.code != 0, qPrintable(r.err));
    message.replace("TMP", m_tmp.path());
    QVERIFY2(r.err.section('\n', 0, 0).startsWith(message), qPrintable(r.err));
    QVERIFY(!QFileInfo::exists(out));
}

void TestShardCli::mergeOutputFolderRules()
{
    // The StagedFolder rules of every result folder: a folder with files is refused unless
    // --force, which replaces it whole (no file of the old content is left).
    const QString out = path("merge-out");
    QDir().mkpath(out);
    writeBytes(QDir(out).filePath("old.txt"), "an older result");
    const QStringList shards{path("s0"), path("s1"), path("s2")};
    const Outcome refused = cli(QStringList{"merge"} + shards + QStringList{"--out", out});
    QCOMPARE(refused.code, 1);
    QVERIFY2(refused.err.startsWith("error: "), qPrintable(refused.err));
    QCOMPARE(entries(out), QStringList{"old.txt"});
    const Outcome forced = cli(QStringList{"merge"} + shards + QStringList{"--out", out, "--force"});
    QVERIFY2(forced.code == 0, qPrintable(forced.err));
    const QString diff = folderDifference(path("single"), out);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
}

QTEST_GUILESS_MAIN(TestShardCli)
#include "tst_shard_cli.moc"
