// SPDX-License-Identifier: GPL-3.0-or-later
// Options shared by the commands that run prompts on a model (analyze, classify, control).
#include "cli.h"

#include "sinkscope/error.h"

namespace sinkscope::cli {

analysis::PromptSet promptsFromOptions(const Options& o)
{
    if (o.has("prompt") == o.has("prompts"))
        throw UsageError("give exactly one of --prompt and --prompts");
    analysis::PromptSet set;
    if (o.has("prompt")) {
        // The ids go to the model directly, so the model's own prompt checks do not see the text.
        if (o.value("prompt").isEmpty())
            throw Error(ErrorCode::InvalidArgument, "The prompt is empty.");
        if (o.value("prompt").trimmed().isEmpty())
            throw Error(ErrorCode::InvalidArgument, "The prompt contains only whitespace.");
        set.prompts.push_back({0, o.value("prompt").toStdString()});
        return set;
    }
    set = analysis::readPromptSet(o.value("prompts").toStdString());
    for (const analysis::PromptIssue& issue : set.issues)
        err(QStringLiteral("warning: %1:%2: %3 (line skipped)")
                .arg(o.value("prompts"))
                .arg(issue.line)
                .arg(QString::fromStdString(issue.message)));
    if (set.prompts.empty())
        throw Error(ErrorCode::InvalidArgument, "The prompt file has no usable prompt.", o.value("prompts").toStdString());
    return set;
}

OptionSpec batchOption()
{
    return {QStringLiteral("batch"), QStringLiteral("N"),
            QStringLiteral("prompts of equal length run together, N per forward pass (default 8; 1: one at a time)")};
}

int batchFromOptions(const Options& o, int fallback)
{
    if (!o.has("batch"))
        return fallback;
    bool ok = false;
    const int n = o.value("batch").toInt(&ok);
    if (!ok || n < 1 || n > 1024)
        throw UsageError("--batch must be a whole number from 1 to 1024, got '" + o.value("batch").toStdString() + "'");
    return n;
}

std::unique_ptr<Model> modelFromOptions(const Options& o)
{
    DTypePreference dtype = DTypePreference::Auto;
    const QString dt = o.value("dtype", "auto");
    if (dt == "fp32") dtype = DTypePreference::F32;
    else if (dt == "fp16") dtype = DTypePreference::F16;
    else if (dt == "bf16") dtype = DTypePreference::BF16;
    else if (dt != "auto") throw UsageError("--dtype must be auto, fp32, fp16 or bf16");
    const DevicePreference device = parseDevicePreference(o.value("device", "auto").toStdString());
    applyThreadsOption(o);
    auto model = Model::load(o.required("model").toStdString(), device, dtype);
    for (const std::string& note : model->info().notes)
        err(QStringLiteral("note: %1").arg(QString::fromStdString(note)));
    return model;
}

} // namespace sinkscope::cli
