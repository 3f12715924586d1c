// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "selection.h"

#include <QSignalSpy>
#include <QTest>

using sinkscope::Selection;

void TestWidgets::selectionClamps_data()
{
    QTest::addColumn<QString>("what");
    QTest::addColumn<int>("value");
    QTest::addColumn<int>("expected");
    // bounds: 4 layers, 3 heads, 5 tokens
    QTest::newRow("layer inside") << "layer" << 2 << 2;
    QTest::newRow("layer too high") << "layer" << 9 << 3;
    QTest::newRow("layer negative") << "layer" << -1 << 0;
    QTest::newRow("head too high") << "head" << 3 << 2;
    QTest::newRow("head negative") << "head" << -5 << 0;
    QTest::newRow("query inside") << "query" << 4 << 4;
    QTest::newRow("query too high") << "query" << 5 << 4;
    QTest::newRow("query cleared") << "query" << -1 << -1;
    QTest::newRow("query far negative") << "query" << -7 << -1;
    QTest::newRow("key too high") << "key" << 100 << 4;
    QTest::newRow("key cleared") << "key" << -1 << -1;
}

void TestWidgets::selectionClamps()
{
    QFETCH(QString, what);
    QFETCH(int, value);
    QFETCH(int, expected);
    Selection s;
    s.setBounds(4, 3, 5);
    s.setCell(1, 1);
    if (what == QLatin1String("layer")) {
        s.setLayer(value);
        QCOMPARE(s.layer(), expected);
    } else if (what == QLatin1String("head")) {
        s.setHead(value);
        QCOMPARE(s.head(), expected);
    } else if (what == QLatin1String("query")) {
        s.setQuery(value);
        QCOMPARE(s.query(), expected);
    } else {
        s.setKey(value);
        QCOMPARE(s.key(), expected);
    }
}

void TestWidgets::selectionNavigation_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<int>("layer");
    QTest::addColumn<int>("head");
    QTest::addColumn<int>("expectedLayer");
    QTest::addColumn<int>("expectedHead");
    // bounds: 3 layers, 4 heads
    QTest::newRow("next head") << "nextHead" << 0 << 0 << 0 << 1;
    QTest::newRow("next head wraps into next layer") << "nextHead" << 0 << 3 << 1 << 0;
    QTest::newRow("next head stops at the end") << "nextHead" << 2 << 3 << 2 << 3;
    QTest::newRow("previous head") << "previousHead" << 1 << 2 << 1 << 1;
    QTest::newRow("previous head wraps into previous layer") << "previousHead" << 2 << 0 << 1 << 3;
    QTest::newRow("previous head stops at the start") << "previousHead" << 0 << 0 << 0 << 0;
    QTest::newRow("next layer keeps head") << "nextLayer" << 0 << 2 << 1 << 2;
    QTest::newRow("next layer clamps") << "nextLayer" << 2 << 2 << 2 << 2;
    QTest::newRow("previous layer") << "previousLayer" << 2 << 1 << 1 << 1;
    QTest::newRow("previous layer clamps") << "previousLayer" << 0 << 1 << 0 << 1;
}

void TestWidgets::selectionNavigation()
{
    QFETCH(QString, op);
    QFETCH(int, layer);
    QFETCH(int, head);
    QFETCH(int, expectedLayer);
    QFETCH(int, expectedHead);
    Selection s;
    s.setBounds(3, 4, 6);
    s.setLayerHead(layer, head);
    QVERIFY(QMetaObject::invokeMethod(&s, op.toLatin1().constData()));
    QCOMPARE(s.layer(), expectedLayer);
    QCOMPARE(s.head(), expectedHead);
}

void TestWidgets::selectionSignals()
{
    Selection s;
    QSignalSpy changed(&s, &Selection::changed);
    QSignalSpy layer(&s, &Selection::layerChanged);
    QSignalSpy head(&s, &Selection::headChanged);
    QSignalSpy query(&s, &Selection::queryChanged);
    s.setBounds(3, 4, 6);
    QCOMPARE(s.layer(), 0); // bounds give a layer and head to show
    QCOMPARE(s.head(), 0);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(layer.count(), 1);

    changed.clear();
    layer.clear();
    head.clear();
    s.setLayerHead(2, 3);
    QCOMPARE(changed.count(), 1); // one change, one changed()
    QCOMPARE(layer.count(), 1);
    QCOMPARE(layer.at(0).at(0).toInt(), 2);
    QCOMPARE(head.count(), 1);
    QCOMPARE(head.at(0).at(0).toInt(), 3);
    QCOMPARE(query.count(), 0);

    changed.clear();
    s.setLayerHead(2, 3); // no change, no signal
    s.setLayer(99);       // clamps to the current 2: no change either
    QCOMPARE(changed.count(), 0);

    s.setCell(4, 1);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(query.count(), 1);
    QCOMPARE(s.query(), 4);
    QCOMPARE(s.key(), 1);
}

void TestWidgets::selectionBounds()
{
    Selection s;
    QCOMPARE(s.layer(), -1);
    QCOMPARE(s.head(), -1);
    s.setLayer(2); // no bounds yet: stays none
    QCOMPARE(s.layer(), -1);

    s.setBounds(4, 4, 10);
    s.setLayerHead(3, 3);
    s.setCell(8, 2);
    // A shorter prompt and a smaller model: layer/head clamp, the query outside is cleared.
    s.setBounds(2, 2, 5);
    QCOMPARE(s.layer(), 1);
    QCOMPARE(s.head(), 1);
    QCOMPARE(s.query(), -1);
    QCOMPARE(s.key(), 2);

    s.setBounds(0, 0, 0);
    QCOMPARE(s.layer(), -1);
    QCOMPARE(s.head(), -1);
    QCOMPARE(s.key(), -1);
}
