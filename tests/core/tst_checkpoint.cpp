// SPDX-License-Identifier: GPL-3.0-or-later
// Model folders: which files are found, sharded checkpoints, and the folders we refuse (pickle
// weights, missing shards, inconsistent indexes), each with the message the user reads.
#include "sinkscope/checkpoint.h"
#include "sinkscope/error.h"
#include "sinkscope/npy.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace sinkscope;

Q_DECLARE_METATYPE(sinkscope::ErrorCode)

namespace {

const char* const kConfig = R"({"model_type": "llama", "hidden_size": 4, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10})";

void put(const QDir& dir, const QString& name, const QByteArray& bytes)
{
    QVERIFY(dir.mkpath(QFileInfo(dir.filePath(name)).path()));
    QFile f(dir.filePath(name));
    QVERIFY(f.open(QIODevice::WriteOnly));
    QCOMPARE(f.write(bytes), bytes.size());
}

void shard(const QDir& dir, const QString& name, const std::vector<std::string>& tensors, float value = 1.f)
{
    std::vector<HostTensor> ts;
    for (const std::string& t : tensors)
        ts.push_back(HostTensor::fromFloats(t, {2}, {value, value + 1}));
    writeSafetensors(dir.filePath(name).toStdString(), ts);
}

QByteArray index(const QByteArray& weightMap)
{
    return R"({"metadata": {"total_size": 8}, "weight_map": )" + weightMap + "}";
}

// Folder layouts, by name, for the data-driven rows.
void build(const QDir& d, const QString& layout)
{
    auto config = [&] { put(d, QStringLiteral("config.json"), kConfig); };
    if (layout == QLatin1String("no config")) {
        shard(d, QStringLiteral("model.safetensors"), {"a"});
    } else if (layout == QLatin1String("no weights")) {
        config();
        put(d, QStringLiteral("tokenizer.json"), "{}");
    } else if (layout.startsWith(QLatin1String("pickle "))) {
        config();
        put(d, layout.mid(7), "\x80\x02}q\x00.this would be a pickle");
    } else if (layout == QLatin1String("missing shard")) {
        config();
        shard(d, QStringLiteral("model-00001-of-00002.safetensors"), {"a"});
        put(d, QStringLiteral("model.safetensors.index.json"),
            index(R"({"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"})"));
    } else if (layout == QLatin1String("two missing shards")) {
        config();
        put(d, QStringLiteral("model.safetensors.index.json"), index(R"({"a": "s1.safetensors", "b": "s2.safetensors"})"));
    } else if (layout == QLatin1String("index names absent tensor")) {
        config();
        shard(d, QStringLiteral("s1.safetensors"), {"a"});
        shard(d, QStringLiteral("s2.safetensors"), {"b"});
        put(d, QStringLiteral("model.safetensors.index.json"),
            index(R"({"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"})"));
    } else if (layout == QLatin1String("index names wrong shard")) {
        config();
        shard(d, QStringLiteral("s1.safetensors"), {"a"});
        shard(d, QStringLiteral("s2.safetensors"), {"b"});
        put(d, QStringLiteral("model.safetensors.index.json"), index(R"({"a": "s2.safetensors", "b": "s2.safetensors"})"));
    } else if (layout == QLatin1String("duplicate across shards")) {
        config();
        shard(d, QStringLiteral("s1.safetensors"), {"a", "b"});
        shard(d, QStringLiteral("s2.safetensors"), {"b"});
        put(d, QStringLiteral("model.safetensors.index.json"), index(R"({"a": "s1.safetensors", "b": "s2.safetensors"})"));
    } else if (layout == QLatin1String("duplicate across files")) {
        config();
        shard(d, QStringLiteral("part1.safetensors"), {"x"});
        shard(d, QStringLiteral("part2.safetensors"), {"x"});
    } else if (layout == QLatin1String("index not JSON")) {
        config();
        shard(d, QStringLiteral("s1.safetensors"), {"a"});
        put(d, QStringLiteral("model.safetensors.index.json"), R"({"weight_map": {"a": )");
    } else if (layout == QLatin1String("index without weight_map")) {
        config();
        put(d, QStringLiteral("model.safetensors.index.json"), R"({"metadata": {}})");
    } else if (layout == QLatin1String("index entry not a string")) {
        config();
        put(d, QStringLiteral("model.safetensors.index.json"), index(R"({"a": 3})"));
    } else if (layout == QLatin1String("index escapes the folder")) {
        config();
        put(d, QStringLiteral("model.safetensors.index.json"), index(R"({"a": "../elsewhere.safetensors"})"));
    } else if (layout == QLatin1String("corrupt shard")) {
        config();
        shard(d, QStringLiteral("s1.safetensors"), {"a"});
        put(d, QStringLiteral("s2.safetensors"), QByteArray("\x10\0\0\0\0\0\0\0{\"b\":", 13));
        put(d, QStringLiteral("model.safetensors.index.json"), index(R"({"a": "s1.safetensors", "b": "s2.safetensors"})"));
    } else if (layout == QLatin1String("unsupported dtype in weights")) {
        config();
        put(d, QStringLiteral("model.safetensors"),
            QByteArray("\x38\0\0\0\0\0\0\0", 8) + R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})" +
                QByteArray(8, '\0'));
    } else {
        QFAIL(qPrintable(QStringLiteral("unknown layout ") + layout));
    }
}

} // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void singleFile();
    void anySafetensorsFiles();
    void sharded();
    void safetensorsPreferredOverPickle();
    void huggingFaceCacheEntry();
    void huggingFaceCacheScan();
    void rejects_data();
    void rejects();
    void missingFolder();
    void notAFolder();
    void readMissingTensor();
    void stories260K();
};

void TestCheckpoint::singleFile()
{
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("config.json"), kConfig);
    put(d, QStringLiteral("tokenizer.json"), "{}");
    shard(d, QStringLiteral("model.safetensors"), {"model.embed_tokens.weight", "model.norm.weight"}, 3.f);
    shard(d, QStringLiteral("other.safetensors"), {"ignored"}); // model.safetensors wins
    const ModelDirectory md = ModelDirectory::locate(tmp.path().toStdString());
    QCOMPARE(QString::fromStdString(md.configPath), d.filePath(QStringLiteral("config.json")));
    QCOMPARE(QString::fromStdString(md.tokenizerPath), d.filePath(QStringLiteral("tokenizer.json")));
    QVERIFY(md.tokenizerConfigPath.empty());
    QVERIFY(md.indexPath.empty());
    QCOMPARE(md.weightFiles, std::vector<std::string>{d.filePath(QStringLiteral("model.safetensors")).toStdString()});

    const Checkpoint ck = Checkpoint::open(md);
    QCOMPARE(ck.names(), (std::vector<std::string>{"model.embed_tokens.weight", "model.norm.weight"}));
    QVERIFY(ck.contains("model.norm.weight"));
    QVERIFY(!ck.contains("ignored"));
    QVERIFY(ck.find("model.norm.weight"));
    QCOMPARE(ck.find("model.norm.weight")->shape, (std::vector<int64_t>{2}));
    QCOMPARE(ck.read("model.norm.weight").toFloats(), (std::vector<float>{3.f, 4.f}));
}

void TestCheckpoint::anySafetensorsFiles()
{
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("config.json"), kConfig);
    put(d, QStringLiteral("tokenizer_config.json"), "{}");
    shard(d, QStringLiteral("b.safetensors"), {"y"}, 5.f);
    shard(d, QStringLiteral("a.safetensors"), {"x"}, 1.f);
    const ModelDirectory md = ModelDirectory::locate(tmp.path().toStdString());
    QCOMPARE(md.weightFiles.size(), std::size_t(2));
    QVERIFY(QString::fromStdString(md.weightFiles[0]).endsWith(QStringLiteral("a.safetensors")));
    QVERIFY(md.tokenizerPath.empty());
    QVERIFY(!md.tokenizerConfigPath.empty());
    const Checkpoint ck = Checkpoint::open(md);
    QCOMPARE(ck.names(), (std::vector<std::string>{"x", "y"}));
    QCOMPARE(ck.read("y").toFloats(), (std::vector<float>{5.f, 6.f}));
}

void TestCheckpoint::sharded()
{
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("config.json"), kConfig);
    shard(d, QStringLiteral("model-00001-of-00002.safetensors"), {"a", "b"}, 1.f);
    shard(d, QStringLiteral("model-00002-of-00002.safetensors"), {"c", "extra"}, 7.f);
    put(d, QStringLiteral("model.safetensors.index.json"),
        index(R"({"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                  "c": "model-00002-of-00002.safetensors"})"));
    const ModelDirectory md = ModelDirectory::locate(tmp.path().toStdString());
    QCOMPARE(QString::fromStdString(md.indexPath), d.filePath(QStringLiteral("model.safetensors.index.json")));
    QCOMPARE(md.weightFiles.size(), std::size_t(2));
    const Checkpoint ck = Checkpoint::open(md);
    // A shard may hold tensors the index does not list; they are still readable.
    QCOMPARE(ck.names(), (std::vector<std::string>{"a", "b", "c", "extra"}));
    QCOMPARE(ck.read("c").toFloats(), (std::vector<float>{7.f, 8.f}));
}

void TestCheckpoint::safetensorsPreferredOverPickle()
{
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("config.json"), kConfig);
    put(d, QStringLiteral("pytorch_model.bin"), "not a pickle we would ever read");
    shard(d, QStringLiteral("model.safetensors"), {"w"});
    const ModelDirectory md = ModelDirectory::locate(tmp.path().toStdString());
    QCOMPARE(md.weightFiles.size(), std::size_t(1));
    QVERIFY(QString::fromStdString(md.weightFiles[0]).endsWith(QStringLiteral("model.safetensors")));
}

void TestCheckpoint::huggingFaceCacheEntry()
{
    // models--org--name/{refs/main, snapshots/<rev>/...}: the folder the user picks in the cache.
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("refs/main"), "abc123\n");
    const QDir snap(d.filePath(QStringLiteral("snapshots/abc123")));
    QVERIFY(d.mkpath(QStringLiteral("snapshots/abc123")));
    QVERIFY(d.mkpath(QStringLiteral("snapshots/old999")));
    put(snap, QStringLiteral("config.json"), kConfig);
    shard(snap, QStringLiteral("model.safetensors"), {"w"});
    const ModelDirectory md = ModelDirectory::locate(tmp.path().toStdString());
    QCOMPARE(QString::fromStdString(md.dir), snap.absolutePath());
    QCOMPARE(md.weightFiles.size(), std::size_t(1));
    // Not a cache entry by name (a temporary folder): the folder's own name.
    QCOMPARE(QString::fromStdString(md.name), QDir(tmp.path()).dirName());
}

void TestCheckpoint::huggingFaceCacheScan()
{
    // hub/models--org--name/snapshots/<rev>: listed as "org/name", and a model opened from the entry
    // or from its snapshot is named "org/name", not after the snapshot hash.
    QTemporaryDir tmp;
    const QDir hub(tmp.path());
    const QDir entry(hub.filePath(QStringLiteral("models--meta-llama--Llama-3.2-1B")));
    QVERIFY(hub.mkpath(QStringLiteral("models--meta-llama--Llama-3.2-1B/snapshots/4e20de36")));
    put(entry, QStringLiteral("refs/main"), "4e20de36\n");
    const QDir snap(entry.filePath(QStringLiteral("snapshots/4e20de36")));
    put(snap, QStringLiteral("config.json"), kConfig);
    shard(snap, QStringLiteral("model.safetensors"), {"w"});
    QVERIFY(hub.mkpath(QStringLiteral("models--gpt2/snapshots/e7da7f22")));
    put(QDir(hub.filePath(QStringLiteral("models--gpt2/snapshots/e7da7f22"))), QStringLiteral("config.json"), kConfig);
    QVERIFY(hub.mkpath(QStringLiteral("models--broken/snapshots/0000")));                  // no config.json: skipped
    QVERIFY(hub.mkpath(QStringLiteral("datasets--org--data/snapshots/1111")));             // not a model: skipped

    const std::vector<CachedModel> found = findCachedModels(hub.path().toStdString());
    QCOMPARE(found.size(), std::size_t(2));
    QCOMPARE(found[0].repo, std::string("gpt2"));
    QCOMPARE(found[0].revision, std::string("e7da7f22"));
    QCOMPARE(found[1].repo, std::string("meta-llama/Llama-3.2-1B"));
    QCOMPARE(QString::fromStdString(found[1].path), snap.path());

    QCOMPARE(cachedRepoName(entry.path().toStdString()), std::string("meta-llama/Llama-3.2-1B"));
    QCOMPARE(cachedRepoName(snap.path().toStdString()), std::string("meta-llama/Llama-3.2-1B"));
    QCOMPARE(cachedRepoName(hub.path().toStdString()), std::string());
    for (const QString& opened : {entry.path(), snap.path()}) {
        const ModelDirectory md = ModelDirectory::locate(opened.toStdString());
        QCOMPARE(md.name, std::string("meta-llama/Llama-3.2-1B"));
        QCOMPARE(QString::fromStdString(md.dir), snap.absolutePath());
    }

    qputenv("HF_HUB_CACHE", hub.path().toUtf8());
    QCOMPARE(QString::fromStdString(huggingFaceCacheDir()), hub.path());
    qunsetenv("HF_HUB_CACHE");
    qputenv("HF_HOME", "/some/hf");
    QCOMPARE(huggingFaceCacheDir(), std::string("/some/hf/hub"));
    qunsetenv("HF_HOME");
}

void TestCheckpoint::rejects_data()
{
    QTest::addColumn<QString>("layout");
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<QString>("message");
    QTest::addColumn<bool>("atOpen"); // false: locate() already refuses

    QTest::newRow("no config.json") << "no config" << ErrorCode::Io
                                    << "has no config.json; a Hugging Face model folder needs one" << false;
    QTest::newRow("no weights") << "no weights" << ErrorCode::Io << "has no weights: no *.safetensors file was found"
                                << false;
    for (const char* pickle : {"pytorch_model.bin", "model.pt", "weights.pth", "last.ckpt"}) {
        QTest::newRow(pickle) << QStringLiteral("pickle %1").arg(QLatin1String(pickle)) << ErrorCode::Unsupported
                              << QStringLiteral("has its weights only as PyTorch pickle files (%1). SinkScope never "
                                                "loads pickle checkpoints, because unpickling can execute code")
                                     .arg(QLatin1String(pickle))
                              << false;
    }
    QTest::newRow("missing shard")
        << "missing shard" << ErrorCode::Io
        << "names 1 shard file that is missing: model-00002-of-00002.safetensors. The download may be incomplete."
        << false;
    QTest::newRow("two missing shards") << "two missing shards" << ErrorCode::Io
                                        << "names 2 shard files that are missing: s1.safetensors, s2.safetensors"
                                        << false;
    QTest::newRow("index not JSON") << "index not JSON" << ErrorCode::Format
                                    << "model.safetensors.index.json is not valid JSON" << false;
    QTest::newRow("index without weight_map") << "index without weight_map" << ErrorCode::Format
                                              << "has no \"weight_map\" object" << false;
    QTest::newRow("index entry not a string") << "index entry not a string" << ErrorCode::Format
                                              << "maps tensor 'a' to a number instead of a shard file name" << false;
    QTest::newRow("index escapes the folder") << "index escapes the folder" << ErrorCode::Format
                                              << "'../elsewhere.safetensors', which is not a file name in the model "
                                                 "folder"
                                              << false;
    QTest::newRow("tensor listed but absent")
        << "index names absent tensor" << ErrorCode::Format
        << "model.safetensors.index.json places tensor 'c' in shard s2.safetensors, but that shard does not contain it"
        << true;
    QTest::newRow("tensor in another shard") << "index names wrong shard" << ErrorCode::Format
                                             << "places tensor 'a' in shard s2.safetensors" << true;
    QTest::newRow("duplicate across shards") << "duplicate across shards" << ErrorCode::Format
                                             << "Tensor 'b' appears in two weight files, s1.safetensors and "
                                                "s2.safetensors"
                                             << true;
    QTest::newRow("duplicate across files") << "duplicate across files" << ErrorCode::Format
                                            << "Tensor 'x' appears in two weight files, part1.safetensors and "
                                               "part2.safetensors"
                                            << true;
    QTest::newRow("corrupt shard") << "corrupt shard" << ErrorCode::Format
                                   << "s2.safetensors: the header length 16 runs past the end of the file" << true;
    QTest::newRow("unsupported dtype") << "unsupported dtype in weights" << ErrorCode::Unsupported
                                       << "model.safetensors: tensor 'ids' has dtype 'I64', which is not supported"
                                       << true;
}

void TestCheckpoint::rejects()
{
    QFETCH(QString, layout);
    QFETCH(ErrorCode, code);
    QFETCH(QString, message);
    QFETCH(bool, atOpen);
    QTemporaryDir tmp;
    build(QDir(tmp.path()), layout);
    try {
        const ModelDirectory md = ModelDirectory::locate(tmp.path().toStdString());
        QVERIFY2(atOpen, "locate() accepted the folder");
        Checkpoint::open(md);
        QFAIL("the checkpoint was accepted");
    } catch (const Error& e) {
        QCOMPARE(errorCodeName(e.code()), errorCodeName(code));
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
    }
}

void TestCheckpoint::missingFolder()
{
    try {
        ModelDirectory::locate("/nonexistent/sinkscope-model");
        QFAIL("located a missing folder");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY2(QString::fromStdString(e.what()).contains(
                     QStringLiteral("The model folder /nonexistent/sinkscope-model does not exist")),
                 e.what());
    }
}

void TestCheckpoint::notAFolder()
{
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("config.json"), kConfig);
    try {
        ModelDirectory::locate(d.filePath(QStringLiteral("config.json")).toStdString());
        QFAIL("located a file as a folder");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("is not a folder")), e.what());
    }
}

void TestCheckpoint::readMissingTensor()
{
    QTemporaryDir tmp;
    const QDir d(tmp.path());
    put(d, QStringLiteral("config.json"), kConfig);
    shard(d, QStringLiteral("model.safetensors"), {"a"});
    const Checkpoint ck = Checkpoint::open(ModelDirectory::locate(tmp.path().toStdString()));
    QVERIFY(!ck.find("lm_head.weight"));
    try {
        ck.read("lm_head.weight");
        QFAIL("read a tensor that is not there");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Format);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("is missing tensor 'lm_head.weight'")),
                 e.what());
        QCOMPARE(e.context(), std::string("lm_head.weight"));
    }
}

void TestCheckpoint::stories260K()
{
    const QString dir = test::stories260KDir();
    if (dir.isEmpty())
        QSKIP(test::noSharedReason());
    const ModelDirectory md = ModelDirectory::locate(dir.toStdString());
    QVERIFY(!md.tokenizerPath.empty());
    QVERIFY(md.tokenizerConfigPath.empty());
    QCOMPARE(md.weightFiles.size(), std::size_t(1));
    const Checkpoint ck = Checkpoint::open(md);
    QCOMPARE(ck.names().size(), std::size_t(47));
    QVERIFY(!ck.contains("lm_head.weight"));
    QCOMPARE(ck.read("model.layers.4.mlp.down_proj.weight").shape, (std::vector<int64_t>{64, 172}));
}

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
