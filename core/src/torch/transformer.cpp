// SPDX-License-Identifier: GPL-3.0-or-later
#include "torch/transformer.h"

#include "sinkscope/error.h"
#include "torch/blocksummaries.h"
#include "torch/torchutil.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <tuple>

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

/// x [..., in] times a projection stored [in, out] (+ bias [out]) as one GEMM over all leading
/// dimensions, the bias folded in. OpenBLAS multiplies by a [in, out] matrix about 20% faster than
/// by the transpose of nn.Linear's [out, in] (what at::linear does), so layer weights are kept
/// transposed once at load time.
at::Tensor project(const at::Tensor& x, const at::Tensor& wInOut, const at::Tensor& b)
{
    std::vector<int64_t> sizes = x.sizes().vec();
    const at::Tensor x2 = x.reshape({-1, x.size(-1)});
    const at::Tensor y = b.defined() ? at::addmm(b, x2, wInOut) : at::mm(x2, wInOut);
    sizes.back() = wInOut.size(1);
    return y.view(sizes);
}

/// Applies the hidden-state interventions that target the input of layer `layer` to x [B, T, D]
/// (every prompt of a batch alike).
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
            x.select(2, d.dim).fill_(d.value);
        else
            x.select(1, d.token).select(1, d.dim).fill_(d.value);
    }
    for (const auto& t : iv.tokens) {
        if (t.layer != layer)
            continue;
        const at::Tensor h = at::from_blob(const_cast<float*>(t.hidden.data()), {int64_t(t.hidden.size())},
                                           at::TensorOptions().dtype(at::kFloat));
        x.select(1, t.token).copy_(h.to(x.device(), x.scalar_type()));
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
        // One matmul for q, k and v (and one for gate and up below) instead of three: the
        // projections read the same input, and one wide product runs faster than narrow ones.
        L.wqkv = at::cat({L.wq, L.wk, L.wv}, 0);
        if (L.bq.defined())
            L.bqkv = at::cat({L.bq, L.bk, L.bv}, 0);
        L.wq = L.wk = L.wv = L.bq = L.bk = L.bv = at::Tensor();
        L.wo = linearWeight(ckpt, n(spec.oProj), D, qRows);
        const at::Tensor woHeads = L.wo.to(at::kDouble).view({D, H, hd}).permute({1, 2, 0}); // [H, hd, D]
        L.woGram = at::matmul(woHeads, woHeads.transpose(1, 2)).contiguous();            // [H, hd, hd]
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
        if (spec.mlp != MlpKind::Plain) {
            L.wgateUp = at::cat({L.wgate, L.wup}, 0);
            if (L.bgate.defined())
                L.bgateUp = at::cat({L.bgate, L.bup}, 0);
            L.wgate = L.wup = L.bgate = L.bup = at::Tensor();
        }
        // From here on the projections are [in, out] (see project()).
        for (at::Tensor* w : {&L.wqkv, &L.wo, &L.wgateUp, &L.wup, &L.wdown})
            if (w->defined())
                *w = w->t().contiguous();
    }
    for (at::Tensor* w : {&m_projectIn, &m_projectOut, &m_mlmDense})
        if (w->defined())
            *w = w->t().contiguous();
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

at::Tensor Transformer::activation(at::Tensor x, const std::string& name) const
{
    // In place: every caller hands over a fresh projection output (or a slice of one) that nothing
    // else reads, so the [T, F] activation needs no second buffer.
    if (name == "silu" || name == "swish")
        return at::silu_(x);
    if (name == "relu")
        return at::relu_(x);
    if (name == "gelu")
        return at::gelu_(x);
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
        return at::gelu_(x, "tanh"); // the tanh approximation, one formula under three names
    if (name == "quick_gelu")
        return x.mul_(at::sigmoid(1.702 * x));
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

struct Transformer::Pass {
    int64_t B = 1, T = 0;
    at::Tensor ids;                // [B, T] long on the device
    at::Tensor positions;          // [B, T] long on the host
    at::Tensor cos, sin;           // [B, 1, T, rot] in the model dtype (RoPE families)
    at::Tensor bias;               // [T, T] fp32 on the device: the intervention's logit bias
    int64_t blockRows = 0;
    // For T small enough that every block of every window fits in kMaskCacheBytes, the mask blocks
    // are built once per pass instead of once per layer.
    static constexpr int64_t kMaskCacheBytes = int64_t(64) << 20;
    mutable std::map<std::tuple<int, int64_t, int64_t>, at::Tensor> maskCache;
};

int64_t Transformer::attentionBlockRows(int64_t batch, int64_t heads, int64_t T, bool causal)
{
    const int64_t perRow = std::max<int64_t>(1, batch * heads * T);
    int64_t rows = std::max<int64_t>(16, kAttentionBlockElements / perRow);
    // A causal block stops at its last query, so several blocks skip most of the masked upper
    // triangle that one block would compute and exponentiate: with four, the attention products
    // are 5/8 of the full T x T ones. Blocks of fewer than kCausalMinRows rows would give the
    // saving back in small, slow GEMMs. (GPT-2 small, T = 512, one thread: 1683 CPU ms with
    // 128-row blocks against 1816-1975 with one 512-row block.)
    if (causal)
        rows = std::min(rows, std::max(kCausalMinRows, (T + 3) / 4));
    return std::min(rows, std::max<int64_t>(T, 1));
}

void Transformer::forward(const std::vector<int32_t>& ids, const Interventions& iv, const ForwardTargets& out,
                          const std::function<void(int, int)>& progress, const std::atomic<bool>* cancel) const
{
    forwardBatch({ids}, iv, {out}, progress, cancel);
}

void Transformer::forwardBatch(const std::vector<std::vector<int32_t>>& ids, const Interventions& iv,
                               const std::vector<ForwardTargets>& out, const std::function<void(int, int)>& progress,
                               const std::atomic<bool>* cancel) const
{
    if (ids.size() != out.size() || ids.empty())
        throw Error(ErrorCode::InvalidArgument, "A batch needs one set of targets per prompt.");
    Pass pass = beginPass(ids, iv);
    if (out.front().blockRows > 0)
        pass.blockRows = out.front().blockRows;
    for (const ForwardTargets& o : out)
        if (o.recipes)
            o.recipes->clear();

    at::Tensor x = embed(pass, iv); // [B, T, D]
    const int64_t TD = pass.T * m_config.hiddenSize;
    for (int64_t b = 0; b < pass.B; ++b)
        if (out[size_t(b)].hidden)
            copyToHost(x[b], out[size_t(b)].hidden);

    const int L = m_config.numLayers;
    for (int l = 0; l < L; ++l) {
        if (cancel && cancel->load())
            throw Error(ErrorCode::Cancelled, "The run was cancelled.");
        const Layer& W = m_layers[size_t(l)];
        const AttentionRecipe recipe{m_config.attentionScale(l), m_config.attnSoftcap, m_config.causal,
                                     m_config.windowForLayer(l)};
        for (const ForwardTargets& o : out)
            if (o.recipes)
                o.recipes->push_back(recipe);

        const at::Tensor h = m_config.normBefore ? norm(x, W.attnNorm, m_config.norm) : x;
        const Qkv qkv = projectQkv(W, h, pass);
        const at::Tensor ctx = attend(l, qkv, pass, out); // [B, H, T, hd]
        captureLayer(l, qkv, ctx, pass, out);
        x = residual(W, x, attentionOutput(W, ctx, pass));
        x = applyOverwrites(x, iv, l + 1);
        for (int64_t b = 0; b < pass.B; ++b)
            if (out[size_t(b)].hidden)
                copyToHost(x[b], out[size_t(b)].hidden + (int64_t(l) + 1) * TD);
        if (progress)
            progress(l + 1, L);
    }
    checkLastOutput(x, out);
    writeLogits(x, out);
}

Transformer::Pass Transformer::beginPass(const std::vector<std::vector<int32_t>>& ids, const Interventions& iv) const
{
    Pass pass;
    pass.B = int64_t(ids.size());
    pass.T = ids.empty() ? 0 : int64_t(ids.front().size());
    for (const auto& row : ids)
        if (int64_t(row.size()) != pass.T)
            throw Error(ErrorCode::InvalidArgument, "The prompts of one batch must have the same number of tokens.");
    const int64_t B = pass.B, T = pass.T;
    const at::TensorOptions longOpts = at::TensorOptions().dtype(at::kLong);
    std::vector<int64_t> flat;
    flat.reserve(size_t(B * T));
    std::vector<at::Tensor> positions;
    for (const auto& row : ids) {
        flat.insert(flat.end(), row.begin(), row.end());
        positions.push_back(positionIds(row, iv));
    }
    pass.ids = at::from_blob(flat.data(), {B, T}, longOpts).clone().to(m_device);
    pass.positions = at::stack(positions); // [B, T]

    if (m_config.position == PositionKind::Rope) {
        // One table per prompt (they differ only when the positions do); heads broadcast.
        auto [cosT, sinT] = ropeTables(pass.positions.reshape({B * T}));
        const int64_t rot = cosT.size(-1);
        pass.cos = cosT.to(m_device, m_dtype).view({B, 1, T, rot});
        pass.sin = sinT.to(m_device, m_dtype).view({B, 1, T, rot});
    }
    if (!iv.maskBias.empty())
        pass.bias = at::from_blob(const_cast<float*>(iv.maskBias.data()), {T, T}, at::TensorOptions().dtype(at::kFloat))
                        .to(m_device);
    pass.blockRows = attentionBlockRows(B, m_config.numHeads, T, m_config.causal);
    return pass;
}

at::Tensor Transformer::embed(const Pass& pass, const Interventions& iv) const
{
    // Tokens (projected up in OPT, scaled in Gemma), learned positions, token type 0, and BERT's
    // embedding LayerNorm.
    at::Tensor x = at::embedding(m_embed, pass.ids);
    if (m_projectIn.defined())
        x = project(x, m_projectIn, at::Tensor());
    if (m_spec.scaleEmbedding)
        x = x * at::scalar_tensor(std::sqrt(double(m_config.hiddenSize)), x.options()); // the normalizer rounded to the dtype
    if (m_positions.defined()) {
        const at::Tensor rows = pass.positions + m_config.positionOffset;
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
    return applyOverwrites(x, iv, 0);
}

Transformer::Qkv Transformer::projectQkv(const Layer& W, const at::Tensor& h, const Pass& pass) const
{
    const int64_t B = pass.B, T = pass.T;
    const int64_t H = m_config.numHeads, Hkv = m_config.numKvHeads, hd = m_config.headDim;
    Qkv r;
    const at::Tensor qkv = project(h, W.wqkv, W.bqkv); // [B, T, (H + 2 Hkv) hd]
    r.q = qkv.slice(2, 0, H * hd).view({B, T, H, hd}).transpose(1, 2);                       // [B, H, T, hd]
    r.k = qkv.slice(2, H * hd, (H + Hkv) * hd).view({B, T, Hkv, hd}).transpose(1, 2);        // [B, Hkv, T, hd]
    r.v = qkv.slice(2, (H + Hkv) * hd).view({B, T, Hkv, hd}).transpose(1, 2);                // [B, Hkv, T, hd]
    if (W.qNorm.present) {
        r.q = norm(r.q, W.qNorm, NormKind::Rms);
        r.k = norm(r.k, W.kNorm, NormKind::Rms);
    }
    if (pass.cos.defined()) {
        r.q = applyRope(r.q, pass.cos, pass.sin);
        r.k = applyRope(r.k, pass.cos, pass.sin);
    }
    return r;
}

at::Tensor Transformer::maskBlock(const Pass& pass, int window, int64_t t0, int64_t t1, int64_t k0, int64_t k1) const
{
    const bool cache = pass.T * pass.T * 4 <= Pass::kMaskCacheBytes;
    const auto key = std::make_tuple(window, t0, k1);
    if (cache) {
        const auto it = pass.maskCache.find(key);
        if (it != pass.maskCache.end())
            return it->second;
    }
    // -inf gives exactly the zeros the reference's finfo.min gives. Windowed layers see keys with
    // t - s < window.
    const at::TensorOptions longOpts = at::TensorOptions().dtype(at::kLong).device(m_device);
    const at::Tensor qi = at::arange(t0, t1, longOpts).unsqueeze(1);
    const at::Tensor ki = at::arange(k0, k1, longOpts).unsqueeze(0);
    at::Tensor allowed = m_config.causal ? (ki <= qi) : at::ones({t1 - t0, k1 - k0}, longOpts).to(at::kBool);
    if (window > 0)
        allowed = allowed.logical_and((qi - ki) < int64_t(window));
    at::Tensor m = at::zeros({t1 - t0, k1 - k0}, at::TensorOptions().dtype(at::kFloat).device(m_device))
                       .masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
    if (pass.bias.defined())
        m = m + pass.bias.slice(0, t0, t1).slice(1, k0, k1);
    if (cache)
        pass.maskCache.emplace(key, m);
    return m;
}

at::Tensor Transformer::attend(int layer, const Qkv& qkv, const Pass& pass, const std::vector<ForwardTargets>& out) const
{
    const int64_t B = pass.B, T = pass.T;
    const int64_t H = m_config.numHeads, Hkv = m_config.numKvHeads, hd = m_config.headDim;
    const int64_t group = H / Hkv;
    const int window = m_config.windowForLayer(layer);
    const double scale = m_config.attentionScale(layer);
    const double softcap = m_config.attnSoftcap;
    const bool causal = m_config.causal;
    auto wants = [&](float* ForwardTargets::*field) {
        for (const ForwardTargets& o : out)
            if (o.*field)
                return true;
        return false;
    };
    const bool wantMaps = wants(&ForwardTargets::attention);
    const bool wantFirst = wants(&ForwardTargets::firstMassPerQuery) || wants(&ForwardTargets::firstTokenMass);
    const bool wantEntropy = wants(&ForwardTargets::entropy);
    const bool wantColumns = wants(&ForwardTargets::received) || wants(&ForwardTargets::writtenNorms);
    const bool wantContrib = wants(&ForwardTargets::contributionNorms) || wants(&ForwardTargets::writtenNorms);

    // Query head h reads KV head h / group (HF repeat_kv order).
    const at::Tensor kr = group > 1 ? qkv.k.repeat_interleave(group, 1) : qkv.k; // [B, H, T, hd]
    const at::Tensor vr = group > 1 ? qkv.v.repeat_interleave(group, 1) : qkv.v;
    // GPT-2's reorder_and_upcast_attn forms q.k in fp32; the others in the model dtype.
    const at::Tensor qf = m_config.reorderAndUpcastAttn ? qkv.q.to(at::kFloat) : qkv.q;
    const at::Tensor kf = m_config.reorderAndUpcastAttn ? kr.to(at::kFloat) : kr;

    const at::TensorOptions floatOpts = at::TensorOptions().dtype(at::kFloat).device(m_device);
    // fp32 logits without a soft cap come out of one GEMM with the scale and the mask folded in.
    const bool fusedLogits = qf.scalar_type() == at::kFloat && softcap <= 0;
    // Stored [B, T, H, hd], the layout the output projection reads, and handed out as the
    // [B, H, T, hd] view the heads write: merging the heads afterwards is a view, not a copy.
    at::Tensor ctx = at::empty({B, T, H, hd}, qkv.v.options()).transpose(1, 2);
    at::Tensor first = wantFirst ? at::zeros({B, H, T}, floatOpts) : at::Tensor();   // A[t, 0]
    at::Tensor entropy = wantEntropy ? at::zeros({B, H, T}, floatOpts) : at::Tensor();
    // Sum over queries, in fp64: it collects up to T probabilities per key, block after block.
    at::Tensor columns = wantColumns ? at::zeros({B, H, T}, floatOpts.dtype(at::kDouble)) : at::Tensor();
    at::Tensor visible = wantColumns && pass.bias.defined() ? at::zeros({T}, floatOpts) : at::Tensor();
    const at::TensorOptions hostFloat = at::TensorOptions().dtype(at::kFloat);

    // Query blocks: only [B, H, rows, keys] probabilities exist at a time, and a causal block stops
    // at its last query (the keys after it are masked for all of its rows anyway).
    for (int64_t t0 = 0; t0 < T; t0 += pass.blockRows) {
        const int64_t t1 = std::min(T, t0 + pass.blockRows);
        const int64_t k1 = causal ? t1 : T;
        const int64_t k0 = causal && window > 0 ? std::max<int64_t>(0, t0 - window + 1) : 0;
        const at::Tensor qb = qf.slice(2, t0, t1), kb = kf.slice(2, k0, k1).transpose(2, 3);
        const at::Tensor mask = maskBlock(pass, window, t0, t1, k0, k1);
        at::Tensor lf;
        if (fusedLogits) {
            // One GEMM per prompt writes scale * q.k^T + mask: the mask is the GEMM's C input
            // (beta = 1), so neither the scaling nor the masking is a pass of its own over the
            // [H, rows, keys] block. Same order of operations as (q.k^T) * scale + mask.
            lf = at::empty({B, H, t1 - t0, k1 - k0}, floatOpts);
            for (int64_t b = 0; b < B; ++b) {
                at::Tensor lb = lf[b];
                at::baddbmm_out(lb, mask, qb[b], kb[b], 1.0, scale);
            }
        } else {
            lf = (at::matmul(qb, kb) * scale).to(at::kFloat);
            if (softcap > 0)
                lf = at::tanh(lf / softcap) * softcap; // gemma2 attn_logit_softcapping
            lf.add_(mask);
        }
        // fp32 probabilities [B, H, rows, keys]: in place on the host (the CPU kernel reads a row
        // before writing it; tst_families compares against the references); a new tensor elsewhere,
        // where that has not been checked.
        if (m_device.is_cpu())
            at::softmax_out(lf, lf, -1);
        else
            lf = at::softmax(lf, -1);
        const at::Tensor& probs = lf;
        ctx.slice(2, t0, t1).copy_(at::matmul(probs.to(m_dtype), vr.slice(2, k0, k1)));

        if (wantMaps)
            for (int64_t b = 0; b < B; ++b)
                if (float* dst = out[size_t(b)].attention)
                    at::from_blob(dst + int64_t(layer) * H * T * T, {H, T, T}, hostFloat)
                        .slice(1, t0, t1)
                        .slice(2, k0, k1)
                        .copy_(probs[b]);
        // O(B.L.H.T) summaries, computed where the maps live so they never cross to the host.
        if (m_device.is_cpu() && probs.scalar_type() == at::kFloat && probs.is_contiguous()
            && (wantFirst || wantEntropy || wantColumns)) {
            // On the host: one pass over each head's block for all of them, in one parallel
            // region (the tensor ops below are a pass and a fork/join each, and at::xlogy is a
            // scalar kernel).
            const int64_t rows = t1 - t0, keys = k1 - k0;
            const float* p = probs.data_ptr<float>();
            float* ent = wantEntropy ? entropy.data_ptr<float>() + t0 : nullptr; // [B, H, T]
            float* fst = wantFirst && k0 == 0 ? first.data_ptr<float>() + t0 : nullptr;
            double* col = wantColumns ? columns.data_ptr<double>() + k0 : nullptr;
            const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / (rows * keys));
            at::parallel_for(0, B * H, grain, [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i)
                    summarizeProbabilityBlock(p + i * rows * keys, rows, keys, ent ? ent + i * T : nullptr,
                                              fst ? fst + i * T : nullptr, col ? col + i * T : nullptr);
            });
        } else {
            if (wantFirst && k0 == 0)
                first.slice(2, t0, t1).copy_(probs.select(3, 0));
            if (wantEntropy)
                entropy.slice(2, t0, t1).copy_(-at::xlogy(probs, probs).sum(-1));
            if (wantColumns)
                columns.slice(2, k0, k1).add_(probs.sum(2));
        }
        if (visible.defined())
            visible.slice(0, k0, k1).add_(at::isfinite(mask).sum(0).to(at::kFloat));
    }

    // Queries that see key k are the same for every head. Without a bias they follow from the mask
    // rule; with one they were counted on the blocks.
    if (wantColumns && !visible.defined()) {
        const at::Tensor k = at::arange(T, at::TensorOptions().dtype(at::kLong).device(m_device));
        const at::Tensor last = window > 0 ? at::clamp_max(k + int64_t(window), T) : at::full_like(k, T);
        visible = (causal ? last - k : last).to(at::kFloat);
    }
    at::Tensor contrib;
    if (wantContrib) {
        // ||v_j W_O^h|| for every head as sqrt(v G_h v^T) with the Gram matrix of W_O^h, in fp64:
        // hd x hd per head instead of hd x D, and no cancellation for the small norms that matter.
        const at::Tensor& gram = m_layers[size_t(layer)].woGram; // [H, hd, hd]
        const at::Tensor& v = qkv.v;                              // [B, Hkv, T, hd]
        if (m_device.is_cpu() && v.scalar_type() == at::kFloat && v.stride(3) == 1
            && gram.scalar_type() == at::kDouble && gram.is_contiguous()) {
            // On the host: one parallel region over the heads, reading each KV head's rows where
            // they are (a batched fp64 matmul is 12 small GEMMs, each a fork/join in OpenBLAS).
            contrib = at::empty({B, H, T}, floatOpts);
            const float* vp = v.data_ptr<float>();
            const double* gp = gram.data_ptr<double>();
            float* cp = contrib.data_ptr<float>();
            const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / (T * hd * hd));
            at::parallel_for(0, B * H, grain, [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                    const int64_t b = i / H, h = i % H;
                    gramNorms(vp + b * v.stride(0) + (h / group) * v.stride(1), T, v.stride(2), gp + h * hd * hd, hd,
                              cp + i * T);
                }
            });
        } else {
            const at::Tensor vd = vr.to(at::kDouble); // [B, H, T, hd]
            const at::Tensor sq = (at::matmul(vd, gram.unsqueeze(0)) * vd).sum(-1);
            contrib = at::sqrt(at::clamp_min(sq, 0.0)).to(at::kFloat); // [B, H, T]
        }
    }
    const int64_t lHT = int64_t(layer) * H * T, lKT = int64_t(layer) * Hkv * T;
    for (int64_t b = 0; b < B; ++b) {
        const ForwardTargets& o = out[size_t(b)];
        if (o.firstTokenMass) {
            const at::Tensor m = T > 1 ? first[b].slice(1, 1).mean(1) : at::zeros({H}, floatOpts);
            copyToHost(m, o.firstTokenMass + int64_t(layer) * H);
        }
        if (o.firstMassPerQuery)
            copyToHost(first[b], o.firstMassPerQuery + lHT);
        if (o.received)
            copyToHost(columns[b] / visible.clamp_min(1.0), o.received + lHT);
        if (o.entropy)
            copyToHost(entropy[b], o.entropy + lHT);
        if (o.valueNorms)
            copyToHost(qkv.v[b].to(at::kFloat).norm(2, -1), o.valueNorms + lKT);
        if (o.contributionNorms)
            copyToHost(contrib[b], o.contributionNorms + lHT);
        if (o.writtenNorms)
            copyToHost(contrib[b] * columns[b], o.writtenNorms + lHT);
    }
    return ctx;
}

at::Tensor Transformer::attentionOutput(const Layer& W, const at::Tensor& ctx, const Pass& pass) const
{
    const int64_t H = m_config.numHeads, hd = m_config.headDim;
    at::Tensor o = project(ctx.transpose(1, 2).reshape({pass.B, pass.T, H * hd}), W.wo, W.bo);
    if (W.attnOutNorm.present)
        o = norm(o, W.attnOutNorm, m_config.norm);
    return o;
}

at::Tensor Transformer::mlp(const Layer& W, const at::Tensor& in) const
{
    if (m_spec.mlp == MlpKind::Plain)
        return project(activation(project(in, W.wup, W.bup), m_config.hiddenAct), W.wdown, W.bdown);
    const int64_t F = m_config.intermediateSize;
    const at::Tensor gateUp = project(in, W.wgateUp, W.bgateUp); // [..., 2F]: gate | up
    const at::Tensor gate = activation(gateUp.slice(-1, 0, F), m_config.hiddenAct);
    return project(gate * gateUp.slice(-1, F), W.wdown, W.bdown);
}

at::Tensor Transformer::residual(const Layer& W, const at::Tensor& x, at::Tensor attnOut) const
{
    // The sums are formed in the sub-layers' fresh outputs (a + b == b + a exactly in IEEE), so a
    // layer allocates no [B, T, D] buffer for them.
    const NormKind nk = m_config.norm;
    if (!m_config.normBefore) {
        // Post-LN (BERT, RoBERTa, OPT-350m): norm(x + sublayer(x)).
        const at::Tensor y = norm(attnOut.add_(x), W.attnNorm, nk);
        return norm(mlp(W, y).add_(y), W.mlpNorm, nk);
    }
    if (m_config.parallelResidual) // GPT-NeoX: both sub-layers read the block's input.
        return mlp(W, norm(x, W.mlpNorm, nk)).add_(attnOut).add_(x);
    const at::Tensor y = attnOut.add_(x);
    at::Tensor m = mlp(W, norm(y, W.mlpNorm, nk));
    if (W.mlpOutNorm.present)
        m = norm(m, W.mlpOutNorm, nk);
    return m.add_(y);
}

void Transformer::captureLayer(int layer, const Qkv& qkv, const at::Tensor& ctx, const Pass& pass,
                               const std::vector<ForwardTargets>& out) const
{
    const int64_t T = pass.T, H = m_config.numHeads, Hkv = m_config.numKvHeads, hd = m_config.headDim;
    const int64_t lHT = int64_t(layer) * H * T, lKT = int64_t(layer) * Hkv * T;
    for (int64_t b = 0; b < pass.B; ++b) {
        const ForwardTargets& o = out[size_t(b)];
        if (o.queries)
            copyToHost(qkv.q[b], o.queries + lHT * hd);
        if (o.keys)
            copyToHost(qkv.k[b], o.keys + lKT * hd);
        if (o.values)
            copyToHost(qkv.v[b], o.values + lKT * hd);
        if (o.headOutputs)
            copyToHost(ctx[b], o.headOutputs + lHT * hd);
    }
}

void Transformer::checkLastOutput(const at::Tensor& x, const std::vector<ForwardTargets>& out) const
{
    bool any = false;
    for (const ForwardTargets& o : out)
        any = any || o.lastOutputNonFinite;
    if (!any)
        return;
    // One pass over [B, T, D]: a NaN born in the last block's MLP shows in no summary (they are
    // formed before it) and, without hidden states or logits kept, nowhere else.
    const at::Tensor bad = at::logical_not(at::isfinite(x)).reshape({x.size(0), -1}).any(1).to(at::kCPU); // [B]
    for (size_t b = 0; b < out.size(); ++b)
        if (out[b].lastOutputNonFinite)
            *out[b].lastOutputNonFinite = bad[int64_t(b)].item<bool>();
}

void Transformer::writeLogits(const at::Tensor& x, const std::vector<ForwardTargets>& out) const
{
    bool any = false;
    for (const ForwardTargets& o : out)
        any = any || o.logits;
    if (!any || !m_lmHead.defined())
        return;
    at::Tensor y = norm(x, m_finalNorm, m_config.norm);
    if (m_projectOut.defined())
        y = project(y, m_projectOut, at::Tensor());
    if (m_mlmDense.defined()) {
        // MLM transform: dense, activation (RoBERTa: always erf GELU), LayerNorm; then the decoder.
        y = activation(project(y, m_mlmDense, m_mlmDenseBias), m_spec.mlmExactGelu ? "gelu" : m_config.hiddenAct);
        y = norm(y, m_mlmNorm, NormKind::Layer);
    }
    const int64_t V = m_lmHead.size(0);
    if (out.size() == 1 && m_device.is_cpu() && y.scalar_type() == at::kFloat && m_config.finalSoftcap <= 0) {
        // One prompt on the host: the head's product is written straight into its logits buffer.
        // At T = 2048 the [T, vocab] tensor is 412 MB, and an intermediate would cost one more
        // allocation of fresh pages plus a copy of it. (A batch keeps one [B T, in] product, which
        // runs closer to the sgemm rate than B narrow ones, and copies.)
        const at::Tensor yb = y[0]; // [T, in]
        at::Tensor dst = at::from_blob(out[0].logits, {yb.size(0), V}, at::TensorOptions().dtype(at::kFloat));
        if (m_lmBias.defined())
            at::addmm_out(dst, m_lmBias, yb, m_lmHead.t());
        else
            at::mm_out(dst, yb, m_lmHead.t());
        return;
    }
    at::Tensor logits = at::linear(y, m_lmHead, m_lmBias);
    if (m_config.finalSoftcap > 0)
        logits = at::tanh(logits.to(at::kFloat) / m_config.finalSoftcap) * m_config.finalSoftcap;
    for (size_t b = 0; b < out.size(); ++b)
        if (out[b].logits)
            copyToHost(logits[int64_t(b)], out[b].logits);
}

} // namespace sinkscope::detail
