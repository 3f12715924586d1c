// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli figure end to end on the demo decoder: every registered view into PDF, SVG and
// PNG with its CSV and JSON beside it; PNG pixel sizes from preset and DPI; figures from a
// session whose model folder is gone; errors naming what is valid. No display is needed: the
// command runs offscreen by itself (the test removes QT_QPA_PLATFORM to prove it).
#include "clirunner.h"

#include "sinkscope/demomodels.h"
#include "sinkscope/model.h"
#include "sinkscope/session.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QTest>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {
const char* kPrompt = "the cat sat on the mat. the dog slept.";

Outcome figure(const QStringList& args)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("QT_QPA_PLATFORM")); // the command must choose offscreen itself
    env.remove(QStringLiteral("DISPLAY"));
    env.remove(QStringLiteral("WAYLAND_DISPLAY"));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(SINKSCOPE_CLI_PATH), QStringList{QStringLiteral("figure")} + args);
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}
} // namespace

class TestFigureCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_model = QDir(m_tmp.path()).filePath("demo");
        writeDemoModel(DemoKind::Decoder, m_model.toStdString());
    }

    void viewsAndFormats_data()
    {
        QTest::addColumn<QString>("view");
        QTest::addColumn<QString>("suffix");
        // Every single-run view once, the formats spread over them (the widget suite exports
        // every view in every format; this checks the command end to end).
        const std::pair<const char*, const char*> rows[] = {
            {"heatmap", "pdf"}, {"overview", "svg"}, {"values", "png"}, {"hidden", "pdf"}};
        for (const auto& [view, suffix] : rows)
            QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(view, suffix))) << view << suffix;
    }
    void viewsAndFormats()
    {
        QFETCH(QString, view);
        QFETCH(QString, suffix);
        const QString out = QDir(m_tmp.path()).filePath(view + "." + suffix);
        const Outcome o = figure({"--model", m_model, "--prompt", kPrompt, "--view", view, "--layer", "0", "--head", "1",
                                  "--out", out});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        QVERIFY(QFile::exists(out));
        const QString stem = QDir(m_tmp.path()).filePath(view);
        const QByteArray csv = readAll(stem + ".csv");
        QVERIFY2(csv.count('\n') >= 2, csv.constData()); // a header and data
        const QJsonObject j = readJson(stem + ".json");
        QCOMPARE(j["view"]["name"].toString(), view);
        QCOMPARE(j["view"]["layer"].toInt(), 0);
        QCOMPARE(j["view"]["head"].toInt(), 1);
        QCOMPARE(j["figure"]["file"].toString(), view + "." + suffix);
        // The views of several panels side by side are drawn at two columns unless asked.
        const bool wide = view == "values" || view == "hidden" || view == "compare" || view == "controls";
        QCOMPARE(j["figure"]["preset"].toString(), wide ? "two-column" : "one-column");
        QCOMPARE(j["model"]["path"].toString(), QDir(m_model).absolutePath());
        QCOMPARE(j["model"]["family"].toString(), "gpt2");
        QCOMPARE(j["runs"][0]["prompt"].toString(), kPrompt);
        QCOMPARE(j["runs"][0]["bos_policy"].toString(), "auto");
        QVERIFY(j["runs"][0]["token_ids"].toArray().size() > 5);
        QCOMPARE(j["runs"][0]["T"].toInt(), j["runs"][0]["token_ids"].toArray().size());
        QVERIFY(!j["metrics"].toArray().isEmpty());
        QCOMPARE(j["app_version"].toString(), "0.1.0");
        if (suffix == "png") {
            const QImage image(out);
            // 3.3 x 2.6 in (6.9 x 3.2 in for the views of several panels) at the default 300 dpi
            QCOMPARE(image.size(), wide ? QSize(2070, 960) : QSize(990, 780));
        } else if (suffix == "svg") {
            QVERIFY(readAll(out).contains("<text"));
        } else {
            QVERIFY(readAll(out).startsWith("%PDF-"));
        }
    }

    void pngSizeFromPresetAndDpi_data()
    {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<QString>("dpi");
        QTest::addColumn<QSize>("size");
        QTest::newRow("two-column 200") << "two-column" << "200" << QSize(1380, 640);
        QTest::newRow("80x60mm 254") << "80x60mm" << "254" << QSize(800, 600);
    }
    void pngSizeFromPresetAndDpi()
    {
        QFETCH(QString, preset);
        QFETCH(QString, dpi);
        QFETCH(QSize, size);
        const QString out = QDir(m_tmp.path()).filePath("sized.png");
        const Outcome o = figure({"--model", m_model, "--prompt", kPrompt, "--view", "heatmap", "--preset", preset,
                                  "--dpi", dpi, "--out", out});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        QCOMPARE(QImage(out).size(), size);
        const QJsonObject sidecar = readJson(QDir(m_tmp.path()).filePath("sized.json"));
        QCOMPARE(sidecar["figure"].toObject()["dpi"].toDouble(), dpi.toDouble());
    }

    void promptSetRecordsWhatWasAveraged()
    {
        const QString prompts = QDir(m_tmp.path()).filePath("prompts.txt");
        QFile f(prompts);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("the cat sat on the mat.\nthe dog sat on the rug.\na bird.\n");
        f.close();
        const QString out = QDir(m_tmp.path()).filePath("set.svg");
        const Outcome o = figure({"--model", m_model, "--prompts", prompts, "--view", "sinks", "--out", out});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        QVERIFY2(o.err.contains("2 of 3 prompts have T = 8"), qPrintable(o.err));
        const QJsonObject j = readJson(QDir(m_tmp.path()).filePath("set.json"));
        QCOMPARE(j["averaged_prompts"].toArray().size(), 2);
        QCOMPARE(j["averaged_prompts"][1].toString(), "the dog sat on the rug.");
        QCOMPARE(j["runs"][0]["prompt"].toString(), "the cat sat on the mat.");
    }

    void fromSessionWithoutTheModel()
    {
        // A session written through the core, then the model folder renamed away.
        QTemporaryDir dir;
        const QString model = QDir(dir.path()).filePath("m");
        writeDemoModel(DemoKind::Decoder, model.toStdString());
        Session s;
        {
            const auto m = Model::load(model.toStdString(), DevicePreference::Cpu);
            RunRequest req;
            req.text = kPrompt;
            SessionRun run;
            run.model = describeModelFolder(model.toStdString());
            run.prompt = kPrompt;
            run.result = m->run(req);
            s.runs.push_back(run);
            s.layer = 0;
            s.head = 1;
            s.view = "heatmap";
        }
        const QString session = QDir(dir.path()).filePath("s.sinkscope");
        saveSession(s, session.toStdString());
        QVERIFY(QDir().rename(model, model + "-gone"));
        const QString out = QDir(dir.path()).filePath("from-session.svg");
        const Outcome o = figure({"--session", session, "--view", "heatmap", "--out", out});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        QVERIFY(readAll(out).contains("<text"));
        const QJsonObject j = readJson(QDir(dir.path()).filePath("from-session.json"));
        QCOMPARE(j["view"]["layer"].toInt(), 0);
        QCOMPARE(j["view"]["head"].toInt(), 1);
        QCOMPARE(j["model"]["path"].toString(), model);
        // The same figure's numbers as from a fresh run of the same prompt (layer 0, head 1).
        QVERIFY(QDir().rename(model + "-gone", model));
        const QString fresh = QDir(dir.path()).filePath("fresh.svg");
        QCOMPARE(figure({"--model", model, "--prompt", kPrompt, "--view", "heatmap", "--layer", "0", "--head", "1",
                         "--out", fresh}).code, 0);
        QCOMPARE(readAll(QDir(dir.path()).filePath("from-session.csv")), readAll(QDir(dir.path()).filePath("fresh.csv")));
    }

    // A session whose compare view showed a pair (Send to Compare: a pinned A that is not the main
    // run): the compare figure draws that A against B, names them by the pair's labels, and its
    // record lists exactly those two runs.
    void compareFigureOfASessionPair()
    {
        QTemporaryDir dir;
        Session s;
        std::vector<std::vector<int32_t>> ids;
        {
            const auto m = Model::load(m_model.toStdString(), DevicePreference::Cpu);
            const char* prompts[] = {kPrompt, "the cat sat on the mat.", "a cat."};
            const char* labels[] = {"", "with it", "without it"};
            for (int i = 0; i < 3; ++i) {
                RunRequest req;
                req.text = prompts[i];
                SessionRun run;
                run.model = describeModelFolder(m_model.toStdString());
                run.prompt = prompts[i];
                run.label = labels[i];
                run.result = m->run(req);
                ids.push_back(run.result->encoding.ids());
                s.runs.push_back(run);
            }
        }
        s.pair = SessionPair{2, 1};
        s.layer = 0;
        s.head = 1;
        QVERIFY(ids[0].size() != ids[1].size() && ids[1].size() != ids[2].size() && ids[0].size() != ids[2].size());
        const QString session = QDir(dir.path()).filePath("pair.sinkscope");
        saveSession(s, session.toStdString());
        const QString out = QDir(dir.path()).filePath("pair.svg");
        const Outcome o = figure({"--session", session, "--view", "compare", "--out", out});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        const QJsonObject j = readJson(QDir(dir.path()).filePath("pair.json"));
        const QJsonArray runs = j["runs"].toArray();
        QCOMPARE(runs.size(), 2);
        QCOMPARE(runs[0]["label"].toString(), QString("without it"));
        QCOMPARE(runs[1]["label"].toString(), QString("with it"));
        for (int side = 0; side < 2; ++side) {
            const std::vector<int32_t>& want = ids[side == 0 ? 2 : 1];
            const QJsonArray got = runs[side]["token_ids"].toArray();
            QCOMPARE(size_t(got.size()), want.size());
            for (size_t t = 0; t < want.size(); ++t)
                QCOMPARE(got[qsizetype(t)].toInt(), want[t]);
        }
        // The title names both sides by their labels, as the window's compare view does.
        const QByteArray svg = readAll(out);
        QVERIFY(svg.contains("without it"));
        QVERIFY(svg.contains("with it"));
        // The data are A's and B's cells: A ("a cat.") is the shorter run, so the aligned queries
        // of A stop before its own T.
        int maxQueryA = -1;
        for (const QByteArray& line : readAll(QDir(dir.path()).filePath("pair.csv")).split('\n')) {
            const QList<QByteArray> f = line.split(',');
            if (f.size() == 7 && f[0] != "query_a")
                maxQueryA = std::max(maxQueryA, f[0].toInt());
        }
        QCOMPARE(maxQueryA, int(ids[2].size()) - 1);
    }

    void controlsAndClassificationFigures()
    {
        // The controls view draws a control the command applies: blocking element 0 of the demo
        // decoder, whose L0.H0 is a planted first-position waiver (its mass on element 0 near 1),
        // leaves every head nothing on element 0.
        const QString controls = QDir(m_tmp.path()).filePath("controls.pdf");
        Outcome o = figure({"--model", m_model, "--prompt", kPrompt, "--view", "controls", "--control", "block:0", "--out", controls});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        QVERIFY(o.err.contains("drawn at the two-column preset"));
        QVERIFY(readAll(controls).startsWith("%PDF-"));
        const QByteArray csv = readAll(QDir(m_tmp.path()).filePath("controls.csv"));
        QVERIFY(csv.startsWith("series,layer,head,position,key,value\n"));
        QVERIFY(csv.contains("\nfirst_mass_before,0,0,,,0.99"));
        for (int h = 0; h < 4; ++h)
            QVERIFY(csv.contains(QByteArray("\nfirst_mass_after,0,") + QByteArray::number(h) + ",,,0\n"));
        QVERIFY(csv.contains("\nmap_after,0,0,1,0,0\n")); // the blocked key, in the selected head's map
        const QJsonObject j = readJson(QDir(m_tmp.path()).filePath("controls.json"));
        QCOMPARE(j["view"]["name"].toString(), "controls");
        QCOMPARE(j["figure"]["preset"].toString(), "two-column");

        // The classification view: the command runs the probes; the planted waivers come out as
        // the verdicts (L0.H0 positional, L0.H1 the "." elements: feature).
        const QString cls = QDir(m_tmp.path()).filePath("verdicts.png");
        o = figure({"--model", m_model, "--prompt", kPrompt, "--view", "classification", "--out", cls});
        QVERIFY2(o.code == 0, qPrintable(o.err));
        QVERIFY(o.err.contains("not one plot"));
        const QByteArray table = readAll(QDir(m_tmp.path()).filePath("verdicts.csv"));
        QVERIFY2(table.contains("\n0,0,positional,"), table.constData());
        QVERIFY2(table.contains("\n0,1,feature,"), table.constData());
        const QJsonObject k = readJson(QDir(m_tmp.path()).filePath("verdicts.json"));
        QCOMPARE(k["view"]["name"].toString(), "classification");
        QCOMPARE(k["figure"]["preset"].toString(), "window");
        // The view's figure area, laid out in a 1280 x 860 px view (less its buttons and margins).
        const QImage image(cls);
        QVERIFY2(image.width() > 1000 && image.width() <= 1280 && image.height() > 700 && image.height() <= 860,
                 qPrintable(QStringLiteral("%1 x %2").arg(image.width()).arg(image.height())));
    }

    void errors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        const QString out = QDir(m_tmp.path()).filePath("bad.pdf");
        QTest::newRow("unknown view") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "nope", "--out", out}
                                      << 1 << "error: Unknown view 'nope'. The views are: heatmap, overview, sinks, values, hidden, compare";
        QTest::newRow("layer") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "heatmap", "--layer", "9", "--out", out}
                               << 1 << "error: Layer 9 is not in the model: the layers are 0 to 3.";
        QTest::newRow("head") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "heatmap", "--head", "4", "--out", out}
                              << 1 << "error: Head 4 is not in the model: the heads are 0 to 3.";
        QTest::newRow("format") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "heatmap", "--out", "x.gif"}
                                << 2 << "error: --out must end in .pdf, .svg or .png";
        QTest::newRow("preset") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "heatmap", "--preset", "a4", "--out", out}
                                << 2 << "error: Unknown figure size 'a4'";
        QTest::newRow("dpi") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "heatmap", "--dpi", "5", "--out", out}
                             << 2 << "error: --dpi must be an integer from 72 to 2400";
        QTest::newRow("two sources") << QStringList{"--model", m_model, "--prompt", "a", "--session", "s", "--view", "heatmap", "--out", out}
                                     << 2 << "error: give exactly one of --prompt, --prompts and --session";
        QTest::newRow("no model") << QStringList{"--prompt", "a", "--view", "heatmap", "--out", out}
                                  << 2 << "error: missing --model";
        QTest::newRow("compare needs two runs") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "compare", "--out", out}
                                                << 1 << "error: The compare view needs two runs";
        QTest::newRow("controls without a control") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "controls", "--out", out}
                                                    << 2 << "error: --view controls needs --control SPEC";
        QTest::newRow("control elsewhere") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "heatmap", "--control", "block:0", "--out", out}
                                           << 2 << "error: --control applies to --view controls only";
        // Refused before the model is loaded: this model folder does not exist.
        QTest::newRow("bad control") << QStringList{"--model", QDir(m_tmp.path()).filePath("no-model"), "--prompt", "a b", "--view",
                                                    "controls", "--control", "block:x", "--out", out}
                                     << 2 << "error: --control: ";
        QTest::newRow("controls of a prompt set") << QStringList{"--model", m_model, "--prompts", "p.txt", "--view", "controls", "--control",
                                                                 "block:0", "--out", out}
                                                  << 2 << "error: --view controls draws one prompt's maps";
        QTest::newRow("classification as pdf") << QStringList{"--model", m_model, "--prompt", "a b", "--view", "classification", "--out", out}
                                               << 2 << "is written as PNG only";
        QTest::newRow("controls of a session") << QStringList{"--session", "s", "--view", "controls", "--control", "block:0", "--out", out}
                                               << 2 << "runs the model";
        QTest::newRow("bad session") << QStringList{"--session", QDir(m_tmp.path()).filePath("nope.sinkscope"), "--view", "heatmap", "--out", out}
                                     << 1 << "does not exist";
        // Two maps and their curves side by side leave each map under 40 px at one column.
        QTest::newRow("controls at one column") << QStringList{"--model", m_model, "--prompt", kPrompt, "--view", "controls", "--control",
                                                               "block:0", "--preset", "one-column", "--out", out}
                                                << 1 << "A 3.3 × 2.6 in figure is too small for this plot: a panel would be";
    }
    void errors()
    {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, message);
        const Outcome o = figure(args);
        QCOMPARE(o.code, code);
        QVERIFY2(o.err.contains(message), qPrintable(o.err));
        QVERIFY(!QFile::exists(QDir(m_tmp.path()).filePath("bad.pdf")));
        QVERIFY(!QFile::exists(QDir(m_tmp.path()).filePath("bad.csv")));
        QVERIFY(!QFile::exists(QDir(m_tmp.path()).filePath("bad.json")));
    }

private:
    QTemporaryDir m_tmp;
    QString m_model;
};

QTEST_GUILESS_MAIN(TestFigureCli)
#include "tst_figure_cli.moc"
