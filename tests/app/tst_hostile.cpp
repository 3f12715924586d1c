// SPDX-License-Identifier: GPL-3.0-or-later
// Hostile and unlucky input through sinkscope-cli (a real process), each with the exact message:
// special files where a file is expected (FIFOs never waited on, devices, folders), empty paths,
// output folders that already hold a run (refused, or replaced whole with --force), numeric
// options out of range, token ids against the model's vocab_size (holes shown as "<id N>", ids a
// tokenizer gives past the embedding refused naming the token), a config that no checkpoint could
// back, NaN weights (the layer named, nothing written), prompts past the positions (the work
// bounded), over-long prompt lines, and control characters from files escaped in messages.
#include "clirunner.h"
#include "tinymodels.h"

#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/stat.h>

#include <cmath>
#include <limits>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

// The suite is built twice (SINKSCOPE_HOSTILE_PART 1 and 2) so that each executable stays short:
// every CLI call starts a process that loads libtorch.
#define inPart(n)                                                                                    \
    do {                                                                                             \
        if (SINKSCOPE_HOSTILE_PART != (n))                                                           \
            QSKIP("in the other part of this suite");                                                \
    } while (false)

// Every CLI call here must end within 20 s: a read that waits on a FIFO shows up as code -1.
Outcome run(const QStringList& args)
{
    return cli(args, 20000);
}

} // namespace

class TestHostile : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void specialFiles_data();
    void specialFiles();
    void outputFolderReuse();
    void numericRanges_data();
    void numericRanges();
    void idsBelowVocabSizeRun();
    void tokenizerIdsPastVocabSize();
    void configLayersBeyondCheckpoint();
    void nanWeights_data();
    void nanWeights();
    void promptFarPastPositions();
    void overlongPromptLine();
    void controlCharactersEscaped();
    void perPromptGrowsWithHeadsNotTokens();

private:
    QString dir(const QString& name) const { return QDir(m_tmp.path()).filePath(name); }
    QString modelWith(const QString& name, const TinyLlamaSpec& spec, TinyWeights weights = {});

    QTemporaryDir m_tmp;
    TinyLlamaSpec m_spec;
    QString m_good;
};

QString TestHostile::modelWith(const QString& name, const TinyLlamaSpec& spec, TinyWeights weights)
{
    const QString d = dir(name);
    if (weights.values.empty())
        weights = makeTinyLlamaWeights(spec);
    writeTinyLlama(d, spec, weights);
    writeBytes(QDir(d).filePath("tokenizer.json"), QByteArray::fromStdString(tinyTokenizerJson()));
    return d;
}

void TestHostile::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    m_spec.layers = 2;
    m_spec.vocab = kTinyTokenizerVocab;
    m_spec.maxPositions = 128;
    m_good = modelWith("good", m_spec);
}

void TestHostile::specialFiles_data()
{
    // %T% is the temporary folder, %G% the good model. Each row ends in "error: <message>".
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("tokenize --model, tokenizer.json a FIFO")
        << QStringList{"tokenize", "--model", "%T%/fifo-model", "--text", "hi"}
        << "The tokenizer file %T%/fifo-model/tokenizer.json exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("tokenize --model, tokenizer_config.json a FIFO")
        << QStringList{"tokenize", "--model", "%T%/fifo-config", "--text", "hi"}
        << "The tokenizer configuration %T%/fifo-config/tokenizer_config.json exists but is a FIFO (named pipe), not a "
           "regular file.";
    QTest::newRow("run, tokenizer_config.json a FIFO")
        << QStringList{"run", "--model", "%T%/fifo-config", "--prompt", "hi", "--out", "%T%/out-fifo-config"}
        << "The tokenizer configuration %T%/fifo-config/tokenizer_config.json exists but is a FIFO (named pipe), not a "
           "regular file.";
    QTest::newRow("--tokenizer a FIFO") << QStringList{"tokenize", "--tokenizer", "%T%/fifo", "--text", "hi"}
                                        << "The tokenizer file %T%/fifo exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("--text-file a FIFO") << QStringList{"tokenize", "--model", "%G%", "--text-file", "%T%/fifo"}
                                        << "The text file %T%/fifo exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("--text-file /dev/zero")
        << QStringList{"tokenize", "--model", "%G%", "--text-file", "/dev/zero"}
        << "The text file /dev/zero exists but is a character device, not a regular file.";
    QTest::newRow("--text-file a folder") << QStringList{"tokenize", "--model", "%G%", "--text-file", "%T%"}
                                          << "The text file %T% exists but is a folder, not a regular file.";
    QTest::newRow("--tokenizer /dev/zero") << QStringList{"tokenize", "--tokenizer", "/dev/zero", "--text", "hi"}
                                           << "The tokenizer file /dev/zero exists but is a character device, not a "
                                              "regular file.";
    QTest::newRow("--prompts a FIFO")
        << QStringList{"analyze", "--model", "%G%", "--prompts", "%T%/fifo", "--out", "%T%/out-fifo-prompts"}
        << "The prompt file %T%/fifo exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("tokenize --model a FIFO") << QStringList{"tokenize", "--model", "%T%/fifo", "--text", "hi"}
                                             << "The model folder %T%/fifo exists but is a FIFO (named pipe), not a folder.";
    QTest::newRow("empty model path") << QStringList{"run", "--model", "", "--prompt", "hi", "--out", "%T%/out-empty"}
                                      << "No model folder was given (the path is empty).";
    QTest::newRow("empty tokenize model path") << QStringList{"tokenize", "--model", "", "--text", "hi"}
                                               << "No model folder was given (the path is empty).";
    QTest::newRow("empty output path") << QStringList{"run", "--model", "%G%", "--prompt", "hi", "--out", ""}
                                       << "No output folder was given (the path is empty).";
}

void TestHostile::specialFiles()
{
    inPart(1);
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    const QString t = m_tmp.path();
    if (!QFileInfo::exists(dir("fifo")))
        QVERIFY(::mkfifo(QFile::encodeName(dir("fifo")).constData(), 0600) == 0);
    for (const char* name : {"fifo-model", "fifo-config"}) {
        const QString d = dir(name);
        if (QFileInfo::exists(d))
            continue;
        QDir().mkpath(d);
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
            QFile::copy(QDir(m_good).filePath(f), QDir(d).filePath(f));
        const QString fifo = QDir(d).filePath(QString(name) == "fifo-model" ? "tokenizer.json" : "tokenizer_config.json");
        QFile::remove(fifo);
        QVERIFY(::mkfifo(QFile::encodeName(fifo).constData(), 0600) == 0);
    }
    if (!QFileInfo::exists("/dev/zero") && args.contains("/dev/zero"))
        QSKIP("no /dev/zero");
    for (QString& a : args)
        a.replace("%T%", t).replace("%G%", m_good);
    const Outcome o = run(args);
    QVERIFY2(o.code == 1, qPrintable(QString::number(o.code) + " " + o.err));
    QCOMPARE(o.err, "error: " + QString(message).replace("%T%", t).replace("%G%", m_good) + "\n");
    QVERIFY(o.out.isEmpty());
}

void TestHostile::outputFolderReuse()
{
    inPart(1);
    const QString out = dir("reused");
    Outcome o = run({"run", "--model", m_good, "--prompt", "first run", "--save", "attention", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QCOMPARE(entries(out), (QStringList{"attention.npy", "run.json"}));
    const QByteArray json = readBytes(QDir(out).filePath("run.json"));
    const QByteArray npy = readBytes(QDir(out).filePath("attention.npy"));

    // A second run into the same folder is refused before any work; nothing changes.
    o = run({"run", "--model", m_good, "--prompt", "second run", "--out", out});
    QCOMPARE(o.code, 1);
    QCOMPARE(o.err, "error: The output folder " + out
                        + " already holds files (attention.npy, run.json); choose a new or empty folder, or give --force "
                          "to replace the folder as a whole.\n");
    QCOMPARE(readBytes(QDir(out).filePath("run.json")), json);
    QCOMPARE(readBytes(QDir(out).filePath("attention.npy")), npy);
    o = run({"analyze", "--model", m_good, "--prompt", "second run", "--out", out});
    QCOMPARE(o.code, 1);
    QVERIFY2(o.err.startsWith("error: The output folder " + out + " already holds files"), qPrintable(o.err));

    // --force replaces the folder as a whole: the old attention.npy does not stay beside the new
    // run.json, which a reader would combine with it.
    o = run({"run", "--model", m_good, "--prompt", "second run", "--out", out, "--force"});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QCOMPARE(entries(out), QStringList{"run.json"});
    QVERIFY(readBytes(QDir(out).filePath("run.json")) != json);
    QCOMPARE(entries(m_tmp.path()).filter(".staging"), QStringList());

    // analyze --force over a run folder: only the metrics files remain.
    o = run({"analyze", "--model", m_good, "--prompt", "second run", "--out", out, "--force"});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QVERIFY(!entries(out).contains("attention.npy"));
    QVERIFY(entries(out).contains("metrics.json"));
}

void TestHostile::numericRanges_data()
{
    QTest::addColumn<QStringList>("options");
    QTest::addColumn<QString>("message");
    QTest::newRow("--k 1e300") << QStringList{"--k", "1e300"}
                               << "--k must be a non-negative element index (a whole number up to 2147483647), got '1e300'";
    QTest::newRow("--k -1") << QStringList{"--k", "-1"}
                            << "--k must be a non-negative element index (a whole number up to 2147483647), got '-1'";
    QTest::newRow("--k 2.5") << QStringList{"--k", "2.5"}
                             << "--k must be a non-negative element index (a whole number up to 2147483647), got '2.5'";
    QTest::newRow("--k 2147483648") << QStringList{"--k", "2147483648"}
                                    << "--k must be a non-negative element index (a whole number up to 2147483647), got "
                                       "'2147483648'";
    QTest::newRow("--k nan") << QStringList{"--k", "nan"} << "--k needs a number, got 'nan'";
    QTest::newRow("--length 1e30") << QStringList{"--length", "1e30"} << "--length must be a positive number of tokens";
    QTest::newRow("--massive-abs -1") << QStringList{"--massive-abs", "-1"}
                                      << "--massive-abs and --massive-rel must not be negative";
}

void TestHostile::numericRanges()
{
    inPart(1);
    QFETCH(QStringList, options);
    QFETCH(QString, message);
    const QString out = dir("out-numeric");
    const Outcome o = run(QStringList{"analyze", "--model", m_good, "--prompt", "a b c", "--out", out} + options);
    QCOMPARE(o.code, 2); // a usage error
    QCOMPARE(o.err.section('\n', 0, 0), "error: " + message);
    QVERIFY(!QFileInfo::exists(out));
}

void TestHostile::idsBelowVocabSizeRun()
{
    inPart(1);
    // The embedding has 316 rows, the tokenizer 312 pieces: ids 312..315 have no piece but run.
    TinyLlamaSpec spec = m_spec;
    spec.vocab = kTinyTokenizerVocab + 4;
    const QString model = modelWith("holes", spec);
    const QString out = dir("out-holes");
    Outcome o = run({"run", "--model", model, "--ids", "1,314,293", "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QJsonArray tokens = readJson(QDir(out).filePath("run.json"))["tokens"].toArray();
    QCOMPARE(tokens.size(), 3);
    QCOMPARE(tokens[1].toObject()["id"].toInt(), 314);
    QCOMPARE(tokens[1].toObject()["text"].toString(), "<id 314>");
    QCOMPARE(tokens[1].toObject()["piece"].toString(), "");
    QCOMPARE(tokens[2].toObject()["piece"].toString(), QString::fromUtf8("\u2581h"));
    // An id the embedding does not have is still refused.
    o = run({"run", "--model", model, "--ids", "316", "--out", dir("out-holes-2")});
    QCOMPARE(o.code, 1);
    QCOMPARE(o.err, "error: Token id 316 is outside the vocabulary (0..315).\n");
}

void TestHostile::tokenizerIdsPastVocabSize()
{
    inPart(1);
    // vocab_size 290 under a tokenizer whose "▁h" is id 293: named at encode time, not an
    // "index out of range" from inside the forward pass.
    TinyLlamaSpec spec = m_spec;
    spec.vocab = 290;
    const QString model = modelWith("small-vocab", spec);
    for (const QString& cmd : {QStringLiteral("run"), QStringLiteral("analyze")}) {
        const QString out = dir("out-small-vocab-" + cmd);
        const Outcome o = run({cmd, "--model", model, "--prompt", "hello", "--out", out});
        QCOMPARE(o.code, 1);
        QCOMPARE(o.err, QString::fromUtf8("error: The tokenizer gives token 1 ('\u2581h') the id 293, but the model's "
                                          "vocabulary has only 290 ids (vocab_size in config.json); tokenizer.json "
                                          "does not belong to this model.\n"));
        QVERIFY(!QFileInfo::exists(out));
    }
}

void TestHostile::configLayersBeyondCheckpoint()
{
    inPart(2);
    const QString model = modelWith("huge-layers", m_spec);
    const QString config = QDir(model).filePath("config.json");
    QJsonObject o = QJsonDocument::fromJson(readBytes(config)).object();
    o["num_hidden_layers"] = 2147483647;
    writeBytes(config, QJsonDocument(o).toJson());
    const Outcome r = run({"run", "--model", model, "--prompt", "hi", "--out", dir("out-huge-layers")});
    QCOMPARE(r.code, 1);
    QCOMPARE(r.err, "error: " + config
                        + " gives 2147483647 layers, but the checkpoint holds 2 layers (model.layers.0 to model.layers.1); "
                          "the config does not belong to these weights.\n");
}

void TestHostile::nanWeights_data()
{
    QTest::addColumn<QString>("command");
    QTest::addColumn<QString>("save");
    QTest::addColumn<QString>("where");
    // Layer 0's MLP output is NaN: the residual stream after layer 0 holds it (seen when hidden
    // states are kept), and the attention of layer 1 is the first summary that sees it.
    QTest::newRow("run, summaries only") << "run" << "" << "in the attention of layer 1";
    QTest::newRow("run, hidden kept") << "run" << "hidden" << "in the output of layer 0";
    QTest::newRow("analyze") << "analyze" << "" << "in the output of layer 0";
    QTest::newRow("run, Inf in layer 1 attention") << "run-inf" << "" << "in the attention of layer 1";
}

void TestHostile::nanWeights()
{
    inPart(2);
    QFETCH(QString, command);
    QFETCH(QString, save);
    QFETCH(QString, where);
    TinyWeights w = makeTinyLlamaWeights(m_spec);
    const bool inf = command == "run-inf";
    if (inf)
        w.values["model.layers.1.self_attn.q_proj.weight"][3] = std::numeric_limits<float>::infinity();
    else
        w.values["model.layers.0.mlp.down_proj.weight"][5] = std::numeric_limits<float>::quiet_NaN();
    const QString model = modelWith(inf ? "inf-weights" : "nan-weights", m_spec, w);
    const QString out = dir("out-nan-" + QString(QTest::currentDataTag()).replace(' ', '-').replace(',', '-'));
    QStringList args{inf ? "run" : command, "--model", model, "--prompt", "hello world", "--out", out};
    if (!save.isEmpty())
        args << "--save" << save;
    const Outcome o = run(args);
    QCOMPARE(o.code, 1);
    QCOMPARE(o.err, "error: The forward pass produced NaN or infinite values, first " + where
                        + " (layers count from 0, over 11 tokens). The checkpoint's weights or its config are broken "
                          "there; no metric is computed from such values.\n");
    QVERIFY(!QFileInfo::exists(out)); // no null masses, no 0.00% sink rate
}

void TestHostile::promptFarPastPositions()
{
    inPart(2);
    // 600 words for 128 positions: counting stops at twice the limit (the work is bounded by the
    // positions), and the message says so.
    const Outcome o =
        run({"run", "--model", m_good, "--prompt", QString("a ").repeated(600), "--out", dir("out-far-too-long")});
    QCOMPARE(o.code, 1);
    QCOMPARE(o.err, "error: The prompt has more than 256 tokens but the model handles at most 128 positions; shorten it.\n");
}

void TestHostile::overlongPromptLine()
{
    inPart(2);
    // One line above the 4 MiB limit for a prompt is skipped by number before any tokenizing.
    const QString file = dir("long-line.txt");
    writeBytes(file, "the cat sat\n" + QByteArray((4 << 20) + 1, 'a') + "\nhello world\n");
    const QString out = dir("out-long-line");
    const Outcome o = run({"analyze", "--model", m_good, "--prompts", file, "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QCOMPARE(o.err.section('\n', 0, 0), "warning: " + file + ":2: longer than 4 MiB, the limit for one prompt (line skipped)");
    QVERIFY(QFileInfo::exists(QDir(out).filePath("metrics.json")));
}

void TestHostile::controlCharactersEscaped()
{
    inPart(2);
    // An extra tensor whose name holds a newline, a fake "error:" line and an OSC sequence.
    TinyWeights w = makeTinyLlamaWeights(m_spec);
    const std::string name = "w\nerror: pwned\x1b]0;x\x07";
    w.values[name] = {1.0f};
    w.shapes[name] = {1};
    const QString model = modelWith("hostile-name", m_spec, w);
    const Outcome o = run({"run", "--model", model, "--prompt", "hi", "--out", dir("out-hostile-name")});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QString note = o.err.section('\n', 0, 0);
    QCOMPARE(note, "note: Ignored 1 tensor of the checkpoint that a llama model does not use: "
                   "w\\nerror: pwned\\x1b]0;x\\x07.");
    QVERIFY(!o.err.contains(QChar(0x1b)));
    QVERIFY(!o.err.contains("\nerror:"));
}

void TestHostile::perPromptGrowsWithHeadsNotTokens()
{
    inPart(2);
    const QString file = dir("three.txt");
    writeBytes(file, "the cat sat on the mat\nhello world again\nabc def ghi jkl\n");
    for (const bool tensors : {false, true}) {
        const QString out = dir(tensors ? "out-per-prompt-tensors" : "out-per-prompt");
        QStringList args{"analyze", "--model", m_good, "--prompts", file, "--length", "5", "--out", out};
        if (tensors)
            args << "--per-prompt-tensors";
        const Outcome o = run(args);
        QVERIFY2(o.code == 0, qPrintable(o.err));
        const QJsonObject m = readJson(QDir(out).filePath("metrics.json"));
        const QJsonArray per = m["per_prompt"].toArray();
        QCOMPARE(per.size(), 3);
        for (const QJsonValue& p : per) {
            const QJsonObject e = p.toObject();
            QCOMPARE(e["first_token_mass"].toArray().size(), m_spec.layers);
            QCOMPARE(e["first_token_mass"].toArray()[0].toArray().size(), m_spec.heads);
            QVERIFY(e.contains("sink_rate") && e.contains("waiver") && e.contains("line"));
            for (const char* key : {"importance", "first_mass_per_query", "entropy", "sink_curve", "hidden_dims"})
                QCOMPARE(e.contains(key), tensors);
        }
        // The group's mean keeps every tensor.
        QVERIFY(m.contains("importance") && m.contains("sink_curve"));
    }
}

QTEST_GUILESS_MAIN(TestHostile)
#include "tst_hostile.moc"
