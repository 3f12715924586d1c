// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli run: one forward pass, written as run.json + .npy files (contract in docs/CLI.md).
#include "cli.h"

#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/runio.h"

namespace sinkscope::cli {

namespace {

std::vector<int32_t> parseIds(const QString& text)
{
    std::vector<int32_t> ids;
    for (const QString& part : text.split(',', Qt::KeepEmptyParts)) {
        bool ok = false;
        const qlonglong v = part.trimmed().toLongLong(&ok);
        if (!ok || v < 0 || v > std::numeric_limits<int32_t>::max())
            throw UsageError("--ids must be a comma-separated list of non-negative integers, got '"
                             + part.toStdString() + "'");
        ids.push_back(int32_t(v));
    }
    return ids;
}

} // namespace

const CommandSpec& runSpec()
{
    static const CommandSpec spec{
        QStringLiteral("run"),
        QStringLiteral("one forward pass with captures: run.json and the arrays asked for (docs/CLI.md)"),
        {modelOption(),
         {QStringLiteral("prompt"), QStringLiteral("TEXT"), QStringLiteral("the text to run (or --ids)")},
         {QStringLiteral("ids"), QStringLiteral("1,2,3"), QStringLiteral("exactly these token ids, no BOS added (or --prompt)")},
         bosOption(),
         deviceOption(),
         dtypeOption(),
         threadsOption(),
         {QStringLiteral("save"), QStringLiteral("attention,logits,hidden,values,qk"),
          QStringLiteral("arrays written as .npy (default attention,logits)")},
         outOption(),
         forceOption()},
        resultFolderNote()};
    return spec;
}

int runCommand(const QStringList& args)
{
    const Options o(args, runSpec());
    const QString modelDir = o.required("model");
    const QString outDir = o.required("out");
    if (o.has("prompt") == o.has("ids"))
        throw UsageError("give exactly one of --prompt and --ids");
    // A folder that already holds files is refused before any work (unless --force replaces it
    // whole): a result folder never mixes two runs.
    const ExistingOutput existing = o.has("force") ? ExistingOutput::Replace : ExistingOutput::Refuse;
    checkOutputFolder(outDir.toStdString(), existing);

    RunRequest req;
    if (o.has("ids")) {
        req.useIds = true;
        req.ids = parseIds(o.value("ids"));
        if (o.has("bos") && o.value("bos") != QLatin1String("off"))
            throw UsageError("--ids runs exactly the given ids; --bos does not apply");
    } else {
        req.text = o.value("prompt").toStdString();
    }
    req.bos = parseBosPolicy(o.value("bos", "auto").toStdString());
    const std::vector<SaveItem> items = parseSaveList(o.value("save").toStdString());
    auto wants = [&](SaveItem i) { return std::find(items.begin(), items.end(), i) != items.end(); };
    // Keep only what will be written; run.json's summaries are always computed.
    req.captureAttention = wants(SaveItem::Attention);
    req.captureLogits = wants(SaveItem::Logits);
    req.captureHidden = wants(SaveItem::Hidden);
    req.captureValues = wants(SaveItem::Values);
    req.captureQK = wants(SaveItem::QK);

    DTypePreference dtype = DTypePreference::Auto;
    const QString dt = o.value("dtype", "auto");
    if (dt == "fp32") dtype = DTypePreference::F32;
    else if (dt == "fp16") dtype = DTypePreference::F16;
    else if (dt == "bf16") dtype = DTypePreference::BF16;
    else if (dt != "auto") throw UsageError("--dtype must be auto, fp32, fp16 or bf16");

    applyThreadsOption(o);
    const auto model = Model::load(modelDir.toStdString(), parseDevicePreference(o.value("device", "auto").toStdString()),
                                   dtype);
    for (const std::string& note : model->info().notes)
        err(QStringLiteral("note: %1").arg(QString::fromStdString(note)));
    const auto result = model->run(req);
    saveRun(*result, outDir.toStdString(), items, existing);
    err(QStringLiteral("%1 tokens, %2 layers x %3 heads on %4 (%5) in %6 ms -> %7")
            .arg(result->tokens)
            .arg(result->model.layers)
            .arg(result->model.heads)
            .arg(QString::fromStdString(result->device), QString::fromStdString(result->dtype))
            .arg(result->runMs, 0, 'f', 1)
            .arg(outDir));
    return 0;
}

const CommandSpec& modelsSpec()
{
    static const CommandSpec spec{QStringLiteral("models"), QStringLiteral("list the supported model families (model_type)"), {}, {}};
    return spec;
}

int modelsCommand(const QStringList& args)
{
    const Options o(args, modelsSpec());
    for (const std::string& t : ModelConfig::supportedModelTypes())
        out(QString::fromStdString(t));
    return 0;
}

} // namespace sinkscope::cli
