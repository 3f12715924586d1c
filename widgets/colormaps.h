// SPDX-License-Identifier: GPL-3.0-or-later
// The colour maps of the views and figures: perceptually uniform sequential maps (viridis,
// cividis) for probabilities and norms, a diverging map for differences. All three are readable
// with the common forms of colour blindness.
#pragma once

#include <QColor>
#include <QString>
#include <QStringList>

#include <optional>

class QCPColorGradient;

namespace sinkscope {

enum class ColorMap { Viridis, Cividis, Diverging };

/// "viridis", "cividis", "diverging".
QString colorMapName(ColorMap map);
/// The map called `name` (as colorMapName), or nullopt.
std::optional<ColorMap> parseColorMap(const QString& name);
/// Every name, in the order above.
QStringList colorMapNames();
/// The map's colour at t in [0, 1] (clamped), linear in RGB between the anchor points.
QColor colorMapColor(ColorMap map, double t);
/// A QCustomPlot gradient with the map's anchors, 256 levels, RGB interpolation; NaN cells take
/// `nanColor` (masked cells of a causal map).
QCPColorGradient colorMapGradient(ColorMap map, const QColor& nanColor = QColor(0xdc, 0xdc, 0xdc));

} // namespace sinkscope
