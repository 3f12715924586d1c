// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli analyze as a real process on a tiny Llama: metrics.json keys and shapes, numbers
// against an independent double-precision forward pass, prompt sets with bad lines, length
// grouping, errors; and, in process, the analysis functions against the engine's own summaries.
#include "sinkscope/analysis.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/model.h"
#include "testsupport.h"
#include "clirunner.h"
#include "tinymodels.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

void writeText(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
}

// Checks that v is a [a][b][c] array of numbers.
bool hasShape3(const QJsonValue& v, int a, int b, int c)
{
    const QJsonArray x = v.toArray();
    if (x.size() != a)
        return false;
    for (const QJsonValue& y : x) {
        if (y.toArray().size() != b)
            return false;
        for (const QJsonValue& z : y.toArray())
            if (z.toArray().size() != c)
                return false;
    }
    return true;
}

} // namespace

class TestAnalyzeCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void singlePrompt();
    void promptSetWithBadLinesAndLength();
    void mixedLengthsAreGrouped();
    void errors_data();
    void errors();
    void nothingWrittenOnFailure();
    void agreesWithEngineSummaries();
    void findsPlantedWaivers_data();
    void findsPlantedWaivers();

private:
    QTemporaryDir m_tmp;
    QString m_model;
    TinyLlamaSpec m_spec;
};

void TestAnalyzeCli::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    m_model = QDir(m_tmp.path()).filePath("tiny");
    m_spec = writeTinyLlamaWithTokenizer(m_model, 3, 7);
}

void TestAnalyzeCli::singlePrompt()
{
    const QString out = QDir(m_tmp.path()).filePath("single");
    const Outcome o = cli({"analyze", "--model", m_model, "--prompt", "the cat sat", "--epsilon", "0.2", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject m = readJson(QDir(out).filePath("metrics.json"));
    const QJsonObject run = readJson(QDir(out).filePath("run.json"));
    const QJsonArray tokens = run["tokens"].toArray();
    const int T = int(tokens.size());
    QVERIFY(T >= 4);
    const int L = 3, H = m_spec.heads, G = m_spec.kvHeads;

    QVERIFY(hasShape3(m["importance"], L, H, T));
    QCOMPARE(m["first_token_mass"].toArray().size(), L);
    QCOMPARE(m["first_token_mass"].toArray()[0].toArray().size(), H);
    const QJsonObject rate = m["sink_rate"].toObject();
    QCOMPARE(rate["k"].toInt(), 0);
    QCOMPARE(rate["epsilon"].toDouble(), 0.2);
    QCOMPARE(rate["T"].toInt(), T);
    QVERIFY(rate.contains("percent"));
    QCOMPARE(m["tokens"].toArray().size(), T);
    QVERIFY(m["massive_activations"].isArray());
    QVERIFY(m["waiver"].isArray());
    if (!m["value_norms"].isNull()) {
        QVERIFY(hasShape3(m["value_norms"], L, G, T));
        QCOMPARE(m["waiver"].toArray().size(), L * H);
        const QJsonObject w = m["waiver"].toArray()[0].toObject();
        for (const char* key : {"layer", "head", "element", "score"})
            QVERIFY(w.contains(key));
        QVERIFY(w["score"].toDouble() >= 0.0 && w["score"].toDouble() <= 1.0);
    }
    for (const char* name : {"importance.csv", "first_token_mass.csv", "sink_rate.csv", "sink_curve.csv", "entropy.csv",
                             "top_attended.csv", "norms.csv"})
        QVERIFY2(QFileInfo::exists(QDir(out).filePath(name)), name);
    // no staging leftovers
    for (const QString& e : QDir(out).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden))
        QVERIFY2(!e.startsWith(".sinkscope-staging"), qPrintable(e));

    // alpha and the sink rate against an independent double-precision forward of the same ids:
    // alpha_k = sum_{t >= k} A[t, k] / (T - k), computed here with plain loops.
    std::vector<int32_t> ids;
    for (const QJsonValue& t : tokens)
        ids.push_back(t.toObject()["id"].toInt());
    const ReferenceOutput ref = referenceLlamaForward(m_spec, makeTinyLlamaWeights(m_spec), ids);
    const QJsonArray importance = m["importance"].toArray();
    int above = 0;
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
            for (int k = 0; k < T; ++k) {
                double sum = 0.0;
                for (int t = k; t < T; ++t)
                    sum += ref.attention[size_t(((l * H + h) * T + t) * T + k)];
                const double alpha = sum / double(T - k);
                const double got = importance[l].toArray()[h].toArray()[k].toDouble();
                QVERIFY2(std::fabs(got - alpha) < 1e-4, qPrintable(QString("l%1 h%2 k%3: %4 vs %5").arg(l).arg(h).arg(k).arg(got).arg(alpha)));
                if (k == 0 && alpha > 0.2)
                    ++above;
            }
    QVERIFY(std::fabs(rate["percent"].toDouble() - 100.0 * above / (L * H)) < 1e-9);
    // run.json keeps its contract and agrees with metrics.json on the first-token mass.
    QCOMPARE(run["first_token_mass"].toArray().size(), L);
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
            QVERIFY(std::fabs(run["first_token_mass"].toArray()[l].toArray()[h].toDouble()
                              - m["first_token_mass"].toArray()[l].toArray()[h].toDouble())
                    < 1e-6);
}

void TestAnalyzeCli::promptSetWithBadLinesAndLength()
{
    const QString file = QDir(m_tmp.path()).filePath("set.jsonl");
    writeText(file, "{\"text\": \"abc def ghi jk\"}\n"
                    "{\"text\": 3}\n"
                    "not json\n"
                    "{\"text\": \"a b\"}\n"
                    "{\"text\": \"xyz uvw rst op\"}\n");
    const QString out = QDir(m_tmp.path()).filePath("set");
    const Outcome o =
        cli({"analyze", "--model", m_model, "--prompts", file, "--length", "6", "--out", out, "--per-prompt-tensors"});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    // bad lines 2 and 3 are named; line 4 ("a b" -> <s> ▁a ▁b, 3 tokens) is too short for --length 6
    QVERIFY2(o.err.contains("set.jsonl:2:"), qPrintable(o.err));
    QVERIFY2(o.err.contains("set.jsonl:3:"), qPrintable(o.err));
    QVERIFY2(o.err.contains("set.jsonl:4: 3 tokens, fewer than --length 6"), qPrintable(o.err));
    const QJsonObject m = readJson(QDir(out).filePath("metrics.json"));
    QCOMPARE(m["prompts"].toInt(), 2);
    QCOMPARE(m["sink_rate"].toObject()["T"].toInt(), 6);
    const QJsonArray per = m["per_prompt"].toArray(); // with --per-prompt-tensors (see the command)
    QCOMPARE(per.size(), 2);
    QCOMPARE(per[0].toObject()["line"].toInt(), 1);
    QCOMPARE(per[1].toObject()["line"].toInt(), 5);
    QCOMPARE(per[0].toObject()["tokens"].toArray().size(), 6);
    // the top level holds the mean of the per-prompt values, and std their spread
    const int L = 3, H = m_spec.heads, T = 6;
    QVERIFY(hasShape3(m["importance"], L, H, T));
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
            for (int k = 0; k < T; ++k) {
                auto at = [&](const QJsonObject& x, const char* key) {
                    return x[key].toArray()[l].toArray()[h].toArray()[k].toDouble();
                };
                const double a = at(per[0].toObject(), "importance"), b = at(per[1].toObject(), "importance");
                QVERIFY(std::fabs(at(m, "importance") - (a + b) / 2) < 1e-6);
                QVERIFY(std::fabs(at(m["std"].toObject(), "importance") - std::fabs(a - b) / 2) < 1e-6);
            }
    const double p0 = per[0].toObject()["sink_rate"].toObject()["percent"].toDouble();
    const double p1 = per[1].toObject()["sink_rate"].toObject()["percent"].toDouble();
    QVERIFY(std::fabs(m["sink_rate"].toObject()["percent"].toDouble() - (p0 + p1) / 2) < 1e-9);
    QVERIFY(QFileInfo::exists(QDir(out).filePath("per_prompt.csv")));
    QVERIFY(!QFileInfo::exists(QDir(out).filePath("run.json"))); // one run.json per run: not for a set
}

void TestAnalyzeCli::mixedLengthsAreGrouped()
{
    const QString file = QDir(m_tmp.path()).filePath("mixed.txt");
    // with BOS: "ab cd" -> <s> ▁a b ▁c d = 5; "ab" -> 3; "xy zw" -> 5
    writeText(file, "ab cd\nab\nxy zw\n");
    const QString out = QDir(m_tmp.path()).filePath("mixed");
    const Outcome o = cli({"analyze", "--model", m_model, "--prompts", file, "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QVERIFY2(o.err.contains("2 different lengths"), qPrintable(o.err));
    const QJsonObject m = readJson(QDir(out).filePath("metrics.json"));
    QCOMPARE(m["T"].toInt(), 5);
    QCOMPARE(m["prompts"].toInt(), 2);
    const QJsonArray groups = m["groups"].toArray();
    QCOMPARE(groups.size(), 2);
    QCOMPARE(groups[0].toObject()["T"].toInt(), 3);
    QCOMPARE(groups[0].toObject()["lines"].toArray(), QJsonArray({2}));
    QCOMPARE(groups[1].toObject()["lines"].toArray(), QJsonArray({1, 3}));
}

void TestAnalyzeCli::errors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing out") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "a"} << "error: missing --out";
    QTest::newRow("prompt and prompts") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "a", "--prompts", "x", "--out", "@OUT@"}
                                        << "error: give exactly one of --prompt and --prompts";
    QTest::newRow("epsilon out of range") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "a", "--epsilon", "2", "--out", "@OUT@"}
                                          << "error: --epsilon must be in [0, 1)";
    QTest::newRow("epsilon not a number") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "a", "--epsilon", "x", "--out", "@OUT@"}
                                          << "error: --epsilon needs a number, got 'x'";
    QTest::newRow("length zero") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "a", "--length", "0", "--out", "@OUT@"}
                                 << "error: --length must be a positive number of tokens";
    QTest::newRow("no prompts file") << QStringList{"analyze", "--model", "@MODEL@", "--prompts", "/nonexistent/p.txt", "--out", "@OUT@"}
                                     << "error: ";
    QTest::newRow("only bad lines") << QStringList{"analyze", "--model", "@MODEL@", "--prompts", "@BAD@", "--out", "@OUT@"}
                                    << "warning: ";
    QTest::newRow("all too short") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "a", "--length", "50", "--out", "@OUT@"}
                                   << "warning: prompt: 2 tokens, fewer than --length 50";
    QTest::newRow("k beyond length") << QStringList{"analyze", "--model", "@MODEL@", "--prompt", "abc", "--length", "2", "--k", "2", "--out", "@OUT@"}
                                     << "error: --k must be smaller than --length";
    QTest::newRow("no model") << QStringList{"analyze", "--model", "/nonexistent/m", "--prompt", "a", "--out", "@OUT@"} << "error: ";
}

void TestAnalyzeCli::errors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    const QString bad = QDir(m_tmp.path()).filePath("bad.jsonl");
    writeText(bad, "{\"x\": 1}\nnot json\n");
    const QString out = QDir(m_tmp.path()).filePath("err-" + QString::fromLatin1(QTest::currentDataTag()).replace(' ', '-'));
    for (QString& a : args)
        a.replace("@MODEL@", m_model).replace("@OUT@", out).replace("@BAD@", bad);
    const Outcome o = cli(args);
    QVERIFY2(o.code != 0, qPrintable(o.err));
    QVERIFY2(o.err.startsWith(message), qPrintable(o.err));
    QVERIFY2(o.err.contains("error: "), qPrintable(o.err));
    QVERIFY(!QFileInfo::exists(QDir(out).filePath("metrics.json")));
}

void TestAnalyzeCli::nothingWrittenOnFailure()
{
    // The output path is a regular file: the command fails and leaves no metrics behind.
    const QString blocker = QDir(m_tmp.path()).filePath("blocker");
    writeText(blocker, "x");
    const Outcome o = cli({"analyze", "--model", m_model, "--prompt", "abc", "--out", QDir(blocker).filePath("out")});
    QVERIFY(o.code != 0);
    QVERIFY2(o.err.contains("error: "), qPrintable(o.err));
    QVERIFY(!QFileInfo::exists(QDir(blocker).filePath("out/metrics.json")));
}

void TestAnalyzeCli::agreesWithEngineSummaries()
{
    // The engine computes summaries on the device during the pass; the analysis functions
    // recompute them from the captured tensors. Both must agree.
    const auto model = Model::load(m_model.toStdString(), DevicePreference::Cpu);
    RunRequest req;
    req.text = "the quick fox";
    req.captureLogits = false;
    const auto r = model->run(req);
    const int64_t L = r->model.layers, H = r->model.heads, G = r->model.kvHeads, T = r->tokens;
    const int64_t hd = r->model.headDim, group = H / G;
    if (r->received.empty() && r->valueNorms.empty() && r->contributionNorms.empty())
        QSKIP("this engine does not compute the device summaries yet");
    const TinyWeights w = makeTinyLlamaWeights(m_spec);
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
            const RowMatrixXf A = r->attentionMap(l, h);
            auto check = [&](const Tensor& device, const Eigen::VectorXf& mine, const char* what) {
                if (device.empty())
                    return;
                for (int64_t j = 0; j < T; ++j) {
                    const float d = device.at({l, h})[j];
                    QVERIFY2(std::fabs(d - mine[j]) <= 1e-4f * std::max(1.0f, std::fabs(mine[j])),
                             qPrintable(QString("%1 l%2 h%3 j%4: engine %5, analysis %6").arg(what).arg(l).arg(h).arg(j).arg(d).arg(mine[j])));
                }
            };
            check(r->received, analysis::importance(A, true), "received");
            check(r->firstMassPerQuery, A.col(0), "firstMassPerQuery");
            check(r->entropy, analysis::rowEntropy(A), "entropy");
            if (!r->values.empty()) {
                const Eigen::Map<const RowMatrixXf> v(r->values.at({l, h / group}), T, hd);
                if (!r->valueNorms.empty() && h % group == 0) {
                    const Eigen::VectorXf mine = analysis::rowNorms(v);
                    for (int64_t j = 0; j < T; ++j)
                        QVERIFY(std::fabs(r->valueNorms.at({l, h / group})[j] - mine[j]) < 1e-4f * std::max(1.0f, mine[j]));
                }
                // o_proj.weight is [D, H*hd]; head h's W_O^h [hd, D] is its columns h*hd.. transposed.
                const std::vector<float>& o = w.at("model.layers." + std::to_string(l) + ".self_attn.o_proj.weight");
                const int64_t D = m_spec.hidden;
                RowMatrixXf wo(hd, D);
                for (int64_t i = 0; i < hd; ++i)
                    for (int64_t d = 0; d < D; ++d)
                        wo(i, d) = o[size_t(d * H * hd + h * hd + i)];
                const Eigen::VectorXf contribution = analysis::contributionNorms(v, wo);
                check(r->contributionNorms, contribution, "contributionNorms");
                check(r->writtenNorms, analysis::writtenNorms(A, contribution), "writtenNorms");
            }
        }
    // and analyzeRun uses the device norms for the waiver when they are there
    const analysis::RunMetrics m = analysis::analyzeRun(*r);
    if (!r->contributionNorms.empty())
        QCOMPARE(m.waiverBasis, std::string("contribution"));
}

void TestAnalyzeCli::findsPlantedWaivers_data()
{
    QTest::addColumn<int>("kind");
    QTest::newRow("decoder") << int(DemoKind::Decoder);
    QTest::newRow("encoder") << int(DemoKind::Encoder);
}

void TestAnalyzeCli::findsPlantedWaivers()
{
    // The built-in demo models are the ground truth: every planted head's top waiver must be the
    // planted element (the position, or a token of the planted kind) and every planted massive
    // activation must be flagged with Sun et al.'s default thresholds.
    QFETCH(int, kind);
    const DemoKind k = DemoKind(kind);
    const QString dir = QDir(m_tmp.path()).filePath(QString::fromStdString(demoModelName(k)));
    writeDemoModel(k, dir.toStdString());
    const DemoGroundTruth truth = demoGroundTruth(k);
    QVERIFY(!truth.samplePrompts.empty());
    const QString out = dir + "-metrics";
    const Outcome o = cli({"analyze", "--model", dir, "--prompt", QString::fromStdString(truth.samplePrompts[1]), "--out", out});
    if (o.code != 0 && o.err.contains("not supported"))
        QSKIP(qPrintable("the engine does not run this family yet: " + o.err.trimmed()));
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject m = readJson(QDir(out).filePath("metrics.json"));
    const QJsonArray tokens = m["tokens"].toArray();
    const QJsonArray waiver = m["waiver"].toArray();
    if (waiver.isEmpty())
        QSKIP("this run captured no values, so there are no waiver scores");
    const int H = m["model"].toObject()["heads"].toInt();
    for (const PlantedHead& p : truth.heads) {
        const QJsonObject w = waiver[p.layer * H + p.head].toObject();
        QCOMPARE(w["layer"].toInt(), p.layer);
        QCOMPARE(w["head"].toInt(), p.head);
        const int element = w["element"].toInt();
        const double score = w["score"].toDouble();
        const QString where = QString("layer %1 head %2 (%3): element %4 '%5' score %6")
                                  .arg(p.layer).arg(p.head).arg(QString::fromStdString(p.mechanism)).arg(element)
                                  .arg(tokens[element].toString()).arg(score);
        if (p.mechanism == "positional")
            QVERIFY2(element == p.waiverPosition, qPrintable(where));
        else
            QVERIFY2(tokens[element].toString().trimmed() == QString::fromStdString(p.waiverToken), qPrintable(where));
        QVERIFY2(score > 0.5, qPrintable(where));
    }
    const QJsonArray massive = m["massive_activations"].toArray();
    for (const PlantedMassiveActivation& p : truth.massive)
        for (int layer = p.firstHidden; layer <= p.lastHidden; ++layer) {
            bool found = false;
            for (const QJsonValue& v : massive) {
                const QJsonObject a = v.toObject();
                found = found || (a["layer"].toInt() == layer && a["dim"].toInt() == p.dim
                                  && (p.position < 0 || a["element"].toInt() == p.position));
            }
            QVERIFY2(found, qPrintable(QString("massive activation in dim %1 at hidden %2 not flagged").arg(p.dim).arg(layer)));
        }
}

QTEST_GUILESS_MAIN(TestAnalyzeCli)
#include "tst_analyze_cli.moc"
