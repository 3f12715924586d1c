// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli demo: writes a built-in demo model (a synthetic checkpoint in Hugging Face layout
// with planted waiver heads) and says what is planted where.
//
//   sinkscope-cli demo --out DIR [--kind decoder|encoder]
#include "cli.h"

#include "sinkscope/demomodels.h"

#include <QDir>

namespace sinkscope::cli {

const CommandSpec& demoSpec()
{
    static const CommandSpec spec{
        QStringLiteral("demo"),
        QStringLiteral("write a built-in synthetic demo model (planted waiver heads; not trained)"),
        {{QStringLiteral("out"), QStringLiteral("DIR"), QStringLiteral("the folder to write (required)")},
         {QStringLiteral("kind"), QStringLiteral("decoder|encoder"), QStringLiteral("which demo model (default decoder)")}},
        {}};
    return spec;
}

int demoCommand(const QStringList& args)
{
    const Options o(args, demoSpec());
    const QString outDir = o.required("out");
    if (outDir.isEmpty())
        throw UsageError("--out needs a folder");
    const QString kindText = o.value("kind", QStringLiteral("decoder"));
    if (kindText != QLatin1String("decoder") && kindText != QLatin1String("encoder"))
        throw UsageError("--kind must be decoder or encoder");
    const DemoKind kind = parseDemoKind(kindText.toStdString());

    writeDemoModel(kind, outDir.toStdString());

    out(QStringLiteral("wrote the synthetic %1 demo model (version %2) to %3")
             .arg(kindText, QString::fromStdString(demoModelVersion()), QDir::cleanPath(outDir)));
    const DemoGroundTruth truth = demoGroundTruth(kind);
    for (const PlantedHead& h : truth.heads) {
        const QString waiver = h.mechanism == "positional"
                                   ? QStringLiteral("position %1").arg(h.waiverPosition)
                                   : QStringLiteral("'%1' tokens").arg(QString::fromStdString(h.waiverToken));
        out(QStringLiteral("planted: layer %1 head %2, %3 waiver on %4")
                 .arg(h.layer)
                 .arg(h.head)
                 .arg(QString::fromStdString(h.mechanism), waiver));
    }
    for (const PlantedMassiveActivation& m : truth.massive)
        out(QStringLiteral("planted: massive activation ~%1 in hidden dimension %2 at position %3, hidden states %4..%5")
                 .arg(m.approxValue)
                 .arg(m.dim)
                 .arg(m.position)
                 .arg(m.firstHidden)
                 .arg(m.lastHidden));
    return 0;
}

} // namespace sinkscope::cli
