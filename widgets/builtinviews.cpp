// SPDX-License-Identifier: GPL-3.0-or-later
// The views that ship with SinkScope, in tab and menu order: one line per view.
#include "attentionheatmapview.h"
#include "sinkcurveview.h"
#include "viewregistry.h"

namespace sinkscope {

std::vector<ViewSpec> builtinViewSpecs()
{
    return {
        AttentionHeatmapView::spec(),
        SinkCurveView::spec(),
    };
}

} // namespace sinkscope
