// SPDX-License-Identifier: GPL-3.0-or-later
// The prompt-set job (what `sinkscope-cli analyze --prompts` runs) at several batch sizes, on a
// generated model with GPT-2-small dimensions (12 layers, d 768, 12 heads, FFN 3072, vocab
// 50257; random weights) and 32 prompts cut to T tokens: forward passes with the captures the
// analysis needs, plus the analysis of every prompt. The batch sizes alternate within each
// repetition, so every size sees the same machine load; wall and CPU time per prompt, median
// over the repetitions, and the load average before and after.
//
// usage: bench_promptset [--batches 1,8,32] [--tokens 64] [--prompts 32] [--reps 3] [--threads N]
//                        [--model-dir DIR]
//   --model-dir DIR  write the checkpoint to DIR (kept; reused when it exists)
// Machine-readable lines: RESULT promptset <batch> <T> <wall ms per prompt> <CPU ms per prompt>
#include "sinkscope/model.h"
#include "sinkscope/promptsetjob.h"
#include "sinkscope/threads.h"
#include "tinyfamilies.h"
#include "tinymodels.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sys/resource.h>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

double cpuMs()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return 1e3 * double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-3 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string loadAverage()
{
    QFile f(QStringLiteral("/proc/loadavg"));
    if (!f.open(QIODevice::ReadOnly))
        return "unknown";
    return QString::fromLatin1(f.readAll()).section(' ', 0, 2).toStdString();
}

std::vector<int> parseList(const QString& text)
{
    std::vector<int> v;
    for (const QString& p : text.split(',', Qt::SkipEmptyParts))
        v.push_back(p.toInt());
    return v;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    std::vector<int> batches{1, 8, 32};
    int T = 64, prompts = 32, reps = 3, threads = 0;
    QString dir;
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args[i];
        auto next = [&] { return i + 1 < args.size() ? args[++i] : QString(); };
        if (a == "--batches")
            batches = parseList(next());
        else if (a == "--tokens")
            T = next().toInt();
        else if (a == "--prompts")
            prompts = next().toInt();
        else if (a == "--reps")
            reps = next().toInt();
        else if (a == "--threads")
            threads = next().toInt();
        else if (a == "--model-dir")
            dir = next();
        else {
            std::fprintf(stderr, "usage: bench_promptset [--batches LIST] [--tokens T] [--prompts N] [--reps N] "
                                 "[--threads N] [--model-dir DIR]\n");
            return 2;
        }
    }
    if (batches.empty() || T < 1 || prompts < 1 || reps < 1) {
        std::fprintf(stderr, "bench_promptset: the batch sizes, T, prompts and reps must be positive\n");
        return 2;
    }
    setComputeThreads(threads);
    QTemporaryDir tmp;
    if (dir.isEmpty())
        dir = tmp.path();
    if (!QFileInfo::exists(QDir(dir).filePath("model.safetensors"))) {
        test::TinyFamilySpec spec;
        spec.modelType = "gpt2";
        spec.layers = 12, spec.hidden = 768, spec.heads = 12, spec.ffn = 3072, spec.vocab = 50257;
        spec.maxPositions = 1024, spec.tied = true;
        test::writeTinyModel(dir, spec, test::makeTinyWeights(spec));
    }
    // The tests' byte-level tokenizer (312 ids, all below GPT-2's vocabulary): every letter and
    // byte is a token, so a prompt of more than T characters gives at least T tokens.
    {
        QFile f(QDir(dir).filePath("tokenizer.json"));
        if (!f.open(QIODevice::WriteOnly))
            return 1;
        f.write(QByteArray::fromStdString(test::tinyTokenizerJson()));
    }
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    an::PromptSet set;
    const std::string words[] = {"sink", "value", "norm", "head", "layer", "token", "query", "key"};
    for (int p = 0; p < prompts; ++p) {
        std::string text;
        for (int w = 0; int64_t(text.size()) < 2 * T; ++w)
            text += words[size_t((p * 5 + w * 3) % 8)] + std::string(w % 3 == 0 ? ". " : " ");
        set.prompts.push_back({p + 1, text});
    }
    std::printf("GPT-2-small shape, %d prompts cut to T = %d, summaries + the captures of analyze; %s\n", prompts, T,
                threadingSummary().c_str());
    std::printf("load average before: %s\n", loadAverage().c_str());
    auto runOnce = [&](int batch) {
        an::PromptSetSettings s;
        s.length = T;
        s.batchSize = batch;
        an::PromptSetJob job(set, s);
        const double c0 = cpuMs();
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = std::static_pointer_cast<const an::PromptSetResult>(runJob(*model, job));
        const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const double n = double(set.prompts.size());
        if (r->runs.size() != set.prompts.size()) {
            std::fprintf(stderr, "bench_promptset: %zu of %zu prompts analysed\n", r->runs.size(), set.prompts.size());
            std::exit(1);
        }
        return std::make_pair(wall / n, (cpuMs() - c0) / n);
    };
    {
        // Warm-up: one small job per batch size (allocator, thread pool, kernels).
        const an::PromptSet full = set;
        set.prompts.resize(std::min<size_t>(set.prompts.size(), 2));
        for (int b : batches)
            runOnce(std::min(b, 2));
        set = full;
    }
    std::map<int, std::vector<double>> wall, cpu;
    for (int r = 0; r < reps; ++r)
        for (int b : batches) {
            const auto [w, c] = runOnce(b);
            wall[b].push_back(w);
            cpu[b].push_back(c);
        }
    std::printf("load average after: %s\n\n", loadAverage().c_str());
    std::printf("| batch size | ms per prompt, wall (CPU) | speed-up, wall (CPU) |\n| ---: | ---: | ---: |\n");
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double w0 = median(wall[batches.front()]), c0 = median(cpu[batches.front()]);
    for (int b : batches) {
        const double w = median(wall[b]), c = median(cpu[b]);
        std::printf("| %d | %.1f (%.1f) | %.2fx (%.2fx) |\n", b, w, c, w0 / w, c0 / c);
    }
    for (int b : batches)
        std::printf("RESULT promptset %d %d %.3f %.3f\n", b, T, median(wall[b]), median(cpu[b]));
    return 0;
}
