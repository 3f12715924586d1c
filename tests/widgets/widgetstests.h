// SPDX-License-Identifier: GPL-3.0-or-later
// One Qt Test class for the widgets library; its test functions live in one file per view.
#pragma once

#include <QObject>

class TestWidgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();

    // tst_viewregistry.cpp
    void registryRefusesBadSpecs_data();
    void registryRefusesBadSpecs();
    void registryOrderAndMessages();
    void everyViewFollowsCurrentResult_data();
    void everyViewFollowsCurrentResult();
    void currentResultDropsSuperseded();

    // tst_selection.cpp
    void selectionClamps_data();
    void selectionClamps();
    void selectionNavigation_data();
    void selectionNavigation();
    void selectionSignals();
    void selectionBounds();

    // tst_tokenstrip.cpp
    void tokenStripChips_data();
    void tokenStripChips();
    void tokenStripMarksSpecials();
    void tokenStripClickSelectsQuery();

    // tst_attentionheatmap.cpp
    void heatmapShowsSelectedHead_data();
    void heatmapShowsSelectedHead();
    void heatmapFollowsSelection();
    void heatmapKeyboard_data();
    void heatmapKeyboard();
    void heatmapSpinBoxes();
    void heatmapHoverText_data();
    void heatmapHoverText();
    void heatmapClickSelectsCell();
    void heatmapPlaceholders_data();
    void heatmapPlaceholders();
    void heatmapSingleToken();
    void heatmapColorRange();
    void heatmapLabels_data();
    void heatmapLabels();
    void heatmapCsv();

    // tst_sinkcurve.cpp
    void sinkCurvePlotsStats();
    void sinkCurveHighlightAndClick();
    void sinkCurvePlaceholders_data();
    void sinkCurvePlaceholders();
    void sinkCurveCsv();

    // tst_views.cpp
    void overviewShowsMetric_data();
    void overviewShowsMetric();
    void overviewClickOpensHead();
    void overviewTopAttendedAndCsv();
    void overviewVerdict();
    void heatmapExcludeSinkColumn();
    void heatmapRowNormalisation();
    void heatmapLogits();
    void heatmapAggregatesLongPrompts();
    void heatmapLongPromptFromQueriesAndKeys();
    void heatmapBinsNeighboursAhead();
    void heatmapGqaTitleAndHomeEnd();
    void sinksShowsLastQueryAndOverlays();
    void valuesWaiverBarsAreTheWaiverElements();
    void hiddenShowsMassiveActivation();
    void tokenStripMarksWaiversAndKey();

    // tst_tokenticker.cpp
    void tokenTicksFollowTheAxis();
    void tokenTicksInAFigure();
    void everyFigureFitsItsPreset_data();
    void everyFigureFitsItsPreset();

    // tst_longmaps.cpp
    void longMapsControlsBlockMaxima();
    void longMapsHeadChangeSupersedes();
    void longMapsShortPromptStaysExact();
    void longMapsCompareDifferenceIsBlockMean();
    void longMapsClassificationEvidence();
    void longMapsRebinOnResize();
    void longMapsCsvIsStreamed();
    void longMapsFigureIsDrawn();
    void longMapsWaitLeavesNothingStale();
    void longMapsCompareCsvAlignsBlocks();

    // tst_figureexport.cpp
    void exportFigure_data();
    void exportFigure();
    void exportReplacesAtomically();
    void exportErrors_data();
    void exportErrors();
    void grabWidget();
    void fileStem_data();
    void fileStem();
    void csvField_data();
    void csvField();
};
