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

std::pair<at::Tensor, at::Tensor> Transformer::ropeTables(const at::Tensor& positions) const
{
    // Dynamic NTK looks at the sequence length the positions imply (largest id + 1).
    const int64_t T = positions.numel() ? positions.max().item<int64_t>() + 1 : 0;
    const at::Tensor inv = invFreq(T);                        // [hd/2]
    const at::Tensor freqs = at::outer(positions.to(at::kCPU).to(at::kFloat), inv); // [T, hd/2]
    const at::Tensor emb = at::cat({freqs, freqs}, -1);       // [T, hd]
    return {emb.cos(), emb.sin()};
}

namespace {

/// Applies the hidden-state interventions that target the input of layer `layer`.
at::Tensor applyOverwrites(at::Tensor x, const Interventions& iv, int layer)
{
    bool any = false;
    for (const auto& d : iv.dims)
        any = any || d.layer == layer;
    for (const auto& t : iv.tokens)
        any = any || t.layer == layer;
    if (!any)
        return x;
    x = x.clone();
    for (const auto& d : iv.dims) {
        if (d.layer != layer)
            continue;
        if (d.token < 0)
            x.select(1, d.dim).fill_(d.value);
        else
            x[d.token][d.dim].fill_(d.value);
    }
    for (const auto& t : iv.tokens) {
        if (t.layer != layer)
            continue;
        const at::Tensor h = at::from_blob(const_cast<float*>(t.hidden.data()), {int64_t(t.hidden.size())},
                                           at::TensorOptions().dtype(at::kFloat));
        x[t.token].copy_(h.to(x.device(), x.scalar_type()));
    }
    return x;
}

} // namespace

void Transformer::forward(const std::vector<int32_t>& ids, const Interventions& iv, const ForwardTargets& out,
                          const std::function<void(int, int)>& progress, const std::atomic<bool>* cancel) const
{
    const int64_t T = int64_t(ids.size());
    const int64_t H = m_config.numHeads, Hkv = m_config.numKvHeads, hd = m_config.headDim;
    const int64_t D = m_config.hiddenSize;
    const int64_t group = H / Hkv;
    const int L = m_config.numLayers;
    const double scale = 1.0 / std::sqrt(double(hd));

    const at::TensorOptions longOpts = at::TensorOptions().dtype(at::kLong);
    const at::TensorOptions floatOpts = at::TensorOptions().dtype(at::kFloat).device(m_device);
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const at::Tensor idT = at::from_blob(ids64.data(), {T}, longOpts).clone().to(m_device);

    std::vector<int64_t> pos64 = iv.positionIds;
    if (pos64.empty())
        for (int64_t t = 0; t < T; ++t)
            pos64.push_back(t);
    const at::Tensor positions = at::from_blob(pos64.data(), {T}, longOpts).clone();
    auto [cosT, sinT] = ropeTables(positions);
    const at::Tensor cos = cosT.to(m_device, m_dtype).unsqueeze(0); // [1, T, hd]
    const at::Tensor sin = sinT.to(m_device, m_dtype).unsqueeze(0);

    // Additive masks in fp32: -inf gives exactly the zeros the reference's finfo.min gives.
    // Sliding-window layers (mistral; qwen2 from max_window_layers on) see keys t - s < window.
    at::Tensor fullMask, windowMask;
    const float ninf = -std::numeric_limits<float>::infinity();
    const int window = m_config.slidingWindow && *m_config.slidingWindow > 0 ? *m_config.slidingWindow : 0;
    {
        const at::Tensor q = at::arange(T, longOpts.device(m_device)).unsqueeze(1);
        const at::Tensor k = at::arange(T, longOpts.device(m_device)).unsqueeze(0);
        const at::Tensor zeros = at::zeros({T, T}, floatOpts);
        const at::Tensor causal = m_spec.causal ? (k <= q) : at::ones({T, T}, longOpts.device(m_device)).to(at::kBool);
        fullMask = zeros.masked_fill(causal.logical_not(), ninf);
        if (window > 0)
            windowMask = zeros.masked_fill(causal.logical_and((q - k) < int64_t(window)).logical_not(), ninf);
        if (!iv.maskBias.empty()) {
            const at::Tensor bias = at::from_blob(const_cast<float*>(iv.maskBias.data()), {T, T},
                                                  at::TensorOptions().dtype(at::kFloat)).to(m_device);
            fullMask = fullMask + bias;
            if (windowMask.defined())
                windowMask = windowMask + bias;
        }
    }
    if (out.recipes)
        out.recipes->clear();

    at::Tensor x = applyOverwrites(at::embedding(m_embed, idT), iv, 0); // [T, D]
    if (out.hidden)
        copyToHost(x, out.hidden);
    for (int l = 0; l < L; ++l) {
        if (cancel && cancel->load())
            throw Error(ErrorCode::Cancelled, "The run was cancelled.");
        const Layer& W = m_layers[size_t(l)];
        const bool windowed = windowMask.defined() && l >= m_config.slidingWindowFromLayer;
        const at::Tensor& mask = windowed ? windowMask : fullMask;
        if (out.recipes)
            out.recipes->push_back(AttentionRecipe{scale, 0.0, m_spec.causal, windowed ? window : 0});

        const at::Tensor h = norm(x, W.inputNorm);
        at::Tensor q = at::linear(h, W.wq, W.bq).view({T, H, hd}).transpose(0, 1);     // [H, T, hd]
        at::Tensor k = at::linear(h, W.wk, W.bk).view({T, Hkv, hd}).transpose(0, 1);   // [Hkv, T, hd]
        const at::Tensor v = at::linear(h, W.wv, W.bv).view({T, Hkv, hd}).transpose(0, 1); // [Hkv, T, hd]
        q = q * cos + rotateHalf(q) * sin;
        k = k * cos + rotateHalf(k) * sin;
        // Query head h reads KV head h / group (HF repeat_kv order).
        const at::Tensor kr = group > 1 ? k.repeat_interleave(group, 0) : k;           // [H, T, hd]
        const at::Tensor vr = group > 1 ? v.repeat_interleave(group, 0) : v;
        const at::Tensor logits = at::matmul(q, kr.transpose(1, 2)) * scale;           // [H, T, T]
        const at::Tensor lf = logits.to(at::kFloat) + mask;
        const at::Tensor probs = at::softmax(lf, -1);                                  // fp32
        const at::Tensor ctx = at::matmul(probs.to(m_dtype), vr);                      // [H, T, hd]
        const at::Tensor attnOut = at::linear(ctx.transpose(0, 1).reshape({T, H * hd}), W.wo, W.bo);

        const int64_t lHT = int64_t(l) * H * T, lKT = int64_t(l) * Hkv * T;
        if (out.queries)
            copyToHost(q, out.queries + lHT * hd);
        if (out.keys)
            copyToHost(k, out.keys + lKT * hd);
        if (out.values)
            copyToHost(v, out.values + lKT * hd);
        if (out.headOutputs)
            copyToHost(ctx, out.headOutputs + lHT * hd);
        if (out.attention)
            copyToHost(probs, out.attention + lHT * T);

        // O(L.H.T) summaries, computed where the maps live so they never cross to the host.
        if (out.firstTokenMass) {
            const at::Tensor m = T > 1 ? probs.select(2, 0).slice(1, 1).mean(1) : at::zeros({H}, probs.options());
            copyToHost(m, out.firstTokenMass + int64_t(l) * H);
        }
        if (out.firstMassPerQuery)
            copyToHost(probs.select(2, 0), out.firstMassPerQuery + lHT);
        const at::Tensor colSum = probs.sum(1); // [H, T]: attention each key receives, summed over queries
        if (out.received) {
            const at::Tensor visible = at::isfinite(lf).sum(1).to(at::kFloat).clamp_min(1.0); // queries that see k
            copyToHost(colSum / visible, out.received + lHT);
        }
        if (out.entropy)
            copyToHost(-at::xlogy(probs, probs).sum(-1), out.entropy + lHT);
        if (out.valueNorms)
            copyToHost(v.to(at::kFloat).norm(2, -1), out.valueNorms + lKT);
        if (out.contributionNorms || out.writtenNorms) {
            // v_j W_O^h for every head: W_O^h is the [D, hd] slice of o_proj that head h feeds.
            const at::Tensor wo = W.wo.to(at::kFloat).view({D, H, hd}).permute({1, 2, 0}); // [H, hd, D]
            const at::Tensor contrib = at::matmul(vr.to(at::kFloat), wo).norm(2, -1);        // [H, T]
            if (out.contributionNorms)
                copyToHost(contrib, out.contributionNorms + lHT);
            if (out.writtenNorms)
                copyToHost(contrib * colSum, out.writtenNorms + lHT);
        }

        x = x + attnOut;
        const at::Tensor h2 = norm(x, W.postAttnNorm);
        x = x + at::linear(at::silu(at::linear(h2, W.wgate, W.bgate)) * at::linear(h2, W.wup, W.bup), W.wdown, W.bdown);
        x = applyOverwrites(x, iv, l + 1);
        if (out.hidden)
            copyToHost(x, out.hidden + (int64_t(l) + 1) * T * D);
        if (progress)
            progress(l + 1, L);
    }
    if (out.logits) {
        const at::Tensor y = norm(x, m_finalNorm);
        copyToHost(at::linear(y, m_lmHead), out.logits);
    }
}

} // namespace sinkscope::detail
