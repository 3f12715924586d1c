// SPDX-License-Identifier: GPL-3.0-or-later
// A view's data export (File → Export Data, the CSV beside every exported figure) as a job that
// may run on another thread. A map of a long prompt is tens of millions of CSV rows: the job
// holds only immutable data (the shared runs, copies of the view's settings), never the widget,
// streams its rows to the file in chunks instead of building them in memory, reports progress and
// stops when cancelled.
#pragma once

#include <QByteArray>
#include <QString>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>

namespace sinkscope {

/// Where a data job writes: rows are appended to buffer(), which is handed on in chunks.
class CsvWriter {
public:
    using Sink = std::function<void(const char* data, qsizetype size)>;
    /// `cancel` (may be null) is polled by step(); `progress` (may be empty) gets fractions 0..1.
    CsvWriter(Sink sink, const std::atomic<bool>* cancel = nullptr, std::function<void(double)> progress = {});
    CsvWriter(const CsvWriter&) = delete;
    CsvWriter& operator=(const CsvWriter&) = delete;

    /// Append the next rows here; rowDone() hands a full chunk on.
    QByteArray& buffer() { return m_buffer; }
    void rowDone()
    {
        if (m_buffer.size() >= kChunk)
            flush();
    }
    /// `done` of `total` units written: reports progress now and then, and throws
    /// Error(Cancelled) once the cancel flag is set.
    void step(int64_t done, int64_t total);
    /// Hands on what is left in the buffer.
    void flush();

private:
    static constexpr qsizetype kChunk = qsizetype(1) << 20;
    Sink m_sink;
    const std::atomic<bool>* m_cancel;
    std::function<void(double)> m_progress;
    QByteArray m_buffer;
    double m_reported = -1.0;
};

/// The numbers behind a figure, as a job. Empty (`job` unset): the view has no figure.
struct DataExport {
    std::function<void(CsvWriter&)> job;
    /// About how many values the table holds: above kHeavyCells the program writes it off the GUI
    /// thread (a long prompt's map is T x T of them).
    int64_t cells = 0;
    static constexpr int64_t kHeavyCells = 250000;

    bool empty() const { return !job; }
    bool heavy() const { return cells > kHeavyCells; }
    /// A job that writes `bytes` (the small tables, formed on the calling thread).
    static DataExport ofBytes(const QByteArray& bytes);
};

/// Query rows of a T-key map a job forms at a time: about 2^20 cells (4 MiB of floats).
inline int64_t mapRowsPerBlock(int64_t keys)
{
    return std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(1, keys));
}

/// Runs the job here and returns what it wrote (empty for an empty export).
QByteArray dataExportBytes(const DataExport& data);

/// Runs the job here and writes its output to `fileName` atomically (a temporary file renamed
/// into place; a failed or cancelled job leaves no file). False with `errorMessage` set on
/// failure, or "cancelled" (Error(Cancelled)'s text) when `cancel` was set.
bool writeDataExport(const DataExport& data, const QString& fileName, QString* errorMessage = nullptr,
                     const std::atomic<bool>* cancel = nullptr, const std::function<void(double)>& progress = {});

} // namespace sinkscope
