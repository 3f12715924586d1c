// SPDX-License-Identifier: GPL-3.0-or-later
// The controls view showing a long prompt's maps before and after a control, offscreen, in one
// paired run (A and B alternate): how long the GUI thread is blocked, and how long until both
// maps are on screen.
//   old: what the view did before BinnedHeadMap: both T x T maps formed with
//        RunResult::attentionMap and every cell put into a T x T colour map, on the GUI thread;
//   new: ControlsView::setResult (BinnedHeadMap: the core's bins at the plot's pixels, off the
//        GUI thread for T > 1024), then the same for a head change.
// Synthetic Q/K (Llama-like head size 64), no stored maps (how the GUI runs long prompts).
// Then the view's CSV (every visible cell of both maps): the GUI thread's snapshot, the job
// streamed to a file (what File → Export Data runs off the GUI thread), and the same job
// collected into one string (what dataCsv() did on the GUI thread before, then also holding both
// T x T maps), each with the peak resident memory it added.
//
//   bench_longmaps [T ...]        (default: 8192)
#include "benchsupport.h"
#include "binnedheadmap.h"
#include "controlsview.h"
#include "dataexport.h"
#include "currentresult.h"
#include "plotstyle.h"
#include "qcustomplot_wrapper.h"
#include "selection.h"
#include "tokenticker.h"

#include "sinkscope/controls.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QDir>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

using namespace sinkscope;
using bench::median;
using bench::processCpuMs;

namespace {

// The previous drawing: the full map, every cell into the colour map (and the axes: today's token
// ticks, which were then fixed labels; both cost little beside the cells).
void oldDraw(QCPColorMap* plottable, const RunResult& run, const RowMatrixXf& map)
{
    const int T = int(map.rows());
    QCPColorMapData* d = plottable->data();
    d->setSize(T, T);
    d->setRange(QCPRange(0, std::max(0, T - 1)), QCPRange(0, std::max(0, T - 1)));
    for (int q = 0; q < T; ++q)
        for (int k = 0; k < T; ++k)
            d->setCell(k, q, isMaskedCell(run, q, k) ? std::numeric_limits<double>::quiet_NaN() : double(map(q, k)));
    for (QCPAxis* axis : {plottable->keyAxis(), plottable->valueAxis()}) {
        setTokenTicks(axis, run.encoding, 0, T);
        axis->setRange(-0.5, T - 0.5);
    }
}

// Resident memory in MiB from /proc/self/status: "VmRSS" now, "VmHWM" the peak since reset.
double statusMiB(const char* key)
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0)
            return std::atof(line.c_str() + std::strlen(key) + 1) / 1024.0;
    return std::nan("");
}

// Runs `f` and returns the peak resident memory it added, in MiB (the peak is reset first).
template <class F>
double peakAddedMiB(F&& f)
{
    std::ofstream("/proc/self/clear_refs") << "5";
    const double before = statusMiB("VmRSS:");
    f();
    return statusMiB("VmHWM:") - before;
}

} // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    std::vector<int> sizes;
    for (int i = 1; i < argc; ++i)
        sizes.push_back(std::atoi(argv[i]));
    if (sizes.empty())
        sizes = {8192};
    const int heads = 2, headDim = 64, rounds = 3;
    std::string load;
    std::getline(std::ifstream("/proc/loadavg"), load);
    std::printf("controls view, before/after maps of one head, 1200 x 800 px window, head dim %d, load average %s\n", headDim,
                load.c_str());
    std::printf("%6s %-4s %16s %16s %16s %12s\n", "T", "", "GUI blocked ms", "until shown ms", "cpu ms", "block");
    for (int T : sizes) {
        auto before = bench::syntheticQkRun(T, 1, heads, headDim, 7), after = bench::syntheticQkRun(T, 1, heads, headDim, 8);
        auto control = std::make_shared<analysis::ControlResult>();
        control->spec = analysis::parseControlSpec("block:1");
        control->model = before->model;
        control->prompts = 1;
        control->klPerPosition.assign(size_t(T), 0.0);
        control->firstMassBefore = before->firstTokenMass;
        control->firstMassAfter = after->firstTokenMass;
        control->before = before;
        control->after = after;

        Selection selection;
        selection.setBounds(1, heads, T);
        CurrentResult current(&selection);
        ControlsView view(&current, &selection);
        view.resize(1200, 800);
        view.show();
        if (!QTest::qWaitForWindowExposed(&view))
            return 1;
        QSignalSpy shown(&view, &ControlsView::mapsShown);
        std::vector<double> oldMs, oldCpu, newBlocked, newMs, newCpu, switchBlocked, switchMs, switchCpu;
        auto settle = [&] {
            while (view.isComputing())
                QTest::qWait(2);
        };
        for (int round = 0; round < rounds; ++round) {
            // old
            if (!qEnvironmentVariableIsSet("BENCH_NEW_ONLY")) {
                settle();
                QElapsedTimer timer;
                const double c0 = processCpuMs();
                timer.start();
                const RowMatrixXf mb = before->attentionMap(0, 0), ma = after->attentionMap(0, 0);
                oldDraw(view.colorMap(0), *before, mb);
                oldDraw(view.colorMap(1), *after, ma);
                view.plot()->replot(QCustomPlot::rpImmediateRefresh);
                oldMs.push_back(double(timer.nsecsElapsed()) / 1e6);
                oldCpu.push_back(processCpuMs() - c0);
            }
            // new: a result, then a head change
            {
                view.setResult(nullptr);
                selection.setLayerHead(0, 0);
                settle();
                shown.clear();
                QElapsedTimer timer;
                const double c0 = processCpuMs();
                timer.start();
                view.setResult(control);
                newBlocked.push_back(double(timer.nsecsElapsed()) / 1e6);
                while (view.isComputing())
                    if (!shown.wait(120000))
                        return 1;
                view.plot()->replot(QCustomPlot::rpImmediateRefresh);
                newMs.push_back(double(timer.nsecsElapsed()) / 1e6);
                newCpu.push_back(processCpuMs() - c0);

                settle();
                shown.clear();
                const double c1 = processCpuMs();
                timer.restart();
                selection.setLayerHead(0, 1);
                switchBlocked.push_back(double(timer.nsecsElapsed()) / 1e6);
                while (view.isComputing())
                    if (!shown.wait(120000))
                        return 1;
                view.plot()->replot(QCustomPlot::rpImmediateRefresh);
                switchMs.push_back(double(timer.nsecsElapsed()) / 1e6);
                switchCpu.push_back(processCpuMs() - c1);
            }
        }
        const BinnedHeadMap* m = view.binnedMap(0);
        std::printf("%6d %-4s %16.1f %16.1f %16.1f %12s\n", T, "old", median(oldMs), median(oldMs), median(oldCpu), "1x1");
        std::printf("%6d %-4s %16.1f %16.1f %16.1f %9dx%-2d\n", T, "new", median(newBlocked), median(newMs), median(newCpu),
                    m->blockQueries(), m->blockKeys());
        std::printf("%6d %-4s %16.1f %16.1f %16.1f %9dx%-2d   (head change)\n", T, "new", median(switchBlocked),
                    median(switchMs), median(switchCpu), m->blockQueries(), m->blockKeys());
        std::fflush(stdout);

        // The CSV of both maps.
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("controls.csv"));
        QElapsedTimer timer;
        timer.start();
        const DataExport data = view.dataExport();
        const double snapshotMs = double(timer.nsecsElapsed()) / 1e6;
        double streamMs = 0, memoryMs = 0;
        qint64 bytes = 0;
        const double streamMiB = peakAddedMiB([&] {
            timer.restart();
            QString error;
            if (!writeDataExport(data, file, &error))
                std::fprintf(stderr, "error: %s\n", qPrintable(error));
            streamMs = double(timer.nsecsElapsed()) / 1e6;
        });
        bytes = QFileInfo(file).size();
        QFile::remove(file);
        const double memoryMiB = peakAddedMiB([&] {
            timer.restart();
            const QByteArray all = dataExportBytes(data);
            memoryMs = double(timer.nsecsElapsed()) / 1e6;
            bytes = std::max<qint64>(bytes, all.size());
        });
        std::printf("%6d csv  %.1f MB, %lld map cells (a row each): GUI-thread snapshot %.1f ms; streamed to a file %.0f ms, +%.0f MiB peak; "
                    "into one string %.0f ms, +%.0f MiB peak\n",
                    T, double(bytes) / 1e6, static_cast<long long>(data.cells), snapshotMs, streamMs, streamMiB, memoryMs, memoryMiB);
        std::fflush(stdout);
    }
    return 0;
}
