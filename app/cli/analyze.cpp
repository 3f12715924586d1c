// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli analyze: runs one prompt or a prompt set and writes metrics.json and one CSV file
// per table (keys and columns in docs/METRICS.md). All files appear together or not at all.
#include "cli.h"

#include "sinkscope/analysis.h"
#include "sinkscope/metricsio.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/fileio.h"
#include "sinkscope/npy.h"
#include "sinkscope/promptsetjob.h"
#include "sinkscope/runio.h"
#include "sinkscope/shard.h"

#include <cmath>
#include <limits>

namespace sinkscope::cli {

namespace {

namespace an = sinkscope::analysis;

double parseNumber(const Options& o, const QString& name, double fallback)
{
    if (!o.has(name))
        return fallback;
    bool ok = false;
    const double v = o.value(name).toDouble(&ok);
    if (!ok || !std::isfinite(v))
        throw UsageError("--" + name.toStdString() + " needs a number, got '" + o.value(name).toStdString() + "'");
    return v;
}

} // namespace

const CommandSpec& analyzeSpec()
{
    static const CommandSpec spec{
        QStringLiteral("analyze"),
        QStringLiteral("sink metrics of one prompt or a prompt set: metrics.json and CSV tables (docs/METRICS.md)"),
        {modelOption(),
         {QStringLiteral("prompt"), QStringLiteral("TEXT"), QStringLiteral("one prompt (or --prompts)")},
         {QStringLiteral("prompts"), QStringLiteral("FILE"), QStringLiteral("a prompt set: text, one prompt per line, or JSONL with \"text\"")},
         {QStringLiteral("length"), QStringLiteral("T"), QStringLiteral("keep the first T tokens of each prompt, skip shorter ones (default: group by length)")},
         {QStringLiteral("epsilon"), QStringLiteral("E"), QStringLiteral("threshold of Sink_k^epsilon, in [0, 1) (default 0.3)")},
         {QStringLiteral("k"), QStringLiteral("K"), QStringLiteral("0-based element of Sink_k^epsilon (default 0; a whole number below --length)")},
         {QStringLiteral("massive-abs"), QStringLiteral("A"), QStringLiteral("massive activations: |h| above this (default 100)")},
         {QStringLiteral("massive-rel"), QStringLiteral("R"), QStringLiteral("massive activations: |h| at least this times the median (default 1000)")},
         bosOption(),
         deviceOption(),
         dtypeOption(),
         threadsOption(),
         batchOption(),
         outOption(),
         forceOption(),
         {QStringLiteral("per-prompt-tensors"), QString(), QStringLiteral("keep each prompt's [L,H,T] tables in metrics.json")},
         {QStringLiteral("shard"), QStringLiteral("I/N"),
          QStringLiteral("analyse only prompts k with k mod N = I (I is 0-based: 0..N-1) and write a shard folder for merge")}},
        resultFolderNote()
            + QStringLiteral("\n--shard I/N (with --prompts): prompt k of the file (0-based, bad lines not counted) belongs to shard "
                             "k mod N. OUTDIR then holds shard.json and shard_runs.bin instead of the metrics; `sinkscope-cli "
                             "merge` turns all N shard folders into the metrics one unsharded analyze writes. A shard "
                             "with no prompt (I >= the number of prompts) is still written, saying 0 prompts, so that a "
                             "fixed-size array job never fails on a short file (docs/CLUSTER.md).")};
    return spec;
}

int analyzeCommand(const QStringList& args)
{
    const Options o(args, analyzeSpec());
    const QString modelDir = o.required("model");
    const QString outDir = o.required("out");
    if (o.has("prompt") == o.has("prompts"))
        throw UsageError("give exactly one of --prompt and --prompts");
    const ExistingOutput existing = o.has("force") ? ExistingOutput::Replace : ExistingOutput::Refuse;
    checkOutputFolder(outDir.toStdString(), existing);

    an::Options opt;
    opt.epsilon = parseNumber(o, "epsilon", opt.epsilon);
    if (!(opt.epsilon >= 0.0 && opt.epsilon < 1.0))
        throw UsageError("--epsilon must be in [0, 1)");
    // Range first, conversion after: casting 1e300 to int is undefined (it printed -2147483648).
    const double k = parseNumber(o, "k", 0);
    if (!(k >= 0 && k <= double(std::numeric_limits<int>::max())) || k != std::floor(k))
        throw UsageError("--k must be a non-negative element index (a whole number up to "
                         + std::to_string(std::numeric_limits<int>::max()) + "), got '" + o.value("k").toStdString() + "'");
    opt.sinkElement = int(k);
    opt.massive.absolute = parseNumber(o, "massive-abs", opt.massive.absolute);
    opt.massive.relative = parseNumber(o, "massive-rel", opt.massive.relative);
    if (opt.massive.absolute < 0 || opt.massive.relative < 0)
        throw UsageError("--massive-abs and --massive-rel must not be negative");
    int64_t length = 0;
    if (o.has("length")) {
        bool ok = false;
        length = o.value("length").toLongLong(&ok);
        if (!ok || length < 1)
            throw UsageError("--length must be a positive number of tokens");
        if (opt.sinkElement >= length)
            throw UsageError("--k must be smaller than --length");
    }
    const int batchSize = batchFromOptions(o, an::PromptSetSettings().batchSize);
    const BosPolicy bos = parseBosPolicy(o.value("bos", "auto").toStdString());
    const bool sharded = o.has("shard");
    an::ShardSpec shard;
    if (sharded) {
        if (!o.has("prompts"))
            throw UsageError("--shard needs --prompts FILE: one --prompt cannot be split");
        try {
            shard = an::parseShardSpec(o.value("shard").toStdString());
        } catch (const Error& e) {
            throw UsageError(e.what());
        }
    }
    const an::PromptSet promptSet = promptsFromOptions(o);
    const std::vector<an::Prompt>& prompts = promptSet.prompts;
    // The prompts this process analyses: all of them, or the shard's interleaved slice.
    const std::vector<size_t> members = sharded ? an::shardMembers(prompts.size(), shard) : std::vector<size_t>();
    if (sharded)
        err(QStringLiteral("shard %1/%2: %3 of the %4 prompts of %5")
                .arg(shard.index)
                .arg(shard.count)
                .arg(members.size())
                .arg(prompts.size())
                .arg(o.value("prompts")));

    const auto model = modelFromOptions(o);
    if (!model->tokenizer())
        throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; analyze needs text prompts.",
                    modelDir.toStdString());

    // The same prompt-set job the GUI runs on its engine thread, here on this thread.
    an::PromptSet set;
    if (sharded)
        for (size_t k : members)
            set.prompts.push_back(prompts[k]);
    else
        set.prompts = prompts;
    an::PromptSetSettings settings;
    settings.bos = bos;
    settings.length = length;
    settings.options = opt;
    settings.stopOnFailure = true;
    settings.batchSize = batchSize;
    const QString source = o.value("prompts");
    auto where = [&](int line) {
        return line > 0 ? QStringLiteral("%1:%2").arg(source).arg(line) : QStringLiteral("prompt");
    };
    an::PromptSetJob job(set, settings, [&](const an::PromptEvent& e) {
        switch (e.kind) {
        case an::PromptEvent::Kind::TooShort:
            err(QStringLiteral("warning: %1: %2 tokens, fewer than --length %3 (prompt skipped)")
                    .arg(where(e.line))
                    .arg(e.tokens)
                    .arg(length));
            break;
        case an::PromptEvent::Kind::Failed:
            err(QStringLiteral("warning: %1: %2 (prompt skipped)").arg(where(e.line)).arg(QString::fromStdString(e.message)));
            break;
        case an::PromptEvent::Kind::Analysed:
            err(QStringLiteral("%1/%2 %3: %4 tokens").arg(e.done).arg(e.count).arg(where(e.line)).arg(e.tokens));
            break;
        }
    });
    // An empty shard runs nothing (the job refuses an empty set).
    const auto result = set.prompts.empty() ? std::make_shared<const an::PromptSetResult>()
                                            : std::static_pointer_cast<const an::PromptSetResult>(runJob(*model, job));
    const std::vector<an::PromptRun>& runs = result->runs;
    for (const std::string& note : result->notes)
        err(QStringLiteral("note: %1").arg(QString::fromStdString(note)));
    if (runs.empty() && !sharded)
        throw Error(ErrorCode::InvalidArgument, "No prompt has --length " + std::to_string(length) + " tokens.");
    // run.json belongs to a one-prompt file, never to a shard that happens to hold one prompt.
    const std::shared_ptr<const RunResult> single = prompts.size() == 1 ? result->single : nullptr;

    an::MetricsReport report;
    report.model = model->info();
    report.device = model->deviceName();
    report.dtype = model->dtypeName();
    report.bos = bosPolicyName(bos);
    report.length = length;
    report.options = opt;
    report.promptSet = o.has("prompts");
    report.perPromptTensors = o.has("per-prompt-tensors");
    report.singlePrompt = prompts.size() == 1;
    if (single)
        report.runJson = runJsonText(*single);
    if (sharded) {
        an::ShardOutput so;
        so.shard = shard;
        so.promptFile = o.value("prompts").toStdString();
        so.promptSha256 = promptSet.sha256;
        so.promptCount = int(prompts.size());
        so.members = members;
        for (size_t local : result->promptIndex)
            so.runIndices.push_back(members.at(local));
        so.runs = runs;
        so.report = report;
        an::writeMetricsFolder(outDir.toStdString(), an::shardFiles(so), existing);
        err(QStringLiteral("shard %1/%2: %3 prompt(s) analysed -> %4 (combine all %2 shards with sinkscope-cli merge)")
                .arg(shard.index)
                .arg(shard.count)
                .arg(runs.size())
                .arg(outDir));
        return 0;
    }
    an::RunMetrics mainMetrics;
    const std::map<std::string, std::string> files = an::metricsFiles(runs, report, &mainMetrics);
    // Never average different lengths: the largest group is the top level, every group is listed.
    const an::LengthGroups lengths = an::groupByLength(runs);
    const int64_t mainT = lengths.mainLength;
    if (lengths.groups.size() > 1)
        err(QStringLiteral("warning: the prompts have %1 different lengths; the top level holds the T = %2 group (%3 "
                           "prompts), every group is under \"groups\"; --length T truncates all prompts to one length")
                .arg(lengths.groups.size())
                .arg(mainT)
                .arg(lengths.groups.at(mainT).size()));
    an::writeMetricsFolder(outDir.toStdString(), files, existing);

    err(QStringLiteral("%1 prompt(s), T = %2: Sink_%3^%4 = %5% -> %6")
            .arg(mainMetrics.prompts)
            .arg(mainT)
            .arg(opt.sinkElement)
            .arg(opt.epsilon)
            .arg(mainMetrics.sinkRate.percent, 0, 'f', 2)
            .arg(outDir));
    return 0;
}

} // namespace sinkscope::cli
