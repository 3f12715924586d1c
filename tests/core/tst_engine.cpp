// SPDX-License-Identifier: GPL-3.0-or-later
// The engine thread: ordering, cancel between layers, supersede of queued and running runs, and
// failures that leave the engine (and the loaded model) usable.
#include "sinkscope/engine.h"
#include "sinkscope/threads.h"
#include "tinymodels.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

/// Records every callback; lets the test block the engine thread inside a progress callback.
struct Recorder {
    std::mutex m;
    std::condition_variable cv;
    std::map<uint64_t, std::string> outcome; // "loaded", "finished", or "failed:<code>:<message>"
    std::map<uint64_t, std::vector<int>> progress;
    std::map<uint64_t, std::shared_ptr<const RunResult>> results;
    std::function<void(uint64_t, int)> onProgress; // runs on the engine thread
    int endedTwice = 0;                              // every request must end exactly once

    EngineCallbacks callbacks()
    {
        EngineCallbacks c;
        c.modelLoaded = [this](uint64_t id, const ModelInfo&, const std::string&, const std::string&) { end(id, "loaded"); };
        c.progress = [this](uint64_t id, int done, int) {
            {
                std::lock_guard<std::mutex> l(m);
                progress[id].push_back(done);
            }
            if (onProgress)
                onProgress(id, done);
        };
        c.runFinished = [this](uint64_t id, std::shared_ptr<const RunResult> r) {
            {
                std::lock_guard<std::mutex> l(m);
                results[id] = r;
            }
            end(id, "finished");
        };
        c.failed = [this](uint64_t id, const Error& e) {
            end(id, std::string("failed:") + errorCodeName(e.code()) + ":" + e.what());
        };
        return c;
    }
    void end(uint64_t id, const std::string& what)
    {
        std::lock_guard<std::mutex> l(m);
        if (outcome.count(id))
            ++endedTwice;
        outcome[id] = what;
        cv.notify_all();
    }
    std::string waitFor(uint64_t id)
    {
        std::unique_lock<std::mutex> l(m);
        if (!cv.wait_for(l, std::chrono::seconds(60), [&] { return outcome.count(id) != 0; }))
            return "timeout";
        return outcome[id];
    }
};

class Gate {
public:
    void open()
    {
        std::lock_guard<std::mutex> l(m_m);
        m_open = true;
        m_cv.notify_all();
    }
    void wait()
    {
        std::unique_lock<std::mutex> l(m_m);
        m_cv.wait_for(l, std::chrono::seconds(60), [&] { return m_open; });
    }

private:
    std::mutex m_m;
    std::condition_variable m_cv;
    bool m_open = false;
};

RunRequest ids(int T)
{
    RunRequest r;
    r.useIds = true;
    for (int t = 0; t < T; ++t)
        r.ids.push_back(int32_t((t * 7 + 3) % 32));
    return r;
}

} // namespace

class TestEngine : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void loadAndRun();
    void runWithoutModelFails();
    void cancelStopsBetweenLayers();
    void newRunSupersedesQueuedAndRunning();
    void failedLoadKeepsPreviousModel();
    void threadsAreSetOnTheEngineThread();

private:
    QTemporaryDir m_tmp;
    QString m_modelDir;
};

void TestEngine::threadsAreSetOnTheEngineThread()
{
    // The count is per thread: the test's own thread keeps its value whatever the engine uses.
    QCOMPARE(setComputeThreads(1), 1);
    Recorder rec;
    Engine engine(rec.callbacks(), 3);
    QCOMPARE(engine.threads(), 3);
    const uint64_t load = engine.load(m_modelDir.toStdString(), DevicePreference::Cpu);
    const uint64_t first = engine.run(ids(4));
    QCOMPARE(rec.waitFor(load), std::string("loaded"));
    QCOMPARE(rec.waitFor(first), std::string("finished"));
    QCOMPARE(rec.results[first]->threads, 3);
    engine.setThreads(2);
    const uint64_t second = engine.run(ids(4));
    QCOMPARE(rec.waitFor(second), std::string("finished"));
    QCOMPARE(rec.results[second]->threads, 2);
    engine.setThreads(0); // one per physical core
    const uint64_t third = engine.run(ids(4));
    QCOMPARE(rec.waitFor(third), std::string("finished"));
    QCOMPARE(rec.results[third]->threads, physicalCoreCount());
    QCOMPARE(computeThreads(), 1);
    QVERIFY_THROWS_EXCEPTION(Error, engine.setThreads(-1));
    QVERIFY_THROWS_EXCEPTION(Error, engine.setThreads(5000));
    QCOMPARE(engine.threads(), 0);
    QVERIFY_THROWS_EXCEPTION(Error, parseThreadCount("two"));
    QVERIFY_THROWS_EXCEPTION(Error, parseThreadCount("-1"));
    QCOMPARE(parseThreadCount("8"), 8);
}

void TestEngine::initTestCase()
{
    TinyLlamaSpec spec;
    spec.layers = 6;
    m_modelDir = QDir(m_tmp.path()).filePath("tiny");
    writeTinyLlama(m_modelDir, spec, makeTinyLlamaWeights(spec));
}

void TestEngine::loadAndRun()
{
    Recorder rec;
    Engine engine(rec.callbacks());
    const uint64_t load = engine.load(m_modelDir.toStdString(), DevicePreference::Cpu);
    const uint64_t run = engine.run(ids(5));
    QCOMPARE(rec.waitFor(load), std::string("loaded"));
    QCOMPARE(rec.waitFor(run), std::string("finished"));
    QCOMPARE(rec.progress[run], (std::vector<int>{1, 2, 3, 4, 5, 6}));
    QCOMPARE(rec.results[run]->requestId, run);
    QCOMPARE(rec.results[run]->tokens, int64_t(5));
    QCOMPARE(rec.results[run]->device, std::string("cpu"));
}

void TestEngine::runWithoutModelFails()
{
    Recorder rec;
    Engine engine(rec.callbacks());
    QCOMPARE(rec.waitFor(engine.run(ids(3))), std::string("failed:invalid-argument:No model is loaded."));
}

void TestEngine::cancelStopsBetweenLayers()
{
    Recorder rec;
    Engine engine(rec.callbacks());
    QCOMPARE(rec.waitFor(engine.load(m_modelDir.toStdString(), DevicePreference::Cpu)), std::string("loaded"));
    rec.onProgress = [&](uint64_t, int done) {
        if (done == 2)
            engine.cancel(); // from the engine thread, like a GUI click landing mid-run
    };
    const uint64_t run = engine.run(ids(6));
    QCOMPARE(rec.waitFor(run), std::string("failed:cancelled:The run was cancelled."));
    QCOMPARE(rec.progress[run], (std::vector<int>{1, 2}));
    rec.onProgress = nullptr;
    // still usable
    QCOMPARE(rec.waitFor(engine.run(ids(4))), std::string("finished"));
    QCOMPARE(rec.endedTwice, 0);
}

void TestEngine::newRunSupersedesQueuedAndRunning()
{
    Recorder rec;
    Engine engine(rec.callbacks());
    QCOMPARE(rec.waitFor(engine.load(m_modelDir.toStdString(), DevicePreference::Cpu)), std::string("loaded"));
    Gate entered, release;
    // Hold the engine inside the first layer of the first run (A) while B and C are queued. The
    // engine may report A's progress before run() has even returned A's id here, so the hook
    // keys on "the first report", not on the id.
    std::atomic<bool> held{false};
    std::atomic<uint64_t> heldId{0};
    rec.onProgress = [&](uint64_t id, int) {
        if (!held.exchange(true)) {
            heldId = id;
            entered.open();
            release.wait();
        }
    };
    const uint64_t first = engine.run(ids(6));
    entered.wait();
    QCOMPARE(heldId.load(), first);
    const uint64_t second = engine.run(ids(5)); // cancels A (running)
    const uint64_t third = engine.run(ids(4));  // supersedes B (queued)
    QVERIFY(engine.busy());
    release.open();
    QCOMPARE(rec.waitFor(first), std::string("failed:cancelled:The run was cancelled."));
    QCOMPARE(rec.waitFor(second), std::string("failed:cancelled:Superseded by a newer run."));
    QCOMPARE(rec.waitFor(third), std::string("finished"));
    QCOMPARE(rec.progress[first], (std::vector<int>{1}));
    QVERIFY(!rec.progress.count(second));
    QCOMPARE(rec.results[third]->tokens, int64_t(4));
    QCOMPARE(rec.endedTwice, 0);
}

void TestEngine::failedLoadKeepsPreviousModel()
{
    Recorder rec;
    Engine engine(rec.callbacks());
    QCOMPARE(rec.waitFor(engine.load(m_modelDir.toStdString(), DevicePreference::Cpu)), std::string("loaded"));
    const std::string missing = QDir(m_tmp.path()).filePath("nope").toStdString();
    const std::string outcome = rec.waitFor(engine.load(missing, DevicePreference::Cpu));
    QVERIFY2(outcome.rfind("failed:io:", 0) == 0, outcome.c_str());
    QCOMPARE(rec.waitFor(engine.run(ids(3))), std::string("finished"));
}

QTEST_GUILESS_MAIN(TestEngine)
#include "tst_engine.moc"
