// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli as other tools use it: a real process, its files and its exit codes.
#include "npyreader.h"
#include "sinkscope/npy.h"
#include "testsupport.h"
#include "clirunner.h"
#include "tinymodels.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

} // namespace

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void runWithIds();
    void runWithPromptAndBos_data();
    void runWithPromptAndBos();
    void npyLoadsWithNumpy();
    void savesHiddenValuesQK();
    void errors_data();
    void errors();
    void modelsListsFamilies();
    void threadsOptionAndVersion();
    void helpForEveryCommand_data();
    void helpForEveryCommand();

private:
    QTemporaryDir m_tmp;
    QString m_model;
    TinyLlamaSpec m_spec;
};

void TestCli::initTestCase()
{
    m_model = QDir(m_tmp.path()).filePath("tiny");
    m_spec = writeTinyLlamaWithTokenizer(m_model, 3, 5);
}

void TestCli::runWithIds()
{
    const QString out = QDir(m_tmp.path()).filePath("ids");
    const Outcome o = cli({"run", "--model", m_model, "--ids", "1,270,300,5", "--save", "attention,logits", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject run = readJson(QDir(out).filePath("run.json"));
    const QJsonObject model = run["model"].toObject();
    QCOMPARE(model["model_type"].toString(), QString("llama"));
    QCOMPARE(model["layers"].toInt(), 3);
    QCOMPARE(model["heads"].toInt(), 4);
    QCOMPARE(model["kv_heads"].toInt(), 4);
    QCOMPARE(model["head_dim"].toInt(), 4);
    QCOMPARE(model["hidden_size"].toInt(), 16);
    QCOMPARE(model["vocab_size"].toInt(), kTinyTokenizerVocab);
    QCOMPARE(run["device"].toString(), QString("cpu"));
    QCOMPARE(run["dtype"].toString(), QString("float32"));
    QCOMPARE(run["bos_added"].toBool(), false); // --ids runs exactly the given ids
    const QJsonArray tokens = run["tokens"].toArray();
    QCOMPARE(tokens.size(), 4);
    QCOMPARE(tokens[0].toObject()["id"].toInt(), 1);
    QCOMPARE(tokens[0].toObject()["special"].toBool(), true);
    QCOMPARE(tokens[1].toObject()["id"].toInt(), 270);

    const NpyArray att = readNpy(QDir(out).filePath("attention.npy").toStdString());
    QCOMPARE(att.shape, (std::vector<int64_t>{3, 4, 4, 4}));
    const NpyArray logits = readNpy(QDir(out).filePath("logits.npy").toStdString());
    QCOMPARE(logits.shape, (std::vector<int64_t>{4, kTinyTokenizerVocab}));

    // first_token_mass[l][h] is the mean over t >= 1 of A[l,h,t,0], from the same maps
    const QJsonArray mass = run["first_token_mass"].toArray();
    QCOMPARE(mass.size(), 3);
    for (int l = 0; l < 3; ++l) {
        QCOMPARE(mass[l].toArray().size(), 4);
        for (int h = 0; h < 4; ++h) {
            double s = 0;
            for (int t = 1; t < 4; ++t)
                s += att.data[size_t(((l * 4 + h) * 4 + t) * 4 + 0)];
            QVERIFY(std::abs(mass[l].toArray()[h].toDouble() - s / 3) < 1e-6);
        }
    }
    // no staging leftovers
    QCOMPARE(QDir(out).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden).size(), 3);
}

void TestCli::runWithPromptAndBos_data()
{
    QTest::addColumn<QString>("bos");
    QTest::addColumn<bool>("added");
    QTest::addColumn<int>("count");
    // "hi yo" -> <s>? ▁h i ▁y o ; the tiny tokenizer merges "▁"+letter only
    QTest::newRow("auto") << "auto" << true << 5;
    QTest::newRow("on") << "on" << true << 5;
    QTest::newRow("off") << "off" << false << 4;
}

void TestCli::runWithPromptAndBos()
{
    QFETCH(QString, bos);
    QFETCH(bool, added);
    QFETCH(int, count);
    const QString out = QDir(m_tmp.path()).filePath("prompt-" + bos);
    const Outcome o = cli({"run", "--model", m_model, "--prompt", "hi yo", "--bos", bos, "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonObject run = readJson(QDir(out).filePath("run.json"));
    QCOMPARE(run["bos_added"].toBool(), added);
    const QJsonArray tokens = run["tokens"].toArray();
    QCOMPARE(tokens.size(), count);
    const QJsonObject last = tokens[count - 1].toObject();
    QCOMPARE(last["id"].toInt(), 260 + ('o' - 'a'));
    QCOMPARE(last["start"].toInt(), 4);
    QCOMPARE(last["end"].toInt(), 5);
    QVERIFY(!QFileInfo::exists(QDir(out).filePath("attention.npy"))); // not asked for
}

void TestCli::npyLoadsWithNumpy()
{
    const QString python = QStandardPaths::findExecutable("python3");
    if (python.isEmpty() || QProcess::execute(python, {"-c", "import numpy"}) != 0)
        QSKIP("python3 with numpy is not installed");
    const QString out = QDir(m_tmp.path()).filePath("numpy");
    QCOMPARE(cli({"run", "--model", m_model, "--ids", "1,2,3", "--save", "attention,logits", "--out", out}).code, 0);
    QProcess p;
    p.start(python, {"-c", "import numpy,sys; a=numpy.load(sys.argv[1]); l=numpy.load(sys.argv[2]);"
                           "print(a.dtype, a.shape, l.shape, a.flags['C_CONTIGUOUS'], round(float(a.sum(-1).mean()),5))",
                     QDir(out).filePath("attention.npy"), QDir(out).filePath("logits.npy")});
    p.waitForFinished();
    QCOMPARE(QString::fromUtf8(p.readAllStandardOutput()).trimmed(),
             QString("float32 (3, 4, 3, 3) (3, %1) True 1.0").arg(kTinyTokenizerVocab));
}

void TestCli::savesHiddenValuesQK()
{
    const QString out = QDir(m_tmp.path()).filePath("all");
    const std::vector<int32_t> ids{1, 270, 300, 5, 17};
    const Outcome o = cli({"run", "--model", m_model, "--ids", "1,270,300,5,17", "--save", "attention,hidden,values,qk", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const NpyArray hidden = readNpy(QDir(out).filePath("hidden.npy").toStdString());
    const NpyArray values = readNpy(QDir(out).filePath("values.npy").toStdString());
    const NpyArray qk = readNpy(QDir(out).filePath("qk.npy").toStdString());
    const NpyArray att = readNpy(QDir(out).filePath("attention.npy").toStdString());
    const int L = 3, H = 4, T = 5, D = 16, hd = 4;
    QCOMPARE(hidden.shape, (std::vector<int64_t>{L + 1, T, D}));
    QCOMPARE(values.shape, (std::vector<int64_t>{L, 4, T, hd}));
    QCOMPARE(qk.shape, (std::vector<int64_t>{2, L, H, T, hd}));
    QVERIFY(!QFileInfo::exists(QDir(out).filePath("logits.npy")));
    // hidden[0] is the embedding stage: the token's row of embed_tokens
    const TinyWeights w = makeTinyLlamaWeights(m_spec);
    const auto& emb = w.at("model.embed_tokens.weight");
    for (int t = 0; t < T; ++t)
        for (int i = 0; i < D; ++i)
            QCOMPARE(hidden.data[size_t(t * D + i)], emb[size_t(ids[size_t(t)] * D + i)]);
    // attention.npy equals softmax(q k^T / sqrt(hd)) with the causal mask, from qk.npy
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
            for (int t = 0; t < T; ++t) {
                std::vector<double> logit(size_t(t + 1));
                double mx = -1e300, z = 0;
                for (int s = 0; s <= t; ++s) {
                    double dot = 0;
                    for (int i = 0; i < hd; ++i)
                        dot += double(qk.data[size_t((((0 * L + l) * H + h) * T + t) * hd + i)])
                            * double(qk.data[size_t((((1 * L + l) * H + h) * T + s) * hd + i)]);
                    logit[size_t(s)] = dot / 2.0; // sqrt(hd) = 2
                    mx = std::max(mx, logit[size_t(s)]);
                }
                for (double& v : logit)
                    z += std::exp(v - mx);
                for (int s = 0; s < T; ++s) {
                    const double expected = s <= t ? std::exp(logit[size_t(s)] - mx) / z : 0.0;
                    QVERIFY(std::abs(att.data[size_t(((l * H + h) * T + t) * T + s)] - expected) < 1e-5);
                }
            }
}

void TestCli::errors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("no model folder") << QStringList{"run", "--model", "/nonexistent/m", "--prompt", "hi", "--out", "@OUT@"}
                                     << "error: ";
    QTest::newRow("empty prompt") << QStringList{"run", "--model", "@MODEL@", "--prompt", "", "--out", "@OUT@"}
                                  << "error: The prompt is empty.";
    QTest::newRow("whitespace prompt") << QStringList{"run", "--model", "@MODEL@", "--prompt", "  \n ", "--out", "@OUT@"}
                                       << "error: The prompt contains only whitespace.";
    QTest::newRow("id out of range") << QStringList{"run", "--model", "@MODEL@", "--ids", "1,999", "--out", "@OUT@"}
                                     << "error: Token id 999 is outside the vocabulary (0..311).";
    QTest::newRow("bad ids") << QStringList{"run", "--model", "@MODEL@", "--ids", "1,x", "--out", "@OUT@"}
                             << "error: --ids must be a comma-separated list of non-negative integers, got 'x'";
    QTest::newRow("both prompt and ids") << QStringList{"run", "--model", "@MODEL@", "--ids", "1", "--prompt", "a", "--out", "@OUT@"}
                                         << "error: give exactly one of --prompt and --ids";
    QTest::newRow("missing out") << QStringList{"run", "--model", "@MODEL@", "--ids", "1"} << "error: missing --out";
    QTest::newRow("bad bos") << QStringList{"run", "--model", "@MODEL@", "--prompt", "a", "--bos", "maybe", "--out", "@OUT@"}
                             << "error: BOS policy must be auto, on or off, not 'maybe'.";
    QTest::newRow("bad save") << QStringList{"run", "--model", "@MODEL@", "--prompt", "a", "--save", "everything", "--out", "@OUT@"}
                              << "error: --save accepts attention, logits, hidden, values and qk, not 'everything'.";
    QTest::newRow("bad device") << QStringList{"run", "--model", "@MODEL@", "--prompt", "a", "--device", "tpu", "--out", "@OUT@"}
                                << "error: Device must be auto, cpu or cuda, not 'tpu'.";
    QTest::newRow("bad threads") << QStringList{"run", "--model", "@MODEL@", "--prompt", "a", "--threads", "-2", "--out", "@OUT@"}
                                 << "error: --threads must be a whole number from 0 (one per physical core) to 4096, not '-2'.";
    QTest::newRow("unknown option") << QStringList{"run", "--modle", "x"} << "error: unknown option '--modle'";
    QTest::newRow("unknown command") << QStringList{"fly"} << "error: unknown command 'fly'";
    QTest::newRow("stray word") << QStringList{"run", "--model", "@MODEL@", "stray"} << "error: unexpected argument 'stray'";
    QTest::newRow("single-dash word") << QStringList{"demo", "-out", "x"} << "error: unexpected argument '-out'";
    QTest::newRow("option twice") << QStringList{"run", "--model", "a", "--model", "b"}
                                  << "error: option '--model' given twice";
    QTest::newRow("value missing") << QStringList{"demo", "--out"} << "error: option '--out' needs a value";
    QTest::newRow("unknown option of demo") << QStringList{"demo", "--out", "@OUT@", "--size", "3"}
                                            << "error: unknown option '--size'";
    QTest::newRow("too long") << QStringList{"run", "--model", "@MODEL@", "--prompt", QString("a ").repeated(200), "--out", "@OUT@"}
                              << "error: The prompt has 202 tokens but the model handles at most 128 positions; shorten it.";
}

void TestCli::errors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    const QString out = QDir(m_tmp.path()).filePath("err-" + QString::fromLatin1(QTest::currentDataTag()).replace(' ', '-'));
    for (QString& a : args)
        a.replace("@MODEL@", m_model).replace("@OUT@", out);
    const Outcome o = cli(args);
    QVERIFY2(o.code != 0, qPrintable(o.err));
    QVERIFY2(o.err.startsWith(message), qPrintable(o.err));
    QVERIFY(!QFileInfo::exists(QDir(out).filePath("run.json"))); // nothing half-written
}

void TestCli::threadsOptionAndVersion()
{
    // run.json records the thread count the pass ran with: as given, or one per physical core.
    const QString one = QDir(m_tmp.path()).filePath("threads-1");
    Outcome o = cli({"run", "--model", m_model, "--prompt", "hi", "--threads", "1", "--out", one});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QCOMPARE(readJson(QDir(one).filePath("run.json"))["threads"].toInt(), 1);
    o = cli({"--version"});
    QCOMPARE(o.code, 0);
    const QRegularExpressionMatch m =
        QRegularExpression(QStringLiteral("threads: (\\d+) intra-op .*, (\\d+) physical cores?")).match(o.out);
    QVERIFY2(m.hasMatch(), qPrintable(o.out));
    QCOMPARE(m.captured(1), m.captured(2)); // the default is one thread per physical core
    const QString dflt = QDir(m_tmp.path()).filePath("threads-default");
    o = cli({"run", "--model", m_model, "--prompt", "hi", "--out", dflt});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QCOMPARE(readJson(QDir(dflt).filePath("run.json"))["threads"].toInt(), m.captured(2).toInt());
}

void TestCli::modelsListsFamilies()
{
    const Outcome o = cli({"models"});
    QCOMPARE(o.code, 0);
    const QStringList lines = o.out.split('\n', Qt::SkipEmptyParts);
    QVERIFY(lines.contains("llama"));
    QVERIFY(lines.contains("mistral"));
    QVERIFY(lines.contains("qwen2"));
}

void TestCli::helpForEveryCommand_data()
{
    // The options each command takes, listed here independently of the parser's table: the help
    // must name every one of them (the old hand-written usage left --dtype, --k, ... out).
    QTest::addColumn<QString>("command");
    QTest::addColumn<QStringList>("options");
    QTest::newRow("run") << "run" << QStringList{"--model DIR", "--prompt TEXT", "--ids", "--bos", "--device", "--dtype",
                                                 "--threads N", "--save attention,logits,hidden,values,qk", "--out OUTDIR",
                                                 "--force"};
    QTest::newRow("analyze") << "analyze" << QStringList{"--model DIR", "--prompt TEXT", "--prompts FILE", "--length T",
                                                         "--epsilon E", "--k K", "--massive-abs A", "--massive-rel R",
                                                         "--bos", "--device", "--dtype", "--threads N", "--out OUTDIR",
                                                         "--force", "--per-prompt-tensors"};
    QTest::newRow("tokenize") << "tokenize" << QStringList{"--model DIR", "--tokenizer FILE", "--text TEXT",
                                                           "--text-file FILE", "--bos"};
    QTest::newRow("demo") << "demo" << QStringList{"--out DIR", "--kind decoder|encoder"};
    QTest::newRow("models") << "models" << QStringList{};
    QTest::newRow("figure") << "figure" << QStringList{"--model DIR", "--prompt TEXT", "--prompts FILE", "--session FILE",
                                                       "--view NAME", "--layer L", "--head H", "--preset", "--dpi N",
                                                       "--bos", "--device", "--out FILE"};
}

void TestCli::helpForEveryCommand()
{
    QFETCH(QString, command);
    QFETCH(QStringList, options);
    const Outcome help = cli({command, "--help"});
    QCOMPARE(help.code, 0);
    QVERIFY2(!help.err.contains("error"), qPrintable(help.err)); // figure may log a Qt platform note
    QVERIFY2(help.out.startsWith("usage: sinkscope-cli " + command + " [options]"), qPrintable(help.out));
    const Outcome overview = cli({"--help"});
    QCOMPARE(overview.code, 0);
    for (const QString& o : options) {
        QVERIFY2(help.out.contains(o), qPrintable(command + " --help lacks " + o + ":\n" + help.out));
        QVERIFY2(overview.out.contains(o.section(' ', 0, 0)), qPrintable("--help lacks " + o));
    }
    // --help wins over missing required options, but not over a malformed command line.
    const Outcome bad = cli({command, "--help", "--no-such-option"});
    QCOMPARE(bad.code, 2);
    QVERIFY2(bad.err.contains("error: unknown option '--no-such-option'"), qPrintable(bad.err));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
