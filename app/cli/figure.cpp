// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli figure: one registered view drawn offscreen into FILE.(pdf|svg|png) with FILE.csv
// (the numbers it shows) and FILE.json (what produced it) beside it; docs/CLI.md.
#include "cli.h"

#include "sinkscope/error.h"

#ifdef SINKSCOPE_CLI_HAS_WIDGETS
#include "figurerenderer.h"
#include "figuresidecar.h"
#include "viewregistry.h"
#include "sinkscope/classify.h"
#include "sinkscope/controls.h"
#include "sinkscope/analysis.h"
#include "sinkscope/metricsio.h"
#include "sinkscope/model.h"
#include "sinkscope/session.h"

#include <QDir>
#include <QFileInfo>
#endif

namespace sinkscope::cli {

const CommandSpec& figureSpec()
{
    static const CommandSpec spec{
        QStringLiteral("figure"),
        QStringLiteral("draw a registered view offscreen into FILE.(pdf|svg|png) with FILE.csv and FILE.json beside it"),
        {modelOption(),
         {QStringLiteral("prompt"), QStringLiteral("TEXT"), QStringLiteral("run this prompt (or --prompts, --session)")},
         {QStringLiteral("prompts"), QStringLiteral("FILE"), QStringLiteral("a prompt set: the mean over its largest length group")},
         {QStringLiteral("session"), QStringLiteral("FILE"), QStringLiteral("draw from a saved session (no --model, --bos, --device)")},
         {QStringLiteral("view"), QStringLiteral("NAME"), QStringLiteral("the view to draw (required)")},
         {QStringLiteral("control"), QStringLiteral("SPEC"),
          QStringLiteral("with --view controls: the control to apply (block:J | designate:J | positions:shift=D | positions:J=0 | evict:K,W)")},
         {QStringLiteral("layer"), QStringLiteral("L"), QStringLiteral("the layer to show")},
         {QStringLiteral("head"), QStringLiteral("H"), QStringLiteral("the head to show")},
         {QStringLiteral("preset"), QStringLiteral("one-column|two-column|WxH"), QStringLiteral("figure size (default one-column)")},
         {QStringLiteral("dpi"), QStringLiteral("N"), QStringLiteral("resolution, 72 to 2400")},
         bosOption(),
         deviceOption(),
         {QStringLiteral("out"), QStringLiteral("FILE.(pdf|svg|png)"), QStringLiteral("the figure file (required)")}},
        {}};
    return spec;
}

#ifndef SINKSCOPE_CLI_HAS_WIDGETS

int figureCommand(const QStringList&)
{
    throw Error(ErrorCode::Unsupported, "This sinkscope-cli was built without the widgets library (SINKSCOPE_BUILD_GUI=OFF), "
                                        "so it cannot draw figures.");
}

#else

namespace {

std::optional<int> parseIndex(const Options& o, const QString& name)
{
    if (!o.has(name))
        return std::nullopt;
    bool ok = false;
    const int v = o.value(name).toInt(&ok);
    if (!ok || v < 0)
        throw UsageError("--" + name.toStdString() + " must be a non-negative integer, got '" + o.value(name).toStdString() + "'");
    return v;
}

} // namespace

int figureCommand(const QStringList& args)
{
    const Options o(args, figureSpec());
    const QString outFile = o.required("out");
    const QString view = o.required("view");
    const int sources = int(o.has("prompt")) + int(o.has("prompts")) + int(o.has("session"));
    if (sources != 1)
        throw UsageError("give exactly one of --prompt, --prompts and --session");
    if (!o.has("session") && !o.has("model"))
        throw UsageError("missing --model (needed with --prompt and --prompts)");
    if (o.has("session") && (o.has("model") || o.has("bos") || o.has("device")))
        throw UsageError("--session holds its runs: --model, --bos and --device do not apply to it");

    if (!ViewRegistry::global().find(view)) // before any model is loaded
        throw Error(ErrorCode::InvalidArgument, ViewRegistry::global().unknownViewMessage(view).toStdString());

    FigureRequest req;
    req.view = view;
    req.out = QFileInfo(outFile).absoluteFilePath();
    const auto format = figureFormatForFile(outFile);
    if (!format)
        throw UsageError("--out must end in .pdf, .svg or .png, got '" + outFile.toStdString() + "'");
    // The controls view draws a control of the prompt; the classification view the probes'
    // verdicts. Both need the model, so they are computed here from --model and the prompt. Their
    // usage is checked before anything is loaded or run.
    const bool controlsView = view == QLatin1String("controls");
    const bool classificationView = view == QLatin1String("classification");
    if ((controlsView || classificationView) && o.has("session"))
        throw UsageError("--view " + view.toStdString() + " runs the model: give --model with --prompt or --prompts, not --session");
    if (controlsView && o.has("prompts"))
        throw UsageError("--view controls draws one prompt's maps: give --prompt (sinkscope-cli control --prompts measures a set)");
    std::optional<analysis::ControlSpec> control;
    if (o.has("control")) {
        if (!controlsView)
            throw UsageError("--control applies to --view controls only");
        try {
            control = analysis::parseControlSpec(o.value("control").toStdString());
        } catch (const Error& e) {
            throw UsageError(std::string("--control: ") + e.what());
        }
    } else if (controlsView) {
        throw UsageError("--view controls needs --control SPEC (the control to draw)");
    }
    if (classificationView && *format != FigureFormat::Png)
        throw UsageError("--view classification is not one plot and is written as PNG only: give --out FILE.png");

    QString presetError;
    // The view's own preset unless one is asked for: the views of several panels side by side
    // are drawn at two columns, which one column leaves no room.
    const QString viewPreset = ViewRegistry::global().find(view)->figurePreset; // a known view (checked above)
    const bool widePreset = !o.has("preset") && viewPreset != QLatin1String("one-column");
    const auto preset = parseFigurePreset(o.value("preset", viewPreset), &presetError);
    if (!preset)
        throw UsageError(presetError.toStdString());
    req.preset = *preset;
    if (o.has("dpi")) {
        bool ok = false;
        const int dpi = o.value("dpi").toInt(&ok);
        if (!ok || dpi < 72 || dpi > 2400)
            throw UsageError("--dpi must be an integer from 72 to 2400, got '" + o.value("dpi").toStdString() + "'");
        if (*format != FigureFormat::Png)
            err(QStringLiteral("note: --dpi sets the density of PNG figures; %1 keeps text and axes as vectors")
                    .arg(figureSuffix(*format).toUpper()));
        req.dpi = dpi;
    }
    req.layer = parseIndex(o, "layer");
    req.head = parseIndex(o, "head");
    if (widePreset)
        err(QStringLiteral("note: the %1 view draws several panels side by side: drawn at the %2 preset (--preset chooses another)")
                .arg(view, viewPreset));

    if (o.has("session")) {
        const Session s = loadSession(o.value("session").toStdString());
        // compare draws the session's A and B (a pair's, e.g. before and with a control); the
        // other views its main run.
        const bool compare = view == QLatin1String("compare");
        req.runs = compare ? comparedRuns(s) : s.runs;
        req.pair = compare && s.pair;
        if (!req.layer)
            req.layer = s.layer;
        if (!req.head)
            req.head = s.head;
        req.query = s.query;
        req.key = s.key;
    } else {
        const QString modelDir = QFileInfo(o.value("model")).absoluteFilePath();
        const BosPolicy bos = parseBosPolicy(o.value("bos", "auto").toStdString());
        std::vector<analysis::Prompt> prompts;
        if (o.has("prompt")) {
            if (o.value("prompt").trimmed().isEmpty())
                throw Error(ErrorCode::InvalidArgument, o.value("prompt").isEmpty() ? "The prompt is empty."
                                                                                     : "The prompt contains only whitespace.");
            prompts.push_back({0, o.value("prompt").toStdString()});
        } else {
            const analysis::PromptSet set = analysis::readPromptSet(o.value("prompts").toStdString());
            for (const analysis::PromptIssue& issue : set.issues)
                err(QStringLiteral("warning: %1:%2: %3 (line skipped)").arg(o.value("prompts")).arg(issue.line).arg(QString::fromStdString(issue.message)));
            prompts = set.prompts;
            if (prompts.empty())
                throw Error(ErrorCode::InvalidArgument, "The prompt file has no usable prompt.", o.value("prompts").toStdString());
        }
        const auto model = Model::load(modelDir.toStdString(), parseDevicePreference(o.value("device", "auto").toStdString()));
        for (const std::string& note : model->info().notes)
            err(QStringLiteral("note: %1").arg(QString::fromStdString(note)));
        // Before any pass runs (a control or the probes are many): the head asked for is in the model.
        if (const QString why = selectionOutsideModel(model->info().layers, model->info().heads, req.layer, req.head); !why.isEmpty())
            throw Error(ErrorCode::InvalidArgument, why.toStdString());
        std::vector<analysis::PromptRun> measured;
        std::vector<std::shared_ptr<const RunResult>> results;
        for (const analysis::Prompt& p : prompts) {
            RunRequest run;
            run.text = p.text;
            run.bos = bos;
            run.captureLogits = false;
            run.keepAttentionUpTo = RunRequest::kInteractiveMapBytes; // past it, maps from Q and K as in the GUI
            auto r = model->run(run);
            analysis::PromptRun pr;
            pr.line = p.line;
            pr.text = p.text;
            pr.metrics = analysis::analyzeRun(*r);
            measured.push_back(std::move(pr));
            results.push_back(r);
        }
        SessionRun shown;
        shown.model = describeModelFolder(modelDir.toStdString());
        shown.bos = bos;
        if (prompts.size() == 1) {
            shown.prompt = prompts[0].text;
            shown.result = results[0];
        } else {
            // The metric views show the mean over the prompts of the largest length group (never
            // an average over different T); map views show that group's first prompt.
            const analysis::LengthGroups groups = analysis::groupByLength(measured);
            const std::vector<size_t>& group = groups.groups.at(groups.mainLength);
            std::vector<analysis::RunMetrics> metrics;
            for (size_t i : group)
                metrics.push_back(measured[i].metrics);
            req.metrics = std::make_shared<analysis::RunMetrics>(analysis::aggregate(metrics));
            for (size_t i : group)
                req.averagedPrompts.push_back(prompts[i].text);
            shown.prompt = prompts[group.front()].text;
            shown.result = results[group.front()];
            err(QStringLiteral("note: %1 of %2 prompts have T = %3 (the largest group): metric views show their mean, "
                               "map views the first of them (line %4)")
                    .arg(group.size())
                    .arg(prompts.size())
                    .arg(groups.mainLength)
                    .arg(prompts[group.front()].line));
        }
        req.runs.push_back(shown);
        analysis::PromptSet set;
        set.prompts = prompts;
        if (control) {
            analysis::ControlJob job(set, *control, bos);
            req.control = std::static_pointer_cast<const analysis::ControlResult>(runJob(*model, job));
            err(QStringLiteral("%1 on %2 prompt(s): NLL %3 -> %4, mean KL %5")
                    .arg(QString::fromStdString(control->text))
                    .arg(req.control->prompts)
                    .arg(req.control->nllBefore, 0, 'f', 4)
                    .arg(req.control->nllAfter, 0, 'f', 4)
                    .arg(req.control->klMean, 0, 'g', 4));
        }
        if (classificationView) {
            analysis::ClassifySettings settings;
            settings.bos = bos;
            analysis::ClassifyJob job(set, settings);
            req.classification = std::static_pointer_cast<const analysis::Classification>(runJob(*model, job));
            err(QStringLiteral("classified %1 prompt(s) in %2 forward passes: model verdict %3")
                    .arg(req.classification->prompts)
                    .arg(req.classification->forwardPasses)
                    .arg(analysis::verdictName(req.classification->modelVerdict)));
        }
    }

    if (classificationView)
        err(QStringLiteral("note: the %1 view is not one plot: it is written as a PNG of the whole view laid out at %2 x %3 px "
                           "(--preset and --dpi apply to plots)")
                .arg(view)
                .arg(req.widgetSize.width())
                .arg(req.widgetSize.height()));
    QString error;
    if (!renderFigure(req, &error))
        throw Error(ErrorCode::InvalidArgument, error.toStdString());
    const QString size = classificationView ? QStringLiteral("%1 x %2 px").arg(req.widgetSize.width()).arg(req.widgetSize.height())
                                            : QStringLiteral("%1 x %2 in").arg(req.preset.widthIn, 0, 'g', 3).arg(req.preset.heightIn, 0, 'g', 3);
    err(QStringLiteral("%1 (%2) -> %3, %4, %5")
            .arg(view, size)
            .arg(QDir::toNativeSeparators(req.out), QDir::toNativeSeparators(figureCompanionPath(req.out, QStringLiteral("csv"))),
                 QDir::toNativeSeparators(figureCompanionPath(req.out, QStringLiteral("json")))));
    return 0;
}

#endif

} // namespace sinkscope::cli
