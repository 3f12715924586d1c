// SPDX-License-Identifier: GPL-3.0-or-later
// Long prompts in bounded memory: time and peak resident memory of one forward pass with the
// summaries and the interactive captures (what `sinkscope-cli analyze` asks for) plus the whole
// analysis (analysis::analyzeRun), on a Llama-shaped model with 8 heads, d 256, 4 layers, head_dim
// 32, FFN 688 and 16384 positions (random weights, the tiny test tokenizer), at T = 2k, 8k, 16k.
// Each length runs in a fresh child process, so its peak RSS is its own.
//
// usage: bench_longcontext [--dir DIR] [--lengths 2048,8192,16384] [--threads N]
//   --dir DIR  keep the model folder in DIR (reused when it exists) together with prompt-T.txt
//              files of exactly T tokens, for `sinkscope-cli analyze --model DIR --prompt ...`.
#include "sinkscope/analysis.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/threads.h"
#include "tinymodels.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>

using namespace sinkscope;

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// CPU seconds (user + system) of this process so far: the work done, whatever else the machine runs.
double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double peakRssMiB()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0; // kB on Linux
}

void writeModel(const QString& dir)
{
    test::TinyLlamaSpec spec;
    spec.layers = 4, spec.hidden = 256, spec.heads = 8, spec.kvHeads = 8, spec.ffn = 688;
    spec.vocab = test::kTinyTokenizerVocab, spec.maxPositions = 16384;
    test::writeTinyLlama(dir, spec, test::makeTinyLlamaWeights(spec));
    QFile tok(QDir(dir).filePath("tokenizer.json"));
    if (!tok.open(QIODevice::WriteOnly))
        throw Error(ErrorCode::Io, "cannot write tokenizer.json", dir.toStdString());
    tok.write(QByteArray::fromStdString(test::tinyTokenizerJson()));
}

/// T - 1 one-token words ("▁" + letter) after the tokenizer's <s>: exactly T tokens.
QString promptOf(int T)
{
    QString text;
    for (int t = 1; t < T; ++t) {
        if (t > 1)
            text += QLatin1Char(' ');
        text += QChar(QLatin1Char(char('a' + (t * 7 + t / 26) % 26)));
    }
    return text;
}

int child(const QString& dir, int T)
{
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    RunRequest req; // what sinkscope-cli analyze asks for: summaries, Q/K, V, hidden; no logits, no maps
    req.text = promptOf(T).toStdString();
    req.captureLogits = false;
    req.captureAttention = false;
    const double c0 = cpuSeconds();
    const auto t0 = Clock::now();
    const auto result = model->run(req);
    const double forwardMs = msSince(t0);
    const double forwardCpu = cpuSeconds() - c0;
    if (result->tokens != T) {
        std::fprintf(stderr, "error: the prompt has %lld tokens, not %d\n", static_cast<long long>(result->tokens), T);
        return 1;
    }
    const auto t1 = Clock::now();
    const double c1 = cpuSeconds();
    const analysis::RunMetrics metrics = analysis::analyzeRun(*result, analysis::Options{});
    const double analysisMs = msSince(t1);
    const double analysisCpu = cpuSeconds() - c1;
    std::printf("| %d | %.0f (%.1f) | %.0f (%.1f) | %.0f | %.0f | %.1f%% |\n", T, forwardMs, forwardCpu, analysisMs,
                analysisCpu, forwardMs + analysisMs, peakRssMiB(), metrics.sinkRate.percent);
    std::printf("RESULT longcontext %d %.3f %.3f %.1f %.3f %.3f\n", T, forwardMs, analysisMs, peakRssMiB(), forwardCpu,
                analysisCpu);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QString dir;
    QString lengths = QStringLiteral("2048,8192,16384");
    int threads = 0, one = 0;
    const QStringList args = app.arguments();
    for (int i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == "--dir")
            dir = args[i + 1];
        else if (args[i] == "--lengths")
            lengths = args[i + 1];
        else if (args[i] == "--threads")
            threads = parseThreadCount(args[i + 1].toStdString());
        else if (args[i] == "--one")
            one = args[i + 1].toInt();
        else {
            std::fprintf(stderr, "error: unknown option %s\n", qPrintable(args[i]));
            return 2;
        }
    }
    try {
        setComputeThreads(threads);
        if (one > 0)
            return child(dir, one);

        QTemporaryDir tmp;
        if (dir.isEmpty())
            dir = tmp.path();
        if (!QFileInfo::exists(QDir(dir).filePath("model.safetensors")))
            writeModel(dir);
        std::printf("%s\n", threadingSummary().c_str());
        std::printf("Llama shape: 4 layers, d 256, 8 heads, head_dim 32, FFN 688, 16384 positions; model in %s\n\n",
                    qPrintable(dir));
        std::printf("| T | forward + summaries ms (CPU s) | analysis ms (CPU s) | total ms | peak RSS MiB | Sink_0^0.3 |\n");
        std::printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
        std::fflush(stdout);
        for (const QString& t : lengths.split(',', Qt::SkipEmptyParts)) {
            QFile prompt(QDir(dir).filePath(QStringLiteral("prompt-%1.txt").arg(t)));
            if (prompt.open(QIODevice::WriteOnly))
                prompt.write(promptOf(t.toInt()).toUtf8());
            prompt.close();
            QProcess p;
            p.setProcessChannelMode(QProcess::ForwardedChannels);
            p.start(QCoreApplication::applicationFilePath(),
                    {"--dir", dir, "--one", t, "--threads", QString::number(threads)});
            if (!p.waitForFinished(-1) || p.exitCode() != 0) {
                std::fprintf(stderr, "error: T = %s failed\n", qPrintable(t));
                return 1;
            }
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.describe().c_str());
        return 1;
    }
    return 0;
}
