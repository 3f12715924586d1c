// SPDX-License-Identifier: GPL-3.0-or-later
// Independent reference forward passes, in double precision with plain loops, written from the
// Hugging Face module definitions of each family (modeling_llama/mistral/qwen2/qwen3/gemma/gemma2/
// phi3/gpt2/gpt_neox/opt/bert/roberta/starcoder2). Nothing here is shared with the core.
#include "tinyfamilies.h"

#include <cmath>
#include <stdexcept>

namespace sinkscope::test {

namespace {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>; // [rows][cols]

const std::vector<float>* find(const TinyWeights& w, const std::string& name)
{
    const auto it = w.values.find(name);
    return it == w.values.end() ? nullptr : &it->second;
}

const std::vector<float>& need(const TinyWeights& w, const std::string& name)
{
    const auto* v = find(w, name);
    if (!v)
        throw std::runtime_error("reference: no tensor " + name);
    return *v;
}

// nn.Linear: y = x W^T + b with W [out, in].
Mat linear(const Mat& x, const std::vector<float>& w, int out, int in, const std::vector<float>* b)
{
    Mat y(x.size(), Vec(static_cast<size_t>(out)));
    for (size_t t = 0; t < x.size(); ++t)
        for (int o = 0; o < out; ++o) {
            double acc = b ? double((*b)[size_t(o)]) : 0.0;
            for (int i = 0; i < in; ++i)
                acc += double(w[size_t(o) * size_t(in) + size_t(i)]) * x[t][size_t(i)];
            y[t][size_t(o)] = acc;
        }
    return y;
}

// GPT-2 Conv1D: y = x W + b with W [in, out].
Mat conv1d(const Mat& x, const std::vector<float>& w, int in, int out, const std::vector<float>& b)
{
    Mat y(x.size(), Vec(static_cast<size_t>(out)));
    for (size_t t = 0; t < x.size(); ++t)
        for (int o = 0; o < out; ++o) {
            double acc = b[size_t(o)];
            for (int i = 0; i < in; ++i)
                acc += double(w[size_t(i) * size_t(out) + size_t(o)]) * x[t][size_t(i)];
            y[t][size_t(o)] = acc;
        }
    return y;
}

void rmsInPlace(Vec& row, const std::vector<float>& w, double eps, bool unitOffset)
{
    double ss = 0.0;
    for (double v : row)
        ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / double(row.size()) + eps);
    for (size_t i = 0; i < row.size(); ++i)
        row[i] = row[i] * inv * (unitOffset ? 1.0 + double(w[i]) : double(w[i]));
}

void layerNormInPlace(Vec& row, const std::vector<float>* w, const std::vector<float>* b, double eps)
{
    double mean = 0.0;
    for (double v : row)
        mean += v;
    mean /= double(row.size());
    double var = 0.0;
    for (double v : row)
        var += (v - mean) * (v - mean);
    var /= double(row.size()); // biased, as torch's layer_norm
    const double inv = 1.0 / std::sqrt(var + eps);
    for (size_t i = 0; i < row.size(); ++i)
        row[i] = (row[i] - mean) * inv * (w ? double((*w)[i]) : 1.0) + (b ? double((*b)[i]) : 0.0);
}

double activation(const std::string& name, double x)
{
    if (name == "silu" || name == "swish")
        return x / (1.0 + std::exp(-x));
    if (name == "relu")
        return x > 0 ? x : 0.0;
    if (name == "gelu")
        return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
        return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    if (name == "quick_gelu")
        return x / (1.0 + std::exp(-1.702 * x));
    throw std::runtime_error("reference: no activation " + name);
}

// Rotate-half RoPE on the first `rot` dims of v (a head), at position `pos`.
void rope(double* v, int rot, double pos, double theta)
{
    const int half = rot / 2;
    for (int i = 0; i < half; ++i) {
        const double f = 1.0 / std::pow(theta, double(2 * i) / double(rot));
        const double a = pos * f;
        const double x1 = v[i], x2 = v[i + half];
        v[i] = x1 * std::cos(a) - x2 * std::sin(a);
        v[i + half] = x2 * std::cos(a) + x1 * std::sin(a);
    }
}

} // namespace

FamilyReference referenceFamilyForward(const TinyFamilySpec& s, const TinyWeights& w, const std::vector<int32_t>& ids,
                                       const std::vector<int64_t>& positionsIn)
{
    const std::string& fam = s.modelType;
    const bool llama = fam == "llama" || fam == "mistral" || fam == "qwen2" || fam == "qwen3" || fam == "gemma"
        || fam == "gemma2";
    const bool phi3 = fam == "phi3", gpt2 = fam == "gpt2", neox = fam == "gpt_neox", opt = fam == "opt";
    const bool encoder = fam == "bert" || fam == "roberta";
    const bool gemma = fam == "gemma" || fam == "gemma2";
    const bool sc2 = fam == "starcoder2";
    const bool rope_ = llama || phi3 || neox || sc2;
    const std::string p = tinyPrefix(s);
    const std::string act = tinyActivation(s);
    const int T = int(ids.size()), D = s.hidden, H = s.heads, hd = tinyHeadDim(s), F = s.ffn, V = s.vocab;
    const int Hkv = (llama || phi3 || sc2) ? s.kvHeads : H;
    const int group = H / Hkv;
    const int rot = neox || phi3 ? int(double(hd) * s.rotaryFraction) : hd;
    auto L = [&](int l, const std::string& rest) {
        if (gpt2)
            return p + "h." + std::to_string(l) + "." + rest;
        if (opt)
            return p + "decoder.layers." + std::to_string(l) + "." + rest;
        if (encoder)
            return p + "encoder.layer." + std::to_string(l) + "." + rest;
        return p + "layers." + std::to_string(l) + "." + rest;
    };
    auto lnW = [&](const std::string& base) {
        const auto* v = find(w, base + ".weight");
        return v ? v : find(w, base + ".gamma");
    };
    auto lnB = [&](const std::string& base) {
        const auto* v = find(w, base + ".bias");
        return v ? v : find(w, base + ".beta");
    };
    auto layerNorm = [&](Mat x, const std::string& base) {
        for (Vec& row : x)
            layerNormInPlace(row, lnW(base), lnB(base), s.eps);
        return x;
    };
    auto rms = [&](Mat x, const std::string& name) {
        for (Vec& row : x)
            rmsInPlace(row, need(w, name), s.eps, gemma);
        return x;
    };

    // Position ids: logical positions, then the table row (OPT + 2; RoBERTa counts non-pad tokens
    // from padding_idx + 1 and gives pads padding_idx itself: create_position_ids_from_input_ids).
    std::vector<int64_t> pos(static_cast<size_t>(T)), row(static_cast<size_t>(T));
    for (int t = 0; t < T; ++t)
        pos[size_t(t)] = t;
    if (fam == "roberta") {
        int64_t count = 0;
        for (int t = 0; t < T; ++t) {
            const bool pad = ids[size_t(t)] == s.padTokenId;
            count += pad ? 0 : 1;
            pos[size_t(t)] = pad ? -1 : count - 1;
        }
    }
    if (!positionsIn.empty())
        pos = positionsIn;
    for (int t = 0; t < T; ++t)
        row[size_t(t)] = tinyPositionRow(s, int(pos[size_t(t)]));

    FamilyReference out;
    out.attention.assign(size_t(s.layers) * size_t(H) * size_t(T) * size_t(T), 0.0);

    // ---- embeddings
    Mat x(static_cast<size_t>(T), Vec(static_cast<size_t>(D), 0.0));
    {
        const int P = opt && s.wordEmbedProjDim > 0 ? s.wordEmbedProjDim : D;
        const auto& E = need(w, tinyEmbeddingName(s));
        Mat e(static_cast<size_t>(T), Vec(static_cast<size_t>(P)));
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < P; ++i)
                e[size_t(t)][size_t(i)] = E[size_t(ids[size_t(t)]) * size_t(P) + size_t(i)];
        if (opt && P != D)
            e = linear(e, need(w, p + "decoder.project_in.weight"), D, P, nullptr);
        x = e;
        if (gemma) {
            // normalizer = torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype): fp32 here.
            const double norm = double(float(std::sqrt(double(D))));
            for (Vec& r : x)
                for (double& v : r)
                    v *= norm;
        }
        const std::string table = tinyPositionTable(s);
        if (!table.empty()) {
            const auto& Pt = need(w, table);
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < D; ++i)
                    x[size_t(t)][size_t(i)] += Pt[size_t(row[size_t(t)]) * size_t(D) + size_t(i)];
        }
        if (encoder) {
            const auto& Tt = need(w, p + "embeddings.token_type_embeddings.weight");
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < D; ++i)
                    x[size_t(t)][size_t(i)] += Tt[size_t(i)]; // token type 0
            x = layerNorm(x, p + "embeddings.LayerNorm");
        }
    }
    auto keepHidden = [&] {
        for (const Vec& r : x)
            out.hidden.insert(out.hidden.end(), r.begin(), r.end());
    };
    keepHidden();

    for (int l = 0; l < s.layers; ++l) {
        // ---- scale and mask of this layer
        double scale = 1.0 / std::sqrt(double(hd));
        if (fam == "gemma2")
            scale = 1.0 / std::sqrt(s.queryPreAttnScalar > 0 ? s.queryPreAttnScalar : double(hd));
        if (gpt2 && s.scaleByInverseLayer)
            scale /= double(l + 1);
        out.scales.push_back(scale);
        int window = 0;
        if (s.slidingWindow > 0) {
            if (fam == "mistral" || fam == "phi3" || sc2)
                window = s.slidingWindow;
            else if ((fam == "qwen2" || fam == "qwen3") && l >= s.windowFromLayer)
                window = s.slidingWindow;
            else if (fam == "gemma2" && l % 2 == 0)
                window = s.slidingWindow;
        }
        const double softcap = fam == "gemma2" ? s.attnSoftcap : 0.0;

        // ---- attention input
        Mat h = x;
        if (llama || phi3)
            h = rms(x, L(l, "input_layernorm.weight"));
        else if (gpt2)
            h = layerNorm(x, L(l, "ln_1"));
        else if (neox || sc2)
            h = layerNorm(x, L(l, "input_layernorm"));
        else if (opt && s.normBefore)
            h = layerNorm(x, L(l, "self_attn_layer_norm"));

        // ---- q, k, v as [T][heads*hd]
        Mat q(static_cast<size_t>(T), Vec(static_cast<size_t>(H * hd)));
        Mat k(static_cast<size_t>(T), Vec(static_cast<size_t>(Hkv * hd)));
        Mat v(static_cast<size_t>(T), Vec(static_cast<size_t>(Hkv * hd)));
        if (llama || sc2) {
            q = linear(h, need(w, L(l, "self_attn.q_proj.weight")), H * hd, D, find(w, L(l, "self_attn.q_proj.bias")));
            k = linear(h, need(w, L(l, "self_attn.k_proj.weight")), Hkv * hd, D, find(w, L(l, "self_attn.k_proj.bias")));
            v = linear(h, need(w, L(l, "self_attn.v_proj.weight")), Hkv * hd, D, find(w, L(l, "self_attn.v_proj.bias")));
        } else if (phi3) {
            const Mat qkv = linear(h, need(w, L(l, "self_attn.qkv_proj.weight")), (H + 2 * Hkv) * hd, D, nullptr);
            for (int t = 0; t < T; ++t) {
                const Vec& r = qkv[size_t(t)];
                for (int i = 0; i < H * hd; ++i)
                    q[size_t(t)][size_t(i)] = r[size_t(i)];
                for (int i = 0; i < Hkv * hd; ++i) {
                    k[size_t(t)][size_t(i)] = r[size_t(H * hd + i)];
                    v[size_t(t)][size_t(i)] = r[size_t(H * hd + Hkv * hd + i)];
                }
            }
        } else if (gpt2) {
            const Mat qkv = conv1d(h, need(w, L(l, "attn.c_attn.weight")), D, 3 * D, need(w, L(l, "attn.c_attn.bias")));
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < D; ++i) {
                    q[size_t(t)][size_t(i)] = qkv[size_t(t)][size_t(i)];
                    k[size_t(t)][size_t(i)] = qkv[size_t(t)][size_t(D + i)];
                    v[size_t(t)][size_t(i)] = qkv[size_t(t)][size_t(2 * D + i)];
                }
        } else if (neox) {
            // query_key_value output viewed as [heads, 3 * head_size]: q | k | v inside each head.
            const Mat qkv = linear(h, need(w, L(l, "attention.query_key_value.weight")), 3 * D, D,
                                   find(w, L(l, "attention.query_key_value.bias")));
            for (int t = 0; t < T; ++t)
                for (int hh = 0; hh < H; ++hh)
                    for (int i = 0; i < hd; ++i) {
                        q[size_t(t)][size_t(hh * hd + i)] = qkv[size_t(t)][size_t(hh * 3 * hd + i)];
                        k[size_t(t)][size_t(hh * hd + i)] = qkv[size_t(t)][size_t(hh * 3 * hd + hd + i)];
                        v[size_t(t)][size_t(hh * hd + i)] = qkv[size_t(t)][size_t(hh * 3 * hd + 2 * hd + i)];
                    }
        } else if (opt) {
            q = linear(h, need(w, L(l, "self_attn.q_proj.weight")), D, D, find(w, L(l, "self_attn.q_proj.bias")));
            k = linear(h, need(w, L(l, "self_attn.k_proj.weight")), D, D, find(w, L(l, "self_attn.k_proj.bias")));
            v = linear(h, need(w, L(l, "self_attn.v_proj.weight")), D, D, find(w, L(l, "self_attn.v_proj.bias")));
        } else if (encoder) {
            q = linear(h, need(w, L(l, "attention.self.query.weight")), D, D, &need(w, L(l, "attention.self.query.bias")));
            k = linear(h, need(w, L(l, "attention.self.key.weight")), D, D, &need(w, L(l, "attention.self.key.bias")));
            v = linear(h, need(w, L(l, "attention.self.value.weight")), D, D, &need(w, L(l, "attention.self.value.bias")));
        }
        for (int kvh = 0; kvh < Hkv; ++kvh)
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < hd; ++i)
                    out.values.push_back(v[size_t(t)][size_t(kvh * hd + i)]);

        // Qwen3: RMSNorm over each head's q and k, before RoPE.
        if (fam == "qwen3") {
            for (int t = 0; t < T; ++t) {
                for (int hh = 0; hh < H; ++hh) {
                    Vec seg(q[size_t(t)].begin() + hh * hd, q[size_t(t)].begin() + (hh + 1) * hd);
                    rmsInPlace(seg, need(w, L(l, "self_attn.q_norm.weight")), s.eps, false);
                    std::copy(seg.begin(), seg.end(), q[size_t(t)].begin() + hh * hd);
                }
                for (int hh = 0; hh < Hkv; ++hh) {
                    Vec seg(k[size_t(t)].begin() + hh * hd, k[size_t(t)].begin() + (hh + 1) * hd);
                    rmsInPlace(seg, need(w, L(l, "self_attn.k_norm.weight")), s.eps, false);
                    std::copy(seg.begin(), seg.end(), k[size_t(t)].begin() + hh * hd);
                }
            }
        }
        if (rope_) {
            for (int t = 0; t < T; ++t) {
                for (int hh = 0; hh < H; ++hh)
                    rope(q[size_t(t)].data() + hh * hd, rot, double(pos[size_t(t)]), s.ropeTheta);
                for (int hh = 0; hh < Hkv; ++hh)
                    rope(k[size_t(t)].data() + hh * hd, rot, double(pos[size_t(t)]), s.ropeTheta);
            }
        }

        // ---- softmax(scale q.k (soft-capped) + mask) v
        Mat ctx(static_cast<size_t>(T), Vec(static_cast<size_t>(H * hd), 0.0));
        for (int hh = 0; hh < H; ++hh) {
            const int kvh = hh / group;
            for (int t = 0; t < T; ++t) {
                Vec logit(static_cast<size_t>(T), 0.0);
                std::vector<bool> seen(static_cast<size_t>(T), false);
                double mx = -INFINITY;
                for (int j = 0; j < T; ++j) {
                    if (!encoder && j > t)
                        continue;
                    if (window > 0 && t - j >= window)
                        continue;
                    double dot = 0.0;
                    for (int i = 0; i < hd; ++i)
                        dot += q[size_t(t)][size_t(hh * hd + i)] * k[size_t(j)][size_t(kvh * hd + i)];
                    double lg = dot * scale;
                    if (softcap > 0)
                        lg = softcap * std::tanh(lg / softcap);
                    logit[size_t(j)] = lg;
                    seen[size_t(j)] = true;
                    mx = std::max(mx, lg);
                }
                double z = 0.0;
                for (int j = 0; j < T; ++j)
                    if (seen[size_t(j)])
                        z += std::exp(logit[size_t(j)] - mx);
                for (int j = 0; j < T; ++j) {
                    if (!seen[size_t(j)])
                        continue;
                    const double pr = std::exp(logit[size_t(j)] - mx) / z;
                    out.attention[((size_t(l) * size_t(H) + size_t(hh)) * size_t(T) + size_t(t)) * size_t(T) + size_t(j)] = pr;
                    for (int i = 0; i < hd; ++i)
                        ctx[size_t(t)][size_t(hh * hd + i)] += pr * v[size_t(j)][size_t(kvh * hd + i)];
                }
            }
        }
        Mat a;
        if (llama || phi3 || sc2)
            a = linear(ctx, need(w, L(l, "self_attn.o_proj.weight")), D, H * hd, find(w, L(l, "self_attn.o_proj.bias")));
        else if (gpt2)
            a = conv1d(ctx, need(w, L(l, "attn.c_proj.weight")), D, D, need(w, L(l, "attn.c_proj.bias")));
        else if (neox)
            a = linear(ctx, need(w, L(l, "attention.dense.weight")), D, D, find(w, L(l, "attention.dense.bias")));
        else if (opt)
            a = linear(ctx, need(w, L(l, "self_attn.out_proj.weight")), D, D, find(w, L(l, "self_attn.out_proj.bias")));
        else
            a = linear(ctx, need(w, L(l, "attention.output.dense.weight")), D, D,
                       &need(w, L(l, "attention.output.dense.bias")));
        if (fam == "gemma2")
            a = rms(a, L(l, "post_attention_layernorm.weight"));

        // ---- MLP
        auto mlp = [&](const Mat& in) {
            Mat hidden;
            if (llama || phi3) {
                Mat g, u;
                if (phi3) {
                    const Mat gu = linear(in, need(w, L(l, "mlp.gate_up_proj.weight")), 2 * F, D, nullptr);
                    g.assign(size_t(T), Vec(size_t(F)));
                    u.assign(size_t(T), Vec(size_t(F)));
                    for (int t = 0; t < T; ++t)
                        for (int i = 0; i < F; ++i) {
                            g[size_t(t)][size_t(i)] = gu[size_t(t)][size_t(i)];
                            u[size_t(t)][size_t(i)] = gu[size_t(t)][size_t(F + i)];
                        }
                } else {
                    g = linear(in, need(w, L(l, "mlp.gate_proj.weight")), F, D, nullptr);
                    u = linear(in, need(w, L(l, "mlp.up_proj.weight")), F, D, nullptr);
                }
                for (int t = 0; t < T; ++t)
                    for (int i = 0; i < F; ++i)
                        g[size_t(t)][size_t(i)] = activation(act, g[size_t(t)][size_t(i)]) * u[size_t(t)][size_t(i)];
                return linear(g, need(w, L(l, "mlp.down_proj.weight")), D, F, nullptr);
            }
            if (gpt2)
                hidden = conv1d(in, need(w, L(l, "mlp.c_fc.weight")), D, F, need(w, L(l, "mlp.c_fc.bias")));
            else if (sc2) // Starcoder2MLP: nn.Linear c_fc, act, nn.Linear c_proj
                hidden = linear(in, need(w, L(l, "mlp.c_fc.weight")), F, D, find(w, L(l, "mlp.c_fc.bias")));
            else if (neox)
                hidden = linear(in, need(w, L(l, "mlp.dense_h_to_4h.weight")), F, D, find(w, L(l, "mlp.dense_h_to_4h.bias")));
            else if (opt)
                hidden = linear(in, need(w, L(l, "fc1.weight")), F, D, find(w, L(l, "fc1.bias")));
            else
                hidden = linear(in, need(w, L(l, "intermediate.dense.weight")), F, D, find(w, L(l, "intermediate.dense.bias")));
            for (Vec& r : hidden)
                for (double& val : r)
                    val = activation(act, val);
            if (gpt2)
                return conv1d(hidden, need(w, L(l, "mlp.c_proj.weight")), F, D, need(w, L(l, "mlp.c_proj.bias")));
            if (sc2)
                return linear(hidden, need(w, L(l, "mlp.c_proj.weight")), D, F, find(w, L(l, "mlp.c_proj.bias")));
            if (neox)
                return linear(hidden, need(w, L(l, "mlp.dense_4h_to_h.weight")), D, F, find(w, L(l, "mlp.dense_4h_to_h.bias")));
            if (opt)
                return linear(hidden, need(w, L(l, "fc2.weight")), D, F, find(w, L(l, "fc2.bias")));
            return linear(hidden, need(w, L(l, "output.dense.weight")), D, F, find(w, L(l, "output.dense.bias")));
        };
        auto addTo = [&](Mat& dst, const Mat& src) {
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < D; ++i)
                    dst[size_t(t)][size_t(i)] += src[size_t(t)][size_t(i)];
        };

        if (encoder) {
            // BertSelfOutput / BertOutput: LayerNorm(dense(x) + input), post-LN.
            addTo(a, x);
            x = layerNorm(a, L(l, "attention.output.LayerNorm"));
            Mat m = mlp(x);
            addTo(m, x);
            x = layerNorm(m, L(l, "output.LayerNorm"));
        } else if (opt && !s.normBefore) {
            addTo(x, a);
            x = layerNorm(x, L(l, "self_attn_layer_norm"));
            Mat m = mlp(x);
            addTo(x, m);
            x = layerNorm(x, L(l, "final_layer_norm"));
        } else if (neox && s.parallelResidual) {
            // x + attn(ln1(x)) + mlp(ln2(x)), both norms of the block's input.
            const Mat m = mlp(layerNorm(x, L(l, "post_attention_layernorm")));
            addTo(x, a);
            addTo(x, m);
        } else {
            addTo(x, a);
            Mat h2;
            if (fam == "gemma2")
                h2 = rms(x, L(l, "pre_feedforward_layernorm.weight"));
            else if (llama || phi3)
                h2 = rms(x, L(l, "post_attention_layernorm.weight"));
            else if (gpt2)
                h2 = layerNorm(x, L(l, "ln_2"));
            else if (neox || sc2)
                h2 = layerNorm(x, L(l, "post_attention_layernorm"));
            else
                h2 = layerNorm(x, L(l, "final_layer_norm"));
            Mat m = mlp(h2);
            if (fam == "gemma2")
                m = rms(m, L(l, "post_feedforward_layernorm.weight"));
            addTo(x, m);
        }
        keepHidden();
    }

    // ---- output head
    Mat y = x;
    const std::vector<float>* head = nullptr;
    const std::vector<float>* headBias = nullptr;
    int headIn = D;
    if (llama || phi3) {
        y = rms(x, p + "norm.weight");
    } else if (gpt2) {
        y = layerNorm(x, p + "ln_f");
    } else if (neox) {
        y = layerNorm(x, p + "final_layer_norm");
    } else if (sc2) {
        y = layerNorm(x, p + "norm");
    } else if (opt) {
        if (s.normBefore)
            y = layerNorm(x, p + "decoder.final_layer_norm");
        const int P = s.wordEmbedProjDim > 0 ? s.wordEmbedProjDim : D;
        if (P != D)
            y = linear(y, need(w, p + "decoder.project_out.weight"), P, D, nullptr);
        headIn = P;
    } else if (encoder) {
        const bool bert = fam == "bert";
        const std::string tr = bert ? "cls.predictions.transform." : "lm_head.";
        if (!find(w, tr + "dense.weight"))
            return out; // no MLM head: no logits
        y = linear(x, need(w, tr + "dense.weight"), D, D, &need(w, tr + "dense.bias"));
        // BERT's transform uses hidden_act; RobertaLMHead always the exact (erf) GELU.
        for (Vec& r : y)
            for (double& val : r)
                val = activation(bert ? act : std::string("gelu"), val);
        y = layerNorm(y, tr + (bert ? "LayerNorm" : "layer_norm"));
        headBias = &need(w, (bert ? "cls.predictions." : "lm_head.") + std::string("bias"));
    }
    head = s.tied ? &need(w, tinyEmbeddingName(s)) : &need(w, tinyOutputName(s));
    Mat lg = linear(y, *head, V, headIn, headBias);
    if (fam == "gemma2" && s.finalSoftcap > 0)
        for (Vec& r : lg)
            for (double& val : r)
                val = s.finalSoftcap * std::tanh(val / s.finalSoftcap);
    for (const Vec& r : lg)
        out.logits.insert(out.logits.end(), r.begin(), r.end());
    return out;
}

} // namespace sinkscope::test
