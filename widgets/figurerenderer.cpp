// SPDX-License-Identifier: GPL-3.0-or-later
#include "figurerenderer.h"

#include "classificationview.h"
#include "compareview.h"
#include "controlsview.h"
#include "currentresult.h"
#include "figuresidecar.h"
#include "sinkscope/error.h"
#include "selection.h"
#include "viewregistry.h"

#include <QCoreApplication>

#include <algorithm>
#include <memory>

namespace sinkscope {

QString selectionOutsideModel(int layers, int heads, std::optional<int> layer, std::optional<int> head)
{
    if (layer && (*layer < 0 || *layer >= layers))
        return QObject::tr("Layer %1 is not in the model: the layers are 0 to %2.").arg(*layer).arg(layers - 1);
    if (head && (*head < 0 || *head >= heads))
        return QObject::tr("Head %1 is not in the model: the heads are 0 to %2.").arg(*head).arg(heads - 1);
    return {};
}

bool renderFigure(const FigureRequest& request, QString* error)
{
    auto fail = [&](const QString& text) {
        if (error)
            *error = text;
        return false;
    };
    if (request.runs.empty() || !request.runs.front().result)
        return fail(QObject::tr("There is no run to draw."));
    const ViewSpec* spec = ViewRegistry::global().find(request.view);
    if (!spec)
        return fail(ViewRegistry::global().unknownViewMessage(request.view));
    const std::shared_ptr<const RunResult> result = request.runs.front().result;
    if (const QString why = selectionOutsideModel(result->model.layers, result->model.heads, request.layer, request.head); !why.isEmpty())
        return fail(why);

    Selection selection;
    CurrentResult current(&selection);
    std::unique_ptr<View> view(spec->create(&current, &selection, nullptr));
    if (!request.viewOptions.isEmpty())
        view->restoreOptions(request.viewOptions);
    auto* compare = qobject_cast<CompareView*>(view.get());
    if (compare) {
        if (request.runs.size() < 2)
            return fail(QObject::tr("The compare view needs two runs: give a session saved from a comparison (--session)."));
        compare->setOther(request.runs[1]);
    }
    auto* controls = qobject_cast<ControlsView*>(view.get());
    if (controls && !request.control)
        return fail(QObject::tr("The controls view draws a control of the prompt: give one with --control SPEC."));
    const FigureExportOptions options = printFigureOptions(request.preset, request.fontPt, request.dpi);
    // Laid out at the figure's own size, like a view on screen would be; a view that is not one
    // plot at a window's size (it is grabbed as it looks on screen).
    view->resize(view->plot() ? options.size : request.widgetSize);
    view->setAttribute(Qt::WA_DontShowOnScreen);
    view->show();
    try {
        const std::shared_ptr<const analysis::RunMetrics> metrics =
            request.metrics ? request.metrics : std::make_shared<analysis::RunMetrics>(analysis::analyzeRun(*result));
        current.setResult(result, metrics);
    } catch (const Error& e) {
        return fail(QString::fromStdString(e.describe()));
    }
    if (compare && request.pair)
        compare->setPair(request.runs[0], request.runs[1]); // after the run: a new result unpins A
    selection.setLayerHead(request.layer.value_or(0), request.head.value_or(0));
    if (request.query >= 0 && request.key >= 0)
        selection.setCell(request.query, request.key);
    // After the run: a new result drops what was derived from the previous one.
    if (controls)
        controls->setResult(request.control);
    if (auto* classification = qobject_cast<ClassificationView*>(view.get()); classification && request.classification) {
        classification->setClassification(request.classification); // published in `current` too
    }
    // A long prompt's map is computed off the GUI thread: the figure is the finished one.
    if (!waitUntilComputed(view.get()))
        return fail(QObject::tr("The view '%1' did not finish computing its figure.").arg(request.view));
    if (!view->hasFigure())
        return fail(QObject::tr("The view '%1' has nothing to draw for this run.").arg(request.view));
    return exportViewBundle(view.get(), spec->name, request.runs, request.out, options, request.preset.name, error,
                            request.averagedPrompts);
}

std::optional<FigureBundle> prepareViewBundle(View* view, const QString& viewName, std::vector<SessionRun> runs,
                                              const QString& file, const FigureExportOptions& options,
                                              const QString& presetName, QString* error,
                                              const std::vector<std::string>& averagedPrompts)
{
    const ViewSpec* spec = ViewRegistry::global().find(viewName);
    if (!view || !spec || !view->hasFigure()) {
        if (error)
            *error = QObject::tr("There is no figure to export.");
        return std::nullopt;
    }
    FigureProvenance p;
    p.viewName = spec->name;
    p.viewTitle = spec->title;
    p.layer = view->selection()->layer();
    p.head = view->selection()->head();
    p.query = view->selection()->query();
    p.key = view->selection()->key();
    p.viewOptions = view->saveOptions();
    if (!qobject_cast<CompareView*>(view))
        runs.resize(std::min<size_t>(runs.size(), 1));
    p.runs = std::move(runs);
    p.averagedPrompts = averagedPrompts;
    if (!view->plot()) // a view that is more than one plot: a picture of the whole view
        return prepareWidgetBundle(view->figureWidget(), view->dataExport(), p, file, error);
    return prepareFigureBundle(view->plot(), view->dataExport(), p, file, options, presetName, error);
}

bool exportViewBundle(View* view, const QString& viewName, std::vector<SessionRun> runs, const QString& file,
                      const FigureExportOptions& options, const QString& presetName, QString* error,
                      const std::vector<std::string>& averagedPrompts)
{
    const std::optional<FigureBundle> b =
        prepareViewBundle(view, viewName, std::move(runs), file, options, presetName, error, averagedPrompts);
    return b && finishFigureBundle(*b, error);
}

} // namespace sinkscope
