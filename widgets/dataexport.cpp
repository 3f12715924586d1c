// SPDX-License-Identifier: GPL-3.0-or-later
#include "dataexport.h"

#include "sinkscope/error.h"
#include "sinkscope/fileio.h"

#include <QObject>

#include <memory>

namespace sinkscope {

CsvWriter::CsvWriter(Sink sink, const std::atomic<bool>* cancel, std::function<void(double)> progress)
    : m_sink(std::move(sink)), m_cancel(cancel), m_progress(std::move(progress))
{
    m_buffer.reserve(kChunk + (qsizetype(1) << 16));
}

void CsvWriter::step(int64_t done, int64_t total)
{
    if (m_cancel && m_cancel->load(std::memory_order_relaxed))
        throw Error(ErrorCode::Cancelled, "The export was cancelled.");
    if (!m_progress || total <= 0)
        return;
    const double f = double(done) / double(total);
    if (f - m_reported >= 0.01 || done == total) { // about a hundred reports per job
        m_reported = f;
        m_progress(f);
    }
}

void CsvWriter::flush()
{
    if (m_buffer.isEmpty())
        return;
    m_sink(m_buffer.constData(), m_buffer.size());
    m_buffer.resize(0); // keeps the capacity
}

DataExport DataExport::ofBytes(const QByteArray& bytes)
{
    if (bytes.isEmpty())
        return {};
    DataExport d;
    d.cells = bytes.count(',') + bytes.count('\n');
    d.job = [bytes](CsvWriter& out) {
        out.buffer() += bytes;
        out.flush();
    };
    return d;
}

QByteArray dataExportBytes(const DataExport& data)
{
    if (data.empty())
        return {};
    QByteArray all;
    CsvWriter out([&all](const char* p, qsizetype n) { all.append(p, n); });
    data.job(out);
    out.flush();
    return all;
}

bool writeDataExport(const DataExport& data, const QString& fileName, QString* errorMessage, const std::atomic<bool>* cancel,
                     const std::function<void(double)>& progress)
{
    auto fail = [&](const QString& why) {
        if (errorMessage)
            *errorMessage = why;
        return false;
    };
    if (data.empty())
        return fail(QObject::tr("The view has no data to write."));
    try {
        // Destroyed uncommitted (a failure, a cancel), the writer removes its temporary file.
        AtomicFileWriter file(fileName.toStdString());
        CsvWriter out([&file](const char* p, qsizetype n) { file.write(p, size_t(n)); }, cancel, progress);
        data.job(out);
        out.flush();
        if (cancel && cancel->load())
            throw Error(ErrorCode::Cancelled, "The export was cancelled.");
        file.commit();
    } catch (const Error& e) {
        return fail(QString::fromStdString(e.describe()));
    } catch (const std::bad_alloc&) {
        return fail(QObject::tr("Out of memory while writing %1.").arg(fileName));
    } catch (const std::exception& e) {
        return fail(QObject::tr("Could not write %1: %2").arg(fileName, QString::fromUtf8(e.what())));
    }
    return true;
}

} // namespace sinkscope
