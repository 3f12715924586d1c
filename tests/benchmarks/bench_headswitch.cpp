// SPDX-License-Identifier: GPL-3.0-or-later
// Head-switch latency of the heatmap, offscreen: the time from "select layer l, head h" to the new
// map drawn, i.e. the head's map binned at screen resolution straight from the kept Q and K
// (binAttentionMap: block maxima when cells are smaller than a pixel, plus the whole-map colour
// statistics), the colour cells filled and the plot replotted. Synthetic Q/K with a Llama-like
// head size; no model needed.
//
// Two kinds of switch: "cold", to a head the view has not binned yet (the layer and the head both
// change), and "arrow", one step with the Right key's rule (Selection::nextHead) after the view
// has binned the neighbours of the shown head in the background (long prompts only; for
// T <= 1024 both are computed on the spot).
//
//   bench_headswitch [T ...]        (default: 512 2048 8192)
#include "attentionheatmapview.h"
#include "benchsupport.h"
#include "currentresult.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "sinkscope/mapbins.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

using namespace sinkscope;
using bench::median;
using bench::processCpuMs;

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    std::vector<int> sizes;
    for (int i = 1; i < argc; ++i)
        sizes.push_back(std::atoi(argv[i]));
    if (sizes.empty())
        sizes = {512, 2048, 8192};
    const int layers = 2, heads = 4, headDim = 64;
    std::string load;
    std::getline(std::ifstream("/proc/loadavg"), load);
    std::printf("head switch, heatmap %s, %d x %d px window, head dim %d, load average %s\n", "probabilities", 1000, 800,
                headDim, load.c_str());
    std::printf("%8s %10s %12s %12s %12s %14s %14s %8s %14s %14s\n", "T", "switches", "median ms", "min ms", "max ms",
                "median cpu ms", "bins cpu ms", "block", "arrow ms", "arrow cpu ms");
    for (int T : sizes) {
        Selection selection;
        CurrentResult current(&selection);
        AttentionHeatmapView view(&current, &selection);
        view.resize(1000, 800);
        view.show();
        if (!QTest::qWaitForWindowExposed(&view))
            return 1;
        QSignalSpy shown(&view, &AttentionHeatmapView::mapShown);
        current.setResult(bench::syntheticQkRun(T, layers, heads, headDim), nullptr); // no analysis: the map alone
        if (shown.isEmpty() && !shown.wait(120000))
            return 1;
        view.plot()->replot(QCustomPlot::rpImmediateRefresh);
        const int switches = T >= 8192 ? 5 : 9;
        std::vector<double> ms, cpu;
        for (int i = 0; i < switches; ++i) {
            const int l = (i + 1) % layers;
            const int h = (i * 3 + 1) % heads;
            // The background binning of the previous head's neighbours (none of them is the
            // next head asked for) finishes first, so that it is not counted here.
            while (view.isComputing() || view.isPrefetching())
                QTest::qWait(2);
            shown.clear();
            QElapsedTimer timer;
            const double cpu0 = processCpuMs();
            timer.start();
            selection.setLayerHead(l, h);
            // Long prompts are computed on the worker thread: wait for the map to arrive.
            if (shown.isEmpty() && !shown.wait(120000))
                return 1;
            view.plot()->replot(QCustomPlot::rpImmediateRefresh);
            ms.push_back(double(timer.nsecsElapsed()) / 1e6);
            cpu.push_back(processCpuMs() - cpu0);
        }
        // The share of the core's binning (binAttentionMap at the view's block size, with the
        // whole-map statistics) alone.
        while (view.isComputing() || view.isPrefetching())
            QTest::qWait(2);
        const auto run = current.result();
        std::vector<double> mapCpu;
        MapBinning binning;
        binning.binKeys = view.blockKeys();
        binning.binQueries = view.blockQueries();
        for (int i = 0; i < 3; ++i) {
            const double c0 = processCpuMs();
            const MapBins bins = binAttentionMap(*run, i % layers, i % heads, binning);
            mapCpu.push_back(processCpuMs() - c0);
            if (bins.share.size() != T)
                return 1;
        }
        // Arrow-key steps once the neighbours are binned (the wait for them is not timed).
        std::vector<double> arrowMs, arrowCpu;
        selection.setLayerHead(0, 0);
        for (int i = 0; i < switches; ++i) {
            if (selection.layer() == layers - 1 && selection.head() == heads - 1)
                selection.setLayerHead(0, 0); // back to the start (untimed)
            while (view.isComputing() || view.isPrefetching())
                QTest::qWait(2);
            shown.clear();
            QElapsedTimer timer;
            const double cpu0 = processCpuMs();
            timer.start();
            selection.nextHead();
            if (shown.isEmpty() && !shown.wait(120000))
                return 1;
            view.plot()->replot(QCustomPlot::rpImmediateRefresh);
            arrowMs.push_back(double(timer.nsecsElapsed()) / 1e6);
            arrowCpu.push_back(processCpuMs() - cpu0);
        }
        std::printf("%8d %10d %12.1f %12.1f %12.1f %14.1f %14.1f %5dx%-2d %14.1f %14.1f\n", T, switches, median(ms),
                    *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()), median(cpu), median(mapCpu),
                    view.blockKeys(), view.blockQueries(), median(arrowMs), median(arrowCpu));
        std::fflush(stdout);
    }
    return 0;
}
