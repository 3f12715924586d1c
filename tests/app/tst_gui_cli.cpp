// SPDX-License-Identifier: GPL-3.0-or-later
// The GUI program's command line, run as a process offscreen: every registered view can be
// captured with --screenshot, and what the user asked for is never replaced by a default.
#include "colormaps.h"
#include "tinymodels.h"
#include "viewregistry.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace sinkscope;

class TestGuiCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void screenshotOfEveryView_data();
    void screenshotOfEveryView();
    void refusesWhatItCannotDo_data();
    void refusesWhatItCannotDo();
    void viewsThatRunAJobFirst();
    void longPromptShotShowsTheMap();

private:
    int runGui(const QStringList& args, QByteArray* err);
    QTemporaryDir m_tmp;
    QString m_model;
    QString m_runtime;
    test::TinyLlamaSpec m_spec;
};

void TestGuiCli::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    m_model = QDir(m_tmp.path()).filePath("tiny");
    m_spec = test::writeTinyLlamaWithTokenizer(m_model, 4);
    // Qt wants a private runtime folder; without one it says so on stderr.
    m_runtime = QDir(m_tmp.path()).filePath("runtime");
    QVERIFY(QDir().mkpath(m_runtime));
    QFile::setPermissions(m_runtime, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
}

int TestGuiCli::runGui(const QStringList& args, QByteArray* err)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("QT_QPA_PLATFORM", "offscreen");
    // Settings and caches of this run stay in the test's folder.
    env.insert("HOME", m_tmp.path());
    env.insert("XDG_CONFIG_HOME", QDir(m_tmp.path()).filePath("config"));
    env.insert("XDG_CACHE_HOME", QDir(m_tmp.path()).filePath("cache"));
    env.insert("XDG_RUNTIME_DIR", m_runtime);
    p.setProcessEnvironment(env);
    p.start(SINKSCOPE_GUI_PATH, QStringList{"--no-demo"} + args);
    if (!p.waitForFinished(60000)) {
        p.kill();
        p.waitForFinished();
        return -1;
    }
    *err = p.readAllStandardError();
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

void TestGuiCli::screenshotOfEveryView_data()
{
    QTest::addColumn<QString>("view");
    for (const QString& name : ViewRegistry::global().names())
        QTest::newRow(qPrintable(name)) << name;
}

void TestGuiCli::screenshotOfEveryView()
{
    QFETCH(QString, view);
    const QString png = QDir(m_tmp.path()).filePath(view + ".png");
    QByteArray err;
    const int rc = runGui({"--model", m_model, "--prompt", "hello world", "--view", view, "--layer", "2", "--head", "1",
                           "--size", "1200x800", "--screenshot", png},
                          &err);
    QVERIFY2(rc == 0, err.constData());
    const QImage image(png);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), QSize(1200, 800));
}

void TestGuiCli::refusesWhatItCannotDo_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message"); // %VIEWS% = the registered names
    QTest::newRow("unknown view") << QStringList{"--view", "heatmaps"} << "error: Unknown view 'heatmaps'. The views are: %VIEWS%.\n";
    QTest::newRow("layer not a number") << QStringList{"--layer", "two"} << "error: --layer must be a whole number >= 0, not 'two'.\n";
    QTest::newRow("negative head") << QStringList{"--head", "-1"} << "error: --head must be a whole number >= 0, not '-1'.\n";
    QTest::newRow("empty prompt") << QStringList{"--prompt", "", "--screenshot", "x.png"} << "error: --prompt is empty: give the text to run.\n";
    QTest::newRow("blank prompt") << QStringList{"--prompt", "  ", "--screenshot", "x.png"}
                                  << "error: --prompt contains only whitespace: give the text to run.\n";
    QTest::newRow("layer outside the model") << QStringList{"--model", "%MODEL%", "--prompt", "hi", "--layer", "9", "--screenshot", "x.png"}
                                             << "error: --layer 9 is outside the model: it has 4 layers (0 to 3).\n";
    QTest::newRow("head outside the model") << QStringList{"--model", "%MODEL%", "--prompt", "hi", "--head", "%HEADS%", "--screenshot", "x.png"}
                                            << "error: --head %HEADS% is outside the model: it has %HEADS% heads (0 to %LAST%).\n";
    QTest::newRow("bad control") << QStringList{"--prompt", "hi", "--control", "mask:3", "--screenshot", "x.png"}
                                 << "error: --control: Control 'mask:3' is not one of block:J, designate:J, positions:shift=D, "
                                    "positions:J=0, evict:K,W.\n";
    QTest::newRow("control too small") << QStringList{"--prompt", "hi", "--control", "evict:0,1"}
                                       << "error: --control: Control 'evict:0,1': K + W must be at least 2 (with K + W = 1 every query sees only itself).\n";
    QTest::newRow("control in another view") << QStringList{"--prompt", "hi", "--view", "heatmap", "--control", "block:1"}
                                             << "error: --control is applied in the controls view: use it with --view controls (or "
                                                "without --view).\n";
    QTest::newRow("control without prompt") << QStringList{"--control", "block:1", "--screenshot", "x.png"}
                                            << "error: --control needs a prompt to run on: give --prompt (or --demo, whose sample prompt runs).\n";
}

void TestGuiCli::refusesWhatItCannotDo()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    const int heads = m_spec.heads;
    message.replace("%HEADS%", QString::number(heads)).replace("%LAST%", QString::number(heads - 1));
    for (QString& a : args) {
        a.replace("%MODEL%", m_model).replace("%HEADS%", QString::number(heads));
        if (a == "x.png")
            a = QDir(m_tmp.path()).filePath("refused.png");
    }
    message.replace("%VIEWS%", ViewRegistry::global().names().join(", "));
    QByteArray err;
    const int rc = runGui(args, &err);
    // Only our own lines: the offscreen platform adds notes of its own on stderr.
    QStringList ours;
    for (const QString& line : QString::fromUtf8(err).split('\n'))
        if (line.startsWith("error: "))
            ours << line + '\n';
    QCOMPARE(ours.join(QString()), message);
    QCOMPARE(rc, 2);
    QVERIFY(!QFileInfo::exists(QDir(m_tmp.path()).filePath("refused.png")));
}

// --view controls --control SPEC applies the control before the shot, --view classification runs
// the probes before it; a control the prompt cannot take ends with the job's reason.
void TestGuiCli::viewsThatRunAJobFirst()
{
    const QString prompt = QStringLiteral("hello world hello world hello");
    auto shot = [&](const QStringList& extra, const QString& name, QByteArray* err) {
        const QString png = QDir(m_tmp.path()).filePath(name);
        const int rc = runGui(QStringList{"--model", m_model, "--prompt", prompt, "--size", "1000x700", "--screenshot", png} + extra, err);
        return std::pair{rc, QImage(png)};
    };
    QByteArray err;
    const auto [rcPick, pick] = shot({"--view", "controls"}, "controls-pick.png", &err);
    QVERIFY2(rcPick == 0, err.constData());
    const auto [rcApplied, applied] = shot({"--control", "block:0"}, "controls-applied.png", &err);
    QVERIFY2(rcApplied == 0, err.constData());
    QCOMPARE(applied.size(), QSize(1000, 700));
    // The shot waited for the control: the figure replaced the pick-a-control page.
    QVERIFY(applied != pick);
    const auto [rcBad, bad] = shot({"--view", "controls", "--control", "block:99"}, "controls-bad.png", &err);
    QCOMPARE(rcBad, 1);
    QVERIFY2(err.contains("error: Control failed:") && err.contains("outside the prompt"), err.constData());
    QVERIFY(bad.isNull());
    const auto [rcClass, classified] = shot({"--view", "classification"}, "classification.png", &err);
    QVERIFY2(rcClass == 0, err.constData());
    QVERIFY(!classified.isNull());
}

void TestGuiCli::longPromptShotShowsTheMap()
{
    // More than 1024 tokens: the heatmap is binned off the GUI thread, and the screenshot waits
    // for it instead of catching the "computing the map" page.
    const QString model = QDir(m_tmp.path()).filePath("tiny-long");
    test::writeTinyLlamaWithTokenizer(model, 2, 1, 2048);
    const QString prompt = QStringLiteral("hello world ").repeated(120); // about 1200 tokens
    const QString png = QDir(m_tmp.path()).filePath("long-heatmap.png");
    QByteArray err;
    const int rc = runGui({"--model", model, "--prompt", prompt, "--view", "heatmap", "--layer", "1", "--head", "1", "--size", "1000x700",
                           "--screenshot", png},
                          &err);
    QVERIFY2(rc == 0, err.constData());
    const QImage image = QImage(png).convertToFormat(QImage::Format_RGB32);
    QCOMPARE(image.size(), QSize(1000, 700));
    // The map's cells: the low end of the colour map (viridis, dark purple) covers much of the
    // plot, since a long causal map spreads its attention thin; the placeholder page has none.
    const QColor low = colorMapColor(ColorMap::Viridis, 0.0);
    qint64 cells = 0;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
            const QColor c = image.pixelColor(x, y);
            cells += std::abs(c.red() - low.red()) + std::abs(c.green() - low.green()) + std::abs(c.blue() - low.blue()) < 40;
        }
    QVERIFY2(cells > image.width() * image.height() / 20, qPrintable(QString::number(cells)));
}

QTEST_GUILESS_MAIN(TestGuiCli)
#include "tst_gui_cli.moc"
