// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include <QApplication>
#include <QTest>

void TestWidgets::initTestCase()
{
    // The views must work without a display (CI, headless screenshots): ctest runs offscreen.
    qInfo("platform: %s", qPrintable(QGuiApplication::platformName()));
}

int main(int argc, char** argv)
{
    // Offscreen unless the caller asked for something else explicitly.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QTEST_SET_MAIN_SOURCE_PATH
    TestWidgets tc;
    return QTest::qExec(&tc, argc, argv);
}
