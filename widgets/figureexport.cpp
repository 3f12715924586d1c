// SPDX-License-Identifier: GPL-3.0-or-later
#include "figureexport.h"

#include "qcustomplot_wrapper.h"
#include "sinkstats.h"
#include "tokenlabels.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QPixmap>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QWidget>

namespace sinkscope {

namespace {
constexpr QSize kDefaultFigureSize(800, 600);

void setError(QString* errorMessage, const QString& text)
{
    if (errorMessage)
        *errorMessage = text;
}

bool commit(QSaveFile& file, const QString& fileName, QString* errorMessage)
{
    // QSaveFile::commit() does not report a failed flush of its write buffer (Qt 6.4): a short
    // write on a full disk would replace the target. Flush and check first.
    if (!file.flush() || !file.commit()) {
        setError(errorMessage, QObject::tr("Could not write %1: %2").arg(QDir::toNativeSeparators(fileName), file.errorString()));
        return false;
    }
    return true;
}

bool openSaveFile(QSaveFile& file, const QString& fileName, QString* errorMessage)
{
    if (!file.open(QIODevice::WriteOnly)) {
        setError(errorMessage, QObject::tr("Could not open %1 for writing: %2").arg(QDir::toNativeSeparators(fileName), file.errorString()));
        return false;
    }
    return true;
}

bool savePdf(QCustomPlot* plot, const QString& fileName, QSize size, const FigureExportOptions& options,
             QString* errorMessage)
{
    // The painter set-up of QCustomPlot::savePdf (vectorised, no caching, epNoCosmetic pens, one
    // page exactly the figure's size), but written through QSaveFile so that the file
    // appears atomically, and with lossless images: without that hint Qt's PDF engine stores the
    // colour map and the colour bar as JPEG, whose ringing smears the cells of a heatmap.
    QSaveFile file(fileName);
    if (!openSaveFile(file, fileName, errorMessage))
        return false;
    {
        QPdfWriter writer(&file);
        writer.setCreator(QStringLiteral("SinkScope"));
        writer.setTitle(options.title);
        // The figure size is in screen pixels (96 per inch): a page of that many pixels at 96 dpi
        // keeps fonts, which are sized in points, in the same proportion to the plot as on screen.
        writer.setResolution(96);
        const QSizeF points(size.width() * 72.0 / 96.0, size.height() * 72.0 / 96.0);
        writer.setPageLayout(QPageLayout(QPageSize(points, QPageSize::Point, QString(), QPageSize::ExactMatch),
                                         QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
        QCPPainter painter;
        if (!painter.begin(&writer)) {
            file.cancelWriting();
            setError(errorMessage, QObject::tr("Could not start a PDF document for %1.").arg(QDir::toNativeSeparators(fileName)));
            return false;
        }
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNoCaching);
        painter.setMode(QCPPainter::pmNonCosmetic); // QCP::epNoCosmetic
        painter.setRenderHint(QPainter::LosslessImageRendering);
        painter.setWindow(QRect(QPoint(0, 0), size));
        plot->toPainter(&painter, size.width(), size.height());
        painter.end();
    }
    return commit(file, fileName, errorMessage);
}

bool savePng(QCustomPlot* plot, const QString& fileName, QSize size, const FigureExportOptions& options,
             QString* errorMessage)
{
    const double scale = options.pngScale > 0 ? options.pngScale : 1.0;
    QImage image = plot->toPixmap(size.width(), size.height(), scale).toImage();
    if (image.isNull()) {
        setError(errorMessage, QObject::tr("Could not render the figure (%1 × %2).").arg(size.width()).arg(size.height()));
        return false;
    }
    // Record the density so that the image keeps the figure's physical size when placed.
    const int dotsPerMeter = qRound(96.0 * scale / 0.0254);
    image.setDotsPerMeterX(dotsPerMeter);
    image.setDotsPerMeterY(dotsPerMeter);
    QSaveFile file(fileName);
    if (!openSaveFile(file, fileName, errorMessage))
        return false;
    if (!image.save(&file, "PNG")) {
        file.cancelWriting();
        setError(errorMessage, QObject::tr("Could not encode %1 as PNG.").arg(QDir::toNativeSeparators(fileName)));
        return false;
    }
    return commit(file, fileName, errorMessage);
}

bool saveSvg(QCustomPlot* plot, const QString& fileName, QSize size, const FigureExportOptions& options,
             QString* errorMessage)
{
    QSaveFile file(fileName);
    if (!openSaveFile(file, fileName, errorMessage))
        return false;
    QSvgGenerator generator;
    generator.setOutputDevice(&file);
    generator.setSize(size);
    generator.setViewBox(QRect(QPoint(0, 0), size));
    generator.setResolution(96); // the same physical size as the PNG export at scale 1
    generator.setTitle(options.title);
    generator.setDescription(QStringLiteral("SinkScope figure"));
    QCPPainter painter;
    if (!painter.begin(&generator)) {
        file.cancelWriting();
        setError(errorMessage, QObject::tr("Could not start an SVG document for %1.").arg(QDir::toNativeSeparators(fileName)));
        return false;
    }
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    painter.setMode(QCPPainter::pmNonCosmetic);
    plot->toPainter(&painter, size.width(), size.height());
    painter.end();
    return commit(file, fileName, errorMessage);
}
} // namespace

std::optional<FigureFormat> figureFormatForFile(const QString& fileName)
{
    const QString suffix = QFileInfo(fileName).suffix().toLower();
    if (suffix == QLatin1String("pdf"))
        return FigureFormat::Pdf;
    if (suffix == QLatin1String("png"))
        return FigureFormat::Png;
    if (suffix == QLatin1String("svg"))
        return FigureFormat::Svg;
    return std::nullopt;
}

QString figureSuffix(FigureFormat format)
{
    switch (format) {
    case FigureFormat::Pdf: return QStringLiteral("pdf");
    case FigureFormat::Png: return QStringLiteral("png");
    case FigureFormat::Svg: return QStringLiteral("svg");
    }
    return {};
}

QString figureFileFilter()
{
    return QObject::tr("PDF document (*.pdf);;PNG image (*.png);;SVG image (*.svg)");
}

QSize figureSize(const QCustomPlot* plot, const FigureExportOptions& options)
{
    if (options.size.isValid() && !options.size.isEmpty())
        return options.size;
    // A plot that was never shown still has its construction-time size (tiny for a child
    // widget); that would give an unreadable figure.
    if (plot && plot->isVisible() && plot->width() >= 100 && plot->height() >= 100)
        return plot->size();
    return kDefaultFigureSize;
}

bool exportFigure(QCustomPlot* plot, const QString& fileName, FigureFormat format, QString* errorMessage,
                  const FigureExportOptions& options)
{
    if (!plot) {
        setError(errorMessage, QObject::tr("There is no figure to export."));
        return false;
    }
    if (fileName.isEmpty()) {
        setError(errorMessage, QObject::tr("No file name given for the figure."));
        return false;
    }
    const QSize size = figureSize(plot, options);
    bool ok = false;
    switch (format) {
    case FigureFormat::Pdf: ok = savePdf(plot, fileName, size, options, errorMessage); break;
    case FigureFormat::Png: ok = savePng(plot, fileName, size, options, errorMessage); break;
    case FigureFormat::Svg: ok = saveSvg(plot, fileName, size, options, errorMessage); break;
    }
    // Rendering at another size re-lays out the plot; lay it out for the screen again, or mouse
    // positions would map to the exported figure's axes until the next replot.
    plot->replot();
    return ok;
}

bool exportFigure(QCustomPlot* plot, const QString& fileName, QString* errorMessage, const FigureExportOptions& options)
{
    const auto format = figureFormatForFile(fileName);
    if (!format) {
        setError(errorMessage, QObject::tr("Unknown figure format for %1: use .pdf, .png or .svg.").arg(QDir::toNativeSeparators(fileName)));
        return false;
    }
    return exportFigure(plot, fileName, *format, errorMessage, options);
}

bool grabWidgetToPng(QWidget* widget, const QString& fileName, QString* errorMessage)
{
    if (!widget) {
        setError(errorMessage, QObject::tr("There is no window to capture."));
        return false;
    }
    const QPixmap pixmap = widget->grab();
    if (pixmap.isNull()) {
        setError(errorMessage, QObject::tr("Could not capture the window."));
        return false;
    }
    QSaveFile file(fileName);
    if (!openSaveFile(file, fileName, errorMessage))
        return false;
    if (!pixmap.save(&file, "PNG")) {
        file.cancelWriting();
        setError(errorMessage, QObject::tr("Could not encode %1 as PNG.").arg(QDir::toNativeSeparators(fileName)));
        return false;
    }
    return commit(file, fileName, errorMessage);
}

bool writeFileAtomically(const QString& fileName, const QByteArray& data, QString* errorMessage)
{
    // The core's atomic writer (flush checked before the rename); this is only its Qt-typed face.
    try {
        sinkscope::writeFileAtomically(fileName.toStdString(), std::string(data.constData(), size_t(data.size())));
    } catch (const sinkscope::Error& e) {
        setError(errorMessage, QString::fromStdString(e.describe()));
        return false;
    }
    return true;
}

QString safeFileStem(const QString& name)
{
    QString out;
    for (const QChar c : name) {
        if (c.isLetterOrNumber() || c == QLatin1Char('-') || c == QLatin1Char('_') || c == QLatin1Char('.'))
            out += c;
        else if (!out.endsWith(QLatin1Char('-')))
            out += QLatin1Char('-');
    }
    while (out.startsWith(QLatin1Char('.')) || out.startsWith(QLatin1Char('-')))
        out.remove(0, 1);
    while (out.endsWith(QLatin1Char('-')))
        out.chop(1);
    return out;
}

QString csvField(const QString& text)
{
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) && !text.contains(QLatin1Char('\n'))
        && !text.contains(QLatin1Char('\r')))
        return text;
    QString quoted = text;
    quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QByteArray attentionMapCsv(const RunResult& result, int layer, int head)
{
    if (!result.canMakeMaps() || layer < 0 || layer >= result.model.layers || head < 0 || head >= result.model.heads)
        return {};
    const auto map = result.attentionMap(layer, head);
    const int T = int(result.tokens);
    auto label = [&](int i) {
        const QString text = size_t(i) < result.encoding.tokens.size() ? tokenLabel(result.encoding.tokens[size_t(i)])
                                                                      : QString();
        return csvField(QString::number(i) + QLatin1Char(':') + text).toUtf8();
    };
    QByteArray out;
    out.reserve(T * T * 12 + T * 16);
    out += "query\\key";
    for (int k = 0; k < T; ++k)
        out += ',' + label(k);
    out += '\n';
    for (int q = 0; q < T; ++q) {
        out += label(q);
        for (int k = 0; k < T; ++k)
            out += ',' + QByteArray::number(double(map(q, k)), 'g', 9);
        out += '\n';
    }
    return out;
}

QByteArray sinkCurveCsv(const LayerSinkStats& stats)
{
    QByteArray out = "layer,mean,std\n";
    for (size_t l = 0; l < stats.mean.size(); ++l) {
        out += QByteArray::number(qulonglong(l)) + ',' + QByteArray::number(stats.mean[l], 'g', 9) + ','
            + QByteArray::number(l < stats.std.size() ? stats.std[l] : 0.0, 'g', 9) + '\n';
    }
    return out;
}

} // namespace sinkscope
