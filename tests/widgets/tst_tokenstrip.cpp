// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "currentresult.h"
#include "selection.h"
#include "tokenlabels.h"
#include "tokenstrip.h"
#include "widgetstestdata.h"

#include <QApplication>
#include <QHelpEvent>
#include <QSignalSpy>
#include <QToolTip>
#include <QTest>

using namespace sinkscope;
using ChipKind = TokenStrip::ChipKind;

Q_DECLARE_METATYPE(sinkscope::TokenStrip::ChipKind)

void TestWidgets::tokenStripChips_data()
{
    QTest::addColumn<bool>("bosAdded");
    QTest::addColumn<int>("index");
    QTest::addColumn<ChipKind>("kind");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("caption");
    QTest::addColumn<QString>("status");
    const QString withBos = QStringLiteral("6 tokens · BOS added by the tokenizer");
    const QString noBos = QStringLiteral("6 tokens · no BOS");
    QTest::newRow("BOS") << true << 0 << ChipKind::Bos << "<s>" << "BOS" << withBos;
    QTest::newRow("word with space") << true << 1 << ChipKind::Normal << "·The" << "1" << withBos;
    QTest::newRow("comma") << true << 3 << ChipKind::Normal << "," << "3" << withBos;
    QTest::newRow("newline") << true << 5 << ChipKind::Normal << "↵" << "5" << withBos;
    QTest::newRow("no BOS, first word") << false << 0 << ChipKind::Normal << "·The" << "0" << noBos;
}

void TestWidgets::tokenStripChips()
{
    QFETCH(bool, bosAdded);
    QFETCH(int, index);
    QFETCH(ChipKind, kind);
    QFETCH(QString, text);
    QFETCH(QString, caption);
    QFETCH(QString, status);

    Selection selection;
    CurrentResult current(&selection);
    TokenStrip strip(&current, &selection);
    test::CannedRun spec;
    spec.bosAdded = bosAdded;
    current.setResult(test::makeCannedRun(spec));
    QCOMPARE(strip.count(), 6);
    QCOMPARE(strip.chipKind(index), kind);
    QCOMPARE(strip.chipText(index), text);
    QCOMPARE(strip.chipCaption(index), caption);
    QCOMPARE(strip.statusText(), status);

    const Token& token = strip.encoding().tokens[size_t(index)];
    const QString tip = strip.chipToolTip(index);
    QVERIFY2(tip.contains(QStringLiteral("id %1").arg(token.id)), qPrintable(tip));
    QVERIFY2(tip.contains(QStringLiteral("piece ") + QString::fromStdString(token.piece)), qPrintable(tip));
    if (token.end > token.start)
        QVERIFY2(tip.contains(QStringLiteral("[%1, %2)").arg(token.start).arg(token.end)), qPrintable(tip));
    if (kind == ChipKind::Bos)
        QVERIFY2(tip.contains(QStringLiteral("added by the tokenizer")), qPrintable(tip));

    // Chips are laid out left to right without overlapping.
    for (int i = 1; i < strip.count(); ++i)
        QVERIFY(strip.chipRect(i).left() > strip.chipRect(i - 1).right());
    QCOMPARE(strip.chipAt(strip.chipRect(index).center()), index);

    current.setResult(nullptr);
    QCOMPARE(strip.count(), 0);
}

void TestWidgets::tokenStripMarksSpecials()
{
    Selection selection;
    CurrentResult current(&selection);
    TokenStrip strip(&current, &selection);
    Encoding e = test::makeCannedEncoding(5, true);
    e.tokens[3].special = true; // a special in the middle, e.g. [SEP]
    e.tokens[3].display = "</s>";
    strip.setEncoding(e);
    QCOMPARE(strip.chipKind(3), ChipKind::Special);
    QCOMPARE(strip.chipText(3), QStringLiteral("</s>"));
    QVERIFY(TokenStrip::fillColor(ChipKind::Special) != TokenStrip::fillColor(ChipKind::Normal));
    QVERIFY(TokenStrip::borderColor(ChipKind::Special) != TokenStrip::borderColor(ChipKind::Normal));

    // The marking is visible in the rendering, not only in the model: sample the chip fill
    // between the frame and the text.
    const QImage image = strip.chipArea()->grab().toImage();
    auto fillOf = [&](int index) {
        const QRect r = strip.chipRect(index);
        return image.pixelColor(r.left() + 3, r.top() + r.height() / 2).rgb();
    };
    QCOMPARE(fillOf(1), TokenStrip::fillColor(ChipKind::Normal).rgb());
    QCOMPARE(fillOf(3), TokenStrip::fillColor(ChipKind::Special).rgb());
    QCOMPARE(fillOf(0), TokenStrip::fillColor(ChipKind::Bos).rgb());
}

void TestWidgets::tokenStripClickSelectsQuery()
{
    Selection selection;
    CurrentResult current(&selection);
    TokenStrip strip(&current, &selection);
    current.setResult(test::makeCannedRun({}));
    strip.resize(600, strip.sizeHint().height());
    strip.show();
    QVERIFY(QTest::qWaitForWindowExposed(&strip));
    QSignalSpy clicked(&strip, &TokenStrip::tokenClicked);
    QTest::mouseClick(strip.chipArea(), Qt::LeftButton, {}, strip.chipRect(4).center());
    QCOMPARE(clicked.count(), 1);
    QCOMPARE(clicked.at(0).at(0).toInt(), 4);
    QCOMPARE(selection.query(), 4);
    // Hovering a chip shows its description.
    const QPoint bos = strip.chipRect(0).center();
    QHelpEvent help(QEvent::ToolTip, bos, strip.chipArea()->mapToGlobal(bos));
    QApplication::sendEvent(strip.chipArea(), &help);
    QTRY_VERIFY(QToolTip::isVisible());
    QCOMPARE(QToolTip::text(), toolTipHtml(strip.chipToolTip(0)));
    QToolTip::hideText();

    // Between chips: nothing happens.
    QTest::mouseClick(strip.chipArea(), Qt::LeftButton, {}, strip.chipRect(4).topRight() + QPoint(2, 0));
    QCOMPARE(clicked.count(), 1);
}
