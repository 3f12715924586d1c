// SPDX-License-Identifier: GPL-3.0-or-later
#include "colormaps.h"

#include "qcustomplot_wrapper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace sinkscope {

namespace {

// Anchor points at equal steps of t. Viridis and cividis: the published maps sampled at
// t = 0, 1/9, ..., 1 (van der Walt & Smith 2015; Nuñez, Anderton & Renslow 2018). Diverging: the
// 11 classes of ColorBrewer's RdBu (Brewer), ordered blue (negative) to red (positive), white
// in the middle, so that a difference of zero is white.
const std::vector<QRgb>& anchors(ColorMap map)
{
    static const std::vector<QRgb> viridis = {0x440154, 0x482878, 0x3e4989, 0x31688e, 0x26828e,
                                              0x1f9e89, 0x35b779, 0x6ece58, 0xb5de2b, 0xfde725};
    static const std::vector<QRgb> cividis = {0x00224e, 0x123570, 0x3b496c, 0x575d6d, 0x707173,
                                              0x8a8779, 0xa69d75, 0xc4b56c, 0xe4cf5b, 0xfee838};
    static const std::vector<QRgb> diverging = {0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7,
                                                0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f};
    switch (map) {
    case ColorMap::Viridis: return viridis;
    case ColorMap::Cividis: return cividis;
    case ColorMap::Diverging: return diverging;
    }
    return viridis;
}

} // namespace

QString colorMapName(ColorMap map)
{
    switch (map) {
    case ColorMap::Viridis: return QStringLiteral("viridis");
    case ColorMap::Cividis: return QStringLiteral("cividis");
    case ColorMap::Diverging: return QStringLiteral("diverging");
    }
    return {};
}

std::optional<ColorMap> parseColorMap(const QString& name)
{
    for (ColorMap m : {ColorMap::Viridis, ColorMap::Cividis, ColorMap::Diverging})
        if (name == colorMapName(m))
            return m;
    return std::nullopt;
}

QStringList colorMapNames()
{
    return {colorMapName(ColorMap::Viridis), colorMapName(ColorMap::Cividis), colorMapName(ColorMap::Diverging)};
}

QColor colorMapColor(ColorMap map, double t)
{
    const std::vector<QRgb>& a = anchors(map);
    if (!(t > 0))
        return QColor(a.front());
    if (t >= 1)
        return QColor(a.back());
    const double x = t * double(a.size() - 1);
    const size_t i = std::min(size_t(x), a.size() - 2);
    const double f = x - double(i);
    const QColor lo(a[i]), hi(a[i + 1]);
    auto mix = [f](int p, int q) { return int(std::lround(p + (q - p) * f)); };
    return QColor(mix(lo.red(), hi.red()), mix(lo.green(), hi.green()), mix(lo.blue(), hi.blue()));
}

QCPColorGradient colorMapGradient(ColorMap map, const QColor& nanColor)
{
    const std::vector<QRgb>& a = anchors(map);
    QCPColorGradient g;
    g.clearColorStops();
    for (size_t i = 0; i < a.size(); ++i)
        g.setColorStopAt(double(i) / double(a.size() - 1), QColor(a[i]));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(nanColor);
    g.setLevelCount(256);
    return g;
}

} // namespace sinkscope
