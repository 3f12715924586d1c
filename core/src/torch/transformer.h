// SPDX-License-Identifier: GPL-3.0-or-later
// The one generic decoder/encoder forward pass, driven by a FamilySpec. Torch stays in here.
#pragma once

#include "sinkscope/checkpoint.h"
#include "sinkscope/modelconfig.h"
#include "torch/familyspec.h"

#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <vector>

namespace sinkscope::detail {

/// Where a forward pass writes what it captures; null pointers mean "not wanted".
struct ForwardTargets {
    float* attention = nullptr; ///< [layers, heads, T, T] probabilities (host, fp32)
    float* logits = nullptr;    ///< [T, vocab] (host, fp32)
    float* firstTokenMass = nullptr; ///< [layers, heads]: mean over t >= 1 of A[t, 0]
};

class Transformer {
public:
    /// Copies every weight the family needs from `checkpoint` onto `device` in `dtype`
    /// (norm weights stay fp32). Throws Error(Format) for missing or mis-shaped tensors.
    Transformer(const ModelConfig& config, const FamilySpec& spec, const Checkpoint& checkpoint, at::Device device,
                at::ScalarType dtype);

    /// Runs ids [T] through the model, writing the requested captures. Calls `progress(l+1, L)`
    /// after each layer and throws Error(Cancelled) when `cancel` is set between layers.
    void forward(const std::vector<int32_t>& ids, const ForwardTargets& out,
                 const std::function<void(int, int)>& progress, const std::atomic<bool>* cancel) const;

    /// cos and sin tables [T, head_dim] (fp32) for positions 0..T-1, HF rotate-half layout.
    std::pair<at::Tensor, at::Tensor> ropeTables(int64_t T) const;

    at::Device device() const { return m_device; }
    at::ScalarType dtype() const { return m_dtype; }

private:
    struct Layer {
        at::Tensor inputNorm, postAttnNorm;
        at::Tensor wq, wk, wv, wo, bq, bk, bv, bo;
        at::Tensor wgate, wup, wdown, bgate, bup, bdown;
    };

    at::Tensor weight(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape, bool keepFp32) const;
    at::Tensor optionalWeight(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape) const;
    at::Tensor norm(const at::Tensor& x, const at::Tensor& w) const;
    at::Tensor invFreq(int64_t T) const;

    ModelConfig m_config;
    FamilySpec m_spec;
    at::Device m_device;
    at::ScalarType m_dtype;
    at::Tensor m_embed, m_finalNorm, m_lmHead;
    std::vector<Layer> m_layers;
};

} // namespace sinkscope::detail
