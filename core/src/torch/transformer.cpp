// SPDX-License-Identifier: GPL-3.0-or-later
#include "torch/transformer.h"

#include "sinkscope/error.h"
#include "torch/torchutil.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace sinkscope::detail {

namespace {

std::string shapeText(const std::vector<int64_t>& shape)
{
    return formatShape(shape); // abbreviated: a hostile shape cannot make a huge message
}

at::Tensor rotateHalf(const at::Tensor& x)
{
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

/// RoPE on the first cos.size(-1) dims of each head (all of them unless the rotary is partial).
at::Tensor applyRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin)
{
    const int64_t rot = cos.size(-1);
    if (rot == x.size(-1))
        return x * cos + rotateHalf(x) * sin;
    const at::Tensor xr = x.slice(-1, 0, rot);
    return at::cat({xr * cos + rotateHalf(xr) * sin, x.slice(-1, rot)}, -1);
}

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

Transformer::Transformer(const ModelConfig& config, const FamilySpec& spec, const Checkpoint& ckpt, at::Device device,
                         at::ScalarType dtype)
    : m_config(config), m_spec(spec), m_device(device), m_dtype(dtype)
{
    const int64_t D = config.hiddenSize, H = config.numHeads, Hkv = config.numKvHeads, hd = config.headDim;
    const int64_t F = config.intermediateSize, V = config.vocabSize, P = config.wordEmbedProjDim;

    // The checkpoint prefix ("transformer.", "bert.", "model.decoder.", or none) is whichever
    // candidate names an existing embedding; messages about missing tensors use the first one.
    m_prefix = spec.prefixes.empty() ? std::string() : spec.prefixes.front();
    for (const std::string& p : spec.prefixes)
        if (ckpt.contains(p + spec.embedTokens + ".weight")) {
            m_prefix = p;
            break;
        }
    auto rel = [&](const std::string& name) { return m_prefix + name; };

    m_embed = load(ckpt, rel(spec.embedTokens) + ".weight", {V, P});
    if (P != D) {
        m_projectIn = linearWeight(ckpt, rel(spec.projectIn), D, P);
        m_projectOut = linearWeight(ckpt, rel(spec.projectOut), P, D);
    }
    if (!spec.positionTable.empty()) {
        // OPT's table has two rows more than max_position_embeddings (its fixed offset).
        const int64_t rows = config.maxPositionEmbeddings + spec.learnedOffset;
        m_positions = load(ckpt, rel(spec.positionTable) + ".weight", {rows, D});
    }
    if (!spec.tokenTypeTable.empty())
        m_tokenTypes = load(ckpt, rel(spec.tokenTypeTable) + ".weight", {config.typeVocabSize, D});
    if (!spec.embedNorm.empty())
        m_embedNorm = loadNorm(ckpt, rel(spec.embedNorm), D, NormKind::Layer);
    if (config.finalNorm && !spec.finalNorm.empty())
        m_finalNorm = loadNorm(ckpt, rel(spec.finalNorm), D, config.norm);

    // Output head. Encoders have one only when the MLM transform is in the checkpoint.
    const bool mlm = !spec.mlmDense.empty();
    if (!mlm || ckpt.contains(spec.mlmDense + ".weight")) {
        if (mlm) {
            m_mlmDense = linearWeight(ckpt, spec.mlmDense, D, D);
            m_mlmDenseBias = bias(ckpt, spec.mlmDense + ".bias", D, true);
            m_mlmNorm = loadNorm(ckpt, spec.mlmNorm, D, NormKind::Layer);
            const std::string b = ckpt.contains(spec.lmHeadBias) || spec.lmHeadBiasAlt.empty()
                                      || !ckpt.contains(spec.lmHeadBiasAlt)
                                      ? spec.lmHeadBias
                                      : spec.lmHeadBiasAlt;
            m_lmBias = load(ckpt, b, {V});
        }
        const int64_t headIn = mlm ? D : P;
        // Tied input/output embeddings: the checkpoint stores one matrix. An untied model must
        // bring its own (HF would initialise a missing one at random).
        if (ckpt.contains(spec.lmHead + ".weight") || !config.tieWordEmbeddings)
            m_lmHead = load(ckpt, spec.lmHead + ".weight", {V, headIn});
        else
            m_lmHead = m_embed;
    }

    m_layers.resize(size_t(config.numLayers));
    for (int l = 0; l < config.numLayers; ++l) {
        Layer& L = m_layers[size_t(l)];
        auto n = [&](const std::string& p) { return rel(layerName(p, l)); };
        L.attnNorm = loadNorm(ckpt, n(spec.attnNorm), D, config.norm);
        L.mlpNorm = loadNorm(ckpt, n(spec.mlpNorm), D, config.norm);
        if (!spec.attnOutNorm.empty())
            L.attnOutNorm = loadNorm(ckpt, n(spec.attnOutNorm), D, config.norm);
        if (!spec.mlpOutNorm.empty())
            L.mlpOutNorm = loadNorm(ckpt, n(spec.mlpOutNorm), D, config.norm);
        if (!spec.qNorm.empty()) {
            L.qNorm = loadNorm(ckpt, n(spec.qNorm), hd, NormKind::Rms);
            L.kNorm = loadNorm(ckpt, n(spec.kNorm), hd, NormKind::Rms);
        }

        const int64_t qRows = H * hd, kvRows = Hkv * hd;
        switch (spec.qkv) {
        case QkvLayout::Separate:
            L.wq = linearWeight(ckpt, n(spec.qProj), qRows, D);
            L.wk = linearWeight(ckpt, n(spec.kProj), kvRows, D);
            L.wv = linearWeight(ckpt, n(spec.vProj), kvRows, D);
            L.bq = bias(ckpt, n(spec.qProj) + ".bias", qRows, config.attentionBias);
            L.bk = bias(ckpt, n(spec.kProj) + ".bias", kvRows, config.attentionBias);
            L.bv = bias(ckpt, n(spec.vProj) + ".bias", kvRows, config.attentionBias);
            break;
        case QkvLayout::FusedConcat: {
            // [q | k | v] along the output dimension (phi3 qkv_proj; gpt2 c_attn once transposed).
            const at::Tensor w = linearWeight(ckpt, n(spec.qkvProj), qRows + 2 * kvRows, D);
            L.wq = w.slice(0, 0, qRows).contiguous();
            L.wk = w.slice(0, qRows, qRows + kvRows).contiguous();
            L.wv = w.slice(0, qRows + kvRows).contiguous();
            const at::Tensor b = bias(ckpt, n(spec.qkvProj) + ".bias", qRows + 2 * kvRows, config.attentionBias);
            if (b.defined()) {
                L.bq = b.slice(0, 0, qRows).contiguous();
                L.bk = b.slice(0, qRows, qRows + kvRows).contiguous();
                L.bv = b.slice(0, qRows + kvRows).contiguous();
            }
            break;
        }
        case QkvLayout::FusedPerHead: {
            // GPT-NeoX: the output viewed as [heads, 3, head_dim]: q, k, v inside each head.
            const at::Tensor w = linearWeight(ckpt, n(spec.qkvProj), 3 * qRows, D).view({H, 3, hd, D});
            L.wq = w.select(1, 0).reshape({qRows, D}).contiguous();
            L.wk = w.select(1, 1).reshape({qRows, D}).contiguous();
            L.wv = w.select(1, 2).reshape({qRows, D}).contiguous();
            const at::Tensor b = bias(ckpt, n(spec.qkvProj) + ".bias", 3 * qRows, config.attentionBias);
            if (b.defined()) {
                const at::Tensor b3 = b.view({H, 3, hd});
                L.bq = b3.select(1, 0).reshape({qRows}).contiguous();
                L.bk = b3.select(1, 1).reshape({qRows}).contiguous();
                L.bv = b3.select(1, 2).reshape({qRows}).contiguous();
            }
            break;
        }
        }
        L.wo = linearWeight(ckpt, n(spec.oProj), D, qRows);
        L.bo = bias(ckpt, n(spec.oProj) + ".bias", D, config.outputBias);

        switch (spec.mlp) {
        case MlpKind::Gated:
            L.wgate = linearWeight(ckpt, n(spec.gateProj), F, D);
            L.wup = linearWeight(ckpt, n(spec.upProj), F, D);
            L.bgate = bias(ckpt, n(spec.gateProj) + ".bias", F, config.mlpBias);
            L.bup = bias(ckpt, n(spec.upProj) + ".bias", F, config.mlpBias);
            break;
        case MlpKind::GatedFused: {
            const at::Tensor w = linearWeight(ckpt, n(spec.gateUpProj), 2 * F, D);
            L.wgate = w.slice(0, 0, F).contiguous();
            L.wup = w.slice(0, F).contiguous();
            break;
        }
        case MlpKind::Plain:
            L.wup = linearWeight(ckpt, n(spec.upProj), F, D);
            L.bup = bias(ckpt, n(spec.upProj) + ".bias", F, config.mlpBias);
            break;
        }
        L.wdown = linearWeight(ckpt, n(spec.downProj), D, F);
        L.bdown = bias(ckpt, n(spec.downProj) + ".bias", D, config.mlpBias && spec.mlp != MlpKind::GatedFused);
    }
}

at::Tensor Transformer::load(const Checkpoint& ckpt, const std::string& name, std::vector<int64_t> shape) const
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
    return toDevice(ckpt.read(name), m_device, m_dtype);
}

at::Tensor Transformer::linearWeight(const Checkpoint& ckpt, const std::string& name, int64_t out, int64_t in) const
{
    // GPT-2's Conv1D keeps [in, out]; everything downstream uses nn.Linear's [out, in].
    if (m_spec.conv1d)
        return load(ckpt, name + ".weight", {in, out}).t().contiguous();
    return load(ckpt, name + ".weight", {out, in});
}

at::Tensor Transformer::bias(const Checkpoint& ckpt, const std::string& name, int64_t size, bool wanted) const
{
    return wanted ? load(ckpt, name, {size}) : at::Tensor();
}

Transformer::Norm Transformer::loadNorm(const Checkpoint& ckpt, const std::string& name, int64_t dim, NormKind kind) const
{
    Norm n;
    n.present = true;
    if (kind != NormKind::Layer) {
        n.w = load(ckpt, name + ".weight", {dim});
        return n;
    }
    if (!m_config.normAffine)
        return n;
    // TF-converted BERT checkpoints still call them gamma and beta.
    const bool legacy = !ckpt.contains(name + ".weight") && ckpt.contains(name + ".gamma");
    n.w = load(ckpt, name + (legacy ? ".gamma" : ".weight"), {dim});
    n.b = load(ckpt, name + (legacy ? ".beta" : ".bias"), {dim});
    return n;
}

at::Tensor Transformer::norm(const at::Tensor& x, const Norm& n, NormKind kind) const
{
    if (!n.present)
        return x;
    const at::Tensor xf = x.to(at::kFloat);
    switch (kind) {
    case NormKind::Rms: {
        // HF LlamaRMSNorm: statistics in fp32, then scale in the model dtype.
        const at::Tensor y = xf * at::rsqrt(xf.pow(2).mean(-1, true) + m_config.normEps);
        return n.w * y.to(x.scalar_type());
    }
    case NormKind::RmsUnitOffset: {
        // GemmaRMSNorm: (x / rms(x)) * (1 + w) in fp32, then the model dtype.
        const at::Tensor y = xf * at::rsqrt(xf.pow(2).mean(-1, true) + m_config.normEps);
        return (y * (1.0 + n.w.to(at::kFloat))).to(x.scalar_type());
    }
    case NormKind::Layer: {
        const at::Tensor w = n.w.defined() ? n.w.to(at::kFloat) : at::Tensor();
        const at::Tensor b = n.b.defined() ? n.b.to(at::kFloat) : at::Tensor();
        return at::layer_norm(xf, {x.size(-1)}, w, b, m_config.normEps).to(x.scalar_type());
    }
    }
    return x;
}

at::Tensor Transformer::activation(const at::Tensor& x, const std::string& name) const
{
    if (name == "silu" || name == "swish")
        return at::silu(x);
    if (name == "relu")
        return at::relu(x);
    if (name == "gelu")
        return at::gelu(x);
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
        return at::gelu(x, "tanh"); // the tanh approximation, one formula under three names
    if (name == "quick_gelu")
        return x * at::sigmoid(1.702 * x);
    throw Error(ErrorCode::Unsupported, "activation '" + name + "' is not supported.");
}

at::Tensor Transformer::invFreq(int64_t T) const
{
    const int64_t dim = m_config.rotaryDim();
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
    const at::Tensor inv = invFreq(T);                        // [rot/2]
    const at::Tensor freqs = at::outer(positions.to(at::kCPU).to(at::kFloat), inv); // [T, rot/2]
    const at::Tensor emb = at::cat({freqs, freqs}, -1);       // [T, rot]
    return {emb.cos(), emb.sin()};
}

at::Tensor Transformer::positionIds(const std::vector<int32_t>& ids, const Interventions& iv) const
{
    const int64_t T = int64_t(ids.size());
    std::vector<int64_t> pos(static_cast<size_t>(T));
    if (!iv.positionIds.empty()) {
        pos = iv.positionIds;
    } else if (m_spec.paddingAwarePositions && m_config.padTokenId) {
        // RoBERTa's create_position_ids_from_input_ids: padding tokens sit at padding_idx (position
        // -1 before the offset), the others count up from padding_idx + 1.
        int64_t count = 0;
        for (int64_t t = 0; t < T; ++t) {
            const bool pad = ids[size_t(t)] == *m_config.padTokenId;
            count += pad ? 0 : 1;
            pos[size_t(t)] = pad ? -1 : count - 1;
        }
    } else {
        for (int64_t t = 0; t < T; ++t)
            pos[size_t(t)] = t;
    }
    return at::from_blob(pos.data(), {T}, at::TensorOptions().dtype(at::kLong)).clone();
}

void Transformer::forward(const std::vector<int32_t>& ids, const Interventions& iv, const ForwardTargets& out,
                          const std::function<void(int, int)>& progress, const std::atomic<bool>* cancel) const
{
    const int64_t T = int64_t(ids.size());
    const int64_t H = m_config.numHeads, Hkv = m_config.numKvHeads, hd = m_config.headDim;
    const int64_t D = m_config.hiddenSize;
    const int64_t group = H / Hkv;
    const int L = m_config.numLayers;
    const bool causal = m_config.causal;

    const at::TensorOptions longOpts = at::TensorOptions().dtype(at::kLong);
    const at::TensorOptions floatOpts = at::TensorOptions().dtype(at::kFloat).device(m_device);
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const at::Tensor idT = at::from_blob(ids64.data(), {T}, longOpts).clone().to(m_device);
    const at::Tensor positions = positionIds(ids, iv); // [T] on the host

    at::Tensor cos, sin;
    if (m_config.position == PositionKind::Rope) {
        auto [cosT, sinT] = ropeTables(positions);
        cos = cosT.to(m_device, m_dtype).unsqueeze(0); // [1, T, rot]
        sin = sinT.to(m_device, m_dtype).unsqueeze(0);
    }

    // Additive masks in fp32, one per window size in use: -inf gives exactly the zeros the
    // reference's finfo.min gives. Windowed layers see keys with t - s < window.
    const float ninf = -std::numeric_limits<float>::infinity();
    const at::Tensor qi = at::arange(T, longOpts.device(m_device)).unsqueeze(1);
    const at::Tensor ki = at::arange(T, longOpts.device(m_device)).unsqueeze(0);
    at::Tensor bias;
    if (!iv.maskBias.empty())
        bias = at::from_blob(const_cast<float*>(iv.maskBias.data()), {T, T}, at::TensorOptions().dtype(at::kFloat))
                   .to(m_device);
    std::map<int, at::Tensor> masks;
    auto maskFor = [&](int window) -> const at::Tensor& {
        auto it = masks.find(window);
        if (it != masks.end())
            return it->second;
        at::Tensor allowed = causal ? (ki <= qi) : at::ones({T, T}, longOpts.device(m_device)).to(at::kBool);
        if (window > 0)
            allowed = allowed.logical_and((qi - ki) < int64_t(window));
        at::Tensor m = at::zeros({T, T}, floatOpts).masked_fill(allowed.logical_not(), ninf);
        if (bias.defined())
            m = m + bias;
        return masks.emplace(window, m).first->second;
    };
    if (out.recipes)
        out.recipes->clear();

    // Embedding stage: tokens (projected up in OPT, scaled in Gemma), learned positions, token
    // type 0, and BERT's embedding LayerNorm.
    at::Tensor x = at::embedding(m_embed, idT);
    if (m_projectIn.defined())
        x = at::linear(x, m_projectIn);
    if (m_spec.scaleEmbedding)
        x = x * at::scalar_tensor(std::sqrt(double(D)), x.options()); // the normalizer rounded to the dtype
    if (m_positions.defined()) {
        const at::Tensor rows = positions + m_config.positionOffset;
        const int64_t lo = rows.min().item<int64_t>(), hi = rows.max().item<int64_t>();
        if (lo < 0 || hi >= m_positions.size(0))
            throw Error(ErrorCode::InvalidArgument,
                        "Position ids must stay within 0.." + std::to_string(m_positions.size(0) - 1 - m_config.positionOffset)
                            + " for this model.");
        x = x + at::embedding(m_positions, rows.to(m_device));
    }
    if (m_tokenTypes.defined())
        x = x + m_tokenTypes[0];
    if (m_embedNorm.present)
        x = norm(x, m_embedNorm, NormKind::Layer);
    x = applyOverwrites(x, iv, 0); // [T, D]
    if (out.hidden)
        copyToHost(x, out.hidden);

    const NormKind nk = m_config.norm;
    for (int l = 0; l < L; ++l) {
        if (cancel && cancel->load())
            throw Error(ErrorCode::Cancelled, "The run was cancelled.");
        const Layer& W = m_layers[size_t(l)];
        const int window = m_config.windowForLayer(l);
        const at::Tensor& mask = maskFor(window);
        const double scale = m_config.attentionScale(l);
        const double softcap = m_config.attnSoftcap;
        if (out.recipes)
            out.recipes->push_back(AttentionRecipe{scale, softcap, causal, window});

        const at::Tensor h = m_config.normBefore ? norm(x, W.attnNorm, nk) : x;
        at::Tensor q = at::linear(h, W.wq, W.bq).view({T, H, hd}).transpose(0, 1);     // [H, T, hd]
        at::Tensor k = at::linear(h, W.wk, W.bk).view({T, Hkv, hd}).transpose(0, 1);   // [Hkv, T, hd]
        const at::Tensor v = at::linear(h, W.wv, W.bv).view({T, Hkv, hd}).transpose(0, 1); // [Hkv, T, hd]
        if (W.qNorm.present) {
            q = norm(q, W.qNorm, NormKind::Rms);
            k = norm(k, W.kNorm, NormKind::Rms);
        }
        if (cos.defined()) {
            q = applyRope(q, cos, sin);
            k = applyRope(k, cos, sin);
        }
        // Query head h reads KV head h / group (HF repeat_kv order).
        const at::Tensor kr = group > 1 ? k.repeat_interleave(group, 0) : k;           // [H, T, hd]
        const at::Tensor vr = group > 1 ? v.repeat_interleave(group, 0) : v;
        // GPT-2's reorder_and_upcast_attn forms q.k in fp32; the others in the model dtype.
        const at::Tensor logits = m_config.reorderAndUpcastAttn
                                      ? at::matmul(q.to(at::kFloat), kr.to(at::kFloat).transpose(1, 2)) * scale
                                      : at::matmul(q, kr.transpose(1, 2)) * scale;  // [H, T, T]
        at::Tensor lf = logits.to(at::kFloat);
        if (softcap > 0)
            lf = at::tanh(lf / softcap) * softcap; // gemma2 attn_logit_softcapping
        lf = lf + mask;
        const at::Tensor probs = at::softmax(lf, -1);                                  // fp32
        const at::Tensor ctx = at::matmul(probs.to(m_dtype), vr);                      // [H, T, hd]
        at::Tensor attnOut = at::linear(ctx.transpose(0, 1).reshape({T, H * hd}), W.wo, W.bo);
        if (W.attnOutNorm.present)
            attnOut = norm(attnOut, W.attnOutNorm, nk);

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
            // Queries that see key k: the same for every head, so count them on the [T, T] mask.
            const at::Tensor visible = at::isfinite(mask).sum(0).to(at::kFloat).clamp_min(1.0);
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

        auto mlp = [&](const at::Tensor& in) {
            if (m_spec.mlp == MlpKind::Plain)
                return at::linear(activation(at::linear(in, W.wup, W.bup), m_config.hiddenAct), W.wdown, W.bdown);
            const at::Tensor gate = activation(at::linear(in, W.wgate, W.bgate), m_config.hiddenAct);
            return at::linear(gate * at::linear(in, W.wup, W.bup), W.wdown, W.bdown);
        };
        if (!m_config.normBefore) {
            // Post-LN (BERT, RoBERTa, OPT-350m): norm(x + sublayer(x)).
            x = norm(x + attnOut, W.attnNorm, nk);
            x = norm(x + mlp(x), W.mlpNorm, nk);
        } else if (m_config.parallelResidual) {
            // GPT-NeoX: both sub-layers read the block's input.
            x = mlp(norm(x, W.mlpNorm, nk)) + attnOut + x;
        } else {
            x = x + attnOut;
            at::Tensor m = mlp(norm(x, W.mlpNorm, nk));
            if (W.mlpOutNorm.present)
                m = norm(m, W.mlpOutNorm, nk);
            x = x + m;
        }
        x = applyOverwrites(x, iv, l + 1);
        if (out.hidden)
            copyToHost(x, out.hidden + (int64_t(l) + 1) * T * D);
        if (progress)
            progress(l + 1, L);
    }
    if (out.logits && m_lmHead.defined()) {
        at::Tensor y = norm(x, m_finalNorm, nk);
        if (m_projectOut.defined())
            y = at::linear(y, m_projectOut);
        if (m_mlmDense.defined()) {
            // MLM transform: dense, activation (RoBERTa: always erf GELU), LayerNorm; then the decoder.
            y = activation(at::linear(y, m_mlmDense, m_mlmDenseBias), m_spec.mlmExactGelu ? "gelu" : m_config.hiddenAct);
            y = norm(y, m_mlmNorm, NormKind::Layer);
        }
        at::Tensor logits = at::linear(y, m_lmHead, m_lmBias);
        if (m_config.finalSoftcap > 0)
            logits = at::tanh(logits.to(at::kFloat) / m_config.finalSoftcap) * m_config.finalSoftcap;
        copyToHost(logits, out.logits);
    }
}

} // namespace sinkscope::detail
