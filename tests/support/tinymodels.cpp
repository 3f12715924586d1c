// SPDX-License-Identifier: GPL-3.0-or-later
#include "tinymodels.h"

#include "sinkscope/safetensors.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <random>
#include <stdexcept>

namespace sinkscope::test {

namespace {

int headDimOf(const TinyLlamaSpec& s)
{
    return s.headDim > 0 ? s.headDim : s.hidden / s.heads;
}

std::string L(int l, const std::string& rest)
{
    return "model.layers." + std::to_string(l) + "." + rest;
}

} // namespace

TinyWeights makeTinyLlamaWeights(const TinyLlamaSpec& s)
{
    TinyWeights w;
    std::mt19937 rng(s.seed);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float offset = 0.0f) {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        for (float& x : v)
            x = offset + scale * uni(rng);
        w.values[name] = std::move(v);
        w.shapes[name] = std::move(shape);
    };
    const int hd = headDimOf(s);
    const float a = s.scale * 2.0f;
    add("model.embed_tokens.weight", {s.vocab, s.hidden}, 1.0f);
    for (int l = 0; l < s.layers; ++l) {
        add(L(l, "input_layernorm.weight"), {s.hidden}, 0.2f, 1.0f);
        add(L(l, "post_attention_layernorm.weight"), {s.hidden}, 0.2f, 1.0f);
        add(L(l, "self_attn.q_proj.weight"), {s.heads * hd, s.hidden}, a / std::sqrt(float(s.hidden)));
        add(L(l, "self_attn.k_proj.weight"), {s.kvHeads * hd, s.hidden}, a / std::sqrt(float(s.hidden)));
        add(L(l, "self_attn.v_proj.weight"), {s.kvHeads * hd, s.hidden}, a / std::sqrt(float(s.hidden)));
        if (s.qkvBias) {
            add(L(l, "self_attn.q_proj.bias"), {s.heads * hd}, 0.3f);
            add(L(l, "self_attn.k_proj.bias"), {s.kvHeads * hd}, 0.3f);
            add(L(l, "self_attn.v_proj.bias"), {s.kvHeads * hd}, 0.3f);
        }
        add(L(l, "self_attn.o_proj.weight"), {s.hidden, s.heads * hd}, a / std::sqrt(float(s.heads * hd)));
        add(L(l, "mlp.gate_proj.weight"), {s.ffn, s.hidden}, a / std::sqrt(float(s.hidden)));
        add(L(l, "mlp.up_proj.weight"), {s.ffn, s.hidden}, a / std::sqrt(float(s.hidden)));
        add(L(l, "mlp.down_proj.weight"), {s.hidden, s.ffn}, a / std::sqrt(float(s.ffn)));
    }
    add("model.norm.weight", {s.hidden}, 0.2f, 1.0f);
    if (!s.tied)
        add("lm_head.weight", {s.vocab, s.hidden}, a / std::sqrt(float(s.hidden)));
    return w;
}

std::string tinyLlamaConfigJson(const TinyLlamaSpec& s)
{
    QJsonObject c;
    c["model_type"] = QString::fromStdString(s.modelType);
    c["hidden_size"] = s.hidden;
    c["intermediate_size"] = s.ffn;
    c["num_hidden_layers"] = s.layers;
    c["num_attention_heads"] = s.heads;
    c["num_key_value_heads"] = s.kvHeads;
    if (s.headDim > 0)
        c["head_dim"] = s.headDim;
    c["vocab_size"] = s.vocab;
    c["max_position_embeddings"] = s.maxPositions;
    c["rms_norm_eps"] = s.eps;
    c["rope_theta"] = s.ropeTheta;
    c["hidden_act"] = "silu";
    c["tie_word_embeddings"] = s.tied;
    c["torch_dtype"] = "float32";
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    if (s.modelType == "llama")
        c["attention_bias"] = s.qkvBias;
    if (!s.ropeType.empty()) {
        QJsonObject r;
        r["rope_type"] = QString::fromStdString(s.ropeType);
        r["factor"] = s.ropeFactor;
        if (s.ropeType == "llama3") {
            r["low_freq_factor"] = s.lowFreqFactor;
            r["high_freq_factor"] = s.highFreqFactor;
            r["original_max_position_embeddings"] = s.originalMaxPositions;
        }
        c["rope_scaling"] = r;
    }
    if (s.modelType == "mistral")
        c["sliding_window"] = s.slidingWindow > 0 ? QJsonValue(s.slidingWindow) : QJsonValue(QJsonValue::Null);
    if (s.modelType == "qwen2") {
        c["use_sliding_window"] = s.slidingWindow > 0;
        c["sliding_window"] = s.slidingWindow > 0 ? s.slidingWindow : 4096;
        c["max_window_layers"] = s.windowFromLayer;
    }
    return QJsonDocument(c).toJson().toStdString();
}

void writeCheckpointDir(const QString& dir, const std::string& configJson, const TinyWeights& weights)
{
    if (!QDir().mkpath(dir))
        throw std::runtime_error("cannot create " + dir.toStdString());
    QFile cfg(QDir(dir).filePath("config.json"));
    if (!cfg.open(QIODevice::WriteOnly))
        throw std::runtime_error("cannot write config.json");
    cfg.write(QByteArray::fromStdString(configJson));
    cfg.close();
    std::vector<HostTensor> tensors;
    for (const auto& [name, values] : weights.values)
        tensors.push_back(HostTensor::fromFloats(name, weights.shapes.at(name), values));
    writeSafetensors(QDir(dir).filePath("model.safetensors").toStdString(), tensors);
}

void writeTinyLlama(const QString& dir, const TinyLlamaSpec& spec, const TinyWeights& weights)
{
    writeCheckpointDir(dir, tinyLlamaConfigJson(spec), weights);
}

std::string tinyTokenizerJson()
{
    QJsonObject vocab;
    vocab["<unk>"] = 0;
    vocab["<s>"] = 1;
    vocab["</s>"] = 2;
    for (int b = 0; b < 256; ++b)
        vocab[QString::asprintf("<0x%02X>", b)] = 3 + b;
    const QString space = QString::fromUtf8("\u2581");
    vocab[space] = 259;
    QJsonArray merges;
    for (int c = 0; c < 26; ++c) {
        const QString letter(QChar('a' + c));
        vocab[letter] = 260 + c;
        vocab[space + letter] = 286 + c;
        merges.append(space + " " + letter);
    }
    QJsonObject model{{"type", "BPE"}, {"dropout", QJsonValue()}, {"unk_token", "<unk>"},
                      {"continuing_subword_prefix", QJsonValue()}, {"end_of_word_suffix", QJsonValue()},
                      {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab}, {"merges", merges}};
    auto special = [](int id, const char* content) {
        return QJsonObject{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                           {"rstrip", false}, {"normalized", false}, {"special", true}};
    };
    QJsonObject normalizer{{"type", "Sequence"},
                           {"normalizers", QJsonArray{QJsonObject{{"type", "Prepend"}, {"prepend", space}},
                                                      QJsonObject{{"type", "Replace"},
                                                                  {"pattern", QJsonObject{{"String", " "}}},
                                                                  {"content", space}}}}};
    QJsonObject post{{"type", "TemplateProcessing"},
                     {"single", QJsonArray{QJsonObject{{"SpecialToken", QJsonObject{{"id", "<s>"}, {"type_id", 0}}}},
                                           QJsonObject{{"Sequence", QJsonObject{{"id", "A"}, {"type_id", 0}}}}}},
                     {"pair", QJsonArray{QJsonObject{{"SpecialToken", QJsonObject{{"id", "<s>"}, {"type_id", 0}}}},
                                         QJsonObject{{"Sequence", QJsonObject{{"id", "A"}, {"type_id", 0}}}},
                                         QJsonObject{{"SpecialToken", QJsonObject{{"id", "<s>"}, {"type_id", 1}}}},
                                         QJsonObject{{"Sequence", QJsonObject{{"id", "B"}, {"type_id", 1}}}}}},
                     {"special_tokens", QJsonObject{{"<s>", QJsonObject{{"id", "<s>"}, {"ids", QJsonArray{1}},
                                                                         {"tokens", QJsonArray{"<s>"}}}}}}};
    QJsonObject decoder{{"type", "Sequence"},
                        {"decoders", QJsonArray{QJsonObject{{"type", "Replace"},
                                                            {"pattern", QJsonObject{{"String", space}}},
                                                            {"content", " "}},
                                                QJsonObject{{"type", "ByteFallback"}},
                                                QJsonObject{{"type", "Fuse"}},
                                                QJsonObject{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    QJsonObject root{{"version", "1.0"},
                     {"truncation", QJsonValue()},
                     {"padding", QJsonValue()},
                     {"added_tokens", QJsonArray{special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")}},
                     {"normalizer", normalizer},
                     {"pre_tokenizer", QJsonValue()},
                     {"post_processor", post},
                     {"decoder", decoder},
                     {"model", model}};
    return QJsonDocument(root).toJson().toStdString();
}

TinyLlamaSpec writeTinyLlamaWithTokenizer(const QString& dir, int layers, uint32_t seed, int maxPositions)
{
    TinyLlamaSpec spec;
    spec.layers = layers;
    spec.vocab = kTinyTokenizerVocab;
    spec.maxPositions = maxPositions;
    spec.seed = seed;
    writeTinyLlama(dir, spec, makeTinyLlamaWeights(spec));
    QFile tok(QDir(dir).filePath("tokenizer.json"));
    if (!tok.open(QIODevice::WriteOnly))
        throw std::runtime_error("cannot write tokenizer.json");
    tok.write(QByteArray::fromStdString(tinyTokenizerJson()));
    return spec;
}

// ---- independent reference -------------------------------------------------------------

namespace {

using Mat = std::vector<std::vector<double>>; // [rows][cols]

Mat linear(const Mat& x, const std::vector<float>& w, int out, int in, const std::vector<float>* bias)
{
    Mat y(x.size(), std::vector<double>(size_t(out), 0.0));
    for (size_t t = 0; t < x.size(); ++t)
        for (int o = 0; o < out; ++o) {
            double acc = bias ? double((*bias)[size_t(o)]) : 0.0;
            for (int i = 0; i < in; ++i)
                acc += double(w[size_t(o) * size_t(in) + size_t(i)]) * x[t][size_t(i)];
            y[t][size_t(o)] = acc;
        }
    return y;
}

Mat rmsnorm(const Mat& x, const std::vector<float>& w, double eps)
{
    Mat y = x;
    for (auto& row : y) {
        double ss = 0.0;
        for (double v : row)
            ss += v * v;
        const double inv = 1.0 / std::sqrt(ss / double(row.size()) + eps);
        for (size_t i = 0; i < row.size(); ++i)
            row[i] = row[i] * inv * double(w[i]);
    }
    return y;
}

std::vector<double> referenceInvFreq(const TinyLlamaSpec& s, int T)
{
    const int dim = headDimOf(s);
    double base = s.ropeTheta;
    if (s.ropeType == "dynamic" && T > s.maxPositions)
        base *= std::pow(s.ropeFactor * T / double(s.maxPositions) - (s.ropeFactor - 1.0), double(dim) / (dim - 2));
    std::vector<double> inv(size_t(dim / 2));
    for (int i = 0; i < dim / 2; ++i) {
        double f = 1.0 / std::pow(base, double(2 * i) / dim);
        if (s.ropeType == "linear") {
            f /= s.ropeFactor;
        } else if (s.ropeType == "llama3") {
            // Llama 3.1: long wavelengths are divided by the factor, short ones kept, and the
            // band between is interpolated linearly in (context / wavelength).
            const double wavelen = 2.0 * M_PI / f;
            const double lowWave = s.originalMaxPositions / s.lowFreqFactor;
            const double highWave = s.originalMaxPositions / s.highFreqFactor;
            if (wavelen > lowWave) {
                f = f / s.ropeFactor;
            } else if (wavelen >= highWave) {
                const double smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor)
                    / (s.highFreqFactor - s.lowFreqFactor);
                f = (1.0 - smooth) * f / s.ropeFactor + smooth * f;
            }
        }
        inv[size_t(i)] = f;
    }
    return inv;
}

void rope(std::vector<double>& v, int pos, const std::vector<double>& inv)
{
    // rotate-half layout: pairs (i, i + d/2) rotate by pos * inv[i]
    const size_t half = inv.size();
    for (size_t i = 0; i < half; ++i) {
        const double a = pos * inv[i];
        const double x1 = v[i], x2 = v[i + half];
        v[i] = x1 * std::cos(a) - x2 * std::sin(a);
        v[i + half] = x2 * std::cos(a) + x1 * std::sin(a);
    }
}

} // namespace

ReferenceOutput referenceLlamaForward(const TinyLlamaSpec& s, const TinyWeights& w, const std::vector<int32_t>& ids)
{
    const int T = int(ids.size());
    const int D = s.hidden, H = s.heads, Hkv = s.kvHeads, hd = headDimOf(s), V = s.vocab;
    const auto inv = referenceInvFreq(s, T);
    ReferenceOutput out;
    out.attention.assign(size_t(s.layers) * H * T * T, 0.0);

    Mat x(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(D)));
    const auto& emb = w.at("model.embed_tokens.weight");
    for (int t = 0; t < T; ++t)
        for (int i = 0; i < D; ++i)
            x[size_t(t)][size_t(i)] = emb[size_t(ids[size_t(t)]) * D + i];
    auto keepHidden = [&] {
        for (const auto& row : x)
            out.hidden.insert(out.hidden.end(), row.begin(), row.end());
    };
    keepHidden();

    for (int l = 0; l < s.layers; ++l) {
        auto get = [&](const std::string& n) { return &w.at(L(l, n)); };
        auto opt = [&](const std::string& n) {
            return w.values.count(L(l, n)) ? &w.values.at(L(l, n)) : nullptr;
        };
        const Mat h = rmsnorm(x, *get("input_layernorm.weight"), s.eps);
        const Mat q = linear(h, *get("self_attn.q_proj.weight"), H * hd, D, opt("self_attn.q_proj.bias"));
        const Mat k = linear(h, *get("self_attn.k_proj.weight"), Hkv * hd, D, opt("self_attn.k_proj.bias"));
        const Mat v = linear(h, *get("self_attn.v_proj.weight"), Hkv * hd, D, opt("self_attn.v_proj.bias"));
        for (int kvh = 0; kvh < Hkv; ++kvh)
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < hd; ++i)
                    out.values.push_back(v[size_t(t)][size_t(kvh * hd + i)]);
        Mat ctx(size_t(T), std::vector<double>(size_t(H * hd), 0.0));
        for (int head = 0; head < H; ++head) {
            const int kvh = head / (H / Hkv);
            for (int t = 0; t < T; ++t) {
                std::vector<double> qt(q[size_t(t)].begin() + head * hd, q[size_t(t)].begin() + (head + 1) * hd);
                rope(qt, t, inv);
                std::vector<double> logits(size_t(T), -INFINITY);
                double mx = -INFINITY;
                for (int j = 0; j <= t; ++j) {
                    if (s.slidingWindow > 0 && l >= s.windowFromLayer && t - j >= s.slidingWindow)
                        continue;
                    std::vector<double> kj(k[size_t(j)].begin() + kvh * hd, k[size_t(j)].begin() + (kvh + 1) * hd);
                    rope(kj, j, inv);
                    double dot = 0.0;
                    for (int i = 0; i < hd; ++i)
                        dot += qt[size_t(i)] * kj[size_t(i)];
                    logits[size_t(j)] = dot / std::sqrt(double(hd));
                    mx = std::max(mx, logits[size_t(j)]);
                }
                double z = 0.0;
                for (int j = 0; j < T; ++j)
                    z += std::isinf(logits[size_t(j)]) ? 0.0 : std::exp(logits[size_t(j)] - mx);
                for (int j = 0; j < T; ++j) {
                    const double p = std::isinf(logits[size_t(j)]) ? 0.0 : std::exp(logits[size_t(j)] - mx) / z;
                    out.attention[((size_t(l) * H + head) * T + t) * T + j] = p;
                    for (int i = 0; i < hd; ++i)
                        ctx[size_t(t)][size_t(head * hd + i)] += p * v[size_t(j)][size_t(kvh * hd + i)];
                }
            }
        }
        const Mat o = linear(ctx, *get("self_attn.o_proj.weight"), D, H * hd, nullptr);
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D; ++i)
                x[size_t(t)][size_t(i)] += o[size_t(t)][size_t(i)];
        const Mat h2 = rmsnorm(x, *get("post_attention_layernorm.weight"), s.eps);
        const Mat g = linear(h2, *get("mlp.gate_proj.weight"), s.ffn, D, nullptr);
        const Mat u = linear(h2, *get("mlp.up_proj.weight"), s.ffn, D, nullptr);
        Mat act(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(s.ffn)));
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < s.ffn; ++i) {
                const double a = g[size_t(t)][size_t(i)];
                act[size_t(t)][size_t(i)] = a / (1.0 + std::exp(-a)) * u[size_t(t)][size_t(i)];
            }
        const Mat m = linear(act, *get("mlp.down_proj.weight"), D, s.ffn, nullptr);
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D; ++i)
                x[size_t(t)][size_t(i)] += m[size_t(t)][size_t(i)];
        keepHidden();
    }
    const Mat y = rmsnorm(x, w.at("model.norm.weight"), s.eps);
    const auto& head = s.tied ? w.at("model.embed_tokens.weight") : w.at("lm_head.weight");
    const Mat lg = linear(y, head, V, D, nullptr);
    for (const auto& row : lg)
        out.logits.insert(out.logits.end(), row.begin(), row.end());
    return out;
}

} // namespace sinkscope::test
