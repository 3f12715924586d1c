// SPDX-License-Identifier: GPL-3.0-or-later
// Analysis jobs: run synchronously on a Model (runJob) and on the engine thread (Engine::runJob)
// with their own request id and reply, "run i of n" progress with layers inside, cancel between
// runs, supersede rules against runs and loads; the prompt-set job tokenizes with the loaded
// model's tokenizer (it works with the model folder's files gone).
#include "sinkscope/engine.h"
#include "sinkscope/error.h"
#include "sinkscope/promptsetjob.h"
#include "sinkscope/classify.h"
#include "sinkscope/demomodels.h"
#include "tinymodels.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <condition_variable>
#include <mutex>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

struct CountResult final : JobResult {
    int runs = 0;
};

// Plans `n` runs of the same ids and counts them; optionally waits on a gate before each run
// after the first, so a test can cancel it between runs.
class CountingJob final : public Job {
public:
    explicit CountingJob(int n, std::function<void(int)> beforeRun = {}) : m_n(n), m_before(std::move(beforeRun)) {}
    std::string name() const override { return "count"; }
    std::shared_ptr<const JobResult> execute(JobContext& ctx) override
    {
        ctx.plan(m_n);
        auto out = std::make_shared<CountResult>();
        RunRequest r;
        r.useIds = true;
        r.ids = {1, 2, 3, 4};
        for (int i = 0; i < m_n; ++i) {
            if (m_before)
                m_before(i);
            ctx.run(r, "run " + std::to_string(i + 1));
            ++out->runs;
        }
        return out;
    }

private:
    int m_n;
    std::function<void(int)> m_before;
};

// Collects one job's replies, thread-safely.
struct Collector {
    std::mutex m;
    std::condition_variable cv;
    std::vector<JobProgress> progress;
    std::vector<uint64_t> progressIds;
    std::shared_ptr<const JobResult> result;
    uint64_t finishedId = 0, failedId = 0;
    std::optional<ErrorCode> failure;
    bool done = false;
    JobReply reply()
    {
        JobReply r;
        r.progress = [this](uint64_t id, const JobProgress& p) {
            std::lock_guard<std::mutex> l(m);
            progress.push_back(p);
            progressIds.push_back(id);
        };
        r.finished = [this](uint64_t id, std::shared_ptr<const JobResult> res) {
            std::lock_guard<std::mutex> l(m);
            finishedId = id;
            result = std::move(res);
            done = true;
            cv.notify_all();
        };
        r.failed = [this](uint64_t id, const Error& e) {
            std::lock_guard<std::mutex> l(m);
            failedId = id;
            failure = e.code();
            done = true;
            cv.notify_all();
        };
        return r;
    }
    bool wait()
    {
        std::unique_lock<std::mutex> l(m);
        return cv.wait_for(l, std::chrono::seconds(60), [this] { return done; });
    }
};

} // namespace

class TestJobs : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void synchronousProgress();
    void engineJobHasItsOwnReply();
    void cancelBetweenRuns();
    void newerJobSupersedes();
    void promptSetUsesLoadedTokenizer();
    void promptSetBatchedEqualsUnbatched();
    void classifyBatchedEqualsUnbatched();
    void classifyBaseRunsBatched();

private:
    QTemporaryDir m_tmp;
    QString m_dir;
};

void TestJobs::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    m_dir = m_tmp.filePath("tiny");
    test::writeTinyLlamaWithTokenizer(m_dir, 3);
}

void TestJobs::synchronousProgress()
{
    const auto model = Model::load(m_dir.toStdString(), DevicePreference::Cpu);
    CountingJob job(2);
    std::vector<JobProgress> seen;
    const auto r = runJob(*model, job, [&](const JobProgress& p) { seen.push_back(p); });
    QCOMPARE(std::static_pointer_cast<const CountResult>(r)->runs, 2);
    // plan, then per run: its start (layer 0) and each of the 3 layers.
    QCOMPARE(int(seen.size()), 1 + 2 * (1 + 3));
    QCOMPARE(seen[0].runs, 2);
    QCOMPARE(seen[0].run, 0);
    QCOMPARE(seen[1].run, 1);
    QCOMPARE(seen[1].layer, 0);
    QCOMPARE(seen[4].layer, 3);
    QCOMPARE(seen[4].layers, 3);
    QCOMPARE(seen.back().run, 2);
    QCOMPARE(seen.back().runs, 2);
    QCOMPARE(QString::fromStdString(seen.back().label), QString("run 2"));
    // A cancel flag set before the job starts stops it before its first run.
    std::atomic<bool> cancel{true};
    CountingJob never(3);
    try {
        runJob(*model, never, {}, &cancel);
        QFAIL("a cancelled job ran");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Cancelled);
    }
}

void TestJobs::engineJobHasItsOwnReply()
{
    std::atomic<int> broadcastRuns{0};
    EngineCallbacks cb;
    std::mutex m;
    std::condition_variable cv;
    bool loaded = false;
    cb.modelLoaded = [&](uint64_t, const ModelInfo&, const std::string&, const std::string&) {
        std::lock_guard<std::mutex> l(m);
        loaded = true;
        cv.notify_all();
    };
    cb.runFinished = [&](uint64_t, std::shared_ptr<const RunResult>) { ++broadcastRuns; };
    Engine engine(cb);
    engine.load(m_dir.toStdString(), DevicePreference::Cpu);
    {
        std::unique_lock<std::mutex> l(m);
        QVERIFY(cv.wait_for(l, std::chrono::seconds(60), [&] { return loaded; }));
    }
    Collector c;
    const uint64_t id = engine.runJob(std::make_shared<CountingJob>(3), c.reply());
    QVERIFY(c.wait());
    QCOMPARE(c.finishedId, id);
    QVERIFY(!c.failure);
    QCOMPARE(std::static_pointer_cast<const CountResult>(c.result)->runs, 3);
    for (uint64_t p : c.progressIds)
        QCOMPARE(p, id);
    QCOMPARE(c.progress.back().run, 3);
    QCOMPARE(c.progress.back().runs, 3);
    QCOMPARE(broadcastRuns.load(), 0); // the job's runs are its own, not broadcast
}

void TestJobs::cancelBetweenRuns()
{
    EngineCallbacks cb;
    Engine engine(cb);
    engine.load(m_dir.toStdString(), DevicePreference::Cpu);
    Collector c;
    std::mutex gm;
    std::condition_variable gcv;
    bool firstDone = false, released = false;
    auto job = std::make_shared<CountingJob>(5, [&](int i) {
        if (i != 1)
            return;
        // Hold the job between its first and second run until the test has cancelled it.
        std::unique_lock<std::mutex> l(gm);
        firstDone = true;
        gcv.notify_all();
        gcv.wait(l, [&] { return released; });
    });
    const uint64_t id = engine.runJob(job, c.reply());
    {
        std::unique_lock<std::mutex> l(gm);
        QVERIFY(gcv.wait_for(l, std::chrono::seconds(60), [&] { return firstDone; }));
    }
    engine.cancelJob(id);
    {
        std::lock_guard<std::mutex> l(gm);
        released = true;
    }
    gcv.notify_all();
    QVERIFY(c.wait());
    QCOMPARE(c.failedId, id);
    QVERIFY(c.failure && *c.failure == ErrorCode::Cancelled);
    QVERIFY(!c.result);
    QCOMPARE(c.progress.back().run, 1); // the second run never started
}

void TestJobs::newerJobSupersedes()
{
    EngineCallbacks cb;
    Engine engine(cb);
    engine.load(m_dir.toStdString(), DevicePreference::Cpu);
    Collector first, second, third;
    std::mutex gm;
    std::condition_variable gcv;
    bool started = false, released = false;
    auto blocking = std::make_shared<CountingJob>(2, [&](int i) {
        if (i != 0)
            return;
        std::unique_lock<std::mutex> l(gm);
        started = true;
        gcv.notify_all();
        gcv.wait(l, [&] { return released; });
    });
    const uint64_t a = engine.runJob(blocking, first.reply());
    {
        std::unique_lock<std::mutex> l(gm);
        QVERIFY(gcv.wait_for(l, std::chrono::seconds(60), [&] { return started; }));
    }
    const uint64_t b = engine.runJob(std::make_shared<CountingJob>(1), second.reply()); // queued ...
    const uint64_t c = engine.runJob(std::make_shared<CountingJob>(1), third.reply());  // ... superseded by this
    {
        std::lock_guard<std::mutex> l(gm);
        released = true;
    }
    gcv.notify_all();
    QVERIFY(first.wait());
    QVERIFY(second.wait());
    QVERIFY(third.wait());
    QCOMPARE(first.failedId, a); // the running job was cancelled by the newer one
    QVERIFY(first.failure && *first.failure == ErrorCode::Cancelled);
    QCOMPARE(second.failedId, b);
    QVERIFY(second.failure && *second.failure == ErrorCode::Cancelled);
    QCOMPARE(third.finishedId, c);
}

void TestJobs::promptSetUsesLoadedTokenizer()
{
    // Copy the model, load it, then remove its tokenizer.json: a job that re-read the folder
    // would fail; the job uses the tokenizer the model holds.
    const QString dir = m_tmp.filePath("gone");
    QVERIFY(QDir().mkpath(dir));
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
        QVERIFY(QFile::copy(QDir(m_dir).filePath(f), QDir(dir).filePath(f)));
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    QVERIFY(QFile::remove(QDir(dir).filePath("tokenizer.json")));
    an::PromptSet set;
    set.prompts = {{1, "abc def ghi jkl"}, {2, "ab"}, {3, "   "}, {4, "hello world again"}};
    an::PromptSetSettings st;
    st.length = 4;
    std::vector<an::PromptEvent> events;
    an::PromptSetJob job(set, st, [&](const an::PromptEvent& e) { events.push_back(e); });
    const auto r = std::static_pointer_cast<const an::PromptSetResult>(runJob(*model, job));
    QCOMPARE(int(r->runs.size()), 2);
    QCOMPARE(r->runs[0].line, 1);
    QCOMPARE(r->runs[1].line, 4);
    QCOMPARE(r->runs[0].metrics.tokens, 4);
    QCOMPARE(int(r->issues.size()), 2);
    QCOMPARE(r->issues[0].line, 2);
    QVERIFY(QString::fromStdString(r->issues[0].message).contains("fewer than T = 4"));
    QCOMPARE(QString::fromStdString(r->issues[1].message), QString("The prompt contains only whitespace."));
    // Tokenization outcomes first, in set order; then the analysed prompts, batch by batch.
    QCOMPARE(int(events.size()), 4);
    QCOMPARE(events[0].kind, an::PromptEvent::Kind::TooShort);
    QCOMPARE(events[0].index, size_t(1));
    QCOMPARE(events[1].kind, an::PromptEvent::Kind::Failed);
    QCOMPARE(events[1].index, size_t(2));
    QCOMPARE(events[2].kind, an::PromptEvent::Kind::Analysed);
    QCOMPARE(events[2].index, size_t(0));
    QCOMPARE(events[3].index, size_t(3));
    QCOMPARE(r->groups.mainLength, 4);
    QCOMPARE(r->means.at(4).prompts, 2);
    QVERIFY(!r->single);
}

namespace {

// Largest |a - b| relative to max(1, max |b|): the tolerance of fp32 rounding between a [1, T]
// and a [B, T] pass (the matrix products sum in another order).
double relDiff(const std::vector<float>& a, const std::vector<float>& b)
{
    if (a.size() != b.size())
        return 1e30;
    double scale = 1.0, err = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        scale = std::max(scale, double(std::abs(b[i])));
        err = std::max(err, double(std::abs(a[i] - b[i])));
    }
    return err / scale;
}

} // namespace

void TestJobs::promptSetBatchedEqualsUnbatched()
{
    // Seven prompts cut to T = 6 (one batch of 4 and one of 3 at batch size 4) and two of their
    // own lengths: the batched job's per-prompt metrics equal the one-at-a-time job's, up to fp32
    // rounding (relative 1e-5), counts exactly, in the same set order.
    const auto model = Model::load(m_dir.toStdString(), DevicePreference::Cpu);
    an::PromptSet set;
    int line = 0;
    for (const char* text : {"abc def ghi", "hello world again", "zzz yyy xxx www", "a b c d e f g", "the cat sat down",
                             "one two three", "sinks absorb mass"})
        set.prompts.push_back({++line, text});
    an::PromptSetSettings settings;
    settings.length = 6;
    auto run = [&](int batch, std::vector<JobProgress>* progress) {
        an::PromptSetSettings s = settings;
        s.batchSize = batch;
        an::PromptSetJob job(set, s);
        return std::static_pointer_cast<const an::PromptSetResult>(
            runJob(*model, job, [&](const JobProgress& p) { progress->push_back(p); }));
    };
    std::vector<JobProgress> oneByOne, batched;
    const auto a = run(1, &oneByOne);
    const auto b = run(4, &batched);
    QCOMPARE(int(a->runs.size()), 7);
    QCOMPARE(int(b->runs.size()), 7);
    for (size_t i = 0; i < a->runs.size(); ++i) {
        const an::RunMetrics& x = b->runs[i].metrics;
        const an::RunMetrics& y = a->runs[i].metrics;
        QCOMPARE(b->runs[i].line, a->runs[i].line);
        QCOMPARE(b->promptIndex[i], a->promptIndex[i]);
        QCOMPARE(x.tokens, int64_t(6));
        for (const auto& [name, tx, ty] : {std::tuple{"importance", &x.importance, &y.importance},
                                           std::tuple{"first mass per query", &x.firstMassPerQuery, &y.firstMassPerQuery},
                                           std::tuple{"entropy", &x.entropy, &y.entropy},
                                           std::tuple{"share", &x.share, &y.share},
                                           std::tuple{"value norms", &x.valueNorms, &y.valueNorms},
                                           std::tuple{"contribution norms", &x.contributionNorms, &y.contributionNorms},
                                           std::tuple{"waiver scores", &x.waiverScores, &y.waiverScores}}) {
            QVERIFY2(!ty->empty(), name);
            const double d = relDiff(tx->data, ty->data);
            QVERIFY2(d <= 1e-5, qPrintable(QStringLiteral("prompt %1: %2 off by %3").arg(i).arg(name).arg(d)));
        }
        QCOMPARE(x.sinkRate.above, y.sinkRate.above);
        QCOMPARE(x.sinkRate.pairs, y.sinkRate.pairs);
    }
    // The batched job really ran [4, T] and [3, T] passes: its run counter jumps by the batch.
    auto runsSeen = [](const std::vector<JobProgress>& ps) {
        std::vector<int> r;
        for (const JobProgress& p : ps)
            if (p.layer == 0 && p.run > 0)
                r.push_back(p.run);
        return r;
    };
    QCOMPARE(runsSeen(batched), (std::vector<int>{4, 7}));
    QCOMPARE(runsSeen(oneByOne), (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
    // A batch size below 1 is refused, not replaced.
    try {
        run(0, &batched);
        QFAIL("batch size 0 was accepted");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), QString("The batch size must be at least 1, not 0."));
    }
}

void TestJobs::classifyBatchedEqualsUnbatched()
{
    // The probes of a prompt batched (those of the prompt's length without interventions run as
    // one pass) give the verdicts of one-by-one probes on the demo decoder, whose planted heads
    // are known, and the same probe numbers up to fp32 rounding (absolute 1e-4).
    const QString dir = m_tmp.filePath("demo");
    writeDemoModel(DemoKind::Decoder, dir.toStdString());
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    an::PromptSet set;
    set.prompts.push_back({1, demoGroundTruth(DemoKind::Decoder).samplePrompts.at(1)});
    auto run = [&](int batch) {
        an::ClassifySettings s;
        s.batchSize = batch;
        an::ClassifyJob job(set, s);
        return std::static_pointer_cast<const an::Classification>(runJob(*model, job));
    };
    const auto a = run(1);
    const auto b = run(8);
    QCOMPARE(b->forwardPasses, a->forwardPasses);
    QCOMPARE(b->heads.size(), a->heads.size());
    QVERIFY(!a->heads.empty());
    for (size_t i = 0; i < a->heads.size(); ++i) {
        QCOMPARE(an::verdictName(b->heads[i].verdict), an::verdictName(a->heads[i].verdict));
        QVERIFY(std::abs(b->heads[i].confidence - a->heads[i].confidence) <= 1e-4);
        QCOMPARE(b->heads[i].probes.size(), a->heads[i].probes.size());
        for (const auto& [name, value] : a->heads[i].probes)
            QVERIFY2(std::abs(b->heads[i].probes.at(name) - value) <= 1e-4 * std::max(1.0, std::abs(value)),
                     qPrintable(QStringLiteral("head %1 probe %2").arg(i).arg(QString::fromStdString(name))));
    }
    // The probe runs kept for the single prompt agree per run too.
    QCOMPARE(b->probeRuns.size(), a->probeRuns.size());
    for (size_t i = 0; i < a->probeRuns.size(); ++i)
        QVERIFY(relDiff(b->probeRuns[i]->firstMassPerQuery.data, a->probeRuns[i]->firstMassPerQuery.data) <= 1e-5);
}

void TestJobs::classifyBaseRunsBatched()
{
    // Over a prompt set the base runs of consecutive prompts of one length run as one batched
    // pass: three prompts cut to the same length show one "base runs" step that advances the run
    // counter by 3, and give the per-prompt verdicts of the one-by-one job.
    const QString dir = m_tmp.filePath("demo-base");
    writeDemoModel(DemoKind::Decoder, dir.toStdString());
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    const auto truth = demoGroundTruth(DemoKind::Decoder);
    an::PromptSet set;
    for (int i = 0; i < 3; ++i)
        set.prompts.push_back({i + 1, truth.samplePrompts.at(size_t(i) % truth.samplePrompts.size())});
    auto run = [&](int batch, std::vector<JobProgress>* progress) {
        an::ClassifySettings s;
        s.batchSize = batch;
        s.length = 6;
        an::ClassifyJob job(set, s);
        return std::static_pointer_cast<const an::Classification>(
            runJob(*model, job, [&](const JobProgress& p) { progress->push_back(p); }));
    };
    std::vector<JobProgress> oneByOne, batched;
    const auto a = run(1, &oneByOne);
    const auto b = run(8, &batched);
    auto baseSteps = [](const std::vector<JobProgress>& ps) {
        std::vector<std::pair<int, std::string>> r;
        for (const JobProgress& p : ps)
            if (p.layer == 0 && p.label.rfind("base run", 0) == 0)
                r.emplace_back(p.run, p.label);
        return r;
    };
    QCOMPARE(baseSteps(batched), (std::vector<std::pair<int, std::string>>{{3, "base runs (line 1 to line 3)"}}));
    const auto single = baseSteps(oneByOne);
    QCOMPARE(int(single.size()), 3);
    QCOMPARE(single.front().second, std::string("base run (line 1)"));
    QCOMPARE(b->prompts, 3);
    QCOMPARE(b->forwardPasses, a->forwardPasses);
    QCOMPARE(b->perPrompt.size(), a->perPrompt.size());
    for (size_t i = 0; i < a->perPrompt.size(); ++i) {
        QCOMPARE(b->perPrompt[i].line, a->perPrompt[i].line);
        QCOMPARE(b->perPrompt[i].verdicts.size(), a->perPrompt[i].verdicts.size());
        for (size_t h = 0; h < a->perPrompt[i].verdicts.size(); ++h) {
            QCOMPARE(an::verdictName(b->perPrompt[i].verdicts[h]), an::verdictName(a->perPrompt[i].verdicts[h]));
            QVERIFY(std::abs(b->perPrompt[i].confidence[h] - a->perPrompt[i].confidence[h]) <= 1e-4);
        }
    }
}

QTEST_GUILESS_MAIN(TestJobs)
#include "tst_jobs.moc"
