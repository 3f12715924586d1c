// SPDX-License-Identifier: GPL-3.0-or-later
#include "loadplan.h"

#include "sinkscope/checkpoint.h"
#include "sinkscope/error.h"

#include <QDir>
#include <QFile>
#include <QLocale>
#include <QObject>

using namespace sinkscope;

namespace {

double memAvailableBytes()
{
    QFile f(QStringLiteral("/proc/meminfo"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("MemAvailable:"))
            return line.mid(13).trimmed().split(' ').value(0).toDouble() * 1024.0;
    return 0;
}

QString bytesText(double bytes)
{
    return QLocale::system().formattedDataSize(qint64(bytes), 1, QLocale::DataSizeSIFormat);
}

} // namespace

QString dtypePreferenceName(DTypePreference dtype)
{
    switch (dtype) {
    case DTypePreference::Auto: return QStringLiteral("auto");
    case DTypePreference::F32: return QStringLiteral("float32");
    case DTypePreference::F16: return QStringLiteral("float16");
    case DTypePreference::BF16: return QStringLiteral("bfloat16");
    }
    return {};
}

QString LoadPlan::summary() const
{
    QString text = QObject::tr("≈ %1 of weights (%2 parameters) as %3 on %4")
                       .arg(bytesText(weightBytes), QLocale::system().toString(qlonglong(parameters)), dtype, device);
    text += availableBytes > 0 ? QObject::tr("; %1 available").arg(bytesText(availableBytes))
                               : QObject::tr("; the device's free memory is not checked");
    return text;
}

QString LoadPlan::weightsText() const
{
    return QObject::tr("≈ %1 (%2)").arg(bytesText(weightBytes), dtype);
}

LoadPlan planLoad(const QString& dir, DevicePreference device, DTypePreference dtype)
{
    LoadPlan plan;
    const QString shown = QDir::toNativeSeparators(dir);
    if (device == DevicePreference::Cuda && !cudaAvailable()) {
        plan.error = QObject::tr("CUDA was chosen in the Device box, but this build of libtorch sees no CUDA device. "
                                 "Choose cpu or auto in the Device box; the current model stays open.");
        return plan;
    }
    ModelDirectory located;
    try {
        located = ModelDirectory::locate(dir.toStdString());
    } catch (const Error&) {
        return plan; // the engine's load says what is wrong with the folder, in its own words
    }
    if (located.tokenizerPath.empty()) {
        plan.error = QObject::tr("%1 has no tokenizer.json, so the window cannot turn a prompt into tokens. "
                                 "The folder was not opened; the current model stays.").arg(shown);
        return plan;
    }
    const bool cuda = device == DevicePreference::Cuda || (device == DevicePreference::Auto && cudaAvailable());
    plan.device = cuda ? QStringLiteral("cuda") : QStringLiteral("cpu");
    // The CPU always computes in float32 (bf16/fp16 matmuls are far slower there); on a GPU the
    // checkpoint's dtype is kept unless one is asked for.
    double storedBytes = 0;
    try {
        for (const std::string& file : located.weightFiles) {
            const SafetensorsFile st = SafetensorsFile::open(file);
            for (const TensorInfo& t : st.header().tensors) {
                int64_t n = 1;
                for (int64_t d : t.shape)
                    n *= d;
                plan.parameters += n;
                storedBytes += double(n) * double(dtypeSize(t.dtype));
            }
        }
    } catch (const Error&) {
        return plan; // as above: broken weights are reported by the load itself
    }
    plan.checked = true;
    double bytesPer = 4.0;
    if (!cuda) {
        plan.dtype = QStringLiteral("float32");
        if (dtype == DTypePreference::F16 || dtype == DTypePreference::BF16)
            plan.dtypeNote = QObject::tr("%1 was chosen, but the CPU computes in float32 (half-precision matrix products "
                                         "are far slower there); the model runs in float32.")
                                 .arg(dtypePreferenceName(dtype));
    } else if (dtype == DTypePreference::Auto) {
        plan.dtype = QObject::tr("the checkpoint's dtype");
        bytesPer = plan.parameters > 0 ? storedBytes / double(plan.parameters) : 4.0;
    } else {
        plan.dtype = dtypePreferenceName(dtype);
        bytesPer = dtype == DTypePreference::F32 ? 4.0 : 2.0;
    }
    plan.weightBytes = double(plan.parameters) * bytesPer;
    plan.availableBytes = cuda ? 0.0 : memAvailableBytes();
    if (plan.availableBytes > 0 && plan.weightBytes > plan.availableBytes)
        plan.error = QObject::tr("%1 needs %2, more memory than is available (%3). The folder was not opened; "
                                 "the current model stays.")
                         .arg(shown, bytesText(plan.weightBytes), bytesText(plan.availableBytes));
    return plan;
}
