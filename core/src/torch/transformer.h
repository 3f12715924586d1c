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
    /// Set to whether the last layer's output [T, D] (the final hidden state, before the final
    /// norm) holds a NaN or Inf; it is checked on the device even when nothing else is kept.
    bool* lastOutputNonFinite = nullptr;
    int64_t blockRows = 0; ///< query rows per attention block (0: attentionBlockRows); a batch uses the first's
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

    /// The same pass for B prompts of one length T at once, ids [B][T]; `out[b]` receives prompt b's
    /// captures exactly as a single pass would write them. Interventions apply to every prompt.
    void forwardBatch(const std::vector<std::vector<int32_t>>& ids, const Interventions& interventions,
                      const std::vector<ForwardTargets>& out, const std::function<void(int, int)>& progress,
                      const std::atomic<bool>* cancel) const;

    /// Query rows per attention block: no more than about kAttentionBlockElements probabilities
    /// ([B, H, rows, T]) exist at once, whatever T is (at least 16 rows); causal attention uses at
    /// most max(kCausalMinRows, ceil(T / 4)) rows, so that the blocks skip the masked triangle.
    static int64_t attentionBlockRows(int64_t batch, int64_t heads, int64_t T, bool causal = false);
    static constexpr int64_t kAttentionBlockElements = int64_t(4) << 20; // 16 MiB of fp32
    static constexpr int64_t kCausalMinRows = 128;

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
        // Loaded in nn.Linear's [out, in]; once the layer is loaded, wqkv, wo, wgateUp, wup and
        // wdown are stored transposed, [in, out] (Transformer's project()).
        at::Tensor wq, wk, wv, wo, bq, bk, bv, bo;  ///< q/k/v only while loading
        at::Tensor wqkv, bqkv;                      ///< [q | k | v]: [D, (H + 2 Hkv) hd]
        at::Tensor wgate, wup, wdown, bgate, bup, bdown; ///< gate only while loading
        at::Tensor wgateUp, bgateUp;                ///< gated MLPs: [gate | up]: [D, 2F]
        at::Tensor woGram; ///< [H, hd, hd] fp64: W_O^h (W_O^h)^T, so ||v W_O^h||^2 = v G v^T
    };
    struct Pass;                     ///< per-call state: sizes, positions, RoPE tables, masks
    struct Qkv { at::Tensor q, k, v; }; ///< [B, H, T, hd], [B, Hkv, T, hd], [B, Hkv, T, hd]

    // The named steps of forwardBatch, in order.
    Pass beginPass(const std::vector<std::vector<int32_t>>& ids, const Interventions& iv) const;
    at::Tensor embed(const Pass& pass, const Interventions& iv) const;                 // [B, T, D]
    Qkv projectQkv(const Layer& W, const at::Tensor& h, const Pass& pass) const;
    at::Tensor attend(int layer, const Qkv& qkv, const Pass& pass, const std::vector<ForwardTargets>& out) const;
    at::Tensor attentionOutput(const Layer& W, const at::Tensor& ctx, const Pass& pass) const; // [B, T, D]
    at::Tensor mlp(const Layer& W, const at::Tensor& x) const;
    at::Tensor residual(const Layer& W, const at::Tensor& x, at::Tensor attnOut) const; ///< attnOut is overwritten
    void captureLayer(int layer, const Qkv& qkv, const at::Tensor& ctx, const Pass& pass,
                      const std::vector<ForwardTargets>& out) const;
    void checkLastOutput(const at::Tensor& x, const std::vector<ForwardTargets>& out) const;
    void writeLogits(const at::Tensor& x, const std::vector<ForwardTargets>& out) const;
    /// Additive fp32 mask for queries [t0, t1) and keys [k0, k1): 0 or -inf, plus the bias.
    at::Tensor maskBlock(const Pass& pass, int window, int64_t t0, int64_t t1, int64_t k0, int64_t k1) const;

    at::Tensor load(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape) const;
    at::Tensor linearWeight(const Checkpoint& ckpt, const std::string& name, int64_t out, int64_t in) const;
    at::Tensor bias(const Checkpoint& ckpt, const std::string& name, int64_t size, bool wanted) const;
    Norm loadNorm(const Checkpoint& ckpt, const std::string& name, int64_t dim, NormKind kind) const;
    at::Tensor norm(const at::Tensor& x, const Norm& n, NormKind kind) const;
    /// Applies the named activation to x in place (x must be a temporary nothing else reads).
    at::Tensor activation(at::Tensor x, const std::string& name) const;
    at::Tensor invFreq(int64_t T) const;
    at::Tensor positionIds(const std::vector<int32_t>& ids, const Interventions& iv) const; // [T] host

    ModelConfig m_config;
    FamilySpec m_spec;
    std::string m_prefix;
    at::Device m_device;
    at::ScalarType m_dtype;
    at::Tensor m_embed, m_positions, m_tokenTypes, m_projectIn, m_projectOut; ///< projections [in, out]
    at::Tensor m_lmHead, m_lmBias, m_mlmDense, m_mlmDenseBias;
    Norm m_embedNorm, m_finalNorm, m_mlmNorm;
    std::vector<Layer> m_layers;
};

} // namespace sinkscope::detail
