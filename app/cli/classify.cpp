// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli classify: runs the probes of docs/METHODS.md on one prompt or a prompt set and
// writes classification.json with the CSV tables (all files together or none).
#include "cli.h"

#include "sinkscope/classify.h"
#include "sinkscope/controls.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/metricsio.h"

namespace sinkscope::cli {

namespace an = sinkscope::analysis;

namespace {

OptionSpec promptOption()
{
    return {QStringLiteral("prompt"), QStringLiteral("TEXT"), QStringLiteral("the prompt (or --prompts)")};
}

OptionSpec promptsOption()
{
    return {QStringLiteral("prompts"), QStringLiteral("FILE"),
            QStringLiteral("a prompt set: one prompt per line, or JSONL with a \"text\" field")};
}

} // namespace

const CommandSpec& classifySpec()
{
    static const CommandSpec spec{
        QStringLiteral("classify"),
        QStringLiteral("positional / feature / mixed / none verdict per head, with the probes' evidence (docs/METHODS.md)"),
        {modelOption(), promptOption(), promptsOption(),
         {QStringLiteral("length"), QStringLiteral("T"), QStringLiteral("truncate every prompt to T tokens")},
         bosOption(), deviceOption(), dtypeOption(), threadsOption(), batchOption(), outOption(), forceOption()},
        resultFolderNote()};
    return spec;
}

const CommandSpec& controlSpec()
{
    static const CommandSpec spec{
        QStringLiteral("control"),
        QStringLiteral("apply a waiver control and measure its cost (KL, NLL, first-element mass)"),
        {modelOption(), promptOption(), promptsOption(),
         {QStringLiteral("control"), QStringLiteral("SPEC"),
          QStringLiteral("block:J | designate:J | positions:shift=D | positions:J=0 | evict:K,W (required)")},
         bosOption(), deviceOption(), dtypeOption(), threadsOption(), outOption(), forceOption()},
        resultFolderNote()};
    return spec;
}

int classifyCommand(const QStringList& args)
{
    const Options o(args, classifySpec());
    o.required("model");
    const QString outDir = o.required("out");
    const ExistingOutput existing = o.has("force") ? ExistingOutput::Replace : ExistingOutput::Refuse;
    checkOutputFolder(outDir.toStdString(), existing);
    an::ClassifySettings settings;
    if (o.has("length")) {
        bool ok = false;
        settings.length = o.value("length").toLongLong(&ok);
        if (!ok || settings.length < 4)
            throw UsageError("--length must be a number of tokens, at least 4");
    }
    settings.bos = parseBosPolicy(o.value("bos", "auto").toStdString());
    settings.batchSize = batchFromOptions(o, settings.batchSize);
    const an::PromptSet set = promptsFromOptions(o);
    const auto model = modelFromOptions(o);
    if (!model->tokenizer())
        throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; classify needs text prompts.",
                    o.value("model").toStdString());

    const QString source = o.value("prompts");
    an::ClassifyJob job(set, settings, [&](int line, const an::ProbeDesign& d) {
        QStringList names;
        for (const an::ProbeVariant& v : d.variants)
            names << QString::fromStdString(v.name);
        const QString where = line > 0 ? QStringLiteral("%1:%2").arg(source).arg(line) : QStringLiteral("prompt");
        err(QStringLiteral("%1: %2 forward passes (1 base + %3 probes: %4)")
                .arg(where)
                .arg(an::probeRunCount(d))
                .arg(d.variants.size())
                .arg(names.isEmpty() ? QStringLiteral("none") : names.join(QStringLiteral(", "))));
    });
    const auto result = std::static_pointer_cast<const an::Classification>(runJob(*model, job));
    for (const std::string& note : result->notes)
        err(QStringLiteral("note: %1").arg(QString::fromStdString(note)));
    an::writeMetricsFolder(outDir.toStdString(), an::classificationFiles(*result), existing);
    QStringList counts;
    for (const auto& [name, n] : result->counts)
        counts << QStringLiteral("%1 %2").arg(QString::fromStdString(name)).arg(n);
    err(QStringLiteral("%1 prompt(s), %2 forward passes: model verdict %3 (%4) -> %5")
            .arg(result->prompts)
            .arg(result->forwardPasses)
            .arg(an::verdictName(result->modelVerdict))
            .arg(counts.join(QStringLiteral(", ")))
            .arg(outDir));
    return 0;
}

int controlCommand(const QStringList& args)
{
    const Options o(args, controlSpec());
    o.required("model");
    const QString outDir = o.required("out");
    const ExistingOutput existing = o.has("force") ? ExistingOutput::Replace : ExistingOutput::Refuse;
    checkOutputFolder(outDir.toStdString(), existing);
    // A bad SPEC is refused before the model is loaded.
    const an::ControlSpec spec = an::parseControlSpec(o.required("control").toStdString());
    const BosPolicy bos = parseBosPolicy(o.value("bos", "auto").toStdString());
    const an::PromptSet set = promptsFromOptions(o);
    const auto model = modelFromOptions(o);
    if (!model->tokenizer())
        throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; control needs text prompts.",
                    o.value("model").toStdString());
    an::ControlJob job(set, spec, bos);
    const auto result = std::static_pointer_cast<const an::ControlResult>(runJob(*model, job));
    an::writeMetricsFolder(outDir.toStdString(), an::controlFiles(*result), existing);
    err(QStringLiteral("%1 on %2 prompt(s): NLL %3 -> %4, mean KL %5 -> %6")
            .arg(QString::fromStdString(spec.text))
            .arg(result->prompts)
            .arg(result->nllBefore, 0, 'f', 4)
            .arg(result->nllAfter, 0, 'f', 4)
            .arg(result->klMean, 0, 'g', 4)
            .arg(outDir));
    return 0;
}

} // namespace sinkscope::cli
