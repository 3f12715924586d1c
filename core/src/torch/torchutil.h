// SPDX-License-Identifier: GPL-3.0-or-later
// Small bridges between our plain types and ATen, and torch failures -> sinkscope::Error.
#pragma once

#include "sinkscope/model.h"
#include "sinkscope/safetensors.h"

#include <ATen/ATen.h>

#include <string>

namespace sinkscope::detail {

/// Moves a host tensor (any stored dtype) to `device` as `dtype`.
at::Tensor toDevice(const HostTensor& t, at::Device device, at::ScalarType dtype);
/// Copies a tensor (any device, any float dtype) into `dst` as fp32, C order.
void copyToHost(const at::Tensor& t, float* dst);

/// Picks the device for a preference; throws Error(Unsupported) for cuda without CUDA.
at::Device chooseDevice(DevicePreference pref);
/// Compute dtype: fp32 on CPU always (CPU half matmuls are very slow); on CUDA the preference,
/// or the checkpoint's torch_dtype for Auto.
at::ScalarType chooseDtype(DTypePreference pref, at::Device device, const std::string& torchDtype);

std::string deviceText(at::Device device);
std::string dtypeText(at::ScalarType dtype);

/// Runs `fn`, turning c10::Error / std::bad_alloc into sinkscope::Error (out-of-memory aware).
/// `what` says what was being done, e.g. "loading the weights".
template <typename Fn>
auto translateTorchErrors(const std::string& what, Fn&& fn) -> decltype(fn());

[[noreturn]] void rethrowAsError(const std::string& what);

template <typename Fn>
auto translateTorchErrors(const std::string& what, Fn&& fn) -> decltype(fn())
{
    try {
        return fn();
    } catch (...) {
        rethrowAsError(what);
    }
}

} // namespace sinkscope::detail
