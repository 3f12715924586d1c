// SPDX-License-Identifier: GPL-3.0-or-later
#include "torch/torchutil.h"

#include "sinkscope/error.h"

#include <cstring>
#include <new>

namespace sinkscope::detail {

namespace {

at::ScalarType scalarTypeOf(DType d)
{
    switch (d) {
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    }
    return at::kFloat;
}

bool looksLikeOom(const std::string& msg)
{
    return msg.find("out of memory") != std::string::npos || msg.find("DefaultCPUAllocator") != std::string::npos
        || msg.find("CUDA error: out of memory") != std::string::npos;
}

} // namespace

at::Tensor toDevice(const HostTensor& t, at::Device device, at::ScalarType dtype)
{
    const at::Tensor host = at::from_blob(t.data.get(), t.shape, at::TensorOptions().dtype(scalarTypeOf(t.dtype)));
    // .to() copies when the device or dtype changes; clone() covers the fp32-on-CPU case so the
    // weights never alias the HostTensor's buffer, which goes away after loading.
    at::Tensor out = host.to(device, dtype);
    if (out.data_ptr() == host.data_ptr())
        out = out.clone();
    return out;
}

void copyToHost(const at::Tensor& t, float* dst)
{
    const at::Tensor h = t.to(at::kCPU, at::kFloat).contiguous();
    std::memcpy(dst, h.data_ptr<float>(), size_t(h.numel()) * sizeof(float));
}

at::Device chooseDevice(DevicePreference pref)
{
    const bool cuda = at::hasCUDA();
    switch (pref) {
    case DevicePreference::Cpu: return at::Device(at::kCPU);
    case DevicePreference::Cuda:
        if (!cuda)
            throw Error(ErrorCode::Unsupported,
                        "CUDA was requested but this build of libtorch sees no CUDA device; use --device cpu or auto.");
        return at::Device(at::kCUDA, 0);
    case DevicePreference::Auto: break;
    }
    return cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
}

at::ScalarType chooseDtype(DTypePreference pref, at::Device device, const std::string& torchDtype)
{
    if (device.is_cpu())
        return at::kFloat;
    switch (pref) {
    case DTypePreference::F32: return at::kFloat;
    case DTypePreference::F16: return at::kHalf;
    case DTypePreference::BF16: return at::kBFloat16;
    case DTypePreference::Auto: break;
    }
    if (torchDtype == "bfloat16")
        return at::kBFloat16;
    if (torchDtype == "float16")
        return at::kHalf;
    return at::kFloat;
}

std::string deviceText(at::Device device)
{
    return device.str();
}

std::string dtypeText(at::ScalarType dtype)
{
    switch (dtype) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    default: return "float32";
    }
}

void rethrowAsError(const std::string& what)
{
    try {
        throw;
    } catch (const Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::OutOfMemory, "Out of host memory while " + what + ".");
    } catch (const c10::Error& e) {
        const std::string msg = e.what_without_backtrace();
        if (looksLikeOom(msg))
            throw Error(ErrorCode::OutOfMemory,
                        "Out of memory while " + what
                            + ". Try a shorter prompt, fewer captured maps, or the CPU device.",
                        msg.substr(0, msg.find('\n')));
        throw Error(ErrorCode::Internal, "libtorch failed while " + what + ".", msg.substr(0, msg.find('\n')));
    } catch (const std::exception& e) {
        throw Error(ErrorCode::Internal, "Unexpected failure while " + what + ".", e.what());
    }
}

} // namespace sinkscope::detail
