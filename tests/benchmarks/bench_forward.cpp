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
// usage: bench_forward [--quick] [shared-fixtures-dir]
#include "sinkscope/model.h"
#include "tinyfamilies.h"

#include <QCoreApplication>
#include <QDir>
#include <QTemporaryDir>

#include <algorithm>
#include <chrono>
#include <cstdio>

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

double timeRun(const Model& m, const RunRequest& req, int reps)
{
    m.run(req); // warm-up
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        m.run(req);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

void bench(const char* name, const Model& m, const Shape& shape, const std::vector<int>& lengths, int reps,
           double sgemm)
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
        RunRequest summaries = bare;
        summaries.computeSummaries = true;
        RunRequest interactive = summaries;
        interactive.captureHidden = interactive.captureQK = interactive.captureValues = true;
        RunRequest maps = interactive;
        maps.captureAttention = true;
        const double tb = timeRun(m, bare, reps), ts = timeRun(m, summaries, reps);
        const double ti = timeRun(m, interactive, reps), tm = timeRun(m, maps, reps);
        const double gflops = forwardFlops(shape, T) / (tb / 1e3) / 1e9;
        std::printf("| %s | %d | %.1f | %.1f (%.2fx) | %.1f (%.2fx) | %.1f (%.2fx) | %.1f | %.0f%% |\n", name, T, tb, ts,
                    ts / tb, ti, ti / tb, tm, tm / tb, gflops, 100.0 * gflops / sgemm);
        std::fflush(stdout);
    }
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    bool quick = false;
    QString shared = QStringLiteral(SINKSCOPE_BENCH_SHARED_DIR "/fixtures");
    for (int i = 1; i < argc; ++i) {
        if (QString(argv[i]) == "--quick")
            quick = true;
        else
            shared = QString::fromLocal8Bit(argv[i]);
    }
    const int reps = quick ? 1 : 5;
    const double sgemm = measureSgemmGflops(DevicePreference::Cpu, 1024, 5);
    std::printf("sgemm 1024^3 (fp32, CPU): %.1f GFLOP/s\n\n", sgemm);
    std::printf("| model | T | bare ms | summaries ms (ratio) | interactive ms (ratio) | all maps ms (ratio) | bare GFLOP/s | of sgemm |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");

    const QString stories = QDir(shared).filePath("stories260K");
    if (QFileInfo::exists(QDir(stories).filePath("model.safetensors"))) {
        const auto m = Model::load(stories.toStdString(), DevicePreference::Cpu);
        bench("stories260K", *m, {5, 64, 8, 4, 172, 512, 3}, {128, 512}, reps * 4, sgemm);
    } else {
        std::printf("(stories260K skipped: %s not found)\n", qPrintable(stories));
    }

    QTemporaryDir tmp;
    test::TinyFamilySpec spec;
    spec.modelType = "gpt2";
    spec.layers = 12, spec.hidden = 768, spec.heads = 12, spec.ffn = 3072, spec.vocab = 50257;
    spec.maxPositions = 1024, spec.tied = true;
    test::writeTinyModel(tmp.path(), spec, test::makeTinyWeights(spec));
    const auto m = Model::load(tmp.path().toStdString(), DevicePreference::Cpu);
    bench("GPT-2 small shape (random)", *m, {12, 768, 12, 12, 3072, 50257, 2},
          quick ? std::vector<int>{128} : std::vector<int>{128, 512}, reps, sgemm);
    return 0;
}
