// SPDX-License-Identifier: GPL-3.0-or-later
#include "figureexport.h"

#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "tokenticker.h"
#include "sinkscope/text.h"
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
#include <QRegularExpression>
#include <QWidget>

#include <functional>
#include <vector>

namespace sinkscope {

namespace {
constexpr QSize kDefaultFigureSize(800, 600);
constexpr double kLogicalDpi = 96.0; // the unit of FigureExportOptions::size

// The panels a figure draws: the axis rects in the layout and visible (a view may keep a panel
// out of its layout, as the controls view does its NLL panel for other controls).
QList<QCPAxisRect*> drawnAxisRects(const QCustomPlot* plot)
{
    QList<QCPAxisRect*> rects;
    for (QCPAxisRect* rect : plot->axisRects())
        if (rect->layout() && rect->visible())
            rects.push_back(rect);
    return rects;
}

} // namespace

FigureStyle::FigureStyle(QCustomPlot* plot, const FigureExportOptions& options)
{
    if (options.fontPt > 0) {
        const double text = options.fontPt;
        const double ticks = std::max(8.0, options.fontPt - 1.0);
        auto font = [](const QFont& f, double pt) {
            QFont out = f;
            out.setPointSizeF(pt);
            return out;
        };
        auto styleAxis = [&](QCPAxis* axis) {
            const QFont label = axis->labelFont(), tick = axis->tickLabelFont();
            const QFont sLabel = axis->selectedLabelFont(), sTick = axis->selectedTickLabelFont();
            m_restore.push_back([=] {
                axis->setLabelFont(label);
                axis->setTickLabelFont(tick);
                axis->setSelectedLabelFont(sLabel);
                axis->setSelectedTickLabelFont(sTick);
            });
            axis->setLabelFont(font(label, text));
            axis->setTickLabelFont(font(tick, ticks));
            axis->setSelectedLabelFont(font(sLabel, text));
            axis->setSelectedTickLabelFont(font(sTick, ticks));
        };
        QList<QCPLayoutElement*> elements = plot->plotLayout()->elements(true);
        for (QCPLayoutElement* e : elements) {
            if (auto* rect = qobject_cast<QCPAxisRect*>(e)) {
                for (QCPAxis* axis : rect->axes())
                    styleAxis(axis);
            } else if (auto* scale = qobject_cast<QCPColorScale*>(e)) {
                styleAxis(scale->axis());
            } else if (auto* title = qobject_cast<QCPTextElement*>(e)) {
                const QFont f = title->font();
                m_restore.push_back([=] { title->setFont(f); });
                title->setFont(font(f, text));
            } else if (auto* legend = qobject_cast<QCPLegend*>(e)) {
                const QFont f = legend->font();
                m_restore.push_back([=] { legend->setFont(f); });
                legend->setFont(font(f, ticks));
                // Compact, as legends in papers are: QCustomPlot's screen legend (32 x 18 px
                // icons, wide margins) covered most of a one-inch panel.
                const QSize icon = legend->iconSize();
                const int padding = legend->iconTextPadding(), rows = legend->rowSpacing();
                const QMargins margins = legend->margins();
                m_restore.push_back([=] {
                    legend->setIconSize(icon);
                    legend->setIconTextPadding(padding);
                    legend->setRowSpacing(rows);
                    legend->setMargins(margins);
                });
                legend->setIconSize(std::min(icon.width(), 18), std::min(icon.height(), 9));
                legend->setIconTextPadding(std::min(padding, 4));
                legend->setRowSpacing(0);
                legend->setMargins(QMargins(4, 2, 4, 2));
                for (int i = 0; i < legend->itemCount(); ++i) {
                    QCPAbstractLegendItem* item = legend->item(i);
                    if (!item) // an empty cell of a legend that wraps
                        continue;
                    const QFont itemFont = item->font();
                    m_restore.push_back([=] { item->setFont(itemFont); });
                    item->setFont(font(itemFont, ticks));
                }
            }
        }
        for (int i = 0; i < plot->itemCount(); ++i) {
            if (auto* item = qobject_cast<QCPItemText*>(plot->item(i))) {
                const QFont f = item->font();
                m_restore.push_back([=] { item->setFont(f); });
                item->setFont(font(f, ticks));
            }
        }
    }
    if (options.colorMap) {
        for (QCPLayoutElement* e : plot->plotLayout()->elements(true)) {
            if (auto* scale = qobject_cast<QCPColorScale*>(e)) {
                const QCPColorGradient g = scale->gradient();
                m_restore.push_back([=] { scale->setGradient(g); });
                scale->setGradient(colorMapGradient(*options.colorMap, g.nanColor()));
            }
        }
        for (int i = 0; i < plot->plottableCount(); ++i) {
            if (auto* map = qobject_cast<QCPColorMap*>(plot->plottable(i)); map && !map->colorScale()) {
                const QCPColorGradient g = map->gradient();
                m_restore.push_back([=] { map->setGradient(g); });
                map->setGradient(colorMapGradient(*options.colorMap, g.nanColor()));
            }
        }
    }
}

void FigureStyle::fitTicks(QCustomPlot* plot, QSize size)
{
    // QCustomPlot picks about five numeric ticks per axis whatever its length, so a short axis
    // at print size ran its labels together ("0 5 1015202530"). Fewer ticks until neighbouring
    // labels keep a space between them (a text line on vertical axes); token axes thin themselves.
    auto crowded = [](QCPAxis* axis) {
        const QVector<double> t = axis->tickVector();
        const QVector<QString> labels = axis->tickVectorLabels();
        const QFontMetricsF fm(axis->tickLabelFont());
        const bool horizontal = axis->orientation() == Qt::Horizontal;
        for (int i = 1; i < t.size() && i < labels.size(); ++i) {
            const double gap = std::abs(axis->coordToPixel(t[i]) - axis->coordToPixel(t[i - 1]));
            const double need = horizontal && std::abs(axis->tickLabelRotation()) < 1e-3
                ? (fm.horizontalAdvance(labels[i]) + fm.horizontalAdvance(labels[i - 1])) / 2 + fm.horizontalAdvance(QLatin1Char(' '))
                : fm.height();
            if (gap < need)
                return true;
        }
        return false;
    };
    for (int pass = 0; pass < 4; ++pass) {
        bool changed = false;
        for (QCPAxisRect* rect : drawnAxisRects(plot)) {
            for (QCPAxis* axis : rect->axes()) {
                const QSharedPointer<QCPAxisTicker> ticker = axis->ticker();
                if (!axis->visible() || !axis->tickLabels() || !ticker || qSharedPointerDynamicCast<TokenTicker>(ticker) ||
                    qSharedPointerDynamicCast<QCPAxisTickerText>(ticker) || ticker->tickCount() <= 2 || !crowded(axis))
                    continue;
                const int count = ticker->tickCount();
                m_restore.push_back([ticker, count] { ticker->setTickCount(count); });
                ticker->setTickCount(std::max(2, count / 2));
                changed = true;
            }
        }
        if (!changed)
            return;
        layOutAt(plot, size);
    }
}

void FigureStyle::placeLegends(QCustomPlot* plot, QSize size)
{
    // A legend was put where it covers the fewest points for the screen's layout; at another
    // size and in print fonts its share of the panel differs.
    bool moved = false;
    for (QCPAxisRect* rect : drawnAxisRects(plot)) {
        QCPLayoutInset* inset = rect->insetLayout();
        for (int i = 0; i < inset->elementCount(); ++i) {
            auto* legend = qobject_cast<QCPLegend*>(inset->elementAt(i));
            if (!legend || !legend->visible() || inset->insetPlacement(i) != QCPLayoutInset::ipBorderAligned)
                continue;
            const Qt::Alignment before = inset->insetAlignment(i);
            m_restore.push_back([inset, i, before] { inset->setInsetAlignment(i, before); });
            placeLegendWhereFewestPoints(rect, legend);
            moved = moved || inset->insetAlignment(i) != before;
        }
    }
    if (moved)
        layOutAt(plot, size);
}

FigureStyle::~FigureStyle()
{
    for (auto it = m_restore.rbegin(); it != m_restore.rend(); ++it)
        (*it)();
}

namespace {

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
        const QSizeF points = options.inches.isValid() ? options.inches * 72.0
                                                       : QSizeF(size.width() * 72.0 / 96.0, size.height() * 72.0 / 96.0);
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
    const double dpi = options.dpi > 0 ? options.dpi : kLogicalDpi * (options.pngScale > 0 ? options.pngScale : 1.0);
    const double scale = dpi / kLogicalDpi;
    const QSize pixels = options.inches.isValid()
        ? QSize(qRound(options.inches.width() * dpi), qRound(options.inches.height() * dpi))
        : QSize(qRound(size.width() * scale), qRound(size.height() * scale));
    QImage image(pixels, QImage::Format_ARGB32_Premultiplied);
    if (image.isNull()) {
        setError(errorMessage, QObject::tr("Could not render the figure (%1 × %2 pixels).").arg(pixels.width()).arg(pixels.height()));
        return false;
    }
    // The image's own density is the logical 96 dpi while drawing, as for PDF and SVG, so that
    // fonts given in points take the same share of the figure in every format.
    const int logicalDpm = qRound(kLogicalDpi / 0.0254);
    image.setDotsPerMeterX(logicalDpm);
    image.setDotsPerMeterY(logicalDpm);
    image.fill(Qt::white);
    {
        QCPPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setRenderHint(QPainter::TextAntialiasing);
        painter.scale(double(pixels.width()) / size.width(), double(pixels.height()) / size.height());
        plot->toPainter(&painter, size.width(), size.height());
    }
    // Then the real density, so that the image keeps the figure's physical size when placed.
    const int dotsPerMeter = qRound(dpi / 0.0254);
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
    if (options.inches.isValid() && !options.inches.isEmpty())
        return QSize(qRound(options.inches.width() * kLogicalDpi), qRound(options.inches.height() * kLogicalDpi));
    if (options.size.isValid() && !options.size.isEmpty())
        return options.size;
    // A plot that was never shown still has its construction-time size (tiny for a child
    // widget); that would give an unreadable figure.
    if (plot && plot->isVisible() && plot->width() >= 100 && plot->height() >= 100)
        return plot->size();
    return kDefaultFigureSize;
}

QString figureTooSmall(const QCustomPlot* plot)
{
    if (!plot)
        return {};
    for (QCPAxisRect* rect : drawnAxisRects(plot)) {
        if (rect->width() < kMinFigurePanelPixels || rect->height() < kMinFigurePanelPixels)
            return QObject::tr("a panel would be %1 × %2 px, and each needs at least %3 × %3 px (%4 in).")
                .arg(std::max(rect->width(), 0))
                .arg(std::max(rect->height(), 0))
                .arg(kMinFigurePanelPixels)
                .arg(kMinFigurePanelPixels / kLogicalDpi, 0, 'g', 2);
        for (QCPLayoutElement* e : rect->insetLayout()->elements(false))
            if (auto* legend = qobject_cast<QCPLegend*>(e); legend && legend->visible()) {
                const QSize need = legend->minimumOuterSizeHint();
                if (need.width() > rect->width() || need.height() > rect->height())
                    return QObject::tr("a legend of %1 × %2 px would not fit its panel of %3 × %4 px.")
                        .arg(need.width())
                        .arg(need.height())
                        .arg(rect->width())
                        .arg(rect->height());
            }
    }
    return {};
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
    {
        FigureStyle style(plot, options);
        // Token labels are thinned to the axes' lengths at the figure's size and fonts.
        layOutAt(plot, size);
        style.fitTicks(plot, size);
        style.placeLegends(plot, size);
        if (const QString why = figureTooSmall(plot); !why.isEmpty()) {
            const QSizeF in = options.inches.isValid() ? options.inches : QSizeF(size) / kLogicalDpi;
            setError(errorMessage, QObject::tr("A %1 × %2 in figure is too small for this plot: %3 Choose a larger size "
                                               "(the two-column preset, or WxH).")
                                       .arg(in.width(), 0, 'g', 3)
                                       .arg(in.height(), 0, 'g', 3)
                                       .arg(why));
        } else {
            switch (format) {
            case FigureFormat::Pdf: ok = savePdf(plot, fileName, size, options, errorMessage); break;
            case FigureFormat::Png: ok = savePng(plot, fileName, size, options, errorMessage); break;
            case FigureFormat::Svg: ok = saveSvg(plot, fileName, size, options, errorMessage); break;
            }
        }
    }
    // Rendering at another size re-lays out the plot; lay it out for the screen again (with the
    // screen's fonts), or mouse positions would map to the exported figure's axes until the next
    // replot.
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

std::optional<FigurePreset> parseFigurePreset(const QString& text, QString* errorMessage)
{
    if (text == QLatin1String("one-column"))
        return FigurePreset{text, 3.3, 2.6};
    if (text == QLatin1String("two-column"))
        return FigurePreset{text, 6.9, 3.2};
    static const QRegularExpression custom(QStringLiteral(R"(^(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)(in|cm|mm)?$)"));
    const QRegularExpressionMatch m = custom.match(text);
    if (!m.hasMatch()) {
        setError(errorMessage, QObject::tr("Unknown figure size '%1': use one-column, two-column or WxH in inches, cm or mm (4x3, 4x3in, 90x60mm).").arg(text));
        return std::nullopt;
    }
    const QString unit = m.captured(3);
    const double perInch = unit == QLatin1String("mm") ? 25.4 : unit == QLatin1String("cm") ? 2.54 : 1.0;
    const double w = m.captured(1).toDouble() / perInch, h = m.captured(2).toDouble() / perInch;
    if (w < 1.0 || w > 20.0 || h < 1.0 || h > 20.0) {
        setError(errorMessage, QObject::tr("Figure size '%1' is %2 × %3 in; each side must be from 1 to 20 in.")
                                   .arg(text).arg(w, 0, 'g', 3).arg(h, 0, 'g', 3));
        return std::nullopt;
    }
    return FigurePreset{text, w, h};
}

QStringList figurePresetNames()
{
    return {QStringLiteral("one-column"), QStringLiteral("two-column"), QStringLiteral("WxH")};
}

FigureExportOptions printFigureOptions(const FigurePreset& preset, double fontPt, double dpi)
{
    FigureExportOptions o;
    o.inches = QSizeF(preset.widthIn, preset.heightIn);
    o.size = QSize(qRound(preset.widthIn * kLogicalDpi), qRound(preset.heightIn * kLogicalDpi));
    o.fontPt = fontPt;
    o.dpi = dpi;
    return o;
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
    return QString::fromStdString(sinkscope::csvField(text.toStdString()));
}

} // namespace sinkscope
