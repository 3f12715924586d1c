// SPDX-License-Identifier: GPL-3.0-or-later
// A figure for a paper is three files: the figure (PDF, SVG or PNG), the exact numbers it shows
// (CSV) and a JSON record of what produced it (model, revision, prompt, token ids, BOS policy,
// view settings, metric definitions, program version, time). fig.pdf -> fig.csv, fig.json.
#pragma once

#include "dataexport.h"
#include "figureexport.h"
#include "sinkscope/session.h"

#include <QByteArray>
#include <QString>
#include <QVariantMap>

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

class QCustomPlot;
class QWidget;

namespace sinkscope {

/// What a metric in a figure means, with where it is defined.
struct MetricDefinition {
    QString name;       ///< "attention", "first_token_mass", ...
    QString definition; ///< one sentence with the formula
    QString doc;        ///< "docs/METRICS.md#..." (relative to the source tree)
};

/// The metrics a registered view draws (empty for an unknown name).
std::vector<MetricDefinition> viewMetricDefinitions(const QString& viewName);

/// Where a figure came from.
struct FigureProvenance {
    QString viewName;           ///< registered view name
    QString viewTitle;
    int layer = -1, head = -1;  ///< the selection (-1: none)
    int query = -1, key = -1;
    QVariantMap viewOptions;    ///< the view's display options (View::saveOptions)
    std::vector<SessionRun> runs; ///< the run(s) shown, with model references and prompts
    /// When the metrics drawn are a mean over several prompts: those prompts (else empty).
    std::vector<std::string> averagedPrompts;
};

/// "fig.csv" / "fig.json" for "fig.pdf": the figure's name with another suffix.
QString figureCompanionPath(const QString& figureFile, const QString& suffix);

/// The JSON sidecar of a figure (keys in docs/USER_GUIDE.md, "Figure files"). `plot` supplies
/// the axes and colour scales as drawn (labels, ranges, log/linear); `presetName` the size preset.
QByteArray figureSidecarJson(const FigureProvenance& provenance, const QCustomPlot* plot, const QString& figureFile,
                             FigureFormat format, const FigureExportOptions& options, const QString& presetName);

/// Writes the figure, its CSV (`csv`, exactly the data the figure shows) and its JSON sidecar.
/// Each file is written atomically; when one fails the ones already written by this call are
/// removed again, so that a figure never stands without its data and record. On failure returns
/// false with `errorMessage` set.
bool exportFigureBundle(QCustomPlot* plot, const DataExport& csv, const FigureProvenance& provenance,
                        const QString& figureFile, const FigureExportOptions& options, const QString& presetName,
                        QString* errorMessage = nullptr);
/// The same with a CSV already formed.
bool exportFigureBundle(QCustomPlot* plot, const QByteArray& csv, const FigureProvenance& provenance,
                        const QString& figureFile, const FigureExportOptions& options, const QString& presetName,
                        QString* errorMessage = nullptr);

/// exportFigureBundle in two steps, so that a large CSV can be written off the GUI thread:
/// prepareFigureBundle draws the figure into a temporary file beside it and forms the sidecar (it
/// reads the plot: GUI thread); finishFigureBundle (any thread) writes the CSV, then the sidecar,
/// then puts the figure under its name. When a step fails or is cancelled, the files this bundle
/// wrote are removed and the figure's temporary file with them: files of the same names from
/// before are left as they were, and a figure never stands without its data and record.
struct FigureBundle {
    QString figureFile, csvFile, jsonFile;
    QString drawnFile; ///< where prepare drew the figure (renamed to figureFile by finish)
    DataExport csv;
    QByteArray json;
};
/// Where a figure is drawn before it is put under `figureFile`: a hidden file beside it (the same
/// file system, so putting it in place is a rename), named for this process.
QString figureDrawingPath(const QString& figureFile);
/// Puts the figure drawn at figureDrawingPath(figureFile) under `figureFile`, replacing an older
/// one. False (and why) when it cannot; the drawing is then removed.
bool placeDrawnFigure(const QString& figureFile, QString* errorMessage = nullptr);
std::optional<FigureBundle> prepareFigureBundle(QCustomPlot* plot, DataExport csv, const FigureProvenance& provenance,
                                                const QString& figureFile, const FigureExportOptions& options,
                                                const QString& presetName, QString* errorMessage = nullptr);
/// The same for a view that is not one plot: `widget` grabbed as PNG (other formats are refused).
std::optional<FigureBundle> prepareWidgetBundle(QWidget* widget, DataExport csv, const FigureProvenance& provenance,
                                                const QString& figureFile, QString* errorMessage = nullptr);
bool finishFigureBundle(const FigureBundle& bundle, QString* errorMessage = nullptr, const std::atomic<bool>* cancel = nullptr,
                        const std::function<void(double)>& progress = {});
/// Removes what prepareFigureBundle drew, for a bundle that will not be finished.
void discardFigureBundle(const FigureBundle& bundle);

} // namespace sinkscope
