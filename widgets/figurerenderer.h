// SPDX-License-Identifier: GPL-3.0-or-later
// Headless figures: one registered view drawn offscreen from runs (a fresh run or a session) and
// written as a figure bundle (figure, CSV, JSON sidecar). `sinkscope-cli figure` and the tests use
// it; the GUI exports the view on screen through the same exportFigureBundle.
#pragma once

#include "figureexport.h"
#include "figuresidecar.h"
#include "sinkscope/analysis.h"
#include "sinkscope/classify.h"
#include "sinkscope/controls.h"
#include "sinkscope/session.h"

#include <QSize>
#include <QString>
#include <QVariantMap>

#include <memory>
#include <optional>
#include <vector>

namespace sinkscope {

struct FigureRequest {
    std::vector<SessionRun> runs; ///< [0] the run shown; [1] the other side of a comparison
    bool pair = false;            ///< runs[0] and runs[1] are a pair (Session::pair): compare shows them with their labels
    /// The analysis shown with runs[0] (e.g. the mean over a prompt set); null: analyzeRun(runs[0]).
    std::shared_ptr<const analysis::RunMetrics> metrics;
    std::vector<std::string> averagedPrompts; ///< the prompts `metrics` is the mean of (recorded in the sidecar)
    QString view;                 ///< registered view name
    std::optional<int> layer, head;
    int query = -1, key = -1;
    QVariantMap viewOptions;      ///< restored into the view before drawing (from a session)
    FigurePreset preset{QStringLiteral("one-column"), 3.3, 2.6};
    double dpi = 300.0;
    double fontPt = 9.0;
    QString out;                  ///< FILE.pdf|svg|png; FILE.csv and FILE.json are written beside it
    /// The controls view draws this control of runs[0]'s prompt (required for that view).
    std::shared_ptr<const analysis::ControlResult> control;
    /// The classification view shows this classification of runs[0] (without one, only which
    /// heads have a waiver, the others "unprobed").
    std::shared_ptr<const analysis::Classification> classification;
    /// A view that is not one plot (the classification view) is written as a PNG of the whole
    /// view laid out at this size in pixels; the preset and dpi apply to plots only.
    QSize widgetSize{1280, 860};
};

class View;

/// Writes a view's figure bundle (figure, CSV, JSON) as it is now: the provenance records the
/// view's registry name and title, its selection and options, and `runs` (the first is the run
/// shown; a comparison's other run is kept only for the compare view).
bool exportViewBundle(View* view, const QString& viewName, std::vector<SessionRun> runs, const QString& file,
                      const FigureExportOptions& options, const QString& presetName, QString* error,
                      const std::vector<std::string>& averagedPrompts = {});
/// exportViewBundle's first step (figuresidecar.h): the figure written and the sidecar formed;
/// finishFigureBundle writes the view's data and the sidecar, on any thread.
std::optional<FigureBundle> prepareViewBundle(View* view, const QString& viewName, std::vector<SessionRun> runs,
                                              const QString& file, const FigureExportOptions& options,
                                              const QString& presetName, QString* error,
                                              const std::vector<std::string>& averagedPrompts = {});

/// Why a figure of (layer, head) cannot be drawn for a model of these dimensions, naming the valid
/// range ("" when it can; an absent index is not checked).
QString selectionOutsideModel(int layers, int heads, std::optional<int> layer, std::optional<int> head);

/// Draws the view and writes the bundle. False with `error` set for an unknown view (naming the
/// registered ones), a layer or head outside the run (naming the valid range), a view with
/// nothing to draw for these runs, or a failed write.
bool renderFigure(const FigureRequest& request, QString* error);

} // namespace sinkscope
