// SPDX-License-Identifier: GPL-3.0-or-later
#include "currentresult.h"

#include "selection.h"

#include <exception>

namespace sinkscope {

CurrentResult::CurrentResult(Selection* selection, QObject* parent)
    : QObject(parent)
    , m_selection(selection)
    , m_generation(std::make_shared<std::atomic<uint64_t>>(0))
{
    // One worker: analyses of successive results queue, and superseded ones return at once.
    m_pool.setMaxThreadCount(1);
}

CurrentResult::~CurrentResult()
{
    m_generation->fetch_add(1);
    m_pool.clear();
    m_pool.waitForDone();
}

void CurrentResult::setOptions(const analysis::Options& options)
{
    const bool same = options.sinkElement == m_options.sinkElement && options.epsilon == m_options.epsilon
        && options.waiverThreshold == m_options.waiverThreshold
        && options.massive.absolute == m_options.massive.absolute
        && options.massive.relative == m_options.massive.relative;
    m_options = options;
    if (!same && m_result) {
        m_metrics.reset();
        m_metricsError.clear();
        startAnalysis();
    }
}

void CurrentResult::adopt(std::shared_ptr<const RunResult> result)
{
    m_generation->fetch_add(1);
    m_result = std::move(result);
    m_metrics.reset();
    m_metricsError.clear();
    m_analyzing = false;
    if (m_classification) {
        m_classification.reset();
        Q_EMIT classificationChanged();
    }
    Q_EMIT resultChanged();
    // Without a result the bounds stay, so the layer and head survive opening another model.
    if (m_selection && m_result)
        m_selection->setBounds(m_result->model.layers, m_result->model.heads, int(m_result->tokens));
}

void CurrentResult::setResult(std::shared_ptr<const RunResult> result)
{
    adopt(std::move(result));
    if (m_result)
        startAnalysis();
}

void CurrentResult::setResult(std::shared_ptr<const RunResult> result, std::shared_ptr<const analysis::RunMetrics> metrics)
{
    adopt(std::move(result));
    if (m_result && metrics) {
        m_metrics = std::move(metrics);
        Q_EMIT metricsAvailable();
    }
}

void CurrentResult::startAnalysis()
{
    const uint64_t generation = m_generation->fetch_add(1) + 1;
    m_analyzing = true;
    auto latest = m_generation;
    auto result = m_result;
    const analysis::Options options = m_options;
    m_pool.start([this, latest, generation, result, options] {
        if (latest->load() != generation)
            return; // superseded while queued
        std::shared_ptr<const analysis::RunMetrics> metrics;
        QString error;
        try {
            metrics = std::make_shared<const analysis::RunMetrics>(analysis::analyzeRun(*result, options));
        } catch (const std::bad_alloc&) {
            error = tr("Not enough memory to analyse this run.");
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        if (latest->load() != generation)
            return;
        // The destructor waits for this worker, so `this` is alive here; a queued call to a
        // deleted object is discarded by Qt.
        QMetaObject::invokeMethod(
            this, [this, generation, metrics, error] { deliver(generation, metrics, error); }, Qt::QueuedConnection);
    });
}

void CurrentResult::deliver(uint64_t generation, std::shared_ptr<const analysis::RunMetrics> metrics, const QString& error)
{
    if (m_generation->load() != generation)
        return;
    m_analyzing = false;
    if (metrics) {
        m_metrics = std::move(metrics);
        Q_EMIT metricsAvailable();
    } else {
        m_metricsError = error;
        Q_EMIT metricsFailed(error);
    }
}

void CurrentResult::setClassification(std::shared_ptr<const analysis::Classification> c)
{
    if (c == m_classification)
        return;
    m_classification = std::move(c);
    Q_EMIT classificationChanged();
}

void CurrentResult::addOverlay(const QString& label, std::shared_ptr<const analysis::RunMetrics> metrics)
{
    if (!metrics)
        return;
    m_overlays.push_back({label, std::move(metrics)});
    Q_EMIT overlaysChanged();
}

bool CurrentResult::pinCurrent(const QString& label)
{
    if (!m_metrics)
        return false;
    addOverlay(label, m_metrics);
    return true;
}

void CurrentResult::removeOverlay(int index)
{
    if (index < 0 || size_t(index) >= m_overlays.size())
        return;
    m_overlays.erase(m_overlays.begin() + index);
    Q_EMIT overlaysChanged();
}

void CurrentResult::clearOverlays()
{
    if (m_overlays.empty())
        return;
    m_overlays.clear();
    Q_EMIT overlaysChanged();
}

} // namespace sinkscope
