// SPDX-License-Identifier: GPL-3.0-or-later
// The bad-input suite: every broken checkpoint, config, tokenizer and prompt a researcher may
// point the program at, each with the exact message the user gets, through both front ends:
//  - sinkscope-cli (a real process): stderr is "error: <message>", the exit code is non-zero and
//    nothing is left in --out;
//  - the main window (offscreen): the message bar shows "Could not open <folder>: <message>", the
//    model and result shown before stay, and a prompt still runs on that model afterwards.
// The broken files are written byte by byte here, from the weights of a valid tiny checkpoint;
// the expected messages are spelled out, not computed by the code under test.
#include "attentionheatmapview.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "selection.h"
#include "viewregistry.h"
#include "sinkscope/modelconfig.h"
#include "clirunner.h"
#include "tinymodels.h"

#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

// ---- safetensors bytes, by hand -------------------------------------------------------------

struct RawTensor {
    std::string name;
    std::string dtype = "F32";
    std::vector<int64_t> shape;
    QByteArray bytes;
};

QByteArray floatBytes(const std::vector<float>& v)
{
    QByteArray b(qsizetype(v.size() * sizeof(float)), '\0');
    std::memcpy(b.data(), v.data(), size_t(b.size())); // the test hosts are little-endian, like the format
    return b;
}

QByteArray lengthPrefix(uint64_t n)
{
    QByteArray b(8, '\0');
    for (int i = 0; i < 8; ++i)
        b[i] = char((n >> (8 * i)) & 0xFF);
    return b;
}

QByteArray shapeJson(const std::vector<int64_t>& shape)
{
    QByteArray s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? "," : "") + QByteArray::number(qint64(shape[i]));
    return s + "]";
}

// A header entry with explicit offsets.
QByteArray entry(const std::string& name, const char* dtype, const std::vector<int64_t>& shape, uint64_t begin,
                 uint64_t end)
{
    return "\"" + QByteArray::fromStdString(name) + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shapeJson(shape)
           + ",\"data_offsets\":[" + QByteArray::number(quint64(begin)) + "," + QByteArray::number(quint64(end)) + "]}";
}

QByteArray fileBytes(const QByteArray& header, const QByteArray& data)
{
    return lengthPrefix(uint64_t(header.size())) + header + data;
}

// A well-formed file holding `tensors` back to back in the given order.
QByteArray safetensorsBytes(const std::vector<RawTensor>& tensors)
{
    QByteArray header = "{";
    QByteArray data;
    for (const RawTensor& t : tensors) {
        if (header.size() > 1)
            header += ",";
        header += entry(t.name, t.dtype.c_str(), t.shape, uint64_t(data.size()), uint64_t(data.size() + t.bytes.size()));
        data += t.bytes;
    }
    header += "}";
    return fileBytes(header, data);
}

std::vector<RawTensor> rawTensors(const TinyWeights& w)
{
    std::vector<RawTensor> out;
    for (const auto& [name, values] : w.values)
        out.push_back({name, "F32", w.shapes.at(name), floatBytes(values)});
    return out;
}

QJsonObject readObject(const QString& path)
{
    return QJsonDocument::fromJson(readBytes(path)).object();
}

void writeObject(const QString& path, const QJsonObject& o)
{
    writeBytes(path, QJsonDocument(o).toJson());
}

// ---- the cases ------------------------------------------------------------------------------

// One broken model folder: `build` spoils a copy of the good folder; `message` is what the user
// reads, with %DIR% for the folder and %ANY% for text the test does not pin (lists of supported
// kinds that grow as families are added).
struct Case {
    const char* name;
    std::function<void(const QString& dir, const TinyWeights& w)> build;
    QString message;
    bool loads = false; ///< the folder loads; `message` is the note shown with it
};

QString st(const QString& dir)
{
    return QDir(dir).filePath("model.safetensors");
}

void spoilConfig(const QString& dir, const std::function<void(QJsonObject&)>& f)
{
    QJsonObject o = readObject(QDir(dir).filePath("config.json"));
    f(o);
    writeObject(QDir(dir).filePath("config.json"), o);
}

void spoilTokenizer(const QString& dir, const std::function<void(QJsonObject&)>& f)
{
    QJsonObject o = readObject(QDir(dir).filePath("tokenizer.json"));
    f(o);
    writeObject(QDir(dir).filePath("tokenizer.json"), o);
}

// A pickle that would run `touch <marker>` if anything ever unpickled it.
QByteArray hostilePickle(const QString& marker)
{
    return "cposix\nsystem\n(S'touch " + marker.toUtf8() + "'\ntR.";
}

const std::vector<Case>& cases()
{
    static const std::vector<Case> all = {
        // ---- checkpoints
        {"empty weight file", [](const QString& d, const TinyWeights&) { writeBytes(st(d), {}); },
         "model.safetensors: the file is empty, so it holds no safetensors header."},
        {"truncated header length", [](const QString& d, const TinyWeights&) { writeBytes(st(d), QByteArray("\x20\0\0\0\0", 5)); },
         "model.safetensors: the file is only 5 bytes long, too short for the 8-byte header length."},
        {"header length beyond the file",
         [](const QString& d, const TinyWeights&) { writeBytes(st(d), lengthPrefix(1000) + "{\"a\":1}" + QByteArray(13, ' ')); },
         "model.safetensors: the header length 1000 runs past the end of the file (28 bytes); the file is "
         "truncated or not a safetensors file."},
        {"invalid header JSON", [](const QString& d, const TinyWeights&) { writeBytes(st(d), fileBytes("{\"w\": [1, 2}   ", "")); },
         "model.safetensors: the header is not valid JSON (%ANY% at byte %ANY%)."},
        {"unsupported dtype",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("model.embed_tokens.weight", "I64", {2}, 0, 16) + "}", QByteArray(16, 'x')));
         },
         "model.safetensors: tensor 'model.embed_tokens.weight' has dtype 'I64', which is not supported (supported: "
         "F32, F16, BF16)."},
        {"unknown dtype",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("w", "Q4_K", {2}, 0, 16) + "}", QByteArray(16, 'x')));
         },
         "model.safetensors: tensor 'w' has unknown dtype 'Q4_K', which is not supported (supported: F32, F16, BF16)."},
        {"shape disagrees with byte span",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("w", "F32", {2, 3}, 0, 20) + "}", QByteArray(20, 'x')));
         },
         "model.safetensors: tensor 'w' has shape [2, 3] and dtype F32 (24 bytes) but its data_offsets [0, 20] "
         "span 20 bytes."},
        {"offsets outside the data area",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("w", "F32", {6}, 0, 24) + "}", QByteArray(8, 'x')));
         },
         "model.safetensors: tensor 'w' has data_offsets [0, 24] outside the data area (8 bytes)."},
        {"overlapping offsets",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("a", "F32", {4}, 0, 16) + "," + entry("b", "F32", {4}, 8, 24) + "}",
                                         QByteArray(24, 'x')));
         },
         "model.safetensors: tensors 'a' [0, 16] and 'b' [8, 24] overlap."},
        {"offsets out of order",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("w", "F32", {4}, 16, 0) + "}", QByteArray(16, 'x')));
         },
         "model.safetensors: tensor 'w' has data_offsets [16, 0] out of order (begin after end)."},
        {"gap between tensors",
         [](const QString& d, const TinyWeights&) {
             writeBytes(st(d), fileBytes("{" + entry("a", "F32", {4}, 0, 16) + "," + entry("b", "F32", {4}, 20, 36) + "}",
                                         QByteArray(36, 'x')));
         },
         "model.safetensors: bytes 16 to 20 of the data area belong to no tensor (a gap before 'b')."},
        {"missing tensor",
         [](const QString& d, const TinyWeights& w) {
             std::vector<RawTensor> t = rawTensors(w);
             t.erase(std::remove_if(t.begin(), t.end(),
                                    [](const RawTensor& r) { return r.name == "model.layers.1.mlp.down_proj.weight"; }),
                     t.end());
             writeBytes(st(d), safetensorsBytes(t));
         },
         "The checkpoint has no tensor 'model.layers.1.mlp.down_proj.weight', which a llama model needs."},
        {"tensor of the wrong shape",
         [](const QString& d, const TinyWeights& w) {
             std::vector<RawTensor> t = rawTensors(w);
             for (RawTensor& r : t)
                 if (r.name == "model.layers.0.self_attn.q_proj.weight") {
                     r.shape = {8, 16};
                     r.bytes.truncate(8 * 16 * 4);
                 }
             writeBytes(st(d), safetensorsBytes(t));
         },
         "Tensor 'model.layers.0.self_attn.q_proj.weight' has shape [8, 16] but the config implies [16, 16]."},
        {"extra unknown tensors",
         [](const QString& d, const TinyWeights& w) {
             std::vector<RawTensor> t = rawTensors(w);
             t.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {2}, floatBytes({1.0f, 0.5f})});
             t.push_back({"vision_tower.patch_embed.weight", "F32", {1}, floatBytes({3.0f})});
             writeBytes(st(d), safetensorsBytes(t));
         },
         "Ignored 2 tensors of the checkpoint that a llama model does not use: "
         "model.layers.0.self_attn.rotary_emb.inv_freq, vision_tower.patch_embed.weight.",
         true},
        {"sharded index with a missing shard",
         [](const QString& d, const TinyWeights& w) {
             QFile::remove(st(d));
             std::vector<RawTensor> first, second;
             QJsonObject map;
             for (const RawTensor& r : rawTensors(w)) {
                 const bool one = r.name.find("layers.1.") == std::string::npos;
                 (one ? first : second).push_back(r);
                 map[QString::fromStdString(r.name)] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
             }
             writeBytes(QDir(d).filePath("model-00001-of-00002.safetensors"), safetensorsBytes(first));
             writeObject(QDir(d).filePath("model.safetensors.index.json"),
                         QJsonObject{{"metadata", QJsonObject{}}, {"weight_map", map}});
         },
         "model.safetensors.index.json in %DIR% names 1 shard file that is missing: model-00002-of-00002.safetensors. "
         "The download may be incomplete."},
        {"only pytorch_model.bin",
         [](const QString& d, const TinyWeights&) {
             QFile::remove(st(d));
             writeBytes(QDir(d).filePath("pytorch_model.bin"), hostilePickle(QDir(d).filePath("UNPICKLED")));
         },
         "The model folder %DIR% has its weights only as PyTorch pickle files (pytorch_model.bin). SinkScope never "
         "loads pickle checkpoints, because unpickling can execute code hidden in the file. Convert the weights to "
         "safetensors (in Python: model.save_pretrained(folder, safe_serialization=True)) and open the converted folder."},
        {"only model.pt",
         [](const QString& d, const TinyWeights&) {
             QFile::remove(st(d));
             writeBytes(QDir(d).filePath("model.pt"), hostilePickle(QDir(d).filePath("UNPICKLED")));
         },
         "The model folder %DIR% has its weights only as PyTorch pickle files (model.pt). SinkScope never loads pickle "
         "checkpoints, because unpickling can execute code hidden in the file. Convert the weights to safetensors (in "
         "Python: model.save_pretrained(folder, safe_serialization=True)) and open the converted folder."},
        // ---- config.json
        {"config missing hidden_size", [](const QString& d, const TinyWeights&) { spoilConfig(d, [](QJsonObject& o) { o.remove("hidden_size"); }); },
         "%DIR%/config.json: the required key \"hidden_size\" is missing."},
        {"config missing model_type", [](const QString& d, const TinyWeights&) { spoilConfig(d, [](QJsonObject& o) { o.remove("model_type"); }); },
         "%DIR%/config.json: the key \"model_type\" is missing, so the architecture is unknown."},
        {"hidden not divisible by heads",
         [](const QString& d, const TinyWeights&) {
             spoilConfig(d, [](QJsonObject& o) { o["num_attention_heads"] = 5; o["num_key_value_heads"] = 5; });
         },
         "%DIR%/config.json: hidden_size (16) is not divisible by num_attention_heads (5) and no head_dim is given."},
        {"heads not divisible by kv heads",
         [](const QString& d, const TinyWeights&) { spoilConfig(d, [](QJsonObject& o) { o["num_key_value_heads"] = 3; }); },
         "%DIR%/config.json: num_attention_heads (4) is not divisible by num_key_value_heads (3)."},
        {"unknown model_type", [](const QString& d, const TinyWeights&) { spoilConfig(d, [](QJsonObject& o) { o["model_type"] = "mamba"; }); },
         "%DIR%/config.json: model_type 'mamba' is not supported (supported: %ANY%)."},
        {"unknown rope_scaling type",
         [](const QString& d, const TinyWeights&) {
             spoilConfig(d, [](QJsonObject& o) { o["rope_scaling"] = QJsonObject{{"rope_type", "warp"}, {"factor", 2.0}}; });
         },
         "%DIR%/config.json: rope_scaling type 'warp' is not supported (supported: %ANY%)."},
        // ---- tokenizer.json
        {"tokenizer not JSON", [](const QString& d, const TinyWeights&) { writeBytes(QDir(d).filePath("tokenizer.json"), "{\"model\": {\"type\": \"BPE\",,}"); },
         "Malformed tokenizer.json: not valid JSON (%ANY% at byte %ANY%). (%DIR%/tokenizer.json)"},
        {"tokenizer unknown normalizer",
         [](const QString& d, const TinyWeights&) {
             spoilTokenizer(d, [](QJsonObject& o) { o["normalizer"] = QJsonObject{{"type", "Mystery"}}; });
         },
         "Unsupported tokenizer.json: normalizer Mystery: this normalizer type is not implemented. (%DIR%/tokenizer.json)"},
        {"tokenizer unknown model type",
         [](const QString& d, const TinyWeights&) {
             spoilTokenizer(d, [](QJsonObject& o) {
                 QJsonObject m = o["model"].toObject();
                 m["type"] = "Mystery";
                 o["model"] = m;
             });
         },
         "Unsupported tokenizer.json: model Mystery: this model type is not implemented. (%DIR%/tokenizer.json)"},
        {"tokenizer merge of an unknown piece",
         [](const QString& d, const TinyWeights&) {
             spoilTokenizer(d, [](QJsonObject& o) {
                 QJsonObject m = o["model"].toObject();
                 QJsonArray merges = m["merges"].toArray();
                 merges.append(QString::fromUtf8("\u2581 Q"));
                 m["merges"] = merges;
                 o["model"] = m;
             });
         },
         "Malformed tokenizer.json: model BPE: merge 26 uses 'Q', which is not in the vocabulary. (%DIR%/tokenizer.json)"},
        {"tokenizer merge result not in vocab",
         [](const QString& d, const TinyWeights&) {
             spoilTokenizer(d, [](QJsonObject& o) {
                 QJsonObject m = o["model"].toObject();
                 QJsonArray merges = m["merges"].toArray();
                 merges.append("a b");
                 m["merges"] = merges;
                 o["model"] = m;
             });
         },
         "Malformed tokenizer.json: model BPE: merge 26 produces 'ab', which is not in the vocabulary. (%DIR%/tokenizer.json)"},
        {"tokenizer negative vocabulary id",
         [](const QString& d, const TinyWeights&) {
             spoilTokenizer(d, [](QJsonObject& o) {
                 QJsonObject m = o["model"].toObject();
                 QJsonObject v = m["vocab"].toObject();
                 v["q"] = -7;
                 m["vocab"] = v;
                 o["model"] = m;
             });
         },
         "Malformed tokenizer.json: model BPE: vocabulary entry 'q' must map to a non-negative integer id. (%DIR%/tokenizer.json)"},
        {"tokenizer two added tokens on one id",
         [](const QString& d, const TinyWeights&) {
             spoilTokenizer(d, [](QJsonObject& o) {
                 QJsonArray added = o["added_tokens"].toArray();
                 added.append(QJsonObject{{"id", 1}, {"content", "<bos>"}, {"single_word", false}, {"lstrip", false},
                                          {"rstrip", false}, {"normalized", false}, {"special", true}});
                 o["added_tokens"] = added;
             });
         },
         "Malformed tokenizer.json: added_tokens[3]: id 1 is used by two added tokens. (%DIR%/tokenizer.json)"},
    };
    return all;
}

// The suite is built three times (SINKSCOPE_BADINPUT_PART 1, 2, 3) so that each executable stays
// well under half a minute: every CLI row starts a process that loads libtorch. Part 1 holds the
// checkpoint cases, part 2 the config and tokenizer cases, part 3 the prompts.
bool inThisPart(size_t index)
{
    size_t firstConfig = 0;
    while (firstConfig < cases().size() && std::string(cases()[firstConfig].name).rfind("config", 0) != 0)
        ++firstConfig;
    return SINKSCOPE_BADINPUT_PART == (index < firstConfig ? 1 : 2);
}

const Case* findCase(const QString& name)
{
    for (const Case& c : cases())
        if (name == QLatin1String(c.name))
            return &c;
    return nullptr;
}

// `pattern` with %DIR% replaced and %ANY% matching any text on one line, as an anchored regex.
QRegularExpression messagePattern(const QString& pattern, const QString& dir)
{
    QString rx;
    const QStringList parts = QString(pattern).replace("%DIR%", dir).split("%ANY%");
    for (int i = 0; i < parts.size(); ++i)
        rx += (i ? "[^\\n]*" : "") + QRegularExpression::escape(parts[i]);
    return QRegularExpression("\\A" + rx + "\\z");
}

// A command line through the shell, so an argument can carry bytes that are not UTF-8.
Outcome shell(const QString& script)
{
    QProcess p;
    p.start(QStringLiteral("/bin/sh"), {"-c", script, "sh", QStringLiteral(SINKSCOPE_CLI_PATH)});
    p.waitForFinished(60000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

// Everything in `dir`, hidden staging folders included; empty when `dir` does not exist.
QStringList leftovers(const QString& dir)
{
    return QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot);
}

} // namespace

class TestBadInput : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void goodFolderLoads();
    void cliModel_data();
    void cliModel();
    void guiModel_data();
    void guiModel();
    void cliPrompt_data();
    void cliPrompt();
    void promptFileBadLine();
    void promptFileOnlyBadLines();
    void guiPrompt_data();
    void guiPrompt();

private:
    void caseRows();
    bool runInWindow(const QString& prompt);
    bool showGoodResult();
    QString caseDir(const QString& name) const;

    QTemporaryDir m_tmp;
    QString m_good;
    TinyWeights m_weights;
    std::unique_ptr<MainWindow> m_window;
};

QString TestBadInput::caseDir(const QString& name) const
{
    QString slug = name;
    slug.replace(QRegularExpression("[^A-Za-z0-9]+"), "-");
    return QDir(m_tmp.path()).filePath("cases/" + slug);
}

void TestBadInput::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("SinkScopeTests");
    QSettings().clear();
    QVERIFY(m_tmp.isValid());

    // The good folder: tiny Llama config and tokenizer, weights written here byte by byte.
    TinyLlamaSpec spec;
    spec.layers = 2;
    spec.vocab = kTinyTokenizerVocab;
    spec.maxPositions = 128;
    m_weights = makeTinyLlamaWeights(spec);
    m_good = QDir(m_tmp.path()).filePath("good");
    QVERIFY(QDir().mkpath(m_good));
    writeBytes(QDir(m_good).filePath("config.json"), QByteArray::fromStdString(tinyLlamaConfigJson(spec)));
    writeBytes(QDir(m_good).filePath("tokenizer.json"), QByteArray::fromStdString(tinyTokenizerJson()));
    writeBytes(st(m_good), safetensorsBytes(rawTensors(m_weights)));

    for (const Case& c : cases()) {
        const QString dir = caseDir(c.name);
        QVERIFY(QDir().mkpath(dir));
        for (const char* f : {"config.json", "tokenizer.json", "model.safetensors"})
            QVERIFY(QFile::copy(QDir(m_good).filePath(f), QDir(dir).filePath(f)));
        c.build(dir, m_weights);
    }

    // One window for the GUI rows: the good model loaded and a result on screen.
    m_window = std::make_unique<MainWindow>();
    m_window->show();
    QSignalSpy loaded(m_window->engine(), &EngineClient::modelLoaded);
    m_window->openModelFolder(m_good);
    QVERIFY(loaded.wait(30000));
    QVERIFY(runInWindow("hello world"));
}

void TestBadInput::cleanupTestCase()
{
    m_window.reset();
}

bool TestBadInput::runInWindow(const QString& prompt)
{
    QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
    m_window->setPrompt(prompt);
    m_window->runPrompt();
    return shown.wait(30000);
}

// Puts the window back to the good model with a result on screen (after a row that loaded another
// folder or failed half-way), so every row starts from the same state.
bool TestBadInput::showGoodResult()
{
    MainWindow& w = *m_window;
    if (w.engine()->hasModel() && w.engine()->modelInfo().dir == QFileInfo(m_good).absoluteFilePath().toStdString()
        && w.result())
        return true;
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(m_good);
    return loaded.wait(30000) && runInWindow("hello world");
}

void TestBadInput::goodFolderLoads()
{
    // The hand-written good checkpoint is valid, so each case fails for its own defect only.
    const Outcome o = cli({"run", "--model", m_good, "--prompt", "hello", "--out", QDir(m_tmp.path()).filePath("out-good")});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    QVERIFY(!o.err.contains("note:"));
}

void TestBadInput::caseRows()
{
    QTest::addColumn<QString>("name");
    int rows = 0;
    for (size_t i = 0; i < cases().size(); ++i)
        if (inThisPart(i)) {
            QTest::newRow(cases()[i].name) << QString::fromLatin1(cases()[i].name);
            ++rows;
        }
    if (rows == 0)
        QTest::newRow("in another part") << QString();
}

void TestBadInput::cliModel_data()
{
    caseRows();
}

void TestBadInput::cliModel()
{
    QFETCH(QString, name);
    if (name.isEmpty())
        QSKIP("the model folder cases are in the other parts of this suite");
    const Case* c = findCase(name);
    QVERIFY(c);
    const QString dir = caseDir(name);
    const QString out = QDir(m_tmp.path()).filePath("out-" + QFileInfo(dir).fileName());
    const Outcome o = cli({"run", "--model", dir, "--prompt", "hello", "--save", "attention", "--out", out});
    const QRegularExpression want = messagePattern(c->message, dir);
    if (c->loads) {
        QVERIFY2(o.code == 0, qPrintable(o.err));
        const QString note = o.err.section('\n', 0, 0);
        QVERIFY2(note.startsWith("note: ") && want.match(note.mid(6)).hasMatch(), qPrintable(o.err));
        QVERIFY(QFileInfo::exists(QDir(out).filePath("run.json")));
        QVERIFY(QFileInfo::exists(QDir(out).filePath("attention.npy")));
        return;
    }
    QVERIFY2(o.code == 1, qPrintable(QString::number(o.code) + " " + o.err));
    QVERIFY2(o.err.startsWith("error: ") && o.err.endsWith('\n'), qPrintable(o.err));
    const QString message = o.err.mid(7).chopped(1);
    QVERIFY2(want.match(message).hasMatch(), qPrintable("got:  " + message + "\nwant: " + want.pattern()));
    QVERIFY2(o.out.isEmpty(), qPrintable(o.out));
    QVERIFY2(leftovers(out).isEmpty(), qPrintable(leftovers(out).join(", ")));
    QVERIFY(!QFileInfo::exists(QDir(dir).filePath("UNPICKLED"))); // no pickle was ever executed
}

void TestBadInput::guiModel_data()
{
    caseRows();
}

void TestBadInput::guiModel()
{
    QFETCH(QString, name);
    if (name.isEmpty())
        QSKIP("the model folder cases are in the other parts of this suite");
    const Case* c = findCase(name);
    QVERIFY(c);
    const QString dir = caseDir(name);
    MainWindow& w = *m_window;
    QVERIFY(showGoodResult());
    const auto before = w.result();
    const QRegularExpression want = messagePattern(c->message, dir);

    if (c->loads) {
        QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
        w.openModelFolder(dir);
        QVERIFY(loaded.wait(30000));
        // "Loaded ... on cpu." and the note after it
        const QString msg = w.message();
        const int at = msg.indexOf(". ") + 2;
        QVERIFY2(msg.startsWith("Loaded ") && at > 1 && want.match(msg.mid(at)).hasMatch(), qPrintable(msg));
        QVERIFY(runInWindow("the extra tensors are ignored"));
        QCOMPARE(w.result()->model.dir, QFileInfo(dir).absoluteFilePath().toStdString());
        return;
    }

    QSignalSpy failed(w.engine(), &EngineClient::loadFailed);
    w.openModelFolder(dir);
    QVERIFY(failed.wait(30000));
    const QString prefix = "Could not open " + QFileInfo(dir).absoluteFilePath() + ": ";
    QVERIFY2(w.message().startsWith(prefix), qPrintable(w.message()));
    const QString message = w.message().mid(prefix.size());
    QVERIFY2(want.match(message).hasMatch(), qPrintable("got:  " + message + "\nwant: " + want.pattern()));
    // The window is as it was: same result on screen, same model, and it still runs.
    QCOMPARE(w.result(), before);
    QVERIFY(!w.showsStartPage());
    QVERIFY(w.view("heatmap") && w.engine()->hasModel());
    QCOMPARE(QString::fromStdString(w.engine()->modelInfo().dir), QFileInfo(m_good).absoluteFilePath());
    QVERIFY(runInWindow("still usable"));
    QVERIFY(w.result() != before);
    QCOMPARE(QString::fromStdString(w.result()->model.dir), QFileInfo(m_good).absoluteFilePath());
    QVERIFY(!QFileInfo::exists(QDir(dir).filePath("UNPICKLED")));
}

void TestBadInput::cliPrompt_data()
{
    // The prompt is given through the shell as printf(1) escapes, so any bytes can be passed.
    QTest::addColumn<QString>("command");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << "run --prompt ''" << "The prompt is empty.";
    QTest::newRow("whitespace only") << "run --prompt \"$(printf ' \\t\\n ')\"" << "The prompt contains only whitespace.";
    QTest::newRow("longer than the positions") << "run --prompt \"$(yes 'a' | head -n 140 | tr '\\n' ' ')\""
                                               << "The prompt has 142 tokens but the model handles at most 128 "
                                                  "positions; shorten it.";
    QTest::newRow("invalid UTF-8 argument") << "run --prompt \"$(printf 'ab\\377c')\""
                                            << "The value of --prompt is not valid UTF-8 (byte 0xFF at byte offset 2).";
    QTest::newRow("invalid UTF-8 text file") << "tokenize --text-file %TXT%"
                                             << "The prompt is not valid UTF-8 (byte 0xFE at byte offset 6).";
    QTest::newRow("analyze longer than the positions")
        << "analyze --prompt \"$(yes 'a' | head -n 140 | tr '\\n' ' ')\""
        << "The prompt has 142 tokens but the model handles at most 128 positions; shorten it.";
    QTest::newRow("analyze empty") << "analyze --prompt ''" << "The prompt is empty.";
    QTest::newRow("analyze whitespace only") << "analyze --prompt \"$(printf '\\t  ')\"" << "The prompt contains only whitespace.";
}

void TestBadInput::cliPrompt()
{
    if (SINKSCOPE_BADINPUT_PART != 3)
        QSKIP("the prompt cases are in part 3 of this suite");
    QFETCH(QString, command);
    QFETCH(QString, message);
    const QString txt = QDir(m_tmp.path()).filePath("bad-utf8.txt");
    writeBytes(txt, "hello \xfe\xff world\n");
    const QString out = QDir(m_tmp.path()).filePath("out-prompt-" + QString(QTest::currentDataTag()).replace(' ', '-'));
    QString args = command;
    args.replace("%TXT%", "'" + txt + "'");
    const QString model = args.startsWith("tokenize") ? " --model '" + m_good + "'" : " --model '" + m_good + "' --out '" + out + "'";
    const Outcome o = shell("\"$1\" " + args + model);
    QVERIFY2(o.code == 1, qPrintable(QString::number(o.code) + " " + o.err));
    QCOMPARE(o.err, "error: " + message + "\n");
    QVERIFY2(o.out.isEmpty(), qPrintable(o.out));
    QVERIFY2(leftovers(out).isEmpty(), qPrintable(leftovers(out).join(", ")));
}

void TestBadInput::promptFileBadLine()
{
    if (SINKSCOPE_BADINPUT_PART != 3)
        QSKIP("the prompt cases are in part 3 of this suite");
    // Line 2 is not UTF-8, line 4 is blank: line 2 is reported by number, lines 1 and 3 are used.
    const QString file = QDir(m_tmp.path()).filePath("prompts.txt");
    writeBytes(file, "the cat sat\nbad \xc3\x28 byte\nhello world\n\n");
    const QString out = QDir(m_tmp.path()).filePath("out-prompt-file");
    const Outcome o = cli({"analyze", "--model", m_good, "--prompts", file, "--out", out});
    QVERIFY2(o.code == 0, qPrintable(o.err));
    const QStringList lines = o.err.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.value(0), "warning: " + file + ":2: not valid UTF-8 (line skipped)");
    QCOMPARE(lines.filter("warning:").size(), 2); // the skipped line, and the two prompt lengths
    const QJsonObject metrics = readObject(QDir(out).filePath("metrics.json"));
    QVERIFY(!metrics.isEmpty());
    QJsonArray used;
    for (const QJsonValue& g : metrics["groups"].toArray())
        for (const QJsonValue& l : g.toObject()["lines"].toArray())
            used.append(l);
    std::vector<int> numbers;
    for (const QJsonValue& v : used)
        numbers.push_back(v.toInt());
    std::sort(numbers.begin(), numbers.end());
    QCOMPARE(numbers, (std::vector<int>{1, 3}));
    QVERIFY(QFileInfo::exists(QDir(out).filePath("per_prompt.csv")));
}

void TestBadInput::promptFileOnlyBadLines()
{
    if (SINKSCOPE_BADINPUT_PART != 3)
        QSKIP("the prompt cases are in part 3 of this suite");
    const QString file = QDir(m_tmp.path()).filePath("bad-prompts.jsonl");
    writeBytes(file, "{\"text\": \"ok\"\n[1, 2]\n{\"text\": \"\"}\n");
    const QString out = QDir(m_tmp.path()).filePath("out-bad-prompts");
    const Outcome o = cli({"analyze", "--model", m_good, "--prompts", file, "--out", out});
    QCOMPARE(o.code, 1);
    const QStringList lines = o.err.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 4);
    QVERIFY2(lines[0].startsWith("warning: " + file + ":1: not valid JSON: "), qPrintable(lines[0]));
    QCOMPARE(lines[1], "warning: " + file + ":2: not a JSON object (line skipped)");
    QCOMPARE(lines[2], "warning: " + file + ":3: \"text\" is empty (line skipped)");
    QCOMPARE(lines[3], "error: The prompt file has no usable prompt. (" + file + ")");
    QVERIFY(leftovers(out).isEmpty());
}

void TestBadInput::guiPrompt_data()
{
    QTest::addColumn<QString>("prompt");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << "" << "The prompt is empty.";
    QTest::newRow("whitespace only") << " \n\t " << "The prompt contains only whitespace.";
    QTest::newRow("longer than the positions") << QString("a ").repeated(140)
                                               << "The prompt has 142 tokens but the model handles at most 128 "
                                                  "positions; shorten it.";
}

void TestBadInput::guiPrompt()
{
    if (SINKSCOPE_BADINPUT_PART != 3)
        QSKIP("the prompt cases are in part 3 of this suite");
    QFETCH(QString, prompt);
    QFETCH(QString, message);
    MainWindow& w = *m_window;
    QVERIFY(showGoodResult());
    const auto before = w.result();
    QSignalSpy errors(&w, &MainWindow::errorShown);
    w.setPrompt(prompt);
    w.runPrompt();
    if (errors.isEmpty())
        QVERIFY(errors.wait(30000));
    QCOMPARE(w.message(), message);
    QCOMPARE(w.result(), before);
    QVERIFY(w.view("heatmap")->hasFigure());
    QVERIFY(runInWindow("and then a good prompt"));
}

QTEST_MAIN(TestBadInput)
#include "tst_badinput.moc"
