// SPDX-License-Identifier: GPL-3.0-or-later
// Faults while the program works: cancel at every layer boundary, a weight file that is truncated
// or deleted while its model is loaded, a run whose captures do not fit in memory, and writes that
// fail half-way (a full disk, simulated with RLIMIT_FSIZE, or a process killed mid-write; a path
// whose parent is a file). A failed write must leave the previous file exactly as it was.
#include "attentionheatmapview.h"
#include "engineclient.h"
#include "mainwindow.h"
#include "selection.h"
#include "sinkscope/checkpoint.h"
#include "sinkscope/engine.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/fileio.h"
#include "sinkscope/preflight.h"
#include "sinkscope/npy.h"
#include "sinkscope/runio.h"
#include "sinkscope/safetensors.h"
#include "tinymodels.h"

#include "testsupport.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
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
#include <csignal>
#include <sys/resource.h>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

// Every file under `dir`, hidden ones included, relative to it.
QStringList filesUnder(const QString& dir)
{
    QStringList out;
    QDirIterator it(dir, QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
    while (it.hasNext())
        out << QDir(dir).relativeFilePath(it.next());
    out.sort();
    return out;
}

// While alive, writing a file past `bytes` fails with EFBIG, as on a full disk (SIGXFSZ ignored).
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes)
    {
        ::getrlimit(RLIMIT_FSIZE, &m_old);
        m_oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit r = m_old;
        r.rlim_cur = bytes;
        m_ok = ::setrlimit(RLIMIT_FSIZE, &r) == 0;
    }
    ~FileSizeLimit()
    {
        ::setrlimit(RLIMIT_FSIZE, &m_old);
        std::signal(SIGXFSZ, m_oldHandler);
    }
    bool ok() const { return m_ok; }

private:
    rlimit m_old {};
    void (*m_oldHandler)(int) = nullptr;
    bool m_ok = false;
};

RunRequest textRequest(const std::string& text)
{
    RunRequest r;
    r.text = text;
    return r;
}

// Engine callbacks as queued signals, and a cancel issued on the engine thread at a chosen layer.
class EngineProbe : public QObject {
    Q_OBJECT

public:
    explicit EngineProbe(int cancelAtLayer = -1) : m_cancelAt(cancelAtLayer)
    {
        EngineCallbacks c;
        c.modelLoaded = [this](uint64_t, const ModelInfo&, const std::string&, const std::string&) {
            QMetaObject::invokeMethod(this, [this] { Q_EMIT loaded(); }, Qt::QueuedConnection);
        };
        c.progress = [this](uint64_t, int done, int) {
            m_layers.push_back(done); // engine thread only; read after the run ended
            if (done == m_cancelAt)
                m_engine->cancel();
        };
        c.runFinished = [this](uint64_t, std::shared_ptr<const RunResult> r) {
            QMetaObject::invokeMethod(this, [this, r] { m_result = r; Q_EMIT finished(); }, Qt::QueuedConnection);
        };
        c.failed = [this](uint64_t, const Error& e) {
            QMetaObject::invokeMethod(this, [this, code = e.code(), m = QString::fromStdString(e.describe())] {
                Q_EMIT failed(int(code), m);
            }, Qt::QueuedConnection);
        };
        m_engine = std::make_unique<Engine>(std::move(c));
    }
    ~EngineProbe() override { m_engine.reset(); }

    Engine& engine() { return *m_engine; }
    std::vector<int> m_layers;
    std::shared_ptr<const RunResult> m_result;

Q_SIGNALS:
    void loaded();
    void finished();
    void failed(int code, const QString& message);

private:
    int m_cancelAt;
    std::unique_ptr<Engine> m_engine;
};

} // namespace

class TestFaults : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cancelAtEveryLayer_data();
    void cancelAtEveryLayer();
    void weightFileTruncatedWhileLoaded();
    void weightFileDeletedWhileLoaded();
    void weightFileChangedUnderCheckpoint();
    void capturesLargerThanMemory();
    void runLargerThanMemory();
    void batchPreflightedAsAWhole();
    void saveRunDiskFull();
    void saveRunParentIsFile();
    void writeFileDiskFull_data();
    void writeFileDiskFull();
    void cliKilledMidWriteKeepsOldFiles();
    void guiExportsFailCleanly();

private:
    QString copyOfTiny(const QString& name) const;
    QTemporaryDir m_tmp;
    QString m_tiny;
};

void TestFaults::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("SinkScopeTests");
    QSettings().clear();
    m_tiny = QDir(m_tmp.path()).filePath("tiny");
    writeTinyLlamaWithTokenizer(m_tiny, 4, 3);
}

QString TestFaults::copyOfTiny(const QString& name) const
{
    const QString dir = QDir(m_tmp.path()).filePath(name);
    QDir().mkpath(dir);
    for (const char* f : {"config.json", "tokenizer.json", "model.safetensors"})
        QFile::copy(QDir(m_tiny).filePath(f), QDir(dir).filePath(f));
    return dir;
}

void TestFaults::cancelAtEveryLayer_data()
{
    QTest::addColumn<int>("layer");
    for (int l = 1; l < 4; ++l)
        QTest::newRow(qPrintable(QString("after layer %1").arg(l))) << l;
}

void TestFaults::cancelAtEveryLayer()
{
    // A cancel arriving while layer k runs stops the pass at the next boundary: no layer after k.
    QFETCH(int, layer);
    EngineProbe probe(layer);
    QSignalSpy loaded(&probe, &EngineProbe::loaded);
    probe.engine().load(m_tiny.toStdString(), DevicePreference::Cpu);
    QVERIFY(loaded.wait(30000));
    QSignalSpy failed(&probe, &EngineProbe::failed);
    probe.engine().run(textRequest("a prompt that is long enough"));
    QVERIFY(failed.wait(30000));
    QCOMPARE(failed.first().at(1).toString(), QString("The run was cancelled."));
    std::vector<int> want;
    for (int l = 1; l <= layer; ++l)
        want.push_back(l);
    QCOMPARE(probe.m_layers, want);
}

void TestFaults::weightFileTruncatedWhileLoaded()
{
    const QString dir = copyOfTiny("truncated");
    const QString st = QDir(dir).filePath("model.safetensors");
    const QByteArray bytes = readBytes(st);
    uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i)
        headerLen = (headerLen << 8) | uint8_t(bytes[i]);
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    QVERIFY(QFile::resize(st, 20));
    // The weights were copied at load time: the loaded model keeps working.
    const auto r = model->run(textRequest("still runs"));
    QVERIFY(r->tokens > 1);
    QVERIFY(!r->received.empty());
    // Opening it again is a clear error, not a crash.
    try {
        Model::load(dir.toStdString(), DevicePreference::Cpu);
        QFAIL("a truncated weight file loaded");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Format);
        QCOMPARE(QString::fromStdString(e.describe()),
                 QString("model.safetensors: the header length %1 runs past the end of the file (20 bytes); the file is "
                         "truncated or not a safetensors file.")
                     .arg(headerLen));
    }
}

void TestFaults::weightFileDeletedWhileLoaded()
{
    const QString dir = copyOfTiny("deleted");
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    QVERIFY(QFile::remove(QDir(dir).filePath("model.safetensors")));
    QVERIFY(model->run(textRequest("still runs"))->tokens > 1);
    try {
        Model::load(dir.toStdString(), DevicePreference::Cpu);
        QFAIL("a folder without weights loaded");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QCOMPARE(QString::fromStdString(e.describe()),
                 QString("The model folder %1 has no weights: no *.safetensors file was found.")
                     .arg(QFileInfo(dir).absoluteFilePath()));
    }
}

void TestFaults::weightFileChangedUnderCheckpoint()
{
    // Between opening a checkpoint and copying a tensor out, the file shrinks: reading the mapped
    // pages past the new end would be SIGBUS; the reader notices and says so.
    const QString dir = copyOfTiny("changed");
    const QString st = QFileInfo(QDir(dir).filePath("model.safetensors")).absoluteFilePath();
    const Checkpoint ckpt = Checkpoint::open(ModelDirectory::locate(dir.toStdString()));
    QVERIFY(ckpt.read("model.norm.weight").nbytes > 0);
    QVERIFY(QFile::resize(st, QFileInfo(st).size() / 2));
    try {
        ckpt.read("model.embed_tokens.weight");
        QFAIL("read from a truncated mapping");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QCOMPARE(QString::fromStdString(e.describe()),
                 QString("The weight file %1 changed on disk after it was opened; open the model again.").arg(st));
    }
}

void TestFaults::capturesLargerThanMemory()
{
    // All L x H x T^2 maps of 200,000 tokens need 2 x 4 x 200000^2 x 4 bytes = 1192.09 GiB: the run
    // refuses before allocating, names the estimate and the way out, and the engine goes on.
    const QString dir = QDir(m_tmp.path()).filePath("long-context");
    TinyLlamaSpec spec;
    spec.layers = 2;
    spec.maxPositions = 1000000;
    writeTinyLlama(dir, spec, makeTinyLlamaWeights(spec));

    EngineClient client;
    QSignalSpy loaded(&client, &EngineClient::modelLoaded);
    client.loadModel(dir, DevicePreference::Cpu);
    QVERIFY(loaded.wait(30000));
    RunRequest huge;
    huge.useIds = true;
    huge.ids.assign(200000, 5);
    huge.captureAttention = true;
    QSignalSpy failed(&client, &EngineClient::runFailed);
    client.run(huge);
    QVERIFY(failed.wait(60000));
    const QString message = failed.first().at(0).toString();
    const QRegularExpression want(
        "\\AKeeping every attention map needs 1192\\.09 GiB \\(2 layers x 4 heads x 200000\\^2 tokens x 4 bytes\\) but "
        "only [0-9]+\\.[0-9]{2} GiB of memory is free\\. Keep maps on demand \\(they are recomputed per head from Q and "
        "K\\), use a shorter prompt, or free memory\\.\\z");
    QVERIFY2(want.match(message).hasMatch(), qPrintable(message));
    QVERIFY(!client.isBusy());

    QSignalSpy finished(&client, &EngineClient::runFinished);
    RunRequest small;
    small.useIds = true;
    small.ids = {1, 2, 3, 4};
    client.run(small);
    QVERIFY(finished.wait(30000));
    QCOMPARE(finished.first().at(0).value<std::shared_ptr<const RunResult>>()->tokens, int64_t(4));
}

void TestFaults::runLargerThanMemory()
{
    // The working set of a run without captures, against a machine with 64 MiB: 2,000 tokens in
    // query blocks of 524 rows (4 Mi probabilities / (4 heads x 2000)) need (4 x 4 + 2) x 524 x
    // 2000 x 4 bytes = 75.5 MB of attention temporaries, the MLP 2000 x (3 x 24 + 8 x 16) x 4 =
    // 1.6 MB, the summaries 2 x (5 x 4 + 4) x 2000 x 4 = 0.4 MB: 77.4 MB > 90 % of 64 MiB. The
    // run is refused before anything is allocated, so the kernel's OOM killer never says no.
    const QString dir = QDir(m_tmp.path()).filePath("long-context-bare");
    TinyLlamaSpec spec;
    spec.layers = 2;
    spec.maxPositions = 4096;
    writeTinyLlama(dir, spec, makeTinyLlamaWeights(spec));
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    RunRequest bare;
    bare.useIds = true;
    bare.ids.assign(2000, 5);
    bare.captureAttention = bare.captureLogits = bare.captureHidden = bare.captureQK = bare.captureValues = false;
    setHostMemoryLimitForTesting(64.0 * 1024 * 1024);
    try {
        model->run(bare);
        setHostMemoryLimitForTesting(0);
        QFAIL("a run larger than memory started");
    } catch (const Error& e) {
        setHostMemoryLimitForTesting(0);
        QCOMPARE(e.code(), ErrorCode::OutOfMemory);
        QCOMPARE(QString(e.what()), "This run needs about 0.07 GiB of memory (2000 tokens: attention 0.07 GiB per layer; "
                                    "MLP 0.00 GiB; captures 0.00 GiB) but only 0.06 GiB is available (a limit set for "
                                    "testing). Use a shorter prompt, capture less, or free memory.");
    }
    // With the machine's real memory the same run goes through.
    QCOMPARE(model->run(bare)->tokens, int64_t(2000));
}

void TestFaults::batchPreflightedAsAWhole()
{
    // 32 prompts of 256 tokens, no captures but the summaries, on a 2-layer model with 4 heads,
    // D = 16, F = 24, against a machine with 32 MiB (30.2 MB usable at the 90 % margin).
    // Alone, each needs 18 x 256 rows x 256 x 4 B = 4.7 MB of attention temporaries, MLP
    // 256 x (3 x 24 + 8 x 16) x 4 = 0.2 MB and summaries 2 x (5 x 4 + 4) x 256 x 4 = 0.05 MB:
    // 4.97 MB, which fits. As one [32, 256] pass the block shrinks to 4 Mi / (32 x 4 x 256) = 128
    // rows: attention 18 x 32 x 128 x 256 x 4 = 75.5 MB, MLP 32 x 0.2 MB = 6.6 MB, and all 32
    // prompts' summaries 1.6 MB: 83.6 MB, refused before anything is allocated. Batches of 4 need
    // 18 x 4 x 256 x 256 x 4 = 18.9 MB + 0.8 MB + 1.6 MB = 21.3 MB, which fits.
    const QString dir = QDir(m_tmp.path()).filePath("batch-preflight");
    TinyLlamaSpec spec;
    spec.layers = 2;
    spec.maxPositions = 512;
    writeTinyLlama(dir, spec, makeTinyLlamaWeights(spec));
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    RunRequest bare;
    bare.useIds = true;
    bare.ids.assign(256, 5);
    bare.captureAttention = bare.captureLogits = bare.captureHidden = bare.captureQK = bare.captureValues = false;
    const std::vector<RunRequest> requests(32, bare);
    setHostMemoryLimitForTesting(32.0 * 1024 * 1024);
    QString message;
    bool singleRan = false, smallBatchesRan = false;
    try {
        singleRan = model->run(bare)->tokens == 256;
        smallBatchesRan = model->runBatch(requests, 4).size() == 32;
        model->runBatch(requests, 32);
    } catch (const Error& e) {
        message = QString::fromUtf8(e.what());
        QCOMPARE(e.code(), ErrorCode::OutOfMemory);
    }
    setHostMemoryLimitForTesting(0);
    QVERIFY2(singleRan, "one prompt alone fits and must run");
    QVERIFY2(smallBatchesRan, "batches of 4 fit and must run");
    QCOMPARE(message, "This batched run needs about 0.08 GiB of memory (its largest batch: 32 prompts x 256 tokens, "
                      "attention 0.07 GiB per layer, MLP 0.01 GiB; captures of all 32 prompts 0.00 GiB) but only "
                      "0.03 GiB is available (a limit set for testing). Use a smaller batch size, shorter prompts, "
                      "capture less, or free memory.");
}

void TestFaults::saveRunDiskFull()
{
    const auto model = Model::load(m_tiny.toStdString(), DevicePreference::Cpu);
    const auto first = model->run(textRequest("first run"));
    const QString out = QDir(m_tmp.path()).filePath("saved");
    saveRun(*first, out.toStdString(), {SaveItem::Attention});
    const QStringList files = filesUnder(out);
    QCOMPARE(files, (QStringList{"attention.npy", "run.json"}));
    const QByteArray json = readBytes(QDir(out).filePath("run.json"));
    const QByteArray npy = readBytes(QDir(out).filePath("attention.npy"));

    // The second result's attention.npy does not fit under the limit; run.json does.
    const auto second = model->run(textRequest("a second and much longer prompt that makes bigger maps"));
    QVERIFY(second->attention.size() * 4 > 8192);
    {
        FileSizeLimit limit(8192);
        QVERIFY(limit.ok());
        try {
            saveRun(*second, out.toStdString(), {SaveItem::Attention}, ExistingOutput::Replace);
            QFAIL("a save past the size limit succeeded");
        } catch (const Error& e) {
            QCOMPARE(e.code(), ErrorCode::Io);
            QVERIFY2(QString(e.what()).startsWith("Could not write "), e.what());
        }
    }
    QCOMPARE(filesUnder(out), files); // no temporary file
    QCOMPARE(QDir(m_tmp.path()).entryList(QDir::AllEntries | QDir::Hidden).filter(".staging"), QStringList());
    QCOMPARE(readBytes(QDir(out).filePath("run.json")), json);
    QCOMPARE(readBytes(QDir(out).filePath("attention.npy")), npy);
}

void TestFaults::saveRunParentIsFile()
{
    const auto model = Model::load(m_tiny.toStdString(), DevicePreference::Cpu);
    const auto r = model->run(textRequest("x"));
    const QString file = QDir(m_tmp.path()).filePath("plain-file");
    QFile f(file);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("keep me");
    f.close();
    const QString out = file + "/run";
    try {
        saveRun(*r, out.toStdString(), {});
        QFAIL("saved under a file");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QCOMPARE(QString::fromStdString(e.describe()), "Cannot create the output folder. (" + out + ")");
    }
    QCOMPARE(readBytes(file), QByteArray("keep me"));
}

void TestFaults::writeFileDiskFull_data()
{
    QTest::addColumn<int>("size");
    QTest::addColumn<int>("limit");
    // Small writes stay in QFile's buffer until commit: the case QSaveFile::commit() let through.
    QTest::newRow("buffered write") << 1000 << 500;
    QTest::newRow("direct write") << 100000 << 4096;
}

void TestFaults::writeFileDiskFull()
{
    QFETCH(int, size);
    QFETCH(int, limit);
    const QString path = QDir(m_tmp.path()).filePath(QString("atomic-%1/data.bin").arg(size));
    QDir().mkpath(QFileInfo(path).path());
    writeFileAtomically(path.toStdString(), std::string(100, 'a'));
    {
        FileSizeLimit fsize{rlim_t(limit)};
        QVERIFY(fsize.ok());
        QVERIFY_THROWS_EXCEPTION(Error, writeFileAtomically(path.toStdString(), std::string(size_t(size), 'b')));
        // the same through the safetensors writer
        QVERIFY_THROWS_EXCEPTION(Error, writeSafetensors(QFileInfo(path).path().toStdString() + "/w.safetensors",
                                                         {HostTensor::fromFloats("w", {int64_t(size / 4)},
                                                                                 std::vector<float>(size_t(size / 4), 1.0f))}));
    }
    QCOMPARE(readBytes(path), QByteArray(100, 'a'));
    QCOMPARE(filesUnder(QFileInfo(path).path()), QStringList{"data.bin"});
}

void TestFaults::cliKilledMidWriteKeepsOldFiles()
{
    // The process is killed by SIGXFSZ while it writes (ulimit -f): a crash in the middle of a
    // write. The files of the earlier run must be untouched.
    const QString out = QDir(m_tmp.path()).filePath("cli-out");
    QProcess first;
    first.start(SINKSCOPE_CLI_PATH, {"run", "--model", m_tiny, "--prompt", "short", "--save", "attention", "--out", out});
    QVERIFY(first.waitForFinished(60000));
    QCOMPARE(first.exitCode(), 0);
    const QByteArray json = readBytes(QDir(out).filePath("run.json"));
    const QByteArray npy = readBytes(QDir(out).filePath("attention.npy"));
    QVERIFY(!json.isEmpty() && !npy.isEmpty());

    QProcess killed;
    // --force: the folder is to be replaced, so the write really starts (without it, the
    // non-empty folder is refused before any work).
    killed.start("/bin/sh", {"-c", "ulimit -f 8; exec \"$0\" run --model \"$1\" --prompt \"$2\" --save attention --out \"$3\" --force",
                             SINKSCOPE_CLI_PATH, m_tiny, QString("a much longer prompt ").repeated(4), out});
    QVERIFY(killed.waitForFinished(60000));
    QVERIFY2(killed.exitStatus() == QProcess::CrashExit || killed.exitCode() != 0, killed.readAllStandardError());
    QCOMPARE(readBytes(QDir(out).filePath("run.json")), json);
    QCOMPARE(readBytes(QDir(out).filePath("attention.npy")), npy);
}

void TestFaults::guiExportsFailCleanly()
{
    MainWindow w;
    w.show();
    QSignalSpy loaded(w.engine(), &EngineClient::modelLoaded);
    w.openModelFolder(m_tiny);
    QVERIFY(loaded.wait(30000));
    QSignalSpy shown(&w, &MainWindow::resultShown);
    w.setPrompt("hello world");
    w.runPrompt();
    QVERIFY(shown.wait(30000));

    const QString dir = QDir(m_tmp.path()).filePath("exports");
    QDir().mkpath(dir);
    const QString csv = QDir(dir).filePath("heat.csv");
    const QString png = QDir(dir).filePath("heat.png");
    QVERIFY(w.exportDataTo(csv));
    QVERIFY(w.exportFigureTo(png));
    const QByteArray oldCsv = readBytes(csv), oldPng = readBytes(png);
    QVERIFY2(oldCsv.size() > 16 && oldPng.size() > 16, oldCsv.constData());
    {
        // Smaller than either file: both writes fail part-way.
        FileSizeLimit limit(rlim_t(std::min(oldCsv.size(), oldPng.size()) / 2));
        QVERIFY(limit.ok());
        QVERIFY(!w.exportDataTo(csv));
        QVERIFY2(w.message().startsWith("Export failed: "), qPrintable(w.message()));
        QVERIFY(!w.exportFigureTo(png));
        QVERIFY2(w.message().startsWith("Export failed: "), qPrintable(w.message()));
    }
    QCOMPARE(readBytes(csv), oldCsv);
    QCOMPARE(readBytes(png), oldPng);
    QCOMPARE(filesUnder(dir), (QStringList{"heat.csv", "heat.png"}));

    // A target whose parent is a file.
    QVERIFY(!w.exportDataTo(csv + "/inside.csv"));
    QVERIFY2(w.message().startsWith("Export failed: "), qPrintable(w.message()));
    QCOMPARE(readBytes(csv), oldCsv);
    // and the window still works
    w.setPrompt("one more");
    w.runPrompt();
    QVERIFY(shown.wait(30000));
}

QTEST_MAIN(TestFaults)
#include "tst_faults.moc"
