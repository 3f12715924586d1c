// SPDX-License-Identifier: GPL-3.0-or-later
// Cost of `classify` (docs/PERFORMANCE.md, "Classify"): forward passes and seconds of one
// ClassifyJob at T = 64 on the demo decoder, stories260K (shared fixtures, when present) and a
// gpt2 checkpoint with GPT-2 small's shape (random weights, the test tokenizer). The cost is also
// given in forward-pass equivalents: the job's wall time over one base-run forward pass (same
// captures, median of 5).
//
//   bench_classify [SHARED_FIXTURES_DIR]
#include "sinkscope/classify.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/model.h"
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

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

double seconds(const std::chrono::steady_clock::time_point& t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void bench(const char* name, const Model& model, const std::string& text)
{
    an::ClassifySettings st;
    st.length = 64;
    an::PromptSet set;
    set.prompts.push_back({0, text});
    // One base run's cost: the same captures the job's base run asks for.
    Encoding enc = model.tokenizer()->encode(text, st.bos);
    enc.tokens.resize(size_t(st.length));
    RunRequest base;
    base.useIds = true;
    base.ids = enc.ids();
    base.captureAttention = base.captureLogits = base.captureValues = false;
    model.run(base); // warm-up
    std::vector<double> pass;
    for (int i = 0; i < 5; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        model.run(base);
        pass.push_back(seconds(t0));
    }
    std::sort(pass.begin(), pass.end());
    std::vector<double> job;
    std::shared_ptr<const an::Classification> c;
    for (int i = 0; i < 3; ++i) {
        an::ClassifyJob j(set, st);
        const auto t0 = std::chrono::steady_clock::now();
        c = std::static_pointer_cast<const an::Classification>(runJob(model, j));
        job.push_back(seconds(t0));
    }
    std::sort(job.begin(), job.end());
    std::printf("| %s | %d | %d | %.3f | %.1f | %.1f | %s (%d positional, %d feature, %d mixed, %d none) |\n", name,
                int(c->tokens), c->forwardPasses, job[1], 1000.0 * pass[2], job[1] / pass[2],
                an::verdictName(c->modelVerdict), c->counts.at("positional"), c->counts.at("feature"),
                c->counts.at("mixed"), c->counts.at("none"));
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    const QString shared = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QStringLiteral(SINKSCOPE_BENCH_SHARED_DIR "/fixtures");
    const std::string text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                             "One day she saw a big red ball under a tree. She ran to the ball and kicked it very high. "
                             "The ball flew over the fence and into the garden of an old man who lived next door.";
    std::printf("| model | T | forward passes | classify s (median of 3) | one pass ms | forward-pass equivalents | verdict |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    QTemporaryDir tmp;
    writeDemoModel(DemoKind::Decoder, tmp.filePath("demo").toStdString());
    {
        const auto m = Model::load(tmp.filePath("demo").toStdString(), DevicePreference::Cpu);
        // The demo vocabulary covers its own sample prompts.
        const DemoGroundTruth truth = demoGroundTruth(DemoKind::Decoder);
        bench("demo decoder", *m, truth.samplePrompts[0] + " " + truth.samplePrompts[1] + " " + truth.samplePrompts[2] + " " + truth.samplePrompts[1]);
    }
    const QString stories = QDir(shared).filePath("stories260K");
    if (QFileInfo::exists(QDir(stories).filePath("model.safetensors"))) {
        const auto m = Model::load(stories.toStdString(), DevicePreference::Cpu);
        bench("stories260K", *m, text);
    } else {
        std::printf("(stories260K skipped: %s not found)\n", qPrintable(stories));
    }
    test::TinyFamilySpec spec;
    spec.modelType = "gpt2";
    spec.layers = 12, spec.hidden = 768, spec.heads = 12, spec.ffn = 3072, spec.vocab = 50257;
    spec.maxPositions = 1024, spec.tied = true;
    // Weights 6x the default spread: peaked maps, so heads have sinks and every probe runs (with
    // the default spread every map is near uniform and classify stops after the base run).
    spec.scale = 6.0f;
    const QString gpt2 = tmp.filePath("gpt2");
    test::writeTinyModel(gpt2, spec, test::makeTinyWeights(spec));
    QFile tok(QDir(gpt2).filePath("tokenizer.json"));
    if (!tok.open(QIODevice::WriteOnly))
        return 1;
    tok.write(QByteArray::fromStdString(test::tinyTokenizerJson()));
    tok.close();
    const auto m = Model::load(gpt2.toStdString(), DevicePreference::Cpu);
    bench("GPT-2 small shape (random)", *m, "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z");
    return 0;
}
