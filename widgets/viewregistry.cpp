// SPDX-License-Identifier: GPL-3.0-or-later
#include "viewregistry.h"

#include "qcustomplot_wrapper.h"
#include "tokenticker.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QThread>

namespace sinkscope {

View::View(CurrentResult* current, Selection* selection, QWidget* parent)
    : QWidget(parent)
    , m_current(current)
    , m_selection(selection)
{
}

View::~View() = default;

ViewRegistry& ViewRegistry::global()
{
    static ViewRegistry registry = [] {
        ViewRegistry r;
        for (ViewSpec& spec : builtinViewSpecs()) {
            QString error;
            if (!r.add(std::move(spec), &error))
                qFatal("built-in view refused: %s", qPrintable(error)); // a programming error
        }
        return r;
    }();
    return registry;
}

bool ViewRegistry::add(ViewSpec spec, QString* error)
{
    static const QRegularExpression valid(QStringLiteral("^[a-z0-9][a-z0-9-]*$"));
    QString why;
    if (!valid.match(spec.name).hasMatch())
        why = QStringLiteral("The view name '%1' must be lower-case letters, digits and '-'.").arg(spec.name);
    else if (find(spec.name))
        why = QStringLiteral("A view called '%1' is already registered.").arg(spec.name);
    else if (!spec.create)
        why = QStringLiteral("The view '%1' has no factory.").arg(spec.name);
    if (!why.isEmpty()) {
        if (error)
            *error = why;
        return false;
    }
    if (spec.title.isEmpty())
        spec.title = spec.name;
    m_views.push_back(std::move(spec));
    return true;
}

bool ViewRegistry::remove(const QString& name)
{
    for (auto it = m_views.begin(); it != m_views.end(); ++it) {
        if (it->name == name) {
            m_views.erase(it);
            return true;
        }
    }
    return false;
}

const ViewSpec* ViewRegistry::find(const QString& name) const
{
    for (const ViewSpec& spec : m_views)
        if (spec.name == name)
            return &spec;
    return nullptr;
}

QStringList ViewRegistry::names() const
{
    QStringList out;
    for (const ViewSpec& spec : m_views)
        out << spec.name;
    return out;
}

QString ViewRegistry::unknownViewMessage(const QString& name) const
{
    return QStringLiteral("Unknown view '%1'. The views are: %2.").arg(name, names().join(QStringLiteral(", ")));
}

bool waitUntilComputed(View* view, int timeoutMs)
{
    if (!view)
        return false;
    QElapsedTimer clock;
    clock.start();
    // The map arrives as a queued call, and what it starts (a replot, a rebinning for the laid-out
    // size) is queued in turn: done only when nothing is computing over several passes in a row.
    int quiet = 0;
    while (quiet < 3 && clock.elapsed() < timeoutMs) {
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        if (view->isComputing()) {
            quiet = 0;
            QThread::msleep(2); // the map is made on worker threads
        } else {
            ++quiet;
        }
    }
    if (view->isComputing())
        return false;
    // A grab paints each plot's buffer from its last replot: bring every one up to date now.
    // Twice where a token axis's labels were thinned for the length it had before this layout.
    for (QCustomPlot* plot : view->findChildren<QCustomPlot*>()) {
        plot->replot(QCustomPlot::rpImmediateRefresh);
        if (tokenTicksStale(plot))
            plot->replot(QCustomPlot::rpImmediateRefresh);
    }
    return true;
}

} // namespace sinkscope
