// SPDX-License-Identifier: GPL-3.0-or-later
#include "figuresidecar.h"

#include "qcustomplot_wrapper.h"
#include "sinkscope/version.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QWidget>

namespace sinkscope {

namespace {

QJsonObject axisJson(const QCPAxis* axis)
{
    QJsonObject o;
    o["label"] = axis->label();
    o["range"] = QJsonArray{axis->range().lower, axis->range().upper};
    o["scale"] = axis->scaleType() == QCPAxis::stLogarithmic ? QStringLiteral("log") : QStringLiteral("linear");
    return o;
}

QString axisName(QCPAxis::AxisType t)
{
    switch (t) {
    case QCPAxis::atLeft: return QStringLiteral("left");
    case QCPAxis::atRight: return QStringLiteral("right");
    case QCPAxis::atTop: return QStringLiteral("top");
    case QCPAxis::atBottom: return QStringLiteral("bottom");
    }
    return {};
}

} // namespace

std::vector<MetricDefinition> viewMetricDefinitions(const QString& viewName)
{
    const MetricDefinition attention{
        QStringLiteral("attention"),
        QStringLiteral("A[l,h,q,k] = softmax_k(scale * q_q . k_k + mask), the probability with which query q attends to key k in layer l, head h (fp32)"),
        QStringLiteral("docs/METRICS.md#attention-sink-metrics")};
    if (viewName == QLatin1String("heatmap"))
        return {attention};
    if (viewName == QLatin1String("sinks"))
        return {{QStringLiteral("first_token_mass"),
                 QStringLiteral("mean over queries t >= 1 of A[l,h,t,0]; the curve is its mean over the heads of each layer, the band +-1 population std over heads"),
                 QStringLiteral("docs/METRICS.md#first_token_mass-last_query_first_mass-first_mass_per_query")},
                {QStringLiteral("sink_curve"), QStringLiteral("per-layer mean of first_token_mass over heads"),
                 QStringLiteral("docs/METRICS.md#sink_curve--per-layer-sink-curve")}};
    const QString doc = QStringLiteral("docs/METRICS.md");
    if (viewName == QLatin1String("overview"))
        return {{QStringLiteral("per-head metric"),
                 QStringLiteral("one number per (layer, head), the metric named in the view's options and on its colour bar "
                                "(first_token_mass, importance of element 0, waiver score, entropy, ...)"),
                 doc + QStringLiteral("#attention-sink-metrics")},
                {QStringLiteral("first_token_mass"), QStringLiteral("mean over queries t >= 1 of A[l,h,t,0]"),
                 doc + QStringLiteral("#first_token_mass-last_query_first_mass-first_mass_per_query")},
                {QStringLiteral("waiver_scores"),
                 QStringLiteral("score_j = excess_j * deficit_j: attention received above a uniform share, times how much "
                                "smaller the element's contribution norm is than the head's median"),
                 doc + QStringLiteral("#waiver_scores-and-waiver--the-waiver-score")}};
    if (viewName == QLatin1String("values"))
        return {{QStringLiteral("value_norms"), QStringLiteral("||v_j|| per KV head"),
                 doc + QStringLiteral("#value_norms-contribution_norms-written_norms-kobayashi-et-al")},
                {QStringLiteral("contribution_norms"), QStringLiteral("||v_j W_O^h||, what element j adds through head h at full attention"),
                 doc + QStringLiteral("#value_norms-contribution_norms-written_norms-kobayashi-et-al")},
                {QStringLiteral("importance"), QStringLiteral("alpha_j = mean over the queries that can see j of A[t,j]"),
                 doc + QStringLiteral("#importance--α_k-attention-received-gu-et-al")},
                {QStringLiteral("waiver_scores"), QStringLiteral("score_j = excess_j * deficit_j in [0, 1]"),
                 doc + QStringLiteral("#waiver_scores-and-waiver--the-waiver-score")},
                {QStringLiteral("value_dims"), QStringLiteral("per-dimension statistics of the value vectors, waiver elements apart from the rest"),
                 doc + QStringLiteral("#value_dims")}};
    if (viewName == QLatin1String("hidden"))
        return {{QStringLiteral("hidden_dims"), QStringLiteral("per hidden-state index: the largest magnitudes |h| and per-dimension maxima over elements"),
                 doc + QStringLiteral("#hidden_dims-and-massive_activations-sun-et-al")},
                {QStringLiteral("massive_activations"), QStringLiteral("|h| above both the absolute and the relative (to the median) threshold"),
                 doc + QStringLiteral("#hidden_dims-and-massive_activations-sun-et-al")},
                {QStringLiteral("norms"), QStringLiteral("||h||, ||k||, ||v|| of the first element against the others, per layer"),
                 doc + QStringLiteral("#norms")}};
    if (viewName == QLatin1String("classification"))
        return {{QStringLiteral("head_sink"), QStringLiteral("a head has a waiver when max_j excess_j >= sink_excess (default 0.3), excess_j = clip((alpha_j - u_j) / (1 - u_j), 0, 1)"),
                 QStringLiteral("docs/METHODS.md#the-sink-of-a-head")},
                {QStringLiteral("verdict"), QStringLiteral("positional | feature | mixed | none per head, confidence in [0, 1], from the probes"),
                 QStringLiteral("docs/METHODS.md#verdict-of-a-head")},
                {QStringLiteral("probes"), QStringLiteral("share of the waiver's attention that follows position or content under each intervention"),
                 QStringLiteral("docs/METHODS.md#probes")}};
    if (viewName == QLatin1String("controls"))
        return {attention,
                {QStringLiteral("control"),
                 QStringLiteral("block:J | designate:J | positions:shift=D | positions:J=0 | evict:K,W: a structured mask and/or "
                                "position ids applied in the same forward pass; the maps are the head's before and after"),
                 QStringLiteral("docs/METHODS.md#controls")},
                {QStringLiteral("kl_per_position"), QStringLiteral("KL(P_t^before || P_t^after) in nats of the next-token distributions; kl_mean their mean"),
                 QStringLiteral("docs/METHODS.md#controls")},
                {QStringLiteral("nll"), QStringLiteral("mean negative log-likelihood of the prompt (position t predicting token t + 1), before and after; "
                                                       "for evict per position: full, evicted, window only, designated waiver"),
                 QStringLiteral("docs/METHODS.md#controls")},
                {QStringLiteral("sink_curve"), QStringLiteral("per-layer mean of first_token_mass over heads, before and after"),
                 QStringLiteral("docs/METRICS.md#sink_curve--per-layer-sink-curve")}};
    if (viewName == QLatin1String("compare"))
        return {attention,
                {QStringLiteral("attention_difference"),
                 QStringLiteral("D[q,k] = A_B[l,h,q,k] - A_A[l,h,q,k] over the positions both runs have (q, k < min(T_A, T_B))"),
                 QStringLiteral("docs/USER_GUIDE.md#compare-two-runs")}};
    return {};
}

QString figureCompanionPath(const QString& figureFile, const QString& suffix)
{
    const QFileInfo info(figureFile);
    const QString base = info.completeSuffix().isEmpty() ? info.fileName() : info.completeBaseName();
    return QDir(info.path()).filePath(base + QLatin1Char('.') + suffix);
}

QByteArray figureSidecarJson(const FigureProvenance& p, const QCustomPlot* plot, const QString& figureFile,
                             FigureFormat format, const FigureExportOptions& options, const QString& presetName)
{
    const QSizeF inches = options.inches.isValid() ? options.inches
                          : options.size.isValid() ? QSizeF(options.size) / 96.0 : QSizeF();
    QJsonObject figure;
    figure["file"] = QFileInfo(figureFile).fileName();
    figure["format"] = figureSuffix(format);
    figure["csv"] = QFileInfo(figureCompanionPath(figureFile, QStringLiteral("csv"))).fileName();
    figure["preset"] = presetName;
    figure["width_in"] = inches.isValid() ? QJsonValue(inches.width()) : QJsonValue();
    figure["height_in"] = inches.isValid() ? QJsonValue(inches.height()) : QJsonValue();
    figure["font_pt"] = options.fontPt > 0 ? QJsonValue(options.fontPt) : QJsonValue();
    figure["dpi"] = format == FigureFormat::Png ? QJsonValue(options.dpi > 0 ? options.dpi : 96.0 * options.pngScale) : QJsonValue();
    figure["color_map"] = options.colorMap ? colorMapName(*options.colorMap) : QJsonValue();

    QJsonObject view;
    view["name"] = p.viewName;
    view["title"] = p.viewTitle;
    view["layer"] = p.layer >= 0 ? QJsonValue(p.layer) : QJsonValue();
    view["head"] = p.head >= 0 ? QJsonValue(p.head) : QJsonValue();
    view["query"] = p.query >= 0 ? QJsonValue(p.query) : QJsonValue();
    view["key"] = p.key >= 0 ? QJsonValue(p.key) : QJsonValue();
    view["options"] = QJsonObject::fromVariantMap(p.viewOptions);
    // The axes and colour bars as drawn: their labels, ranges (the clipping of a colour bar)
    // and scale types, read from the plot rather than restated.
    QJsonArray axes, colorScales;
    if (plot) {
        for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
            if (auto* rect = qobject_cast<QCPAxisRect*>(e)) {
                for (QCPAxis* axis : rect->axes()) {
                    if (!axis->visible())
                        continue;
                    QJsonObject a = axisJson(axis);
                    a["side"] = axisName(axis->axisType());
                    axes.append(a);
                }
            } else if (auto* scale = qobject_cast<QCPColorScale*>(e)) {
                QJsonObject c;
                c["label"] = scale->label();
                c["range"] = QJsonArray{scale->dataRange().lower, scale->dataRange().upper};
                c["scale"] = scale->dataScaleType() == QCPAxis::stLogarithmic ? QStringLiteral("log") : QStringLiteral("linear");
                colorScales.append(c);
            }
        }
    }
    view["axes"] = axes;
    view["color_scales"] = colorScales;

    QJsonArray runs;
    for (const SessionRun& run : p.runs) {
        if (!run.result)
            continue;
        const RunResult& r = *run.result;
        QJsonObject model;
        model["path"] = QString::fromStdString(run.model.path);
        model["hf_repo"] = run.model.hfRepo.empty() ? QJsonValue() : QJsonValue(QString::fromStdString(run.model.hfRepo));
        model["hf_revision"] = run.model.hfRevision.empty() ? QJsonValue() : QJsonValue(QString::fromStdString(run.model.hfRevision));
        model["name"] = QString::fromStdString(r.model.name);
        model["family"] = QString::fromStdString(r.model.modelType);
        model["layers"] = r.model.layers;
        model["heads"] = r.model.heads;
        model["synthetic"] = r.model.synthetic;
        QJsonArray ids, tokens;
        for (const Token& t : r.encoding.tokens) {
            ids.append(t.id);
            tokens.append(QString::fromStdString(t.display));
        }
        QJsonObject o;
        o["label"] = QString::fromStdString(run.label);
        o["model"] = model;
        o["dtype"] = QString::fromStdString(r.dtype);
        o["device"] = QString::fromStdString(r.device);
        o["prompt"] = QString::fromStdString(run.prompt);
        o["token_ids"] = ids;
        o["tokens"] = tokens;
        o["bos_policy"] = QString::fromLatin1(bosPolicyName(run.bos));
        o["bos_added"] = r.encoding.bosAdded;
        o["T"] = qint64(r.tokens);
        runs.append(o);
    }

    QJsonArray metrics;
    for (const MetricDefinition& m : viewMetricDefinitions(p.viewName)) {
        QJsonObject o;
        o["name"] = m.name;
        o["definition"] = m.definition;
        o["doc"] = m.doc;
        metrics.append(o);
    }

    QJsonObject root;
    root["figure"] = figure;
    root["view"] = view;
    root["runs"] = runs;
    // The first run's model facts at the top level too: most figures show one run.
    if (!runs.isEmpty()) {
        const QJsonObject first = runs.first().toObject();
        root["model"] = first["model"];
        root["dtype"] = first["dtype"];
        root["device"] = first["device"];
    }
    QJsonArray averaged;
    for (const std::string& prompt : p.averagedPrompts)
        averaged.append(QString::fromStdString(prompt));
    root["averaged_prompts"] = averaged.isEmpty() ? QJsonValue() : QJsonValue(averaged);
    root["metrics"] = metrics;
    root["metrics_doc"] = QStringLiteral("docs/METRICS.md");
    root["app"] = QStringLiteral("SinkScope");
    root["app_version"] = QString::fromLatin1(appVersion());
    root["created"] = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

QString figureDrawingPath(const QString& figureFile)
{
    const QFileInfo target(figureFile);
    return target.dir().filePath(QStringLiteral(".%1.%2.drawing").arg(target.fileName()).arg(QCoreApplication::applicationPid()));
}

bool placeDrawnFigure(const QString& figureFile, QString* errorMessage)
{
    const QString drawn = figureDrawingPath(figureFile);
    // rename() refuses an existing target: the old figure goes just before.
    QFile::remove(figureFile);
    if (QFile::rename(drawn, figureFile))
        return true;
    QFile::remove(drawn);
    if (errorMessage)
        *errorMessage = QObject::tr("Could not write %1: the figure could not be put in place.").arg(QDir::toNativeSeparators(figureFile));
    return false;
}

namespace {

// The bundle's file names and data, before its figure is drawn; nullopt (and why) when the view
// has no data to write beside it.
std::optional<FigureBundle> bundleFor(const QString& figureFile, DataExport csv, QString* errorMessage)
{
    if (csv.empty()) {
        if (errorMessage)
            *errorMessage = QObject::tr("The view has no data to write beside the figure.");
        return std::nullopt;
    }
    FigureBundle b;
    b.figureFile = figureFile;
    b.csvFile = figureCompanionPath(figureFile, QStringLiteral("csv"));
    b.jsonFile = figureCompanionPath(figureFile, QStringLiteral("json"));
    b.drawnFile = figureDrawingPath(figureFile);
    b.csv = std::move(csv);
    return b;
}

} // namespace

std::optional<FigureBundle> prepareFigureBundle(QCustomPlot* plot, DataExport csv, const FigureProvenance& provenance,
                                                const QString& figureFile, const FigureExportOptions& options,
                                                const QString& presetName, QString* errorMessage)
{
    const auto format = figureFormatForFile(figureFile);
    if (!format) {
        if (errorMessage)
            *errorMessage = QObject::tr("Unknown figure format for %1: use .pdf, .png or .svg.").arg(QDir::toNativeSeparators(figureFile));
        return std::nullopt;
    }
    std::optional<FigureBundle> b = bundleFor(figureFile, std::move(csv), errorMessage);
    if (!b)
        return std::nullopt;
    if (!exportFigure(plot, b->drawnFile, *format, errorMessage, options)) {
        QFile::remove(b->drawnFile);
        return std::nullopt;
    }
    // The sidecar reads the axes after the export, which re-laid the plot out for the screen;
    // ranges do not depend on the layout.
    b->json = figureSidecarJson(provenance, plot, figureFile, *format, options, presetName);
    return b;
}

std::optional<FigureBundle> prepareWidgetBundle(QWidget* widget, DataExport csv, const FigureProvenance& provenance,
                                                const QString& figureFile, QString* errorMessage)
{
    if (figureFormatForFile(figureFile) != FigureFormat::Png) {
        if (errorMessage)
            *errorMessage = QObject::tr("This view is not one plot and is exported as PNG only: use a .png file name.");
        return std::nullopt;
    }
    std::optional<FigureBundle> b = bundleFor(figureFile, std::move(csv), errorMessage);
    if (!b)
        return std::nullopt;
    if (!grabWidgetToPng(widget, b->drawnFile, errorMessage)) {
        QFile::remove(b->drawnFile);
        return std::nullopt;
    }
    FigureExportOptions grabbed; // the picture's own size, one pixel per screen pixel
    grabbed.size = widget->size();
    grabbed.pngScale = 1.0;
    b->json = figureSidecarJson(provenance, nullptr, figureFile, FigureFormat::Png, grabbed, QStringLiteral("window"));
    return b;
}

bool finishFigureBundle(const FigureBundle& b, QString* errorMessage, const std::atomic<bool>* cancel,
                        const std::function<void(double)>& progress)
{
    if (!writeDataExport(b.csv, b.csvFile, errorMessage, cancel, progress)) {
        discardFigureBundle(b);
        return false;
    }
    if (!writeFileAtomically(b.jsonFile, b.json, errorMessage)) {
        discardFigureBundle(b);
        QFile::remove(b.csvFile);
        return false;
    }
    if (!placeDrawnFigure(b.figureFile, errorMessage)) {
        QFile::remove(b.csvFile);
        QFile::remove(b.jsonFile);
        return false;
    }
    return true;
}

void discardFigureBundle(const FigureBundle& b)
{
    QFile::remove(b.drawnFile);
}

bool exportFigureBundle(QCustomPlot* plot, const DataExport& csv, const FigureProvenance& provenance, const QString& figureFile,
                        const FigureExportOptions& options, const QString& presetName, QString* errorMessage)
{
    const std::optional<FigureBundle> b = prepareFigureBundle(plot, csv, provenance, figureFile, options, presetName, errorMessage);
    return b && finishFigureBundle(*b, errorMessage);
}

bool exportFigureBundle(QCustomPlot* plot, const QByteArray& csv, const FigureProvenance& provenance, const QString& figureFile,
                        const FigureExportOptions& options, const QString& presetName, QString* errorMessage)
{
    return exportFigureBundle(plot, DataExport::ofBytes(csv), provenance, figureFile, options, presetName, errorMessage);
}

} // namespace sinkscope
