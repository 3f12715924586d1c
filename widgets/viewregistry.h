// SPDX-License-Identifier: GPL-3.0-or-later
// The view registry: every analysis view of the workspace is one entry here. The main window's
// tabs and View menu, `sinkscope --view NAME`, File → Export and Export All, and saved layouts
// all read this list; nothing else names the views.
//
// Adding a view (see docs/ARCHITECTURE.md, "How to add a view"):
//   1. Write one class derived from sinkscope::View. Its constructor connects itself to
//      CurrentResult (resultChanged / metricsAvailable / overlaysChanged) and to
//      Selection::changed; it reads the run from current()->result() and the derived analysis
//      from current()->metrics(). It never sets the selection's bounds (CurrentResult does).
//   2. Give it a static `ViewSpec spec()` (name, title, shortcut, description, factory).
//   3. Add one line to builtinViewSpecs() in widgets/builtinviews.cpp (or call
//      ViewRegistry::global().add(spec) before the main window is built, as the tests do).
#pragma once

#include "dataexport.h"
#include "sinkscope/session.h"

#include <QByteArray>
#include <QKeySequence>
#include <QString>
#include <QStringList>
#include <QVariantMap>
#include <QWidget>

#include <functional>
#include <vector>

class QCustomPlot;

namespace sinkscope {

class CurrentResult;
class Selection;

/// Base class of every registered view: a widget over the one CurrentResult and the one shared
/// Selection, plus the hooks that export and layout persistence need. Views subscribe to their
/// sources themselves; the main window never pushes data into a view.
class View : public QWidget
{
    Q_OBJECT
public:
    /// `current` and `selection` must outlive the view (the main window owns all three).
    View(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~View() override;

    CurrentResult* current() const { return m_current; }
    Selection* selection() const { return m_selection; }

    /// Whether a figure is shown now (false while the view shows a placeholder). Export of the
    /// figure and of the data is offered only when true.
    virtual bool hasFigure() const = 0;
    /// True while the figure is still being computed off the GUI thread (a long prompt's map):
    /// what is on screen is not yet the figure asked for. Headless drawing waits for false.
    virtual bool isComputing() const { return false; }
    /// The plot File → Export Figure renders (PDF and SVG stay vectors). nullptr when the view is
    /// not one plot: then the figure is figureWidget() grabbed as PNG.
    virtual QCustomPlot* plot() const { return nullptr; }
    /// The widget grabbed when plot() is nullptr (default: the whole view).
    virtual QWidget* figureWidget() { return this; }
    /// Suggested export file name without a suffix ("stories260K-attention-l3-h5").
    virtual QString defaultFileName() const = 0;
    /// The numbers behind the current figure as UTF-8 CSV, header row first (empty: no figure).
    /// Each view writes its own table; docs/CLI.md-style column names, 9 significant digits.
    virtual QByteArray dataCsv() const = 0;
    /// The same table as a job that may run off the GUI thread (what File → Export Data and the
    /// figure exports write). The default wraps dataCsv(), formed now; views whose tables grow
    /// with T × T stream them from a snapshot instead, and their dataCsv() runs this job.
    virtual DataExport dataExport() const { return DataExport::ofBytes(dataCsv()); }

    /// The view's display options to keep across restarts (stored under "views/<name>/").
    virtual QVariantMap saveOptions() const { return {}; }
    /// Restores what saveOptions() returned (unknown or missing keys keep the defaults).
    virtual void restoreOptions(const QVariantMap& options) { Q_UNUSED(options) }

    // View-specific actions (e.g. "Toggle Logits", with a shortcut) are added to the view with
    // QWidget::addAction(); the main window lists them in the View menu and enables them only
    // while the view is the current one, so two views may use the same key.

Q_SIGNALS:
    /// hasFigure(), the plot or the CSV may have changed (export actions are refreshed).
    void figureChanged();
    /// The view asks to bring another registered view to the front (e.g. the overview opens the
    /// heatmap of the head clicked). Names that are not registered are ignored.
    void showViewRequested(const QString& name);
    /// The view asks the compare view to show run `a` beside run `b` (e.g. a prompt before and
    /// after a control). The main window passes it on; without a compare view it is ignored.
    void compareRequested(const sinkscope::SessionRun& a, const sinkscope::SessionRun& b);

private:
    CurrentResult* m_current;
    Selection* m_selection;
};

/// One registered view.
struct ViewSpec {
    /// Stable identifier: `--view NAME`, settings keys, export file names. Lower-case letters,
    /// digits and '-' only; unique in the registry.
    QString name;
    /// Human title: the tab and the View-menu entry ("Attention heatmap").
    QString title;
    /// Shortcut of the View-menu entry that shows the view (may be empty).
    QKeySequence shortcut;
    /// One sentence for tooltips and `--help`.
    QString description;
    /// Creates the view; called once per main window, in registry order.
    std::function<View*(CurrentResult* current, Selection* selection, QWidget* parent)> create;
    /// The print preset a figure of the view is drawn at unless another is asked for
    /// (parseFigurePreset): "two-column" for views of several maps side by side, which a
    /// one-column figure leaves no room (exportFigure refuses such a figure).
    QString figurePreset = QStringLiteral("one-column");
};

/// The ordered list of views. Order is tab and menu order.
class ViewRegistry
{
public:
    /// The process-wide registry, filled with builtinViewSpecs() on first use.
    static ViewRegistry& global();

    /// Appends a view. Refused (false, `error` says why) when the name is empty, malformed or
    /// taken, or the factory is missing.
    bool add(ViewSpec spec, QString* error = nullptr);
    /// Removes a view by name (tests that registered a dummy view clean up with it).
    bool remove(const QString& name);

    const std::vector<ViewSpec>& views() const { return m_views; }
    /// The view called `name`, or nullptr.
    const ViewSpec* find(const QString& name) const;
    /// Every name, in order.
    QStringList names() const;
    /// The message for a name that is not registered:
    /// "Unknown view 'NAME'. The views are: heatmap, overview, …".
    QString unknownViewMessage(const QString& name) const;

private:
    std::vector<ViewSpec> m_views;
};

/// Runs the event loop until `view` has computed its figure (isComputing() false) or `timeoutMs`
/// have passed; true when it has. For headless drawing (figures, screenshots) of long prompts.
bool waitUntilComputed(View* view, int timeoutMs = 10 * 60 * 1000);

/// The views that ship with SinkScope, in tab order (widgets/builtinviews.cpp).
std::vector<ViewSpec> builtinViewSpecs();

} // namespace sinkscope
