// SPDX-License-Identifier: GPL-3.0-or-later
// Forward-pass cost of capture, measured in one process so the ratios are comparable:
//   bare        no captures, no summaries (the model alone)
//   summaries   + the O(L.H.T) summaries computed on the device
//   interactive + Q/K/V and hidden states copied to the host (what the GUI asks for)
//   all maps    + every L x H x T x T probability map copied to the host
// for stories260K (when the shared fixtures are present) and a generated model with GPT-2-small
// dimensions (12 layers, d 768, 12 heads, FFN 3072, vocab 50257; random weights) at T = 128, 512.
// Also prints the achieved GFLOP/s of the bare pass against a measured sgemm rate.
//
// usage: bench_forward [--quick] [--reps N] [--lengths 128,512,2048] [--gpt2-only] [--gpt2-dir DIR]
//                      [--modes LIST] [--threads N] [--device cpu|cuda] [shared-fixtures-dir]
//   --modes LIST    which of bare,summaries,interactive,maps to time (default: all; skipped: "-", nan)
//   --gpt2-dir DIR  write the GPT-2-small-shaped checkpoint to DIR (kept; reused when it exists), so
//                   that another program (tests/benchmarks/peer_eager.py) can run the same weights.
//   --block-rows N  query rows per attention block (RunRequest::attentionBlockRows; default 0: automatic)
//   --batches LIST  instead of the modes: 32 prompts of --batch-tokens T (default 64) tokens with
//                   summaries, run through Model::runBatch with each batch size in LIST (e.g. 1,8,32)
// Every measurement is also printed as one machine-readable line:
//   RESULT <model> <T> <bare ms> <summaries ms> <interactive ms> <all-maps ms> <the same four as CPU ms>
#include "sinkscope/model.h"
#include "sinkscope/threads.h"
#include "tinyfamilies.h"

#include <QCoreApplication>
#include <QDir>
#include <QTemporaryDir>

#include <algorithm>
#include <chrono>
#include <sys/resource.h>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

using namespace sinkscope;

namespace {

struct Shape {
    int L, D, H, Hkv, F, V;
    int mlpMatrices; ///< 3 for a gated MLP (Llama), 2 for GPT-2
};

/// Matmul FLOPs of one forward pass at T tokens (attention counted over the full T x T products
/// the explicit attention computes).
double forwardFlops(const Shape& s, int T)
{
    const double hd = double(s.D) / s.H;
    const double proj = 2.0 * s.D * (s.H * hd + 2.0 * s.Hkv * hd + s.H * hd);
    const double mlp = 2.0 * s.mlpMatrices * s.D * s.F;
    const double attn = 2.0 * 2.0 * s.H * hd * T;
    return double(T) * (s.L * (proj + mlp + attn) + 2.0 * s.D * s.V);
}

/// CPU milliseconds (user + system, all threads) of this process so far.
double cpuMs()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return 1e3 * double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-3 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
    double wall = std::nan(""), cpu = std::nan(""); ///< medians, ms
};

/// Median wall and CPU time of each request over `reps` rounds, after one warm-up run of each.
/// Every round runs each request once, in an order that rotates from round to round, so that a
/// change in what else the machine runs falls on all modes alike and their ratios stay comparable.
/// CPU time counts the work done whatever else the machine runs (with one thread it is the number
/// to compare on a busy machine).
std::vector<Timing> timeRuns(const Model& m, const std::vector<const RunRequest*>& reqs, int reps)
{
    const size_t n = reqs.size();
    for (const RunRequest* req : reqs)
        m.run(*req); // warm-up
    std::vector<std::vector<double>> wall(n), cpu(n);
    for (int r = 0; r < reps; ++r)
        for (size_t j = 0; j < n; ++j) {
            const size_t i = (j + size_t(r)) % n;
            const double c0 = cpuMs();
            const auto t0 = std::chrono::steady_clock::now();
            m.run(*reqs[i]);
            wall[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            cpu[i].push_back(cpuMs() - c0);
        }
    std::vector<Timing> out(n);
    for (size_t i = 0; i < n; ++i) {
        std::sort(wall[i].begin(), wall[i].end());
        std::sort(cpu[i].begin(), cpu[i].end());
        out[i] = {wall[i][wall[i].size() / 2], cpu[i][cpu[i].size() / 2]};
    }
    return out;
}

struct Modes {
    bool bare = true, summaries = true, interactive = true, maps = true;
};

void bench(const char* name, const Model& m, const Shape& shape, const std::vector<int>& lengths, int reps,
           double sgemm, const Modes& modes, int64_t blockRows)
{
    for (int T : lengths) {
        if (T > m.info().maxPositions)
            continue;
        RunRequest bare;
        bare.useIds = true;
        for (int t = 0; t < T; ++t)
            bare.ids.push_back(int32_t((t * 7919 + 13) % m.info().vocabSize));
        bare.captureAttention = bare.captureLogits = bare.captureHidden = bare.captureQK = bare.captureValues = false;
        bare.computeSummaries = false;
        bare.captureLogits = true; // every mode produces the logits
        bare.attentionBlockRows = blockRows;
        RunRequest summaries = bare;
        summaries.computeSummaries = true;
        RunRequest interactive = summaries;
        interactive.captureHidden = interactive.captureQK = interactive.captureValues = true;
        RunRequest maps = interactive;
        maps.captureAttention = true;
        // The modes asked for, timed round by round together.
        const std::vector<std::pair<bool, const RunRequest*>> all = {
            {modes.bare, &bare}, {modes.summaries, &summaries}, {modes.interactive, &interactive}, {modes.maps, &maps}};
        std::vector<const RunRequest*> asked;
        for (const auto& [on, req] : all)
            if (on)
                asked.push_back(req);
        const std::vector<Timing> timed = timeRuns(m, asked, reps);
        Timing t[4];
        for (size_t i = 0, j = 0; i < all.size(); ++i)
            if (all[i].first)
                t[i] = timed[j++];
        const Timing &cb = t[0], &cs = t[1], &ci = t[2], &cm = t[3];
        const double tb = cb.wall, ts = cs.wall, ti = ci.wall, tm = cm.wall;
        const double gflops = forwardFlops(shape, T) / (tb / 1e3) / 1e9;
        std::printf("| %s | %d | %.1f | %.1f (%.2fx) | %.1f (%.2fx) | %.1f (%.2fx) | %.1f | %.0f%% |\n", name, T, tb, ts,
                    ts / tb, ti, ti / tb, tm, tm / tb, gflops, 100.0 * gflops / sgemm);
        std::printf("RESULT %s %d %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", m.info().modelType.c_str(), T, tb, ts, ti,
                    tm, cb.cpu, cs.cpu, ci.cpu, cm.cpu);
        std::fflush(stdout);
    }
}

/// Model::runBatch over `prompts` prompts of T tokens with summaries, for each batch size: median
/// ms per prompt and the speed-up over batch size 1 (or the first size given).
void benchBatches(const Model& m, const std::vector<int>& sizes, int T, int prompts, int reps)
{
    std::vector<RunRequest> requests;
    for (int p = 0; p < prompts; ++p) {
        RunRequest r;
        r.useIds = true;
        for (int t = 0; t < T; ++t)
            r.ids.push_back(int32_t((t * 7919 + p * 104729 + 13) % m.info().vocabSize));
        r.captureAttention = r.captureHidden = r.captureQK = r.captureValues = false;
        r.captureLogits = true;
        r.computeSummaries = true;
        requests.push_back(std::move(r));
    }
    std::printf("\n| batch size | ms per prompt (T = %d, %d prompts, summaries) | speed-up |\n| ---: | ---: | ---: |\n", T,
                prompts);
    double base = 0, baseCpu = 0;
    for (int b : sizes) {
        m.runBatch(requests, b); // warm-up
        std::vector<double> ms, cpu;
        for (int r = 0; r < reps; ++r) {
            const double c0 = cpuMs();
            const auto t0 = std::chrono::steady_clock::now();
            m.runBatch(requests, b);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()
                         / prompts);
            cpu.push_back((cpuMs() - c0) / prompts);
        }
        std::sort(ms.begin(), ms.end());
        std::sort(cpu.begin(), cpu.end());
        const double med = ms[ms.size() / 2], medCpu = cpu[cpu.size() / 2];
        if (base == 0)
            base = med, baseCpu = medCpu;
        std::printf("| %d | %.2f (CPU %.2f) | %.2fx (CPU %.2fx) |\n", b, med, medCpu, base / med, baseCpu / medCpu);
        std::printf("RESULT batch %d %d %.3f %.3f\n", b, T, med, medCpu);
        std::fflush(stdout);
    }
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    bool quick = false, gpt2Only = false;
    int reps = 5, threads = 0;
    Modes modes;
    DevicePreference device = DevicePreference::Cpu;
    std::vector<int> lengths, batches;
    int batchTokens = 64;
    int64_t blockRows = 0;
    QString shared = QStringLiteral(SINKSCOPE_BENCH_SHARED_DIR "/fixtures"), gpt2Dir;
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args[i];
        const bool hasValue = i + 1 < args.size();
        if (a == "--quick") {
            quick = true;
        } else if (a == "--gpt2-only") {
            gpt2Only = true;
        } else if (a == "--reps" && hasValue) {
            reps = std::max(1, args[++i].toInt());
        } else if (a == "--threads" && hasValue) {
            threads = parseThreadCount(args[++i].toStdString());
        } else if (a == "--modes" && hasValue) {
            const QStringList list = args[++i].split(',', Qt::SkipEmptyParts);
            modes.bare = list.contains("bare");
            modes.summaries = list.contains("summaries");
            modes.interactive = list.contains("interactive");
            modes.maps = list.contains("maps");
        } else if (a == "--device" && hasValue) {
            device = parseDevicePreference(args[++i].toStdString());
        } else if (a == "--batches" && hasValue) {
            for (const QString& t : args[++i].split(',', Qt::SkipEmptyParts))
                batches.push_back(t.toInt());
        } else if (a == "--block-rows" && hasValue) {
            blockRows = std::max(0, args[++i].toInt());
        } else if (a == "--batch-tokens" && hasValue) {
            batchTokens = args[++i].toInt();
        } else if (a == "--gpt2-dir" && hasValue) {
            gpt2Dir = args[++i];
        } else if (a == "--lengths" && hasValue) {
            for (const QString& t : args[++i].split(',', Qt::SkipEmptyParts))
                lengths.push_back(t.toInt());
        } else if (a.startsWith("--")) {
            std::fprintf(stderr, "error: unknown or incomplete option %s\n", qPrintable(a));
            return 2;
        } else {
            shared = a;
        }
    }
    if (quick)
        reps = 1;
    setComputeThreads(threads);
    std::printf("%s\n", threadingSummary().c_str());
    const double sgemm = measureSgemmGflops(device, 1024, 5);
    std::printf("sgemm 1024^3 (fp32, %s): %.1f GFLOP/s\n\n", device == DevicePreference::Cuda ? "CUDA" : "CPU", sgemm);
    std::printf("| model | T | bare ms | summaries ms (ratio) | interactive ms (ratio) | all maps ms (ratio) | bare GFLOP/s | of sgemm |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");

    const QString stories = QDir(shared).filePath("stories260K");
    if (gpt2Only) {
        // only the GPT-2 shape
    } else if (QFileInfo::exists(QDir(stories).filePath("model.safetensors"))) {
        const auto m = Model::load(stories.toStdString(), device);
        bench("stories260K", *m, {5, 64, 8, 4, 172, 512, 3}, {128, 512}, reps * 4, sgemm, modes, blockRows);
    } else {
        std::printf("(stories260K skipped: %s not found)\n", qPrintable(stories));
    }

    QTemporaryDir tmp;
    if (gpt2Dir.isEmpty())
        gpt2Dir = tmp.path();
    if (!QFileInfo::exists(QDir(gpt2Dir).filePath("model.safetensors"))) {
        test::TinyFamilySpec spec;
        spec.modelType = "gpt2";
        spec.layers = 12, spec.hidden = 768, spec.heads = 12, spec.ffn = 3072, spec.vocab = 50257;
        spec.maxPositions = 2048, spec.tied = true; // GPT-2 has 1024; 2048 lets the benchmark reach T = 2048
        test::writeTinyModel(gpt2Dir, spec, test::makeTinyWeights(spec));
    }
    const auto m = Model::load(gpt2Dir.toStdString(), device);
    if (!batches.empty()) {
        benchBatches(*m, batches, batchTokens, 32, reps);
        return 0;
    }
    if (lengths.empty())
        lengths = quick ? std::vector<int>{128} : std::vector<int>{128, 512};
    bench("GPT-2 small shape (random)", *m, {12, 768, 12, 12, 3072, 50257, 2}, lengths, reps, sgemm, modes, blockRows);
    return 0;
}
