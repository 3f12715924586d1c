// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "compareview.h"
#include "controlsview.h"
#include "currentresult.h"
#include "selection.h"
#include "viewregistry.h"
#include "widgetstestdata.h"

#include <QSignalSpy>
#include <QTest>

using namespace sinkscope;

namespace {
ViewSpec specNamed(const QString& name, bool withFactory = true)
{
    ViewSpec spec;
    spec.name = name;
    spec.title = QStringLiteral("Title");
    if (withFactory)
        spec.create = [](CurrentResult*, Selection*, QWidget*) -> View* { return nullptr; };
    return spec;
}
} // namespace

void TestWidgets::registryRefusesBadSpecs_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("factory");
    QTest::addColumn<QString>("error");
    QTest::newRow("taken") << "heatmap" << true << "A view called 'heatmap' is already registered.";
    QTest::newRow("empty") << "" << true << "The view name '' must be lower-case letters, digits and '-'.";
    QTest::newRow("upper case") << "Heatmap2" << true
                                << "The view name 'Heatmap2' must be lower-case letters, digits and '-'.";
    QTest::newRow("space") << "my view" << true << "The view name 'my view' must be lower-case letters, digits and '-'.";
    QTest::newRow("no factory") << "lonely" << false << "The view 'lonely' has no factory.";
}

void TestWidgets::registryRefusesBadSpecs()
{
    QFETCH(QString, name);
    QFETCH(bool, factory);
    QFETCH(QString, error);
    ViewRegistry registry = ViewRegistry::global(); // a copy: the global one stays as it is
    const int before = int(registry.views().size());
    QString why;
    QVERIFY(!registry.add(specNamed(name, factory), &why));
    QCOMPARE(why, error);
    QCOMPARE(int(registry.views().size()), before);
}

void TestWidgets::registryOrderAndMessages()
{
    ViewRegistry registry;
    QVERIFY(registry.add(specNamed(QStringLiteral("b"))));
    QVERIFY(registry.add(specNamed(QStringLiteral("a-2"))));
    QCOMPARE(registry.names(), (QStringList{QStringLiteral("b"), QStringLiteral("a-2")}));
    QVERIFY(registry.find(QStringLiteral("a-2")));
    QVERIFY(!registry.find(QStringLiteral("c")));
    QCOMPARE(registry.unknownViewMessage(QStringLiteral("c")), QStringLiteral("Unknown view 'c'. The views are: b, a-2."));
    QVERIFY(registry.remove(QStringLiteral("b")));
    QVERIFY(!registry.remove(QStringLiteral("b")));
    QCOMPARE(registry.names(), QStringList{QStringLiteral("a-2")});

    // The built-in views, with unique shortcuts.
    const ViewRegistry& global = ViewRegistry::global();
    for (const char* name : {"heatmap", "sinks"})
        QVERIFY2(global.find(QLatin1String(name)), name);
    QList<QKeySequence> keys;
    for (const ViewSpec& spec : global.views()) {
        QVERIFY2(!spec.shortcut.isEmpty() && !keys.contains(spec.shortcut), qPrintable(spec.name));
        keys << spec.shortcut;
        QVERIFY(!spec.description.isEmpty());
    }
}

void TestWidgets::everyViewFollowsCurrentResult_data()
{
    QTest::addColumn<QString>("name");
    for (const QString& name : ViewRegistry::global().names())
        QTest::newRow(qPrintable(name)) << name;
}

void TestWidgets::everyViewFollowsCurrentResult()
{
    QFETCH(QString, name);
    Selection selection;
    CurrentResult current(&selection);
    std::unique_ptr<View> view(ViewRegistry::global().find(name)->create(&current, &selection, nullptr));
    QVERIFY(view);
    QCOMPARE(view->current(), &current);
    // The compare view draws the current run against a kept one: give it one.
    if (auto* compare = qobject_cast<CompareView*>(view.get())) {
        SessionRun other;
        other.result = test::makeCannedRun({3, 4, 5, "causal", true, false});
        compare->setOther(other);
    }
    QVERIFY(!view->hasFigure());
    QVERIFY(view->dataCsv().isEmpty());

    QSignalSpy figure(view.get(), &View::figureChanged);
    // Maps, values and hidden states: what every view needs.
    auto run = test::makeCannedRun({3, 4, 6, "causal", true, true, 1.0, true, true});
    QVERIFY(test::showAnalysed(current, run));
    // The controls view draws a control's runs, which need a model: give it canned ones.
    if (qobject_cast<ControlsView*>(view.get()))
        QVERIFY(!view->hasFigure());
    test::giveCannedJobResult(view.get(), run);
    QVERIFY(!figure.isEmpty());
    QVERIFY(view->hasFigure());
    const QByteArray csv = view->dataCsv();
    QVERIFY(csv.contains('\n'));
    QVERIFY2(!csv.startsWith(',') && !csv.contains("nan"), csv.left(200).constData());
    QVERIFY(!view->defaultFileName().isEmpty());
    // Only CurrentResult sets the bounds: the views never did it themselves.
    QCOMPARE(selection.layers(), 3);
    QCOMPARE(selection.heads(), 4);
    QCOMPARE(selection.tokens(), 6);

    current.clear();
    QVERIFY(!view->hasFigure());
    QVERIFY(view->dataCsv().isEmpty());
}

void TestWidgets::currentResultDropsSuperseded()
{
    Selection selection;
    CurrentResult current(&selection);
    QSignalSpy available(&current, &CurrentResult::metricsAvailable);
    QSignalSpy changed(&current, &CurrentResult::resultChanged);
    auto first = test::makeCannedRun({2, 2, 5, "causal", true, true});
    auto second = test::makeCannedRun({4, 3, 7, "causal", true, true});
    current.setResult(first);
    current.setResult(second); // before the first analysis can be delivered
    QCOMPARE(changed.count(), 2);
    QVERIFY(current.isAnalyzing());
    QVERIFY(!current.metrics());
    QVERIFY(available.wait(10000));
    QCOMPARE(available.count(), 1);
    QVERIFY(!current.isAnalyzing());
    QCOMPARE(current.metrics()->layers, 4); // the second run's, never the first's
    QCOMPARE(int(current.metrics()->tokens), 7);
    QCOMPARE(selection.layers(), 4);

    // Analysis computed elsewhere is delivered at once, without a thread.
    auto m = std::make_shared<const analysis::RunMetrics>(analysis::analyzeRun(*first));
    current.setResult(first, m);
    QCOMPARE(current.metrics(), m);
    QCOMPARE(selection.layers(), 2);

    // A failed analysis says why (a run with neither maps nor Q/K).
    QSignalSpy failed(&current, &CurrentResult::metricsFailed);
    current.setResult(test::makeCannedRun({2, 2, 4, "causal", false, true}));
    QVERIFY(failed.wait(10000));
    QCOMPARE(current.metricsError(), QStringLiteral("The analysis needs the attention maps or Q and K of the run."));
    QVERIFY(!current.metrics());

    // Overlays: the pinned analysis stays when the current result changes.
    current.setResult(first, m);
    QSignalSpy overlays(&current, &CurrentResult::overlaysChanged);
    QVERIFY(current.pinCurrent(QStringLiteral("with BOS")));
    current.setResult(second, std::make_shared<const analysis::RunMetrics>(analysis::analyzeRun(*second)));
    QCOMPARE(int(current.overlays().size()), 1);
    QCOMPARE(current.overlays()[0].label, QStringLiteral("with BOS"));
    QCOMPARE(current.overlays()[0].metrics, m);
    current.removeOverlay(0);
    QCOMPARE(overlays.count(), 2);
    QVERIFY(current.overlays().empty());
}
