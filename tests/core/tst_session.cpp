// SPDX-License-Identifier: GPL-3.0-or-later
// Session files: a constructed run and a real demo-model run survive the round trip bit for bit
// (every capture, token, recipe and setting), a Compare pair keeps its two runs and labels, and
// every kind of damage is refused with a message that says what is wrong.
#include "sinkscope/demomodels.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/session.h"
#include "sinkscope/version.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>
#include <functional>
#include <random>

using namespace sinkscope;

namespace {

Tensor randomTensor(std::vector<int64_t> shape, std::mt19937& rng)
{
    Tensor t;
    t.shape = shape;
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    std::normal_distribution<float> dist;
    t.data.resize(size_t(n));
    for (float& v : t.data)
        v = dist(rng);
    return t;
}

// A run with every capture filled, dimensions chosen so that no two axes have the same length
// (a transposed or mislabelled array cannot pass the shape checks by accident).
std::shared_ptr<RunResult> constructedRun(uint32_t seed = 1)
{
    std::mt19937 rng(seed);
    auto r = std::make_shared<RunResult>();
    r->model.name = "constructed";
    r->model.dir = "/models/constructed";
    r->model.modelType = "llama";
    r->model.layers = 2;
    r->model.heads = 4;
    r->model.kvHeads = 2;
    r->model.headDim = 3;
    r->model.hiddenSize = 6;
    r->model.vocabSize = 11;
    r->model.maxPositions = 64;
    r->model.notes = {"a note", "ünïcödé ↵"};
    r->device = "cpu";
    r->dtype = "float32";
    r->runMs = 1.25;
    const int64_t L = 2, H = 4, Hkv = 2, hd = 3, D = 6, V = 11, T = 5;
    r->tokens = T;
    r->encoding.bosAdded = true;
    for (int t = 0; t < T; ++t) {
        Token tk;
        tk.id = (t * 3) % int(V);
        tk.piece = "▁p" + std::to_string(t);
        tk.display = t == 0 ? "<s>" : " w" + std::to_string(t);
        tk.start = t == 0 ? 0 : t * 2;
        tk.end = t == 0 ? 0 : t * 2 + 1;
        tk.special = t == 0;
        r->encoding.tokens.push_back(tk);
    }
    r->attention = randomTensor({L, H, T, T}, rng).data;
    r->logits = randomTensor({T, V}, rng).data;
    r->hidden = randomTensor({L + 1, T, D}, rng);
    r->queries = randomTensor({L, H, T, hd}, rng);
    r->keys = randomTensor({L, Hkv, T, hd}, rng);
    r->values = randomTensor({L, Hkv, T, hd}, rng);
    r->headOutputs = randomTensor({L, H, T, hd}, rng);
    r->maskBias = randomTensor({T, T}, rng).data;
    r->recipes = {AttentionRecipe{0.57735, 0.0, true, 0}, AttentionRecipe{0.5, 30.0, true, 3}};
    r->firstTokenMass = RowMatrixXf::Random(L, H);
    r->firstMassPerQuery = randomTensor({L, H, T}, rng);
    r->received = randomTensor({L, H, T}, rng);
    r->entropy = randomTensor({L, H, T}, rng);
    r->valueNorms = randomTensor({L, Hkv, T}, rng);
    r->contributionNorms = randomTensor({L, H, T}, rng);
    r->writtenNorms = randomTensor({L, H, T}, rng);
    return r;
}

Session sessionOf(std::shared_ptr<const RunResult> r)
{
    Session s;
    SessionRun run;
    run.model = describeModelFolder(r->model.dir);
    run.prompt = "the cat sat";
    run.bos = BosPolicy::On;
    run.result = std::move(r);
    s.runs.push_back(run);
    s.view = "heatmap";
    s.layer = 1;
    s.head = 3;
    s.query = 4;
    s.key = 0;
    s.settingsJson = R"({"scale":"log","clip":0.5})";
    return s;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void compareRuns(const RunResult& a, const RunResult& b)
{
    QCOMPARE(b.model.name, a.model.name);
    QCOMPARE(b.model.dir, a.model.dir);
    QCOMPARE(b.model.modelType, a.model.modelType);
    QCOMPARE(b.model.layers, a.model.layers);
    QCOMPARE(b.model.heads, a.model.heads);
    QCOMPARE(b.model.kvHeads, a.model.kvHeads);
    QCOMPARE(b.model.headDim, a.model.headDim);
    QCOMPARE(b.model.hiddenSize, a.model.hiddenSize);
    QCOMPARE(b.model.vocabSize, a.model.vocabSize);
    QCOMPARE(b.model.maxPositions, a.model.maxPositions);
    QCOMPARE(b.model.position, a.model.position);
    QCOMPARE(b.model.attention, a.model.attention);
    QCOMPARE(b.model.synthetic, a.model.synthetic);
    QVERIFY(b.model.notes == a.model.notes);
    QCOMPARE(b.device, a.device);
    QCOMPARE(b.dtype, a.dtype);
    QCOMPARE(b.runMs, a.runMs);
    QCOMPARE(b.tokens, a.tokens);
    QCOMPARE(b.encoding.bosAdded, a.encoding.bosAdded);
    QCOMPARE(b.encoding.tokens.size(), a.encoding.tokens.size());
    for (size_t t = 0; t < a.encoding.tokens.size(); ++t) {
        const Token &x = a.encoding.tokens[t], &y = b.encoding.tokens[t];
        QCOMPARE(y.id, x.id);
        QCOMPARE(y.piece, x.piece);
        QCOMPARE(y.display, x.display);
        QCOMPARE(y.start, x.start);
        QCOMPARE(y.end, x.end);
        QCOMPARE(y.special, x.special);
    }
    QCOMPARE(b.recipes.size(), a.recipes.size());
    for (size_t l = 0; l < a.recipes.size(); ++l) {
        QCOMPARE(b.recipes[l].scale, a.recipes[l].scale);
        QCOMPARE(b.recipes[l].softcap, a.recipes[l].softcap);
        QCOMPARE(b.recipes[l].causal, a.recipes[l].causal);
        QCOMPARE(b.recipes[l].window, a.recipes[l].window);
    }
    QVERIFY(sameBits(b.attention, a.attention));
    QVERIFY(sameBits(b.logits, a.logits));
    QVERIFY(sameBits(b.maskBias, a.maskBias));
    const std::pair<const Tensor*, const Tensor*> tensors[] = {
        {&a.hidden, &b.hidden}, {&a.queries, &b.queries}, {&a.keys, &b.keys}, {&a.values, &b.values},
        {&a.headOutputs, &b.headOutputs}, {&a.firstMassPerQuery, &b.firstMassPerQuery}, {&a.received, &b.received},
        {&a.entropy, &b.entropy}, {&a.valueNorms, &b.valueNorms}, {&a.contributionNorms, &b.contributionNorms},
        {&a.writtenNorms, &b.writtenNorms}};
    for (const auto& [x, y] : tensors) {
        QVERIFY(y->shape == x->shape);
        QVERIFY(sameBits(y->data, x->data));
    }
    QCOMPARE(b.firstTokenMass.rows(), a.firstTokenMass.rows());
    QCOMPARE(b.firstTokenMass.cols(), a.firstTokenMass.cols());
    QVERIFY(b.firstTokenMass == a.firstTokenMass);
}

uint64_t le64(const std::string& s, size_t at)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | uint8_t(s[at + size_t(i)]);
    return v;
}

// Re-encodes a file with an edited manifest and a correct header and checksum, so that the checks
// behind the checksum (shapes, offsets, fields) are the ones that have to catch the edit.
std::string withManifest(const std::string& file, const std::function<void(QJsonObject&)>& edit)
{
    const uint64_t manifestBytes = le64(file, 24), dataOffset = le64(file, 32);
    QJsonObject root = QJsonDocument::fromJson(QByteArray::fromStdString(file.substr(56, manifestBytes))).object();
    edit(root);
    const QByteArray manifest = QJsonDocument(root).toJson(QJsonDocument::Compact);
    const uint64_t newOffset = (56 + uint64_t(manifest.size()) + 63) / 64 * 64;
    std::string out(size_t(newOffset), '\0');
    std::memcpy(out.data(), file.data(), 56);
    for (int i = 0; i < 8; ++i) {
        out[size_t(24 + i)] = char((uint64_t(manifest.size()) >> (8 * i)) & 0xff);
        out[size_t(32 + i)] = char((newOffset >> (8 * i)) & 0xff);
    }
    std::memcpy(out.data() + 56, manifest.constData(), size_t(manifest.size()));
    out += file.substr(size_t(dataOffset));
    return out;
}

QJsonObject firstRun(QJsonObject& root)
{
    return root["runs"].toArray()[0].toObject();
}

void setFirstRun(QJsonObject& root, const QJsonObject& run)
{
    QJsonArray runs = root["runs"].toArray();
    runs[0] = run;
    root["runs"] = runs;
}

} // namespace

class TestSession : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void constructedRoundTrip()
    {
        const auto r = constructedRun();
        const Session s = sessionOf(r);
        QTemporaryDir dir;
        const std::string path = dir.filePath("a.sinkscope").toStdString();
        saveSession(s, path);
        const Session back = loadSession(path);
        QCOMPARE(back.runs.size(), size_t(1));
        compareRuns(*r, *back.runs[0].result);
        QCOMPARE(back.runs[0].prompt, std::string("the cat sat"));
        QCOMPARE(back.runs[0].bos, BosPolicy::On);
        QCOMPARE(back.runs[0].model.path, std::string("/models/constructed"));
        QCOMPARE(back.view, std::string("heatmap"));
        QCOMPARE(back.layer, 1);
        QCOMPARE(back.head, 3);
        QCOMPARE(back.query, 4);
        QCOMPARE(back.key, 0);
        QCOMPARE(QJsonDocument::fromJson(QByteArray::fromStdString(back.settingsJson)).object(),
                 QJsonDocument::fromJson(QByteArray::fromStdString(s.settingsJson)).object());
        QCOMPARE(back.appVersion, std::string(appVersion()));
        QVERIFY(!back.created.empty());
    }

    void twoRunsKeepTheirOwnModels()
    {
        Session s = sessionOf(constructedRun(1));
        SessionRun b;
        b.label = "B";
        auto other = constructedRun(2);
        other->model.name = "other";
        b.model = describeModelFolder("/hf/models--org--name/snapshots/abc123");
        b.result = other;
        s.runs[0].label = "A";
        s.runs.push_back(b);
        const Session back = decodeSession(encodeSession(s), "mem");
        QCOMPARE(back.runs.size(), size_t(2));
        QCOMPARE(back.runs[1].label, std::string("B"));
        QCOMPARE(back.runs[1].model.hfRepo, std::string("org/name"));
        QCOMPARE(back.runs[1].model.hfRevision, std::string("abc123"));
        compareRuns(*other, *back.runs[1].result);
        // A comparison of a kept run with the main one is no pair: runs[1] is B against the main run.
        QVERIFY(!back.pair);
        const std::vector<SessionRun> sides = comparedRuns(back);
        QCOMPARE(sides.size(), size_t(2));
        QCOMPARE(sides[0].label, std::string("A"));
        QCOMPARE(sides[1].label, std::string("B"));
        QCOMPARE(sides[1].result, back.runs[1].result);
        QCOMPARE(comparedRuns(sessionOf(constructedRun())).size(), size_t(1));
    }

    void comparePairKeepsItsSidesAndLabels_data()
    {
        QTest::addColumn<int>("a"); // index of side A
        QTest::addColumn<int>("b");
        QTest::newRow("A a run of its own") << 2 << 1;
        QTest::newRow("A is the main run") << 0 << 1;
        QTest::newRow("B after A") << 1 << 2;
    }
    void comparePairKeepsItsSidesAndLabels()
    {
        QFETCH(int, a);
        QFETCH(int, b);
        Session s = sessionOf(constructedRun(1));
        s.runs[0].label = "";
        for (uint32_t seed : {2u, 3u}) {
            SessionRun r;
            r.model = describeModelFolder("/models/constructed");
            r.result = constructedRun(seed);
            s.runs.push_back(r);
        }
        s.runs[size_t(a)].label = "without block:3";
        s.runs[size_t(b)].label = "with block:3";
        s.pair = SessionPair{a, b};
        const Session back = decodeSession(encodeSession(s), "mem");
        QVERIFY(back.pair);
        QCOMPARE(back.pair->a, a);
        QCOMPARE(back.pair->b, b);
        QCOMPARE(back.runs.size(), size_t(3));
        QCOMPARE(back.runs[size_t(a)].label, std::string("without block:3"));
        QCOMPARE(back.runs[size_t(b)].label, std::string("with block:3"));
        for (size_t i = 0; i < 3; ++i)
            compareRuns(*s.runs[i].result, *back.runs[i].result);
        const std::vector<SessionRun> sides = comparedRuns(back);
        QCOMPARE(sides.size(), size_t(2));
        QCOMPARE(sides[0].result, back.runs[size_t(a)].result);
        QCOMPARE(sides[1].result, back.runs[size_t(b)].result);
        QCOMPARE(sides[0].label, std::string("without block:3"));
        // The manifest says it in one object a reader can see: {"a": i, "b": j}.
        const std::string bytes = encodeSession(s);
        const QJsonObject root = QJsonDocument::fromJson(QByteArray::fromStdString(bytes.substr(56, le64(bytes, 24)))).object();
        QCOMPARE(root["pair"].toObject(), (QJsonObject{{"a", a}, {"b", b}}));
        QCOMPARE(root["version"].toInt(), 1); // an addition that version-1 readers skip, not a new format
    }

    void compactSessionRecomputesMapsFromQK()
    {
        const auto r = constructedRun();
        SessionSaveOptions compact;
        compact.attentionMaps = false;
        compact.logits = false;
        const std::string full = encodeSession(sessionOf(r));
        const std::string small = encodeSession(sessionOf(r), compact);
        // The dropped arrays are exactly L*H*T*T + T*V floats (plus at most their alignment).
        const int64_t dropped = (2 * 4 * 5 * 5 + 5 * 11) * 4;
        QVERIFY(int64_t(full.size() - small.size()) >= dropped);
        // Slack: the two arrays' manifest entries and their alignment padding.
        QVERIFY(int64_t(full.size() - small.size()) < dropped + 640);
        const Session back = decodeSession(small, "mem");
        const RunResult& b = *back.runs[0].result;
        QVERIFY(!b.hasAttention());
        QVERIFY(b.logits.empty());
        QVERIFY(b.canMakeMaps());
        // A run that never stored maps draws the same ones before and after.
        auto noMaps = std::make_shared<RunResult>(*r);
        noMaps->attention.clear();
        QVERIFY(b.attentionMap(1, 2) == noMaps->attentionMap(1, 2));
    }

    void demoModelRoundTrip()
    {
        QTemporaryDir dir;
        const std::string modelDir = dir.filePath("demo").toStdString();
        writeDemoModel(DemoKind::Decoder, modelDir);
        const auto model = Model::load(modelDir, DevicePreference::Cpu);
        RunRequest req;
        req.text = "the cat sat on the mat. the dog slept.";
        const auto r = model->run(req);
        Session s = sessionOf(r);
        s.layer = 0;
        s.head = 1;
        s.query = -1;
        s.key = -1;
        const std::string path = dir.filePath("demo.sinkscope").toStdString();
        saveSession(s, path);
        const Session back = loadSession(path);
        compareRuns(*r, *back.runs[0].result);
        for (int l = 0; l < r->model.layers; ++l)
            for (int h = 0; h < r->model.heads; ++h)
                QVERIFY(back.runs[0].result->attentionMap(l, h) == r->attentionMap(l, h));
    }

    void describesHuggingFaceSnapshots_data()
    {
        QTest::addColumn<QString>("dir");
        QTest::addColumn<QString>("repo");
        QTest::addColumn<QString>("revision");
        QTest::newRow("snapshot") << "/h/.cache/huggingface/hub/models--gpt2--small/snapshots/0123abc" << "gpt2/small" << "0123abc";
        QTest::newRow("trailing slash") << "/h/hub/models--org--na-me/snapshots/ff/" << "org/na-me" << "ff";
        QTest::newRow("plain folder") << "/models/stories260K" << "" << "";
        QTest::newRow("not a models entry") << "/x/datasets--a--b/snapshots/ff" << "" << "";
        QTest::newRow("no revision") << "/x/models--a--b/snapshots" << "" << "";
    }
    void describesHuggingFaceSnapshots()
    {
        QFETCH(QString, dir);
        QFETCH(QString, repo);
        QFETCH(QString, revision);
        const ModelReference ref = describeModelFolder(dir.toStdString());
        QCOMPARE(QString::fromStdString(ref.path), dir);
        QCOMPARE(QString::fromStdString(ref.hfRepo), repo);
        QCOMPARE(QString::fromStdString(ref.hfRevision), revision);
    }

    void refusesDamage_data()
    {
        QTest::addColumn<QString>("kind"); // what is done to a good file
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        const int format = int(ErrorCode::Format), unsupported = int(ErrorCode::Unsupported);
        QTest::newRow("empty") << "empty" << format << "is empty";
        QTest::newRow("other file") << "npy" << format << "is not a SinkScope session file";
        QTest::newRow("header cut") << "cut:30" << format << "ends inside its header";
        QTest::newRow("manifest cut") << "cut:200" << format << "truncated";
        QTest::newRow("data cut") << "cut:-5" << format << "truncated";
        QTest::newRow("trailing bytes") << "append" << format << "bytes after its data";
        QTest::newRow("data flipped") << "flip:-100" << format << "does not match its checksum";
        QTest::newRow("manifest flipped") << "flip:60" << format << "manifest";
        QTest::newRow("future version") << "version:2" << unsupported << "newer SinkScope (format version 2";
        QTest::newRow("version zero") << "version:0" << format << "format version is 0";
        QTest::newRow("huge manifest") << "manifestsize" << format << "manifest size";
        QTest::newRow("wrong shape") << "shape" << format << "has the shape [2, 4, 5, 3], not the [2, 2, 5, 3]";
        QTest::newRow("offset outside") << "offset" << format << "lies outside the data block";
        QTest::newRow("byte count") << "bytes" << format << "announces";
        QTest::newRow("unknown array") << "unknown" << format << "unknown array \"secret\"";
        QTest::newRow("token id past vocab") << "tokenid" << format << "\"id\" must be an integer from 0 to 10";
        QTest::newRow("token count") << "tokencount" << format << "has 4 tokens, not T = 5";
        QTest::newRow("missing field") << "nofield" << format << "has no \"dtype\"";
        QTest::newRow("wrong type") << "type" << format << "\"layers\" must be an integer";
        QTest::newRow("kv heads") << "kv" << format << "not a multiple of kv_heads";
        QTest::newRow("selection") << "selection" << format << "selection lies outside";
        QTest::newRow("no runs") << "noruns" << format << "holds no run";
        QTest::newRow("q without k") << "halfqk" << format << "only part of what recomputes";
        QTest::newRow("bos") << "bos" << format << "\"bos_policy\" is not auto, on or off";
        QTest::newRow("pair not an object") << "pair:type" << format << "its \"pair\" is a number, not an object";
        QTest::newRow("pair without b") << "pair:nob" << format << "its pair has no \"b\"";
        QTest::newRow("pair past the runs") << "pair:outside" << format << "its pair \"b\" must be an integer from 0 to 0";
        QTest::newRow("pair of one run") << "pair:same" << format << "its pair's sides A and B are the same run 0";
    }
    void refusesDamage()
    {
        QFETCH(QString, kind);
        QFETCH(int, code);
        QFETCH(QString, message);
        const std::string good = encodeSession(sessionOf(constructedRun()));
        std::string bad = good;
        const QString op = kind.section(':', 0, 0);
        const int arg = kind.section(':', 1, 1).toInt();
        auto pos = [&](int a) { return a >= 0 ? size_t(a) : good.size() - size_t(-a); };
        auto editRun = [&](const std::function<void(QJsonObject&)>& f) {
            return withManifest(good, [&](QJsonObject& root) {
                QJsonObject run = firstRun(root);
                f(run);
                setFirstRun(root, run);
            });
        };
        if (op == "empty") {
            bad.clear();
        } else if (op == "npy") {
            bad = std::string("\x93NUMPY\x01\x00", 8) + std::string(100, ' ');
        } else if (op == "cut") {
            bad = good.substr(0, pos(arg));
        } else if (op == "append") {
            bad += "xyz";
        } else if (op == "flip") {
            bad[pos(arg)] = char(bad[pos(arg)] ^ 0x5a);
        } else if (op == "version") {
            bad[16] = char(arg);
        } else if (op == "manifestsize") {
            bad[31] = char(0x7f);
        } else if (op == "shape") {
            bad = editRun([](QJsonObject& run) {
                QJsonObject t = run["tensors"].toObject();
                QJsonObject k = t["keys"].toObject();
                k["shape"] = QJsonArray{2, 4, 5, 3}; // query heads where KV heads belong
                t["keys"] = k;
                run["tensors"] = t;
            });
        } else if (op == "offset" || op == "bytes") {
            bad = editRun([&](QJsonObject& run) {
                QJsonObject t = run["tensors"].toObject();
                QJsonObject k = t["hidden"].toObject();
                if (op == "offset")
                    k["offset"] = qint64(1) << 40;
                else
                    k["bytes"] = k["bytes"].toInteger() - 4;
                t["hidden"] = k;
                run["tensors"] = t;
            });
        } else if (op == "unknown") {
            bad = editRun([](QJsonObject& run) {
                QJsonObject t = run["tensors"].toObject();
                t["secret"] = t["entropy"];
                run["tensors"] = t;
            });
        } else if (op == "tokenid" || op == "tokencount") {
            bad = editRun([&](QJsonObject& run) {
                QJsonArray tokens = run["tokens"].toArray();
                if (op == "tokencount") {
                    tokens.removeLast();
                } else {
                    QJsonObject t = tokens[1].toObject();
                    t["id"] = 11;
                    tokens[1] = t;
                }
                run["tokens"] = tokens;
            });
        } else if (op == "nofield") {
            bad = editRun([](QJsonObject& run) { run.remove("dtype"); });
        } else if (op == "type" || op == "kv") {
            bad = editRun([&](QJsonObject& run) {
                QJsonObject m = run["model"].toObject();
                if (op == "type")
                    m["layers"] = "2";
                else
                    m["kv_heads"] = 3;
                run["model"] = m;
            });
        } else if (op == "selection") {
            bad = withManifest(good, [](QJsonObject& root) {
                QJsonObject sel = root["selection"].toObject();
                sel["head"] = 4;
                root["selection"] = sel;
            });
        } else if (op == "noruns") {
            bad = withManifest(good, [](QJsonObject& root) { root["runs"] = QJsonArray(); });
        } else if (op == "halfqk") {
            bad = editRun([](QJsonObject& run) {
                QJsonObject t = run["tensors"].toObject();
                t.remove("keys");
                run["tensors"] = t;
            });
        } else if (op == "bos") {
            bad = editRun([](QJsonObject& run) { run["bos_policy"] = "sometimes"; });
        } else if (op == "pair") {
            const QString how = kind.section(':', 1, 1);
            bad = withManifest(good, [&](QJsonObject& root) {
                if (how == "type")
                    root["pair"] = 1;
                else if (how == "nob")
                    root["pair"] = QJsonObject{{"a", 0}};
                else if (how == "outside")
                    root["pair"] = QJsonObject{{"a", 0}, {"b", 1}}; // the file holds one run
                else
                    root["pair"] = QJsonObject{{"a", 0}, {"b", 0}};
            });
        }
        try {
            decodeSession(bad, "x.sinkscope");
            QFAIL("a damaged session was accepted");
        } catch (const Error& e) {
            QCOMPARE(int(e.code()), code);
            const QString what = QString::fromStdString(e.what());
            QVERIFY2(what.contains(message), qPrintable(what));
            QVERIFY2(what.contains("x.sinkscope"), qPrintable(what));
        }
    }

    void theGoodFileOfTheDamageTestsLoads()
    {
        // The damage rows edit this file; untouched (and re-encoded untouched) it must load, or
        // they would pass for the wrong reason.
        const std::string good = encodeSession(sessionOf(constructedRun()));
        decodeSession(good, "x");
        decodeSession(withManifest(good, [](QJsonObject&) {}), "x");
    }

    void refusesWhatItCannotWrite()
    {
        Session empty;
        QVERIFY_THROWS_EXCEPTION(Error, encodeSession(empty));
        auto r = constructedRun();
        r->values.data.pop_back();
        try {
            encodeSession(sessionOf(r));
            QFAIL("a run with a short array was written");
        } catch (const Error& e) {
            QVERIFY(QString::fromStdString(e.what()).contains("values"));
        }
        Session s = sessionOf(constructedRun());
        s.settingsJson = "[1]";
        QVERIFY_THROWS_EXCEPTION(Error, encodeSession(s));
        // A pair must name two different runs of the session.
        Session two = sessionOf(constructedRun());
        two.runs.push_back(two.runs.front());
        for (const SessionPair& p : {SessionPair{0, 2}, SessionPair{1, 1}, SessionPair{-1, 1}}) {
            two.pair = p;
            try {
                encodeSession(two);
                QFAIL("a pair outside the session's runs was written");
            } catch (const Error& e) {
                QCOMPARE(e.code(), ErrorCode::InvalidArgument);
                QVERIFY2(QString::fromStdString(e.what()).contains("compare pair"), e.what());
            }
        }
        two.pair = SessionPair{1, 0};
        QVERIFY(decodeSession(encodeSession(two), "mem").pair);
    }

    void missingFileIsAnIoError()
    {
        try {
            loadSession("/nonexistent/dir/x.sinkscope");
            QFAIL("loaded a missing file");
        } catch (const Error& e) {
            QCOMPARE(e.code(), ErrorCode::Io);
        }
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "tst_session.moc"
