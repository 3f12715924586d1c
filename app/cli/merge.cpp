// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli merge: the shard folders of one `analyze --shard I/N` run become the metrics
// folder the unsharded analyze writes (sinkscope/shard.h; docs/CLUSTER.md).
#include "cli.h"

#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/metricsio.h"
#include "sinkscope/shard.h"

namespace sinkscope::cli {

namespace an = sinkscope::analysis;

const CommandSpec& mergeSpec()
{
    static const CommandSpec spec{
        QStringLiteral("merge"),
        QStringLiteral("combine the shard folders of analyze --shard into the metrics of one unsharded analyze"),
        {outOption(), forceOption()},
        QStringLiteral("DIR...: every shard folder of one run (0/N to N-1/N, any order). The metrics are recomputed "
                       "from the per-prompt\nvalues in the prompt file's order, so they equal an unsharded analyze "
                       "of the same file and settings.\nRefused: a missing or duplicate shard, shards of different "
                       "prompt files, models or settings, a folder that\nis not a shard output.\n")
            + resultFolderNote(),
        QStringLiteral("DIR...")};
    return spec;
}

int mergeCommand(const QStringList& args)
{
    // Shard folders are positional; everything else goes to the option parser.
    QStringList dirs, rest;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (!a.startsWith(QLatin1String("--"))) {
            dirs << a;
            continue;
        }
        rest << a;
        if (a == QLatin1String("--out") && i + 1 < args.size())
            rest << args[++i];
    }
    const Options o(rest, mergeSpec());
    const QString outDir = o.required("out");
    if (dirs.isEmpty())
        throw UsageError("merge needs the shard folders: sinkscope-cli merge DIR... --out OUTDIR");
    const ExistingOutput existing = o.has("force") ? ExistingOutput::Replace : ExistingOutput::Refuse;
    checkOutputFolder(outDir.toStdString(), existing);

    std::vector<an::ShardOutput> shards;
    std::vector<std::string> names;
    for (const QString& d : dirs) {
        names.push_back(d.toStdString());
        shards.push_back(an::readShardFolder(d.toStdString()));
    }
    const an::MergedShards merged = an::mergeShards(shards, names);
    an::RunMetrics mainMetrics;
    const std::map<std::string, std::string> files = an::metricsFiles(merged.runs, merged.report, &mainMetrics);
    an::writeMetricsFolder(outDir.toStdString(), files, existing);
    err(QStringLiteral("merged %1 shard(s): %2 of %3 prompt(s), T = %4: Sink_%5^%6 = %7% -> %8")
            .arg(shards.size())
            .arg(merged.runs.size())
            .arg(merged.prompts)
            .arg(mainMetrics.tokens)
            .arg(merged.report.options.sinkElement)
            .arg(merged.report.options.epsilon)
            .arg(mainMetrics.sinkRate.percent, 0, 'f', 2)
            .arg(outDir));
    return 0;
}

} // namespace sinkscope::cli
