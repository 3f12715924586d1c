// SPDX-License-Identifier: GPL-3.0-or-later
#include "torch/transformer.h"

#include "sinkscope/error.h"
#include "torch/torchutil.h"

#include <cmath>
#include <cstring>

namespace sinkscope::detail {

namespace {

std::string shapeText(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

at::Tensor rotateHalf(const at::Tensor& x)
{
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

} // namespace

Transformer::Transformer(const ModelConfig& config, const FamilySpec& spec, const Checkpoint& ckpt, at::Device device,
                         at::ScalarType dtype)
    : m_config(config), m_spec(spec), m_device(device), m_dtype(dtype)
{
    const int64_t D = config.hiddenSize, H = config.numHeads, Hkv = config.numKvHeads, hd = config.headDim;
    const int64_t F = config.intermediateSize, V = config.vocabSize;

    m_embed = weight(ckpt, spec.embedTokens, {V, D}, false);
    m_finalNorm = weight(ckpt, spec.finalNorm, {D}, false);
    if (ckpt.contains(spec.lmHead))
        m_lmHead = weight(ckpt, spec.lmHead, {V, D}, false);
    else
        m_lmHead = m_embed; // tied input/output embeddings: the checkpoint stores one matrix

    m_layers.resize(size_t(config.numLayers));
    for (int l = 0; l < config.numLayers; ++l) {
        Layer& L = m_layers[size_t(l)];
        auto n = [&](const std::string& p) { return layerName(p, l); };
        L.inputNorm = weight(ckpt, n(spec.inputNorm), {D}, false);
        L.postAttnNorm = weight(ckpt, n(spec.postAttnNorm), {D}, false);
        L.wq = weight(ckpt, n(spec.qProj) + ".weight", {H * hd, D}, false);
        L.wk = weight(ckpt, n(spec.kProj) + ".weight", {Hkv * hd, D}, false);
        L.wv = weight(ckpt, n(spec.vProj) + ".weight", {Hkv * hd, D}, false);
        L.wo = weight(ckpt, n(spec.oProj) + ".weight", {D, H * hd}, false);
        if (config.attentionBias) {
            L.bq = weight(ckpt, n(spec.qProj) + ".bias", {H * hd}, false);
            L.bk = weight(ckpt, n(spec.kProj) + ".bias", {Hkv * hd}, false);
            L.bv = weight(ckpt, n(spec.vProj) + ".bias", {Hkv * hd}, false);
        }
        // Llama's attention_bias also adds an o_proj bias; Qwen2 has none. Take it when present.
        L.bo = optionalWeight(ckpt, n(spec.oProj) + ".bias", {D});
        L.wgate = weight(ckpt, n(spec.gateProj) + ".weight", {F, D}, false);
        L.wup = weight(ckpt, n(spec.upProj) + ".weight", {F, D}, false);
        L.wdown = weight(ckpt, n(spec.downProj) + ".weight", {D, F}, false);
        if (config.mlpBias) {
            L.bgate = weight(ckpt, n(spec.gateProj) + ".bias", {F}, false);
            L.bup = weight(ckpt, n(spec.upProj) + ".bias", {F}, false);
            L.bdown = weight(ckpt, n(spec.downProj) + ".bias", {D}, false);
        }
    }
}

at::Tensor Transformer::weight(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape,
                               bool keepFp32) const
{
    const TensorInfo* info = ckpt.find(name);
    if (!info)
        throw Error(ErrorCode::Format,
                    "The checkpoint has no tensor '" + name + "', which a " + m_config.modelType + " model needs.",
                    name);
    if (info->shape != shape)
        throw Error(ErrorCode::Format,
                    "Tensor '" + name + "' has shape " + shapeText(info->shape) + " but the config implies "
                        + shapeText(shape) + ".",
                    name);
    return toDevice(ckpt.read(name), m_device, keepFp32 ? at::kFloat : m_dtype);
}

at::Tensor Transformer::optionalWeight(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape) const
{
    if (!ckpt.contains(name))
        return {};
    return weight(ckpt, name, std::move(shape), false);
}

at::Tensor Transformer::norm(const at::Tensor& x, const at::Tensor& w) const
{
    // HF LlamaRMSNorm: statistics in fp32, then scale in the model dtype.
    const at::Tensor xf = x.to(at::kFloat);
    const at::Tensor var = xf.pow(2).mean(-1, true);
    const at::Tensor y = xf * at::rsqrt(var + m_config.normEps);
    return w * y.to(m_dtype);
}

at::Tensor Transformer::invFreq(int64_t T) const
{
    const int64_t dim = m_config.headDim;
    const RopeScaling& rs = m_config.ropeScaling;
    double base = m_config.ropeTheta;
    if (rs.type == "dynamic") {
        // Dynamic NTK: the base grows once the sequence is longer than the trained context.
        const double maxPos = rs.originalMaxPositionEmbeddings > 0 ? rs.originalMaxPositionEmbeddings
                                                                   : m_config.maxPositionEmbeddings;
        if (double(T) > maxPos)
            base = base * std::pow(rs.factor * double(T) / maxPos - (rs.factor - 1.0), double(dim) / double(dim - 2));
    }
    // Same op order and precision as the reference: int64 arange -> float, / dim, base ** that.
    const at::Tensor exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / double(dim);
    at::Tensor inv = 1.0 / at::pow(base, exponent);
    if (rs.type == "linear") {
        inv = inv / rs.factor;
    } else if (rs.type == "llama3") {
        const double oldCtx = rs.originalMaxPositionEmbeddings;
        const double lowWavelen = oldCtx / rs.lowFreqFactor;
        const double highWavelen = oldCtx / rs.highFreqFactor;
        const at::Tensor wavelen = 2.0 * M_PI / inv;
        at::Tensor scaled = at::where(wavelen > lowWavelen, inv / rs.factor, inv);
        const at::Tensor smooth = (oldCtx / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
        const at::Tensor smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
        const at::Tensor medium = at::logical_not(wavelen < highWavelen).logical_and(at::logical_not(wavelen > lowWavelen));
        inv = at::where(medium, smoothed, scaled);
    }
    return inv;
}

std::pair<at::Tensor, at::Tensor> Transformer::ropeTables(int64_t T) const
{
    const at::Tensor inv = invFreq(T);                                          // [hd/2]
    const at::Tensor pos = at::arange(T, at::TensorOptions().dtype(at::kLong)).to(at::kFloat); // [T]
    const at::Tensor freqs = at::outer(pos, inv);                               // [T, hd/2]
    const at::Tensor emb = at::cat({freqs, freqs}, -1);                         // [T, hd]
    return {emb.cos(), emb.sin()};
}

void Transformer::forward(const std::vector<int32_t>& ids, const ForwardTargets& out,
                          const std::function<void(int, int)>& progress, const std::atomic<bool>* cancel) const
{
    const int64_t T = int64_t(ids.size());
    const int64_t H = m_config.numHeads, Hkv = m_config.numKvHeads, hd = m_config.headDim;
    const int64_t D = m_config.hiddenSize;
    const int64_t group = H / Hkv;
    const int L = m_config.numLayers;
    const double scale = 1.0 / std::sqrt(double(hd));

    const at::TensorOptions longOpts = at::TensorOptions().dtype(at::kLong);
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const at::Tensor idT = at::from_blob(ids64.data(), {T}, longOpts).clone().to(m_device);

    auto [cosT, sinT] = ropeTables(T);
    const at::Tensor cos = cosT.to(m_device, m_dtype).unsqueeze(0); // [1, T, hd]
    const at::Tensor sin = sinT.to(m_device, m_dtype).unsqueeze(0);

    // Additive masks in fp32: -inf gives exactly the zeros the reference's finfo.min gives.
    // Sliding-window layers (mistral; qwen2 from max_window_layers on) see keys t - s < window.
    at::Tensor fullMask, windowMask;
    if (m_spec.causal) {
        const at::Tensor q = at::arange(T, longOpts.device(m_device)).unsqueeze(1);
        const at::Tensor k = at::arange(T, longOpts.device(m_device)).unsqueeze(0);
        const at::Tensor zeros = at::zeros({T, T}, at::TensorOptions().dtype(at::kFloat).device(m_device));
        const float ninf = -std::numeric_limits<float>::infinity();
        const at::Tensor causal = k <= q;
        fullMask = zeros.masked_fill(causal.logical_not(), ninf);
        if (m_config.slidingWindow && *m_config.slidingWindow > 0)
            windowMask = zeros.masked_fill(causal.logical_and((q - k) < int64_t(*m_config.slidingWindow)).logical_not(), ninf);
    }

    at::Tensor x = at::embedding(m_embed, idT); // [T, D]
    for (int l = 0; l < L; ++l) {
        if (cancel && cancel->load())
            throw Error(ErrorCode::Cancelled, "The run was cancelled.");
        const Layer& W = m_layers[size_t(l)];
        const at::Tensor& mask = windowMask.defined() && l >= m_config.slidingWindowFromLayer ? windowMask : fullMask;
        const at::Tensor h = norm(x, W.inputNorm);
        at::Tensor q = at::linear(h, W.wq, W.bq).view({T, H, hd}).transpose(0, 1);     // [H, T, hd]
        at::Tensor k = at::linear(h, W.wk, W.bk).view({T, Hkv, hd}).transpose(0, 1);   // [Hkv, T, hd]
        at::Tensor v = at::linear(h, W.wv, W.bv).view({T, Hkv, hd}).transpose(0, 1);   // [Hkv, T, hd]
        q = q * cos + rotateHalf(q) * sin;
        k = k * cos + rotateHalf(k) * sin;
        // Query head h reads KV head h / group (HF repeat_kv order).
        const at::Tensor kr = group > 1 ? k.repeat_interleave(group, 0) : k;           // [H, T, hd]
        const at::Tensor vr = group > 1 ? v.repeat_interleave(group, 0) : v;
        at::Tensor logits = at::matmul(q, kr.transpose(1, 2)) * scale;                 // [H, T, T]
        at::Tensor lf = logits.to(at::kFloat);
        if (mask.defined())
            lf = lf + mask;
        const at::Tensor probs = at::softmax(lf, -1);                                  // fp32
        const at::Tensor ctx = at::matmul(probs.to(m_dtype), vr);                      // [H, T, hd]
        const at::Tensor attnOut = at::linear(ctx.transpose(0, 1).reshape({T, H * hd}), W.wo, W.bo);
        x = x + attnOut;
        const at::Tensor h2 = norm(x, W.postAttnNorm);
        x = x + at::linear(at::silu(at::linear(h2, W.wgate, W.bgate)) * at::linear(h2, W.wup, W.bup), W.wdown, W.bdown);

        if (out.firstTokenMass) {
            // mean over queries t >= 1 of A[t, 0], per head, computed where the maps live.
            const at::Tensor m = T > 1 ? probs.select(2, 0).slice(1, 1).mean(1) : at::zeros({H}, probs.options());
            copyToHost(m, out.firstTokenMass + int64_t(l) * H);
        }
        if (out.attention)
            copyToHost(probs, out.attention + int64_t(l) * H * T * T);
        if (progress)
            progress(l + 1, L);
    }
    (void)D;
    if (out.logits) {
        const at::Tensor y = norm(x, m_finalNorm);
        copyToHost(at::linear(y, m_lmHead), out.logits);
    }
}

} // namespace sinkscope::detail
