// SPDX-License-Identifier: GPL-3.0-or-later
// Figures for papers: presets and DPI give the exact physical and pixel sizes; PDF and SVG keep
// their text as text (read back with pdftotext and an XML parse); fonts come out at print size,
// not shrunk from a screen layout; the colour maps hit their published anchor colours; the
// CSV and the JSON sidecar stand beside the figure with the keys the docs promise.
#include "colormaps.h"
#include "compareview.h"
#include "currentresult.h"
#include "figureexport.h"
#include "figuresidecar.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "viewregistry.h"
#include "widgetstestdata.h"

#include <QApplication>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QWidget>
#include <QXmlStreamReader>

#include <atomic>
#include <cmath>
#include <optional>

using namespace sinkscope;

namespace {

// A heatmap-like plot built here (not one of the views): key/query axes, a labelled colour bar,
// a title; drawn at screen size before any export, like a plot that was on screen.
struct TestPlot {
    QCustomPlot plot;
    QCPColorScale* scale = nullptr;
    TestPlot()
    {
        plot.resize(900, 700);
        plot.xAxis->setLabel(QStringLiteral("keyaxis"));
        plot.yAxis->setLabel(QStringLiteral("queryaxis"));
        auto* map = new QCPColorMap(plot.xAxis, plot.yAxis);
        map->setInterpolate(false); // solid cells: one exact colour per value
        map->data()->setSize(4, 4);
        map->data()->setRange(QCPRange(0, 3), QCPRange(0, 3));
        for (int x = 0; x < 4; ++x)
            for (int y = 0; y < 4; ++y)
                map->data()->setCell(x, y, (x + 4 * y) / 15.0);
        scale = new QCPColorScale(&plot);
        plot.plotLayout()->addElement(0, 1, scale);
        scale->setLabel(QStringLiteral("probability"));
        map->setColorScale(scale);
        scale->setGradient(colorMapGradient(ColorMap::Viridis));
        map->setDataRange(QCPRange(0, 1));
        plot.rescaleAxes();
        plot.replot();
    }
};

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QString tool(const char* name)
{
    return QStandardPaths::findExecutable(QString::fromLatin1(name));
}

} // namespace

class TestPaperFigures : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void presets_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<double>("w");
        QTest::addColumn<double>("h");
        QTest::newRow("one-column") << "one-column" << 3.3 << 2.6;
        QTest::newRow("two-column") << "two-column" << 6.9 << 3.2;
        QTest::newRow("inches") << "4x3" << 4.0 << 3.0;
        QTest::newRow("inches unit") << "4.5x2in" << 4.5 << 2.0;
        QTest::newRow("mm") << "90x60mm" << 90 / 25.4 << 60 / 25.4;
        QTest::newRow("cm") << "8.5x6cm" << 8.5 / 2.54 << 6 / 2.54;
    }
    void presets()
    {
        QFETCH(QString, text);
        QFETCH(double, w);
        QFETCH(double, h);
        const auto p = parseFigurePreset(text);
        QVERIFY(p);
        QCOMPARE(p->widthIn, w);
        QCOMPARE(p->heightIn, h);
    }

    void badPresets_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("name") << "three-column" << "use one-column, two-column or WxH";
        QTest::newRow("unit") << "4x3ft" << "use one-column, two-column or WxH";
        QTest::newRow("tiny") << "0.5x3" << "from 1 to 20 in";
        QTest::newRow("huge") << "600x60mm" << "from 1 to 20 in";
        QTest::newRow("negative") << "-4x3" << "use one-column";
    }
    void badPresets()
    {
        QFETCH(QString, text);
        QFETCH(QString, message);
        QString error;
        QVERIFY(!parseFigurePreset(text, &error));
        QVERIFY2(error.contains(message), qPrintable(error));
    }

    void pngPixelSizeFollowsPresetAndDpi_data()
    {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<int>("dpi");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        // round(inches * dpi), computed by hand.
        QTest::newRow("one-column 300") << "one-column" << 300 << 990 << 780;
        QTest::newRow("one-column 600") << "one-column" << 600 << 1980 << 1560;
        QTest::newRow("two-column 150") << "two-column" << 150 << 1035 << 480;
        QTest::newRow("90x60mm 200") << "90x60mm" << 200 << 709 << 472;
    }
    void pngPixelSizeFollowsPresetAndDpi()
    {
        QFETCH(QString, preset);
        QFETCH(int, dpi);
        QFETCH(int, width);
        QFETCH(int, height);
        TestPlot t;
        const QFont screenFont = t.plot.xAxis->labelFont();
        QTemporaryDir dir;
        const QString file = dir.filePath("fig.png");
        QString error;
        QVERIFY2(exportFigure(&t.plot, file, &error, printFigureOptions(*parseFigurePreset(preset), 9, dpi)), qPrintable(error));
        const QImage image(file);
        QCOMPARE(image.size(), QSize(width, height));
        QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), dpi);
        // The plot on screen is untouched by the export.
        QCOMPARE(t.plot.size(), QSize(900, 700));
        QCOMPARE(t.plot.xAxis->labelFont(), screenFont);
    }

    void pdfHasVectorTextAtPrintSize()
    {
        const QString pdftotext = tool("pdftotext"), pdfinfo = tool("pdfinfo");
        if (pdftotext.isEmpty() || pdfinfo.isEmpty())
            QSKIP("pdftotext/pdfinfo (poppler-utils) not installed; packaging/install-deps.sh installs them");
        TestPlot t;
        QTemporaryDir dir;
        const QString file = dir.filePath("fig.pdf");
        QString error;
        QVERIFY2(exportFigure(&t.plot, file, &error, printFigureOptions(*parseFigurePreset("one-column"), 9)), qPrintable(error));

        QProcess info;
        info.start(pdfinfo, {file});
        QVERIFY(info.waitForFinished(20000));
        const QString infoText = QString::fromUtf8(info.readAllStandardOutput());
        // 3.3 x 2.6 in = 237.6 x 187.2 pt.
        const QRegularExpressionMatch page = QRegularExpression(QStringLiteral(R"(Page size:\s+([\d.]+) x ([\d.]+) pts)")).match(infoText);
        QVERIFY2(page.hasMatch(), qPrintable(infoText));
        QVERIFY(std::abs(page.captured(1).toDouble() - 237.6) < 0.5);
        QVERIFY(std::abs(page.captured(2).toDouble() - 187.2) < 0.5);

        QProcess text;
        text.start(pdftotext, {QStringLiteral("-bbox"), file, QStringLiteral("-")});
        QVERIFY(text.waitForFinished(20000));
        const QString html = QString::fromUtf8(text.readAllStandardOutput());
        for (const char* label : {"keyaxis", "queryaxis", "probability"}) {
            // The word is text in the PDF (not pixels), and its box is about 9 pt tall: a screen
            // layout shrunk onto the page would give about a third of that.
            const QRegularExpression word(QStringLiteral(R"re(<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">%1</word>)re")
                                              .arg(QLatin1String(label)));
            const QRegularExpressionMatch m = word.match(html);
            QVERIFY2(m.hasMatch(), qPrintable(QStringLiteral("%1 not found as text in: %2").arg(QLatin1String(label), html)));
            const double w = m.captured(3).toDouble() - m.captured(1).toDouble();
            const double h = m.captured(4).toDouble() - m.captured(2).toDouble();
            const double extent = std::min(w, h); // rotated labels: the short side is the height
            QVERIFY2(extent > 7.0 && extent < 14.0, qPrintable(QStringLiteral("%1 is %2 pt tall").arg(QLatin1String(label)).arg(extent)));
        }
    }

    void svgHasTextElements()
    {
        TestPlot t;
        QTemporaryDir dir;
        const QString file = dir.filePath("fig.svg");
        QString error;
        QVERIFY2(exportFigure(&t.plot, file, &error, printFigureOptions(*parseFigurePreset("two-column"), 10)), qPrintable(error));
        QXmlStreamReader xml(readAll(file));
        QStringList texts;
        QString width;
        while (!xml.atEnd()) {
            if (xml.readNext() == QXmlStreamReader::StartElement) {
                if (xml.name() == QLatin1String("svg"))
                    width = xml.attributes().value(QLatin1String("width")).toString();
                if (xml.name() == QLatin1String("text"))
                    texts << xml.readElementText(QXmlStreamReader::IncludeChildElements).trimmed();
            }
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QVERIFY2(texts.contains("keyaxis"), qPrintable(texts.join('|')));
        QVERIFY(texts.contains("queryaxis"));
        QVERIFY(texts.contains("probability"));
        // QSvgGenerator states the size in mm: 6.9 in = 175.26 mm (to the 1/96 in the layout uses).
        QVERIFY2(width.endsWith("mm") && std::abs(width.chopped(2).toDouble() - 175.26) < 0.3, qPrintable(width));
    }

    void colorMapAnchors_data()
    {
        QTest::addColumn<QString>("map");
        QTest::addColumn<double>("t");
        QTest::addColumn<QString>("colour");
        // Published end points and centres of the maps.
        QTest::newRow("viridis 0") << "viridis" << 0.0 << "#440154";
        QTest::newRow("viridis 1") << "viridis" << 1.0 << "#fde725";
        QTest::newRow("cividis 0") << "cividis" << 0.0 << "#00224e";
        QTest::newRow("cividis 1") << "cividis" << 1.0 << "#fee838";
        QTest::newRow("diverging 0") << "diverging" << 0.0 << "#053061";
        QTest::newRow("diverging centre") << "diverging" << 0.5 << "#f7f7f7";
        QTest::newRow("diverging 1") << "diverging" << 1.0 << "#67001f";
        QTest::newRow("clamped") << "viridis" << 7.0 << "#fde725";
    }
    void colorMapAnchors()
    {
        QFETCH(QString, map);
        QFETCH(double, t);
        QFETCH(QString, colour);
        QCOMPARE(colorMapColor(*parseColorMap(map), t).name(), colour);
    }

    void sequentialMapsGetBrighter()
    {
        // Perceptually ordered: the luma of viridis and cividis rises monotonically.
        for (ColorMap m : {ColorMap::Viridis, ColorMap::Cividis}) {
            double last = -1;
            for (int i = 0; i <= 100; ++i) {
                const QColor c = colorMapColor(m, i / 100.0);
                const double luma = 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF();
                QVERIFY2(luma > last, qPrintable(colorMapName(m)));
                last = luma;
            }
        }
    }

    void exportAppliesTheColourMap()
    {
        TestPlot t;
        QTemporaryDir dir;
        FigureExportOptions o = printFigureOptions(*parseFigurePreset("4x3"), 9, 100);
        o.colorMap = ColorMap::Cividis;
        QVERIFY(exportFigure(&t.plot, dir.filePath("a.png"), nullptr, o));
        const QImage image(dir.filePath("a.png"));
        // Cell (3,3) holds 1.0: its colour is cividis' top end, found somewhere in the image.
        bool found = false;
        for (int y = 0; y < image.height() && !found; ++y)
            for (int x = 0; x < image.width() && !found; ++x)
                found = image.pixelColor(x, y).name() == QLatin1String("#fee838");
        QVERIFY(found);
        // The on-screen plot keeps its own map.
        QCOMPARE(t.scale->gradient().color(1.0, QCPRange(0, 1)), colorMapColor(ColorMap::Viridis, 1.0).rgb());
    }

    void bundleWritesCsvAndSidecar()
    {
        TestPlot t;
        QTemporaryDir dir;
        const QString file = dir.filePath("fig.pdf");
        FigureProvenance p;
        p.viewName = "heatmap";
        p.viewTitle = "Attention heatmap";
        p.layer = 1;
        p.head = 2;
        p.viewOptions = {{"scale", "linear"}};
        SessionRun run;
        run.model = describeModelFolder("/cache/models--org--tiny/snapshots/deadbeef");
        run.prompt = "The cat";
        run.bos = BosPolicy::On;
        run.result = test::makeCannedRun({});
        p.runs.push_back(run);
        FigureExportOptions o = printFigureOptions(*parseFigurePreset("one-column"), 9, 300);
        o.colorMap = ColorMap::Viridis;
        QString error;
        QVERIFY2(exportFigureBundle(&t.plot, "a,b\n1,2\n", p, file, o, "one-column", &error), qPrintable(error));
        QVERIFY(QFile::exists(file));
        QCOMPARE(readAll(dir.filePath("fig.csv")), QByteArray("a,b\n1,2\n"));
        const QJsonObject j = QJsonDocument::fromJson(readAll(dir.filePath("fig.json"))).object();
        for (const char* key : {"figure", "view", "runs", "model", "dtype", "device", "metrics", "metrics_doc", "app_version", "created"})
            QVERIFY2(j.contains(key), key);
        QCOMPARE(j["model"]["path"].toString(), "/cache/models--org--tiny/snapshots/deadbeef");
        QCOMPARE(j["model"]["hf_repo"].toString(), "org/tiny");
        QCOMPARE(j["model"]["hf_revision"].toString(), "deadbeef");
        QCOMPARE(j["model"]["family"].toString(), QString::fromStdString(run.result->model.modelType));
        const QJsonObject r = j["runs"][0].toObject();
        QCOMPARE(r["prompt"].toString(), "The cat");
        QCOMPARE(r["bos_policy"].toString(), "on");
        QCOMPARE(r["T"].toInt(), int(run.result->tokens));
        QCOMPARE(r["token_ids"].toArray().size(), qsizetype(run.result->tokens));
        QCOMPARE(r["token_ids"][1].toInt(), run.result->encoding.tokens[1].id);
        QCOMPARE(j["view"]["layer"].toInt(), 1);
        QCOMPARE(j["view"]["head"].toInt(), 2);
        QCOMPARE(j["view"]["options"]["scale"].toString(), "linear");
        QCOMPARE(j["view"]["color_scales"][0]["label"].toString(), "probability");
        QCOMPARE(j["view"]["color_scales"][0]["range"][1].toDouble(), 1.0);
        QCOMPARE(j["figure"]["width_in"].toDouble(), 3.3);
        QCOMPARE(j["figure"]["preset"].toString(), "one-column");
        QCOMPARE(j["figure"]["color_map"].toString(), "viridis");
        QVERIFY(j["metrics"][0]["doc"].toString().startsWith("docs/METRICS.md"));
        QVERIFY(!j["metrics"][0]["definition"].toString().isEmpty());
    }

    void bundleRefusesUnknownFormatAndWritesNothing()
    {
        TestPlot t;
        QTemporaryDir dir;
        QString error;
        QVERIFY(!exportFigureBundle(&t.plot, "a\n", {}, dir.filePath("fig.gif"), {}, {}, &error));
        QVERIFY(error.contains(".pdf, .png or .svg"));
        QVERIFY(QDir(dir.path()).entryList(QDir::Files).isEmpty());
    }

    void wholeViewBundleIsAPngOfTheWidget()
    {
        // A view that is not one plot: its widget as a PNG at one pixel per screen pixel, and a
        // sidecar saying so (preset "window", the size in inches at 96 px per inch).
        QWidget widget;
        widget.setFixedSize(288, 192);
        widget.setStyleSheet(QStringLiteral("background: rgb(10, 200, 30)"));
        widget.setAttribute(Qt::WA_DontShowOnScreen);
        widget.show();
        QTemporaryDir dir;
        QString error;
        QVERIFY(!prepareWidgetBundle(&widget, DataExport::ofBytes("a\n1\n"), {}, dir.filePath("view.pdf"), &error));
        QVERIFY2(error.contains("PNG only"), qPrintable(error));
        const QString file = dir.filePath("view.png");
        const std::optional<FigureBundle> b = prepareWidgetBundle(&widget, DataExport::ofBytes("a\n1\n"), {}, file, &error);
        QVERIFY2(b && finishFigureBundle(*b, &error), qPrintable(error));
        const QImage image(file);
        QCOMPARE(image.size(), QSize(288, 192));
        QCOMPARE(image.pixelColor(144, 96), QColor(10, 200, 30));
        QCOMPARE(readAll(dir.filePath("view.csv")), QByteArray("a\n1\n"));
        const QJsonObject j = QJsonDocument::fromJson(readAll(dir.filePath("view.json"))).object();
        QCOMPARE(j["figure"]["preset"].toString(), "window");
        // The widget's 288 x 192 px at the screen's 96 px per inch, one image pixel per widget pixel.
        QCOMPARE(j["figure"]["width_in"].toDouble(), 288.0 / 96.0);
        QCOMPARE(j["figure"]["height_in"].toDouble(), 192.0 / 96.0);
        QCOMPARE(j["figure"]["dpi"].toDouble(), 96.0);
    }

    void cancelledBundleLeavesTheOldFiles()
    {
        // A bundle whose table is cancelled (or fails) while it is written leaves the files of the
        // same names from before as they were, and nothing of its own.
        TestPlot t;
        QTemporaryDir dir;
        const QString file = dir.filePath("fig.pdf");
        for (const char* name : {"fig.pdf", "fig.csv", "fig.json"}) {
            QFile old(dir.filePath(name));
            QVERIFY(old.open(QIODevice::WriteOnly));
            old.write(QByteArray("old ") + name);
        }
        DataExport slow;
        slow.cells = 2;
        slow.job = [](CsvWriter& out) {
            out.buffer() += "a\n";
            out.step(1, 2); // the cancel lands here
            out.buffer() += "1\n";
        };
        QString error;
        const std::optional<FigureBundle> b = prepareFigureBundle(&t.plot, slow, {}, file, {}, {}, &error);
        QVERIFY2(b, qPrintable(error));
        QCOMPARE(readAll(file), QByteArray("old fig.pdf")); // the new figure is not in place yet
        std::atomic<bool> cancel{true};
        QVERIFY(!finishFigureBundle(*b, &error, &cancel));
        QVERIFY2(error.contains("cancelled"), qPrintable(error));
        for (const char* name : {"fig.pdf", "fig.csv", "fig.json"})
            QCOMPARE(readAll(dir.filePath(name)), QByteArray("old ") + name);
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 3);
        // Finished, it replaces all three.
        const std::optional<FigureBundle> again = prepareFigureBundle(&t.plot, slow, {}, file, {}, {}, &error);
        QVERIFY(again && finishFigureBundle(*again, &error));
        QVERIFY(readAll(file).startsWith("%PDF-"));
        QCOMPARE(readAll(dir.filePath("fig.csv")), QByteArray("a\n1\n"));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 3);
    }

    void everyRegisteredViewIsDocumentedAndLabelled_data()
    {
        QTest::addColumn<QString>("name");
        for (const QString& name : ViewRegistry::global().names())
            QTest::newRow(qPrintable(name)) << name;
    }
    void everyRegisteredViewIsDocumentedAndLabelled()
    {
        QFETCH(QString, name);
        const std::vector<MetricDefinition> metrics = viewMetricDefinitions(name);
        QVERIFY2(!metrics.empty(), "the sidecar would name no metric for this view");
        for (const MetricDefinition& m : metrics) {
            QVERIFY(!m.definition.isEmpty());
            QVERIFY(m.doc.startsWith("docs/"));
        }
        Selection selection;
        CurrentResult current(&selection);
        std::unique_ptr<View> view(ViewRegistry::global().find(name)->create(&current, &selection, nullptr));
        if (auto* compare = qobject_cast<CompareView*>(view.get())) {
            SessionRun other;
            other.result = test::makeCannedRun({3, 4, 5, "causal", true, false});
            compare->setOther(other);
        }
        const auto run = test::makeCannedRun({3, 4, 6, "causal", true, true, 1.0, true, true});
        QVERIFY(test::showAnalysed(current, run));
        test::giveCannedJobResult(view.get(), run);
        QVERIFY(view->hasFigure());
        if (!view->plot())
            return;
        QStringList labels;
        for (QCPLayoutElement* e : view->plot()->plotLayout()->elements(true)) {
            if (auto* scale = qobject_cast<QCPColorScale*>(e)) {
                QVERIFY2(!scale->label().trimmed().isEmpty(), "a colour bar without a label");
                labels << scale->label();
            } else if (auto* rect = qobject_cast<QCPAxisRect*>(e)) {
                for (QCPAxis* axis : rect->axes())
                    if (axis->visible() && !axis->label().isEmpty())
                        labels << axis->label();
            }
        }
        // The exported PDF and SVG carry those labels as text. Each label is looked for by its
        // longest plain word (text extraction splits words and drops some symbols).
        QTemporaryDir dir;
        const FigureExportOptions o = printFigureOptions(*parseFigurePreset("two-column"), 9);
        QString error;
        QVERIFY2(exportFigure(view->plot(), dir.filePath("v.svg"), &error, o), qPrintable(error));
        QVERIFY2(exportFigure(view->plot(), dir.filePath("v.pdf"), &error, o), qPrintable(error));
        QString svgText;
        QXmlStreamReader xml(readAll(dir.filePath("v.svg")));
        while (!xml.atEnd())
            if (xml.readNext() == QXmlStreamReader::StartElement && xml.name() == QLatin1String("text"))
                svgText += xml.readElementText(QXmlStreamReader::IncludeChildElements) + QLatin1Char(' ');
        QVERIFY(!xml.hasError());
        QString pdfText;
        if (const QString pdftotext = tool("pdftotext"); !pdftotext.isEmpty()) {
            QProcess p;
            p.start(pdftotext, {dir.filePath("v.pdf"), QStringLiteral("-")});
            QVERIFY(p.waitForFinished(20000));
            pdfText = QString::fromUtf8(p.readAllStandardOutput());
        }
        for (const QString& label : labels) {
            QString word;
            for (const QString& w : label.split(QRegularExpression(QStringLiteral("[^A-Za-z]+")), Qt::SkipEmptyParts))
                if (w.size() > word.size())
                    word = w;
            if (word.isEmpty())
                continue;
            QVERIFY2(svgText.contains(word), qPrintable(QStringLiteral("'%1' not in the SVG text").arg(word)));
            if (!pdfText.isEmpty() || !tool("pdftotext").isEmpty())
                QVERIFY2(pdfText.contains(word), qPrintable(QStringLiteral("'%1' not in the PDF text").arg(word)));
        }
    }

    void companionPaths()
    {
        QCOMPARE(figureCompanionPath("/a/fig.pdf", "csv"), QString("/a/fig.csv"));
        QCOMPARE(figureCompanionPath("/a/my.fig.svg", "json"), QString("/a/my.fig.json"));
    }
};

QTEST_MAIN(TestPaperFigures)
#include "tst_paperfigures.moc"
