// SPDX-License-Identifier: GPL-3.0-or-later
// The one generic decoder/encoder forward pass, driven by a FamilySpec and the ModelConfig.
// Torch stays in here.
#pragma once

#include "sinkscope/checkpoint.h"
#include "sinkscope/modelconfig.h"
#include "sinkscope/runresult.h"
#include "familyspec.h"

#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <map>
#include <vector>

namespace sinkscope::detail {

/// Where a forward pass writes what it captures (host, fp32, C order); null means "not wanted".
struct ForwardTargets {
    float* attention = nullptr;      ///< [L, H, T, T] probabilities
    float* logits = nullptr;         ///< [T, vocab] (left untouched when the model has no output head)
    float* hidden = nullptr;         ///< [L+1, T, D]
    float* queries = nullptr;        ///< [L, H, T, hd] post-position-encoding
    float* keys = nullptr;           ///< [L, Hkv, T, hd] post-position-encoding
    float* values = nullptr;         ///< [L, Hkv, T, hd]
    float* headOutputs = nullptr;    ///< [L, H, T, hd]
    // summaries
    float* firstTokenMass = nullptr; ///< [L, H]: mean over t >= 1 of A[t, 0]
    float* firstMassPerQuery = nullptr; ///< [L, H, T]
    float* received = nullptr;       ///< [L, H, T]: mean over the queries that see k of A[t, k]
    float* entropy = nullptr;        ///< [L, H, T]
    float* valueNorms = nullptr;     ///< [L, Hkv, T]
    float* contributionNorms = nullptr; ///< [L, H, T]: ||v_j W_O^h||
    float* writtenNorms = nullptr;   ///< [L, H, T]: sum_t ||A[t,j] v_j W_O^h||
    std::vector<AttentionRecipe>* recipes = nullptr; ///< per layer, filled by the pass
};

class Transformer {
public:
    /// Copies every weight the family needs from `checkpoint` onto `device` in `dtype`, splitting
    /// fused projections and transposing Conv1D weights so the forward pass sees one layout.
    /// Throws Error(Format) for missing or mis-shaped tensors.
    Transformer(const ModelConfig& config, const FamilySpec& spec, const Checkpoint& checkpoint, at::Device device,
                at::ScalarType dtype);

    /// Runs ids [T] through the model, writing the requested captures. Calls `progress(l+1, L)`
    /// after each layer and throws Error(Cancelled) when `cancel` is set between layers.
    void forward(const std::vector<int32_t>& ids, const Interventions& interventions, const ForwardTargets& out,
                 const std::function<void(int, int)>& progress, const std::atomic<bool>* cancel) const;

    /// cos and sin tables [T, rotary_dim] (fp32) for the given positions, HF rotate-half layout.
    std::pair<at::Tensor, at::Tensor> ropeTables(const at::Tensor& positions) const;

    /// False for an encoder checkpoint without its MLM head: the pass then writes no logits.
    bool hasLogits() const { return m_lmHead.defined(); }

    at::Device device() const { return m_device; }
    at::ScalarType dtype() const { return m_dtype; }

private:
    struct Norm {
        at::Tensor w, b; ///< undefined when the norm is absent (or, for LayerNorm, not affine)
        bool present = false;
    };
    struct Layer {
        Norm attnNorm, mlpNorm, attnOutNorm, mlpOutNorm, qNorm, kNorm;
        at::Tensor wq, wk, wv, wo, bq, bk, bv, bo;  ///< nn.Linear layout [out, in]
        at::Tensor wgate, wup, wdown, bgate, bup, bdown;
    };

    at::Tensor load(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape) const;
    at::Tensor linearWeight(const Checkpoint& ckpt, const std::string& name, int64_t out, int64_t in) const;
    at::Tensor bias(const Checkpoint& ckpt, const std::string& name, int64_t size, bool wanted) const;
    Norm loadNorm(const Checkpoint& ckpt, const std::string& name, int64_t dim, NormKind kind) const;
    at::Tensor norm(const at::Tensor& x, const Norm& n, NormKind kind) const;
    at::Tensor activation(const at::Tensor& x, const std::string& name) const;
    at::Tensor invFreq(int64_t T) const;
    at::Tensor positionIds(const std::vector<int32_t>& ids, const Interventions& iv) const;

    ModelConfig m_config;
    FamilySpec m_spec;
    std::string m_prefix;
    at::Device m_device;
    at::ScalarType m_dtype;
    at::Tensor m_embed, m_positions, m_tokenTypes, m_projectIn, m_projectOut;
    at::Tensor m_lmHead, m_lmBias, m_mlmDense, m_mlmDenseBias;
    Norm m_embedNorm, m_finalNorm, m_mlmNorm;
    std::vector<Layer> m_layers;
};

} // namespace sinkscope::detail
