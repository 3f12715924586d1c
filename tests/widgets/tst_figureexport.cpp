// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstests.h"

#include "attentionheatmapview.h"
#include "figureexport.h"
#include "qcustomplot_wrapper.h"
#include "currentresult.h"
#include "selection.h"
#include "sinkcurveview.h"
#include "tokenstrip.h"
#include "widgetstestdata.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>
#include <QVBoxLayout>
#include <QXmlStreamReader>

#include <memory>

using namespace sinkscope;

namespace {
// Where exported files go; SINKSCOPE_TEST_KEEP_DIR keeps them for a look.
QString outputDir(QTemporaryDir& temp)
{
    const QString keep = qEnvironmentVariable("SINKSCOPE_TEST_KEEP_DIR");
    if (!keep.isEmpty()) {
        QDir().mkpath(keep);
        return keep;
    }
    return temp.path();
}

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}
} // namespace

void TestWidgets::exportFigure_data()
{
    QTest::addColumn<QString>("view");
    QTest::addColumn<QString>("suffix");
    for (const char* view : {"heatmap", "sinkcurve"})
        for (const char* suffix : {"pdf", "png", "svg"})
            QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(QLatin1String(view), QLatin1String(suffix))))
                << QString::fromLatin1(view) << QString::fromLatin1(suffix);
}

void TestWidgets::exportFigure()
{
    QFETCH(QString, view);
    QFETCH(QString, suffix);
    QTemporaryDir temp;
    QVERIFY(temp.isValid());
    const QString dir = outputDir(temp);

    Selection selection;
    CurrentResult current(&selection);
    std::unique_ptr<QWidget> widget;
    View* plotView = nullptr;
    auto result = test::makeCannedRun({4, 4, 12, "causal", true, true});
    if (view == QLatin1String("heatmap")) {
        auto* heatmap = new AttentionHeatmapView(&current, &selection);
        current.setResult(result);
        selection.setLayerHead(2, 1);
        selection.setCell(7, 0);
        widget.reset(heatmap);
        plotView = heatmap;
    } else {
        auto* curve = new SinkCurveView(&current, &selection);
        QVERIFY(test::showAnalysed(current, result));
        selection.setLayer(2);
        widget.reset(curve);
        plotView = curve;
    }
    QVERIFY(plotView->hasFigure());
    const QString path = QDir(dir).filePath(plotView->defaultFileName() + QLatin1Char('.') + suffix);
    QFile::remove(path);

    FigureExportOptions options;
    options.size = QSize(640, 480);
    options.pngScale = 1.5;
    options.title = QStringLiteral("test figure");
    QString error;
    QVERIFY2(sinkscope::exportFigure(plotView->plot(), path, &error, options), qPrintable(error));
    QVERIFY(error.isEmpty());
    const QByteArray bytes = readAll(path);
    QVERIFY(!bytes.isEmpty());

    if (suffix == QLatin1String("pdf")) {
        QVERIFY(bytes.startsWith("%PDF-"));
        QVERIFY(bytes.trimmed().endsWith("%%EOF"));
        // Text is set in embedded fonts (vector), not painted into one big picture: the file has
        // font objects, and stays far smaller than a full-page raster would be.
        QVERIFY2(bytes.contains("/Font"), "no fonts in the PDF: text was rasterised");
        QVERIFY2(bytes.size() < 400 * 1024, qPrintable(QString::number(bytes.size())));
        // Images (the colour map, the colour bar) are stored losslessly: JPEG would smear cells.
        QVERIFY(!bytes.contains("/DCTDecode"));
    } else if (suffix == QLatin1String("png")) {
        QImage image;
        QVERIFY(image.loadFromData(bytes, "PNG"));
        QCOMPARE(image.size(), QSize(960, 720));
    } else {
        QXmlStreamReader xml(bytes);
        QString root;
        int texts = 0;
        while (!xml.atEnd()) {
            if (xml.readNext() == QXmlStreamReader::StartElement) {
                if (root.isEmpty())
                    root = xml.name().toString();
                if (xml.name() == QLatin1String("text"))
                    ++texts;
            }
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QCOMPARE(root, QStringLiteral("svg"));
        QVERIFY2(texts > 5, "axis labels should be SVG text");
        QSvgRenderer renderer(bytes);
        QVERIFY(renderer.isValid());
        QCOMPARE(renderer.viewBox(), QRect(0, 0, 640, 480));
    }

    // The numbers behind the figure.
    const QString csvPath = QDir(dir).filePath(plotView->defaultFileName() + QStringLiteral(".csv"));
    QVERIFY2(writeFileAtomically(csvPath, plotView->dataCsv(), &error), qPrintable(error));
    const QByteArray csv = readAll(csvPath);
    if (view == QLatin1String("heatmap")) {
        QCOMPARE(csv.count('\n'), 13);
        QVERIFY(csv.startsWith("query\\key,0:<s>,"));
    } else {
        QCOMPARE(csv.count('\n'), 5);
        QVERIFY(csv.startsWith("layer,mean,std,last_query_mean,last_query_std,alpha_0_mean,alpha_0_std\n0,"));
    }
}

void TestWidgets::exportReplacesAtomically()
{
    QTemporaryDir temp;
    QVERIFY(temp.isValid());
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    QVERIFY(test::showAnalysed(current, test::makeCannedRun({})));
    for (const char* suffix : {"pdf", "png", "svg"}) {
        const QString path = temp.filePath(QStringLiteral("figure.") + QLatin1String(suffix));
        QVERIFY(writeFileAtomically(path, "old contents"));
        QString error;
        QVERIFY2(sinkscope::exportFigure(view.plot(), path, &error), qPrintable(error));
        QVERIFY(readAll(path) != "old contents");
    }
    // Nothing but the targets is left behind (no temporary files).
    const QStringList left = QDir(temp.path()).entryList(QDir::Files | QDir::Hidden);
    QCOMPARE(left, (QStringList{QStringLiteral("figure.pdf"), QStringLiteral("figure.png"), QStringLiteral("figure.svg")}));
    // Never shown: the default figure size.
    QCOMPARE(figureSize(view.plot()), QSize(800, 600));
    QImage png(temp.filePath(QStringLiteral("figure.png")));
    QCOMPARE(png.size(), QSize(1600, 1200));
}

void TestWidgets::exportErrors_data()
{
    QTest::addColumn<QString>("fileName");
    QTest::addColumn<QString>("contains");
    QTest::newRow("unknown suffix") << "figure.bmpx" << "Unknown figure format";
    QTest::newRow("missing folder pdf") << "no/such/folder/figure.pdf" << "figure.pdf";
    QTest::newRow("missing folder png") << "no/such/folder/figure.png" << "figure.png";
    QTest::newRow("missing folder svg") << "no/such/folder/figure.svg" << "figure.svg";
    QTest::newRow("empty name") << "" << "No file name";
}

void TestWidgets::exportErrors()
{
    QFETCH(QString, fileName);
    QFETCH(QString, contains);
    QTemporaryDir temp;
    Selection selection;
    CurrentResult current(&selection);
    SinkCurveView view(&current, &selection);
    QVERIFY(test::showAnalysed(current, test::makeCannedRun({})));
    const QString path = fileName.isEmpty() ? QString() : temp.filePath(fileName);
    QString error;
    const FigureFormat format = figureFormatForFile(path).value_or(FigureFormat::Png);
    const bool ok = figureFormatForFile(path) || path.isEmpty() ? sinkscope::exportFigure(view.plot(), path, format, &error)
                                                               : sinkscope::exportFigure(view.plot(), path, &error);
    QVERIFY(!ok);
    QVERIFY2(error.contains(contains), qPrintable(error));
    QVERIFY(!sinkscope::exportFigure(nullptr, temp.filePath(QStringLiteral("x.pdf")), &error));
}

void TestWidgets::grabWidget()
{
    QTemporaryDir temp;
    QVERIFY(temp.isValid());
    const QString dir = outputDir(temp);
    // A window like the main one: token strip over heatmap and sink curve, never shown.
    Selection selection;
    CurrentResult current(&selection);
    QWidget window;
    auto* layout = new QVBoxLayout(&window);
    auto* strip = new TokenStrip(&current, &selection);
    auto* heatmap = new AttentionHeatmapView(&current, &selection);
    auto* curve = new SinkCurveView(&current, &selection);
    layout->addWidget(strip);
    layout->addWidget(heatmap, 3);
    layout->addWidget(curve, 2);
    auto result = test::makeCannedRun({6, 4, 10, "causal", true, true});
    QVERIFY(test::showAnalysed(current, result));
    selection.setLayerHead(3, 2);
    selection.setCell(6, 0);
    window.resize(720, 1000);
    const QString path = QDir(dir).filePath(QStringLiteral("window.png"));
    QString error;
    QVERIFY2(grabWidgetToPng(&window, path, &error), qPrintable(error));
    const QImage image(path);
    QCOMPARE(image.size(), QSize(720, 1000));
    QVERIFY(!grabWidgetToPng(nullptr, path, &error));
    QVERIFY(!error.isEmpty());
}

void TestWidgets::fileStem_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("expected");
    QTest::newRow("plain") << "stories260K" << "stories260K";
    QTest::newRow("hub name") << "meta-llama/Llama-3.2-1B" << "meta-llama-Llama-3.2-1B";
    QTest::newRow("spaces and slashes") << "my model // v2 " << "my-model-v2";
    QTest::newRow("hidden") << "../.secret" << "secret";
    QTest::newRow("nothing left") << "///" << "";
}

void TestWidgets::fileStem()
{
    QFETCH(QString, name);
    QFETCH(QString, expected);
    QCOMPARE(safeFileStem(name), expected);
}

void TestWidgets::csvField_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("expected");
    QTest::newRow("plain") << "·The" << "·The";
    QTest::newRow("comma") << "," << "\",\"";
    QTest::newRow("quote") << "say \"hi\"" << "\"say \"\"hi\"\"\"";
    QTest::newRow("newline") << "a\nb" << "\"a\nb\"";
    QTest::newRow("empty") << "" << "";
}

void TestWidgets::csvField()
{
    QFETCH(QString, text);
    QFETCH(QString, expected);
    QCOMPARE(sinkscope::csvField(text), expected);
}
