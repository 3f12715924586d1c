// SPDX-License-Identifier: GPL-3.0-or-later
// The views that ship with SinkScope, in tab and menu order: one line per view.
#include "attentionheatmapview.h"
#include "classificationview.h"
#include "compareview.h"
#include "controlsview.h"
#include "hiddenview.h"
#include "overviewview.h"
#include "sinkcurveview.h"
#include "valuesview.h"
#include "viewregistry.h"

namespace sinkscope {

std::vector<ViewSpec> builtinViewSpecs()
{
    return {
        AttentionHeatmapView::spec(),
        OverviewView::spec(),
        SinkCurveView::spec(),
        ValuesView::spec(),
        HiddenView::spec(),
        CompareView::spec(),
        ClassificationView::spec(),
        ControlsView::spec(),
    };
}

} // namespace sinkscope
