// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "colormaps.h"
#include "sinkscope/runresult.h"

#include <QByteArray>
#include <QSize>
#include <QSizeF>
#include <QStringList>
#include <QString>

#include <functional>
#include <optional>
#include <vector>

class QCustomPlot;
class QWidget;

namespace sinkscope {

/// Figure file formats. PDF and SVG keep axes and text as vectors; PNG is a raster.
enum class FigureFormat { Pdf, Png, Svg };

struct FigureExportOptions {
    /// Figure size in screen pixels (1/96 inch): PNG pixels at scale 1; PDF and SVG pages of the
    /// same physical size (800 px = 600 pt). Empty: the plot's on-screen size, or 800 × 600 when
    /// the plot has never been shown.
    QSize size;
    /// Pixel density multiplier for PNG (2 gives a 1600 × 1200 image for an 800 × 600 figure).
    double pngScale = 2.0;
    /// Document title written into PDF and SVG metadata.
    QString title;
    /// When valid, the figure's physical size in inches: `size` is then taken as this many
    /// 1/96 in, the PDF page is exactly this size and a PNG at `dpi` is round(inches × dpi)
    /// pixels on each side.
    QSizeF inches;
    /// > 0: the figure is laid out for print: every text of the plot (axis labels, titles,
    /// legends, colour-bar labels, text items) is set in this size in points and tick labels one
    /// point smaller (never below 8 pt) while the figure is drawn at `size`; the plot is
    /// restored afterwards. 0: the fonts are drawn as on screen.
    double fontPt = 0;
    /// > 0: PNG density in dots per inch, overriding pngScale (a 3.3 in wide figure at 300 dpi is
    /// 990 px wide). The PNG records it as its physical density.
    double dpi = 0;
    /// When set, every colour scale and colour map of the plot is drawn with this map.
    std::optional<ColorMap> colorMap;
};

/// A physical figure size for print.
struct FigurePreset {
    QString name;          ///< "one-column", "two-column" or the custom text as given ("4x3in")
    double widthIn = 0.0;  ///< inches
    double heightIn = 0.0; ///< inches
};

/// Parses a figure size: "one-column" (3.3 × 2.6 in, one column of a two-column paper),
/// "two-column" (6.9 × 3.2 in, the full text width), or "WxH" with an optional unit in, cm or mm
/// ("4x3", "4x3in", "90x60mm"; each side from 1 to 20 in). nullopt with `error` set otherwise.
std::optional<FigurePreset> parseFigurePreset(const QString& text, QString* error = nullptr);
/// The preset names for messages and help.
QStringList figurePresetNames();
/// Export options that lay a figure out for `preset`: size in 1/96 in, fonts in points (8–10 pt
/// read well at print size), PNG at `dpi`.
FigureExportOptions printFigureOptions(const FigurePreset& preset, double fontPt = 9.0, double dpi = 300.0);

/// Puts a plot into the style of its figure for as long as it lives, and back afterwards:
/// fonts in points at the figure's own size (options.fontPt; QCustomPlot then lays the axes out
/// for that size instead of shrinking a screen layout), compact legends and the chosen colour map. What
/// exportFigure draws under; with layOutAt (tokenticker.h) a plot is laid out as its figure is.
class FigureStyle
{
public:
    FigureStyle(QCustomPlot* plot, const FigureExportOptions& options);
    ~FigureStyle();
    /// After `plot` is laid out at the figure's `size` (layOutAt): halves the tick count of each
    /// numeric axis whose tick labels run together there (restored with the rest), and lays the
    /// plot out again.
    void fitTicks(QCustomPlot* plot, QSize size);
    /// Then moves each corner legend to the corner where it covers the fewest points at that
    /// size (placeLegendWhereFewestPoints), and lays the plot out again.
    void placeLegends(QCustomPlot* plot, QSize size);
    FigureStyle(const FigureStyle&) = delete;
    FigureStyle& operator=(const FigureStyle&) = delete;

private:
    std::vector<std::function<void()>> m_restore;
};

/// The fewest pixels (1/96 in) a panel of a figure gets along each side.
constexpr int kMinFigurePanelPixels = 40;
/// Why `plot`, as last laid out, is too small a figure for its panels: one of its axis rects is
/// narrower or lower than kMinFigurePanelPixels (a map squeezed to a sliver, or a negative size
/// when the margins alone exceed the figure), or a legend inside one is larger than the panel.
/// "" when every panel has room.
QString figureTooSmall(const QCustomPlot* plot);

/// The format for a file name's suffix (pdf, png, svg; any case), or nullopt.
std::optional<FigureFormat> figureFormatForFile(const QString& fileName);
/// Suffix without a dot for a format ("pdf").
QString figureSuffix(FigureFormat format);
/// File-dialog filter listing the figure formats, PDF first.
QString figureFileFilter();
/// The size an export with these options will have for this plot.
QSize figureSize(const QCustomPlot* plot, const FigureExportOptions& options = {});

/// Renders `plot` into `fileName`. The file appears complete or not at all (QSaveFile: written
/// next to the target under a temporary name and renamed over it). On failure returns false and, when
/// `errorMessage` is given, sets it to a sentence for the user.
bool exportFigure(QCustomPlot* plot, const QString& fileName, FigureFormat format, QString* errorMessage = nullptr,
                  const FigureExportOptions& options = {});
/// As above, the format taken from the file name's suffix.
bool exportFigure(QCustomPlot* plot, const QString& fileName, QString* errorMessage = nullptr,
                  const FigureExportOptions& options = {});

/// Renders any widget (e.g. the main window, for screenshots; works offscreen) into a PNG.
bool grabWidgetToPng(QWidget* widget, const QString& fileName, QString* errorMessage = nullptr);

/// Writes `data` to `fileName` atomically through the core's writer (sinkscope/fileio.h).
bool writeFileAtomically(const QString& fileName, const QByteArray& data, QString* errorMessage = nullptr);

/// A name usable as part of a file name on every platform: letters, digits, '-', '_' and '.'
/// kept, runs of anything else turned into one '-', no leading '.' or '-' ("" when nothing is left).
QString safeFileStem(const QString& name);

/// One CSV field: quoted (with doubled quotes) when it holds a comma, quote, or line break.
QString csvField(const QString& text);

} // namespace sinkscope
