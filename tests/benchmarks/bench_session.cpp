// SPDX-License-Identifier: GPL-3.0-or-later
// Session file sizes and save/open times (docs/SESSION.md, "Sizes"): stories260K (when the shared
// fixtures are present) and a generated model with GPT-2-small's shape, at T = 512, with the
// captures the GUI keeps (every default of RunRequest) and in the compact form (no stored maps,
// no logits: maps recomputed from Q/K).
//   build/tests/benchmarks/bench_session [SHARED_FIXTURES_DIR]
#include "sinkscope/model.h"
#include "sinkscope/session.h"
#include "tinyfamilies.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTemporaryDir>

#include <cstdio>

using namespace sinkscope;

namespace {

void measure(const char* name, Model& model, int T, const QString& dir)
{
    RunRequest req; // the GUI's request: every capture but per-head outputs
    req.useIds = true;
    const int vocab = model.info().vocabSize;
    for (int t = 0; t < T; ++t)
        req.ids.push_back(int32_t((t * 7919 + 13) % vocab));
    Session s;
    SessionRun run;
    run.model = describeModelFolder(model.info().dir);
    run.result = model.run(req);
    s.runs.push_back(run);
    for (bool compact : {false, true}) {
        SessionSaveOptions o;
        o.attentionMaps = !compact;
        o.logits = !compact;
        const std::string path = QDir(dir).filePath(QStringLiteral("s.sinkscope")).toStdString();
        QElapsedTimer timer;
        timer.start();
        saveSession(s, path, o);
        const double saveMs = double(timer.nsecsElapsed()) / 1e6;
        timer.restart();
        const Session back = loadSession(path);
        const double loadMs = double(timer.nsecsElapsed()) / 1e6;
        const qint64 bytes = QFileInfo(QString::fromStdString(path)).size();
        std::printf("| %s | %d | %s | %.1f MB (%lld bytes) | %.0f | %.0f |\n", name, T, compact ? "compact" : "full",
                    double(bytes) / 1e6, static_cast<long long>(bytes), saveMs, loadMs);
        (void)back;
    }
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QString shared = QStringLiteral(SINKSCOPE_BENCH_SHARED_DIR "/fixtures");
    if (argc > 1)
        shared = QString::fromLocal8Bit(argv[1]);
    QTemporaryDir tmp;
    std::printf("| model | T | captures | file | save ms | open ms |\n| --- | ---: | --- | ---: | ---: | ---: |\n");
    const QString stories = QDir(shared).filePath("stories260K");
    if (QFileInfo::exists(QDir(stories).filePath("model.safetensors"))) {
        const auto m = Model::load(stories.toStdString(), DevicePreference::Cpu);
        measure("stories260K", *m, 512, tmp.path());
    } else {
        std::printf("(stories260K skipped: %s not found)\n", qPrintable(stories));
    }
    const QString gpt2 = QDir(tmp.path()).filePath(QStringLiteral("gpt2"));
    QDir().mkpath(gpt2);
    test::TinyFamilySpec spec;
    spec.modelType = "gpt2";
    spec.layers = 12, spec.hidden = 768, spec.heads = 12, spec.ffn = 3072, spec.vocab = 50257;
    spec.maxPositions = 1024, spec.tied = true;
    test::writeTinyModel(gpt2, spec, test::makeTinyWeights(spec));
    const auto m = Model::load(gpt2.toStdString(), DevicePreference::Cpu);
    measure("GPT-2 small shape (random)", *m, 512, tmp.path());
    return 0;
}
