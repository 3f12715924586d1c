// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/runresult.h"

#include <QByteArray>
#include <QSize>
#include <QString>

#include <optional>

class QCustomPlot;
class QWidget;

namespace sinkscope {

struct LayerSinkStats;

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
};

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

/// One head's T × T probabilities as CSV: a header row `query\key,0:<tok>,1:<tok>,…`, then per
/// query row `<q>:<tok>,p(q,0),…,p(q,T-1)`. All values are written as stored (masked causal
/// cells are the model's zeros), with 9 significant digits so float32 values round-trip.
/// Empty when the result has no attention or the layer/head is outside the model.
QByteArray attentionMapCsv(const RunResult& result, int layer, int head);
/// The sink curve as CSV: `layer,mean,std` and one row per layer (population std over heads).
QByteArray sinkCurveCsv(const LayerSinkStats& stats);

} // namespace sinkscope
