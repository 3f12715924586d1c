// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli classify and control as real processes on the demo decoder: the exact JSON keys
// of the contract, one entry per (layer, head), the planted verdicts, the CSV files, the
// forward-pass count printed before the probes, and every refused input with its message.
#include "sinkscope/demomodels.h"
#include "clirunner.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

QSet<QString> keysOf(const QJsonObject& o)
{
    QSet<QString> s;
    for (auto it = o.begin(); it != o.end(); ++it)
        s.insert(it.key());
    return s;
}

bool isMatrix(const QJsonValue& v, int rows, int cols)
{
    const QJsonArray a = v.toArray();
    if (a.size() != rows)
        return false;
    for (const QJsonValue& r : a)
        if (r.toArray().size() != cols)
            return false;
    return true;
}

} // namespace

class TestClassifyCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void classifyContract();
    void classifyPromptSet();
    void controlContract();
    void evictContract();
    void errors_data();
    void errors();

private:
    QTemporaryDir m_tmp;
    QString m_model;
};

void TestClassifyCli::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    m_model = m_tmp.filePath("decoder");
    writeDemoModel(DemoKind::Decoder, m_model.toStdString());
}

void TestClassifyCli::classifyContract()
{
    const QString out = m_tmp.filePath("classify");
    const Outcome o = cli({"classify", "--model", m_model, "--prompt", "The cat sat on the mat. The dog slept by the door.",
                           "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    // The cost is printed before the probes run.
    QVERIFY2(o.err.contains(QRegularExpression("prompt: \\d+ forward passes \\(1 base \\+ \\d+ probes: content_random")),
             qPrintable(o.err));
    const QJsonObject j = readJson(QDir(out).filePath("classification.json"));
    QCOMPARE(keysOf(j), (QSet<QString>{"model_verdict", "verdict_counts", "settings", "heads"}));
    QCOMPARE(j["model_verdict"].toString(), QString("positional"));
    QCOMPARE(keysOf(j["verdict_counts"].toObject()), (QSet<QString>{"positional", "feature", "mixed", "none"}));
    const QJsonArray heads = j["heads"].toArray();
    QCOMPARE(heads.size(), 16);
    int sum = 0;
    for (const QJsonValue& v : j["verdict_counts"].toObject())
        sum += v.toInt();
    QCOMPARE(sum, 16);
    QSet<QPair<int, int>> seen;
    for (const QJsonValue& v : heads) {
        const QJsonObject h = v.toObject();
        QCOMPARE(keysOf(h), (QSet<QString>{"layer", "head", "verdict", "confidence", "waiver_elements", "probes"}));
        seen.insert({h["layer"].toInt(), h["head"].toInt()});
        QVERIFY(h["waiver_elements"].isArray());
        QVERIFY(h["probes"].isObject());
        for (const QJsonValue& x : h["probes"].toObject())
            QVERIFY(x.isDouble());
        const double c = h["confidence"].toDouble(-1);
        QVERIFY(c >= 0 && c <= 1);
    }
    QCOMPARE(seen.size(), 16); // one entry per (layer, head)
    auto verdict = [&](int l, int hh) { return heads[l * 4 + hh].toObject()["verdict"].toString(); };
    QCOMPARE(verdict(0, 0), QString("positional"));
    QCOMPARE(verdict(0, 1), QString("feature"));
    QCOMPARE(verdict(2, 0), QString("positional"));
    QCOMPARE(heads[0].toObject()["waiver_elements"].toArray().first().toInt(), 0);
    QVERIFY(j["settings"].toObject().contains("sink_excess"));
    QVERIFY(j["settings"].toObject()["forward_passes"].toInt() <= 40);
    for (const char* f : {"classification.csv", "verdicts_by_layer.csv", "per_prompt.csv"})
        QVERIFY2(QFile::exists(QDir(out).filePath(f)), f);
    QFile csv(QDir(out).filePath("classification.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 17);
    QVERIFY(lines[0].startsWith("layer,head,verdict,confidence,waiver_elements,"));
    QVERIFY(lines[1].startsWith("0,0,positional,"));
}

void TestClassifyCli::classifyPromptSet()
{
    const QString file = m_tmp.filePath("prompts.txt");
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    for (const std::string& p : demoGroundTruth(DemoKind::Decoder).samplePrompts)
        f.write(QByteArray::fromStdString(p) + "\n");
    f.close();
    const QString out = m_tmp.filePath("classify-set");
    const Outcome o = cli({"classify", "--model", m_model, "--prompts", file, "--length", "12", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject j = readJson(QDir(out).filePath("classification.json"));
    QCOMPARE(j["settings"].toObject()["prompts"].toInt(), 3);
    QCOMPARE(j["settings"].toObject()["T"].toInt(), 12);
    const QJsonObject h00 = j["heads"].toArray()[0].toObject();
    QCOMPARE(h00["verdict"].toString(), QString("positional"));
    QCOMPARE(h00["probes"].toObject()["agreement"].toDouble(), 1.0);
}

void TestClassifyCli::controlContract()
{
    const QString out = m_tmp.filePath("control");
    const Outcome o = cli({"control", "--model", m_model, "--prompt", "The cat sat on the mat.", "--control", "block:0",
                           "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject j = readJson(QDir(out).filePath("control.json"));
    QCOMPARE(keysOf(j), (QSet<QString>{"control", "nll_before", "nll_after", "kl_mean", "kl_per_position", "first_token_mass"}));
    QCOMPARE(j["control"].toString(), QString("block:0"));
    const QJsonObject m = j["first_token_mass"].toObject();
    QCOMPARE(keysOf(m), (QSet<QString>{"before", "after"}));
    QVERIFY(isMatrix(m["before"], 4, 4));
    QVERIFY(isMatrix(m["after"], 4, 4));
    for (const QJsonValue& row : m["after"].toArray())
        for (const QJsonValue& x : row.toArray())
            QCOMPARE(x.toDouble(), 0.0); // nobody attends to element 0 any more
    QVERIFY(m["before"].toArray()[0].toArray()[0].toDouble() > 0.99);
    QVERIFY(j["kl_per_position"].toArray().size() > 0);
    QVERIFY(j["kl_mean"].toDouble() > 0);
    QVERIFY(QFile::exists(QDir(out).filePath("kl_per_position.csv")));
}

void TestClassifyCli::evictContract()
{
    const QString out = m_tmp.filePath("evict");
    const Outcome o = cli({"control", "--model", m_model, "--prompt", "The cat sat on the mat. The dog slept by the door.",
                           "--control", "evict:1,3", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject j = readJson(QDir(out).filePath("control.json"));
    QVERIFY(j.contains("nll_per_position"));
    const QJsonObject n = j["nll_per_position"].toObject();
    QCOMPARE(keysOf(n), (QSet<QString>{"full", "evicted"}));
    QCOMPARE(n["full"].toArray().size(), n["evicted"].toArray().size());
    QCOMPARE(n["full"].toArray().size(), j["kl_per_position"].toArray().size() - 1);
    QVERIFY(QFile::exists(QDir(out).filePath("eviction.csv")));
}

void TestClassifyCli::errors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    const QString p = "The cat sat on the mat.";
    QTest::newRow("bad spec") << QStringList{"control", "--prompt", p, "--control", "mask:2"}
                              << "error: Control 'mask:2' is not one of block:J, designate:J, positions:shift=D, positions:J=0, evict:K,W.";
    QTest::newRow("J outside") << QStringList{"control", "--prompt", p, "--control", "block:40"}
                               << "error: Control 'block:40': element 40 is outside the prompt (elements 0..7). (8 tokens)";
    QTest::newRow("K+W too small") << QStringList{"control", "--prompt", p, "--control", "evict:0,1"}
                                   << "error: Control 'evict:0,1': K + W must be at least 2 (with K + W = 1 every query sees only itself).";
    QTest::newRow("W zero") << QStringList{"control", "--prompt", p, "--control", "evict:3,0"}
                            << "error: Control 'evict:3,0': W must be at least 1 (a query always sees itself).";
    QTest::newRow("no control") << QStringList{"control", "--prompt", p} << "error: missing --control";
    QTest::newRow("both prompts") << QStringList{"classify", "--prompt", p, "--prompts", "x"}
                                  << "error: give exactly one of --prompt and --prompts";
    QTest::newRow("short length") << QStringList{"classify", "--prompt", p, "--length", "2"}
                                  << "error: --length must be a number of tokens, at least 4";
    QTest::newRow("too short prompt") << QStringList{"classify", "--prompt", "the cat"}
                                      << "error: Classifying needs a prompt of at least 4 tokens (this one has 3).";
    QTest::newRow("empty prompt") << QStringList{"classify", "--prompt", ""} << "error: The prompt is empty.";
}

void TestClassifyCli::errors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    const QString out = m_tmp.filePath("refused");
    const Outcome o = cli(args + QStringList{"--model", m_model, "--out", out});
    QVERIFY(o.code != 0);
    QVERIFY2(o.err.contains(message), qPrintable(o.err));
    QVERIFY(!QFile::exists(QDir(out).filePath("classification.json")));
    QVERIFY(!QFile::exists(QDir(out).filePath("control.json")));
}

QTEST_GUILESS_MAIN(TestClassifyCli)
#include "tst_classify_cli.moc"
