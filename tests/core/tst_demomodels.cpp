// SPDX-License-Identifier: GPL-3.0-or-later
// The built-in demo models: the folders are valid Hugging Face checkpoints (our safetensors reader,
// config.json, tokenizer.json), generation is byte-for-byte deterministic, and the planted heads and
// massive activation do what they were built to do - checked twice: with an independent
// double-precision GPT-2/BERT forward pass written here from the transformers semantics, and with
// sinkscope::Model (skipped only while the build does not support gpt2/bert yet).
#include "sinkscope/demomodels.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/modelconfig.h"
#include "sinkscope/safetensors.h"
#include "sinkscope/tokenizer.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <map>

using namespace sinkscope;

Q_DECLARE_METATYPE(sinkscope::DemoKind)

namespace {

constexpr int kFlagDimPosition0 = 48;
constexpr int kMassiveDim = 50;

// What the planted-mechanism checks look at, from either forward pass.
struct Forward {
    int T = 0, L = 0, H = 0, hd = 0, D = 0;
    std::vector<double> attention; // [L, H, T, T]
    std::vector<double> values;    // [L, H, T, hd]
    std::vector<double> hidden;    // [L+1, T, D]
    double A(int l, int h, int t, int j) const { return attention[((size_t(l) * H + h) * T + t) * T + j]; }
    double valueNorm(int l, int h, int t) const
    {
        double s = 0;
        const double* v = &values[((size_t(l) * H + h) * T + t) * hd];
        for (int i = 0; i < hd; ++i)
            s += v[i] * v[i];
        return std::sqrt(s);
    }
    double hid(int l, int t, int d) const { return hidden[(size_t(l) * T + t) * D + d]; }
};

// ---- Independent reference (double precision, plain loops) -----------------------------------

struct Weights {
    std::map<std::string, std::vector<double>> w;
    const std::vector<double>& operator[](const std::string& n) const
    {
        const auto it = w.find(n);
        if (it == w.end())
            throw std::runtime_error("missing tensor " + n);
        return it->second;
    }
};

Weights readWeights(const QString& dir)
{
    const SafetensorsFile f = SafetensorsFile::open(QDir(dir).filePath("model.safetensors").toStdString());
    Weights w;
    for (const TensorInfo& t : f.header().tensors) {
        const std::vector<float> v = f.read(t.name).toFloats();
        w.w[t.name] = std::vector<double>(v.begin(), v.end());
    }
    return w;
}

using Rows = std::vector<std::vector<double>>;

void layerNorm(std::vector<double>& x, const std::vector<double>& g, const std::vector<double>& b, double eps)
{
    double mean = 0, var = 0;
    for (double v : x)
        mean += v;
    mean /= double(x.size());
    for (double v : x)
        var += (v - mean) * (v - mean);
    var /= double(x.size());
    const double inv = 1.0 / std::sqrt(var + eps);
    for (size_t i = 0; i < x.size(); ++i)
        x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

// y = x W + b with W stored [in, out] (GPT-2 Conv1D).
std::vector<double> conv1d(const std::vector<double>& x, const std::vector<double>& W, const std::vector<double>& b)
{
    const size_t in = x.size(), out = b.size();
    std::vector<double> y(b);
    for (size_t i = 0; i < in; ++i)
        for (size_t o = 0; o < out; ++o)
            y[o] += x[i] * W[i * out + o];
    return y;
}

// y = x W^T + b with W stored [out, in] (nn.Linear).
std::vector<double> linear(const std::vector<double>& x, const std::vector<double>& W, const std::vector<double>& b)
{
    const size_t in = x.size(), out = b.size();
    std::vector<double> y(b);
    for (size_t o = 0; o < out; ++o)
        for (size_t i = 0; i < in; ++i)
            y[o] += x[i] * W[o * in + i];
    return y;
}

double geluTanh(double x)
{
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

double geluErf(double x)
{
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

// Multi-head attention over rows q/k/v [T][D]; writes probabilities and values into `f` at layer l.
Rows attend(Forward& f, int l, const Rows& q, const Rows& k, const Rows& v, bool causal)
{
    const int T = f.T, H = f.H, hd = f.hd;
    Rows o(size_t(T), std::vector<double>(size_t(f.D), 0.0));
    for (int h = 0; h < H; ++h) {
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < hd; ++i)
                f.values[((size_t(l) * H + h) * T + t) * hd + i] = v[t][size_t(h * hd + i)];
        for (int t = 0; t < T; ++t) {
            const int last = causal ? t : T - 1;
            std::vector<double> s(size_t(last + 1));
            double mx = -1e300;
            for (int j = 0; j <= last; ++j) {
                double dot = 0;
                for (int i = 0; i < hd; ++i)
                    dot += q[t][size_t(h * hd + i)] * k[j][size_t(h * hd + i)];
                s[size_t(j)] = dot / std::sqrt(double(hd));
                mx = std::max(mx, s[size_t(j)]);
            }
            double z = 0;
            for (double& x : s)
                z += (x = std::exp(x - mx));
            for (int j = 0; j <= last; ++j) {
                const double p = s[size_t(j)] / z;
                f.attention[((size_t(l) * H + h) * T + t) * T + j] = p;
                for (int i = 0; i < hd; ++i)
                    o[t][size_t(h * hd + i)] += p * v[j][size_t(h * hd + i)];
            }
        }
    }
    return o;
}

Forward prepare(int T, int L, int H, int D)
{
    Forward f;
    f.T = T;
    f.L = L;
    f.H = H;
    f.D = D;
    f.hd = D / H;
    f.attention.assign(size_t(L) * H * T * T, 0.0);
    f.values.assign(size_t(L) * H * T * f.hd, 0.0);
    f.hidden.assign(size_t(L + 1) * T * D, 0.0);
    return f;
}

void storeHidden(Forward& f, int index, const Rows& h)
{
    for (int t = 0; t < f.T; ++t)
        for (int d = 0; d < f.D; ++d)
            f.hidden[(size_t(index) * f.T + t) * f.D + d] = h[size_t(t)][size_t(d)];
}

std::string P(const char* prefix, int l, const char* rest)
{
    return std::string(prefix) + std::to_string(l) + "." + rest;
}

// `positions`: position ids (empty: 0..T-1).
Forward referenceGpt2(const Weights& w, const std::vector<int32_t>& ids, int L, int H, int D,
                      const std::vector<int64_t>& positions = {})
{
    const int T = int(ids.size());
    Forward f = prepare(T, L, H, D);
    Rows h(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(D)));
    for (int t = 0; t < T; ++t) {
        const size_t pos = positions.empty() ? size_t(t) : size_t(positions[size_t(t)]);
        for (int d = 0; d < D; ++d)
            h[t][d] = w["transformer.wte.weight"][size_t(ids[t]) * D + d] + w["transformer.wpe.weight"][pos * D + d];
    }
    storeHidden(f, 0, h);
    const double eps = 1e-5;
    for (int l = 0; l < L; ++l) {
        auto W = [&](const char* rest) -> const std::vector<double>& { return w[P("transformer.h.", l, rest)]; };
        Rows q(static_cast<size_t>(T)), k(static_cast<size_t>(T)), v(static_cast<size_t>(T));
        for (int t = 0; t < T; ++t) {
            std::vector<double> x = h[t];
            layerNorm(x, W("ln_1.weight"), W("ln_1.bias"), eps);
            const std::vector<double> qkv = conv1d(x, W("attn.c_attn.weight"), W("attn.c_attn.bias"));
            q[t].assign(qkv.begin(), qkv.begin() + D);
            k[t].assign(qkv.begin() + D, qkv.begin() + 2 * D);
            v[t].assign(qkv.begin() + 2 * D, qkv.end());
        }
        const Rows o = attend(f, l, q, k, v, true);
        for (int t = 0; t < T; ++t) {
            const std::vector<double> a = conv1d(o[t], W("attn.c_proj.weight"), W("attn.c_proj.bias"));
            for (int d = 0; d < D; ++d)
                h[t][d] += a[d];
            std::vector<double> x = h[t];
            layerNorm(x, W("ln_2.weight"), W("ln_2.bias"), eps);
            std::vector<double> m = conv1d(x, W("mlp.c_fc.weight"), W("mlp.c_fc.bias"));
            for (double& u : m)
                u = geluTanh(u);
            const std::vector<double> y = conv1d(m, W("mlp.c_proj.weight"), W("mlp.c_proj.bias"));
            for (int d = 0; d < D; ++d)
                h[t][d] += y[d];
        }
        storeHidden(f, l + 1, h);
    }
    return f;
}

Forward referenceBert(const Weights& w, const std::vector<int32_t>& ids, int L, int H, int D)
{
    const int T = int(ids.size());
    Forward f = prepare(T, L, H, D);
    const double eps = 1e-12;
    Rows h(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(D)));
    for (int t = 0; t < T; ++t) {
        for (int d = 0; d < D; ++d)
            h[t][d] = w["bert.embeddings.word_embeddings.weight"][size_t(ids[t]) * D + d] +
                      w["bert.embeddings.position_embeddings.weight"][size_t(t) * D + d] +
                      w["bert.embeddings.token_type_embeddings.weight"][size_t(d)];
        layerNorm(h[t], w["bert.embeddings.LayerNorm.weight"], w["bert.embeddings.LayerNorm.bias"], eps);
    }
    storeHidden(f, 0, h);
    for (int l = 0; l < L; ++l) {
        auto W = [&](const char* rest) -> const std::vector<double>& { return w[P("bert.encoder.layer.", l, rest)]; };
        Rows q(static_cast<size_t>(T)), k(static_cast<size_t>(T)), v(static_cast<size_t>(T));
        for (int t = 0; t < T; ++t) {
            q[t] = linear(h[t], W("attention.self.query.weight"), W("attention.self.query.bias"));
            k[t] = linear(h[t], W("attention.self.key.weight"), W("attention.self.key.bias"));
            v[t] = linear(h[t], W("attention.self.value.weight"), W("attention.self.value.bias"));
        }
        const Rows o = attend(f, l, q, k, v, false);
        for (int t = 0; t < T; ++t) {
            std::vector<double> a = linear(o[t], W("attention.output.dense.weight"), W("attention.output.dense.bias"));
            for (int d = 0; d < D; ++d)
                a[d] += h[t][d];
            layerNorm(a, W("attention.output.LayerNorm.weight"), W("attention.output.LayerNorm.bias"), eps);
            std::vector<double> m = linear(a, W("intermediate.dense.weight"), W("intermediate.dense.bias"));
            for (double& u : m)
                u = geluErf(u);
            std::vector<double> y = linear(m, W("output.dense.weight"), W("output.dense.bias"));
            for (int d = 0; d < D; ++d)
                y[d] += a[d];
            layerNorm(y, W("output.LayerNorm.weight"), W("output.LayerNorm.bias"), eps);
            h[t] = y;
        }
        storeHidden(f, l + 1, h);
    }
    return f;
}

// ---- sinkscope::Model as the forward pass --------------------------------------------------------

Forward fromRun(const RunResult& r)
{
    const int L = r.model.layers, H = r.model.heads, T = int(r.tokens), hd = r.model.headDim, D = r.model.hiddenSize;
    Forward f = prepare(T, L, H, D);
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
            const RowMatrixXf m = r.attentionMap(l, h);
            for (int t = 0; t < T; ++t)
                for (int j = 0; j < T; ++j)
                    f.attention[((size_t(l) * H + h) * T + t) * T + j] = m(t, j);
            const int kv = h / (H / r.model.kvHeads);
            const float* v = r.values.at({l, kv});
            for (int i = 0; i < T * hd; ++i)
                f.values[(size_t(l) * H + h) * T * hd + size_t(i)] = v[i];
        }
    for (size_t i = 0; i < f.hidden.size(); ++i)
        f.hidden[i] = r.hidden.data[i];
    return f;
}

// ---- The planted-mechanism checks ----------------------------------------------------------------

// A positional head: every query t puts >= minMass on position 0. Returns the smallest A[t,0].
double minFirstMass(const Forward& f, int l, int h)
{
    double lo = 1.0;
    for (int t = 0; t < f.T; ++t)
        lo = std::min(lo, f.A(l, h, t, 0));
    return lo;
}

// A feature head: for each query t, the waiver set W_t = {j visible to t : ids[j] == waiver}
// (j <= t when causal, every j when bidirectional). Returns the smallest over t of
//   sum_{j in W_t} A[t,j]        when W_t is not empty,
//   A[t, fallback]               when W_t is empty and fallback >= 0 (skipped when fallback < 0).
double minWaiverMass(const Forward& f, int l, int h, const std::vector<int32_t>& ids, int32_t waiver, bool causal,
                     int fallback)
{
    double lo = 1.0;
    for (int t = 0; t < f.T; ++t) {
        double mass = 0;
        bool any = false;
        for (int j = 0; j <= (causal ? t : f.T - 1); ++j)
            if (ids[size_t(j)] == waiver) {
                mass += f.A(l, h, t, j);
                any = true;
            }
        if (!any) {
            if (fallback < 0)
                continue;
            mass = f.A(l, h, t, fallback);
        }
        lo = std::min(lo, mass);
    }
    return lo;
}

// Largest ||v_waiver|| / median ||v_other|| over the waiver elements.
double valueNormRatio(const Forward& f, int l, int h, const std::vector<bool>& isWaiver)
{
    std::vector<double> others;
    double worst = 0;
    for (int t = 0; t < f.T; ++t)
        if (!isWaiver[size_t(t)])
            others.push_back(f.valueNorm(l, h, t));
    std::nth_element(others.begin(), others.begin() + long(others.size() / 2), others.end());
    const double median = others[others.size() / 2];
    for (int t = 0; t < f.T; ++t)
        if (isWaiver[size_t(t)])
            worst = std::max(worst, f.valueNorm(l, h, t) / median);
    return worst;
}

double medianAbsHidden(const Forward& f, int index)
{
    std::vector<double> a;
    for (int t = 0; t < f.T; ++t)
        for (int d = 0; d < f.D; ++d)
            a.push_back(std::abs(f.hid(index, t, d)));
    std::nth_element(a.begin(), a.begin() + long(a.size() / 2), a.end());
    return a[a.size() / 2];
}

QString modelDir(const QTemporaryDir& tmp, DemoKind kind)
{
    return QDir(tmp.path()).filePath(QString::fromStdString(demoModelName(kind)));
}

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

std::vector<int32_t> encodeIds(const Tokenizer& tok, const std::string& text, BosPolicy bos = BosPolicy::Auto)
{
    return tok.encode(text, bos).ids();
}

// The prompts the mechanism checks run: sample prompts, with and without a BOS, with a different
// first element (another word, a ".", the BOS), with no "." at all, and with "." first.
std::vector<std::vector<int32_t>> decoderPrompts(const Tokenizer& tok)
{
    std::vector<std::vector<int32_t>> out;
    for (const std::string& p : demoGroundTruth(DemoKind::Decoder).samplePrompts) {
        out.push_back(encodeIds(tok, p));
        out.push_back(encodeIds(tok, p, BosPolicy::Off));
    }
    const std::vector<int32_t> base = encodeIds(tok, "the cat sat on the mat . the dog slept by the door .", BosPolicy::Off);
    for (const char* first : {"cat", ".", "<|endoftext|>", "attention"}) {
        std::vector<int32_t> ids = base;
        ids[0] = *tok.tokenToId(first);
        out.push_back(ids);
    }
    out.push_back(encodeIds(tok, "once upon a time there was a little girl and she loved to play outside in the park"));
    out.push_back(encodeIds(tok, ". . the cat . sat", BosPolicy::Off));
    out.push_back(encodeIds(tok, "the cat sat on the mat and the dog slept by the door", BosPolicy::Off));
    // Long: 200 tokens, dots every 7.
    std::vector<int32_t> longIds = encodeIds(tok, "the bird sang in the tree", BosPolicy::On);
    while (longIds.size() < 200)
        longIds.push_back(longIds.size() % 7 == 0 ? *tok.tokenToId(".") : *tok.tokenToId("word"));
    out.push_back(longIds);
    return out;
}

std::vector<std::vector<int32_t>> encoderPrompts(const Tokenizer& tok)
{
    std::vector<std::vector<int32_t>> out;
    for (const std::string& p : demoGroundTruth(DemoKind::Encoder).samplePrompts)
        out.push_back(encodeIds(tok, p));
    out.push_back(encodeIds(tok, "[CLS] the cat sat on the mat [SEP] the dog slept by the door [SEP]", BosPolicy::Off));
    out.push_back(encodeIds(tok, "[CLS] [SEP] hello [SEP] world", BosPolicy::Off));
    return out;
}

struct Measured {
    std::map<std::pair<int, int>, std::pair<double, double>> perHead; // (layer, head) -> (min mass, max |v| ratio)
    void note(int l, int h, double mass, double ratio)
    {
        auto it = perHead.emplace(std::make_pair(l, h), std::make_pair(1.0, 0.0)).first;
        it->second.first = std::min(it->second.first, mass);
        it->second.second = std::max(it->second.second, ratio);
    }
    double minPositional = 1, minFeature = 1, maxValueRatio = 0, minMassive = 1e9, minMassiveRatio = 1e9,
           maxBeforeMassive = 0, maxOrdinaryFirstMass = 0;
};

// Runs every planted check on one forward pass; QVERIFY-style failures carry the numbers.
void checkDecoder(const Forward& f, const std::vector<int32_t>& ids, const Tokenizer& tok, Measured& m)
{
    const int32_t dot = *tok.tokenToId(".");
    for (const PlantedHead& h : plantedHeads(DemoKind::Decoder)) {
        std::vector<bool> waiver(size_t(f.T), false);
        if (h.mechanism == "positional") {
            const double lo = minFirstMass(f, h.layer, h.head);
            m.minPositional = std::min(m.minPositional, lo);
            QVERIFY2(lo >= 0.99, qPrintable(QString("L%1.H%2 min A[t,0] = %3").arg(h.layer).arg(h.head).arg(lo)));
            m.note(h.layer, h.head, lo, 0.0);
            waiver[0] = true;
        } else {
            const double lo = minWaiverMass(f, h.layer, h.head, ids, dot, true, h.fallbackPosition);
            m.minFeature = std::min(m.minFeature, lo);
            QVERIFY2(lo >= 0.99, qPrintable(QString("L%1.H%2 min waiver mass = %3").arg(h.layer).arg(h.head).arg(lo)));
            m.note(h.layer, h.head, lo, 0.0);
            for (int t = 0; t < f.T; ++t)
                waiver[size_t(t)] = ids[size_t(t)] == dot;
            if (std::find(waiver.begin(), waiver.end(), true) == waiver.end())
                continue;
        }
        const double ratio = valueNormRatio(f, h.layer, h.head, waiver);
        m.maxValueRatio = std::max(m.maxValueRatio, ratio);
        m.note(h.layer, h.head, 1.0, ratio);
        QVERIFY2(ratio <= 0.1, qPrintable(QString("L%1.H%2 waiver |v| / median = %3").arg(h.layer).arg(h.head).arg(ratio)));
    }
    // Ordinary heads are not sinks: mean over t >= 1 of A[t,0] stays well below a planted head's.
    if (f.T > 8) {
        for (int l = 0; l < f.L; ++l)
            for (int hh = 0; hh < f.H; ++hh) {
                bool planted = false;
                for (const PlantedHead& h : plantedHeads(DemoKind::Decoder))
                    planted = planted || (h.layer == l && h.head == hh);
                if (planted)
                    continue;
                double s = 0;
                for (int t = 1; t < f.T; ++t)
                    s += f.A(l, hh, t, 0);
                m.maxOrdinaryFirstMass = std::max(m.maxOrdinaryFirstMass, s / (f.T - 1));
            }
        QVERIFY2(m.maxOrdinaryFirstMass < 0.5, qPrintable(QString("an ordinary head has first-element mass %1")
                                                             .arg(m.maxOrdinaryFirstMass)));
    }
    for (const PlantedMassiveActivation& a : demoGroundTruth(DemoKind::Decoder).massive) {
        for (int i = 0; i <= f.L; ++i) {
            const double v = f.hid(i, a.position, a.dim);
            if (i < a.firstHidden) {
                m.maxBeforeMassive = std::max(m.maxBeforeMassive, std::abs(v));
                QVERIFY2(std::abs(v) < 1.0, qPrintable(QString("hidden[%1][0][%2] = %3 too early").arg(i).arg(a.dim).arg(v)));
                continue;
            }
            if (i > a.lastHidden)
                continue;
            const double ratio = std::abs(v) / medianAbsHidden(f, i);
            m.minMassive = std::min(m.minMassive, std::abs(v));
            m.minMassiveRatio = std::min(m.minMassiveRatio, ratio);
            QVERIFY2(std::abs(v) > 100 && ratio > 1000,
                     qPrintable(QString("hidden[%1][0][%2] = %3, %4 x median").arg(i).arg(a.dim).arg(v).arg(ratio)));
            // No other element has it.
            for (int t = 1; t < f.T; ++t)
                QVERIFY2(std::abs(f.hid(i, t, a.dim)) < 1.0, qPrintable(QString("element %1 dim %2").arg(t).arg(a.dim)));
        }
    }
}

void checkEncoder(const Forward& f, const std::vector<int32_t>& ids, const Tokenizer& tok, Measured& m)
{
    const int32_t sep = *tok.tokenToId("[SEP]");
    for (const PlantedHead& h : plantedHeads(DemoKind::Encoder)) {
        const double lo = minWaiverMass(f, h.layer, h.head, ids, sep, false, -1);
        m.minFeature = std::min(m.minFeature, lo);
        QVERIFY2(lo >= 0.99, qPrintable(QString("L%1.H%2 min [SEP] mass = %3").arg(h.layer).arg(h.head).arg(lo)));
        std::vector<bool> waiver(size_t(f.T));
        for (int t = 0; t < f.T; ++t)
            waiver[size_t(t)] = ids[size_t(t)] == sep;
        const double ratio = valueNormRatio(f, h.layer, h.head, waiver);
        m.maxValueRatio = std::max(m.maxValueRatio, ratio);
        m.note(h.layer, h.head, lo, ratio);
        QVERIFY2(ratio <= 0.1, qPrintable(QString("L%1.H%2 [SEP] |v| / median = %3").arg(h.layer).arg(h.head).arg(ratio)));
    }
}

void report(const char* what, DemoKind kind, const Measured& m)
{
    qInfo("%s %s: min A[t,0] on positional heads %.6f; min waiver mass on feature heads %.6f; "
          "max waiver |v|/median %.4f; ordinary heads' max mean first mass %.3f; massive min %.1f, "
          "min ratio to median %.0f, before it max %.3f",
          what, demoKindName(kind), m.minPositional, m.minFeature, m.maxValueRatio, m.maxOrdinaryFirstMass,
          m.minMassive == 1e9 ? 0.0 : m.minMassive, m.minMassiveRatio == 1e9 ? 0.0 : m.minMassiveRatio,
          m.maxBeforeMassive);
    for (const auto& [lh, v] : m.perHead)
        qInfo("  L%d.H%d: min waiver mass %.6f, max waiver |v| / median %.4f", lh.first, lh.second, v.first, v.second);
}

const char* unsupportedReason(DemoKind kind)
{
    return kind == DemoKind::Decoder ? "model_type gpt2 is not supported by this build yet"
                                     : "model_type bert is not supported by this build yet";
}

void addKindRows()
{
    QTest::addColumn<DemoKind>("kind");
    for (DemoKind k : allDemoKinds())
        QTest::newRow(demoKindName(k)) << k;
}

} // namespace

class TestDemoModels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void files_data() { addKindRows(); }
    void files();
    void deterministic_data() { addKindRows(); }
    void deterministic();
    void detectsDamage_data() { addKindRows(); }
    void detectsDamage();
    void tokenizes_data();
    void tokenizes();
    void samplePromptsHaveNoUnknowns_data() { addKindRows(); }
    void samplePromptsHaveNoUnknowns();
    void config_data() { addKindRows(); }
    void config();
    void plantedInReference_data() { addKindRows(); }
    void plantedInReference();
    void plantedInModel_data() { addKindRows(); }
    void plantedInModel();
    void positionalFollowsPositionIds();
    void kindNames();

private:
    QTemporaryDir m_tmp;
};

void TestDemoModels::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    for (DemoKind k : allDemoKinds())
        writeDemoModel(k, modelDir(m_tmp, k).toStdString());
}

void TestDemoModels::files()
{
    QFETCH(DemoKind, kind);
    const QString dir = modelDir(m_tmp, kind);
    QVERIFY(isDemoModelDir(kind, dir.toStdString()));
    QVERIFY(ModelConfig::fromFile(QDir(dir).filePath("config.json").toStdString()).syntheticDemo);
    QVERIFY(!isDemoModelDir(kind == DemoKind::Decoder ? DemoKind::Encoder : DemoKind::Decoder, dir.toStdString()));

    const QByteArray readme = readAll(QDir(dir).filePath("README.md"));
    QVERIFY(readme.contains("synthetic"));
    QVERIFY(readme.contains("not trained"));

    const SafetensorsFile f = SafetensorsFile::open(QDir(dir).filePath("model.safetensors").toStdString());
    QCOMPARE(f.header().metadata.at("format"), std::string("pt"));
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const TensorInfo& t : f.header().tensors) {
        QVERIFY(t.dtype == DType::F32);
        shapes[t.name] = t.shape;
    }
    using S = std::vector<int64_t>;
    if (kind == DemoKind::Decoder) {
        QCOMPARE(shapes.size(), size_t(2 + 4 * 12 + 2));
        QCOMPARE(shapes.at("transformer.wpe.weight"), (S{256, 64}));
        QCOMPARE(shapes.at("transformer.wte.weight")[1], int64_t(64));
        QCOMPARE(shapes.at("transformer.h.3.attn.c_attn.weight"), (S{64, 192}));
        QCOMPARE(shapes.at("transformer.h.3.attn.c_attn.bias"), (S{192}));
        QCOMPARE(shapes.at("transformer.h.0.mlp.c_fc.weight"), (S{64, 256}));
        QCOMPARE(shapes.at("transformer.h.0.mlp.c_proj.weight"), (S{256, 64}));
        QCOMPARE(shapes.at("transformer.ln_f.bias"), (S{64}));
        QVERIFY(!shapes.count("lm_head.weight")); // tied
    } else {
        QCOMPARE(shapes.size(), size_t(5 + 4 * 16 + 5));
        QCOMPARE(shapes.at("bert.embeddings.position_embeddings.weight"), (S{256, 64}));
        QCOMPARE(shapes.at("bert.embeddings.token_type_embeddings.weight"), (S{2, 64}));
        QCOMPARE(shapes.at("bert.encoder.layer.2.attention.self.key.weight"), (S{64, 64}));
        QCOMPARE(shapes.at("bert.encoder.layer.2.intermediate.dense.weight"), (S{256, 64}));
        QCOMPARE(shapes.at("bert.encoder.layer.2.output.dense.weight"), (S{64, 256}));
        QCOMPARE(shapes.at("bert.encoder.layer.0.output.LayerNorm.weight"), (S{64}));
        QCOMPARE(shapes.at("cls.predictions.transform.dense.weight"), (S{64, 64}));
        QCOMPARE(shapes.at("cls.predictions.bias")[0], shapes.at("bert.embeddings.word_embeddings.weight")[0]);
    }

    // The vocabulary sizes of config.json, tokenizer.json and the embedding matrix agree.
    const QJsonObject cfg = QJsonDocument::fromJson(readAll(QDir(dir).filePath("config.json"))).object();
    const auto tok = Tokenizer::fromFile(QDir(dir).filePath("tokenizer.json").toStdString(),
                                         QDir(dir).filePath("tokenizer_config.json").toStdString());
    const std::string embed = kind == DemoKind::Decoder ? "transformer.wte.weight" : "bert.embeddings.word_embeddings.weight";
    QCOMPARE(int64_t(cfg.value("vocab_size").toInt()), shapes.at(embed)[0]);
    QCOMPARE(int64_t(tok->vocabSize()), shapes.at(embed)[0]);
    QCOMPARE(cfg.value("sinkscope_demo").toObject().value("version").toString().toStdString(), demoModelVersion());
}

void TestDemoModels::deterministic()
{
    QFETCH(DemoKind, kind);
    QTemporaryDir other;
    const QString again = QDir(other.path()).filePath("again");
    writeDemoModel(kind, again.toStdString());
    for (const char* name : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"}) {
        const QByteArray a = readAll(QDir(modelDir(m_tmp, kind)).filePath(name));
        QVERIFY2(!a.isEmpty(), name);
        QVERIFY2(a == readAll(QDir(again).filePath(name)), name);
    }
    // Regenerating over an existing folder leaves it valid.
    writeDemoModel(kind, again.toStdString());
    QVERIFY(isDemoModelDir(kind, again.toStdString()));
}

void TestDemoModels::detectsDamage()
{
    QFETCH(DemoKind, kind);
    QTemporaryDir other;
    const QString dir = QDir(other.path()).filePath("m");
    writeDemoModel(kind, dir.toStdString());
    QVERIFY(isDemoModelDir(kind, dir.toStdString()));

    {   // one flipped byte in the weights
        QFile f(QDir(dir).filePath("model.safetensors"));
        QVERIFY(f.open(QIODevice::ReadWrite));
        f.seek(f.size() - 100);
        char c = 0;
        f.getChar(&c);
        f.seek(f.size() - 100);
        f.putChar(char(c ^ 0x10));
    }
    QVERIFY(!isDemoModelDir(kind, dir.toStdString()));
    writeDemoModel(kind, dir.toStdString());
    QVERIFY(isDemoModelDir(kind, dir.toStdString()));

    QVERIFY(QFile::remove(QDir(dir).filePath("tokenizer.json")));
    QVERIFY(!isDemoModelDir(kind, dir.toStdString()));
    writeDemoModel(kind, dir.toStdString());

    {   // truncated tokenizer
        QFile f(QDir(dir).filePath("tokenizer.json"));
        QVERIFY(f.open(QIODevice::ReadWrite));
        QVERIFY(f.resize(f.size() / 2));
    }
    QVERIFY(!isDemoModelDir(kind, dir.toStdString()));
    QVERIFY(!isDemoModelDir(kind, QDir(other.path()).filePath("absent").toStdString()));
}

void TestDemoModels::tokenizes_data()
{
    QTest::addColumn<DemoKind>("kind");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("bos");
    QTest::addColumn<QStringList>("pieces");
    QTest::newRow("decoder sentence") << DemoKind::Decoder << "The cat sat on the mat." << "auto"
                                      << QStringList{"<|endoftext|>", "the", "cat", "sat", "on", "the", "mat", "."};
    QTest::newRow("decoder no bos") << DemoKind::Decoder << "Lily's dog, Ben!" << "off"
                                    << QStringList{"lily", "'", "s", "dog", ",", "ben", "!"};
    QTest::newRow("decoder unknown") << DemoKind::Decoder << "the zebra." << "off"
                                     << QStringList{"the", "<unk>", "."};
    QTest::newRow("encoder sentence") << DemoKind::Encoder << "The cat sat on the mat." << "auto"
                                      << QStringList{"[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"};
    QTest::newRow("encoder spelled") << DemoKind::Encoder << "Zebras jumped" << "auto"
                                     << QStringList{"[CLS]", "z", "##e", "##b", "##r", "##a", "##s", "jumped", "[SEP]"};
    QTest::newRow("encoder typed sep") << DemoKind::Encoder << "hello [SEP] world" << "auto"
                                       << QStringList{"[CLS]", "hello", "[SEP]", "world", "[SEP]"};
}

void TestDemoModels::tokenizes()
{
    QFETCH(DemoKind, kind);
    QFETCH(QString, text);
    QFETCH(QString, bos);
    QFETCH(QStringList, pieces);
    const QString dir = modelDir(m_tmp, kind);
    const auto tok = Tokenizer::fromFile(QDir(dir).filePath("tokenizer.json").toStdString(),
                                         QDir(dir).filePath("tokenizer_config.json").toStdString());
    const Encoding e = tok->encode(text.toStdString(), parseBosPolicy(bos.toStdString()));
    QStringList got;
    for (const Token& t : e.tokens)
        got << QString::fromStdString(t.piece);
    QCOMPARE(got, pieces);
}

void TestDemoModels::samplePromptsHaveNoUnknowns()
{
    QFETCH(DemoKind, kind);
    const QString dir = modelDir(m_tmp, kind);
    const auto tok = Tokenizer::fromFile(QDir(dir).filePath("tokenizer.json").toStdString(),
                                         QDir(dir).filePath("tokenizer_config.json").toStdString());
    const int32_t unk = *tok->tokenToId(kind == DemoKind::Decoder ? "<unk>" : "[UNK]");
    std::vector<std::string> prompts = demoGroundTruth(kind).samplePrompts;
    // The app's own sample prompts too.
    // (found from this file's path: tests/core/ -> repository root)
    QFile samples(QFileInfo(QStringLiteral(__FILE__)).dir().filePath(QStringLiteral("../../resources/prompts/samples.txt")));
    if (samples.open(QIODevice::ReadOnly | QIODevice::Text))
        for (const QByteArray& line : samples.readAll().split('\n'))
            if (!line.trimmed().isEmpty())
                prompts.push_back(line.toStdString());
    for (const std::string& p : prompts)
        for (const Token& t : tok->encode(p).tokens)
            QVERIFY2(t.id != unk, (p + " -> unknown at " + std::to_string(t.start)).c_str());
}

void TestDemoModels::config()
{
    QFETCH(DemoKind, kind);
    const std::string path = QDir(modelDir(m_tmp, kind)).filePath("config.json").toStdString();
    ModelConfig c;
    try {
        c = ModelConfig::fromFile(path);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::Unsupported)
            QSKIP(unsupportedReason(kind));
        throw;
    }
    QCOMPARE(c.modelType, std::string(kind == DemoKind::Decoder ? "gpt2" : "bert"));
    QCOMPARE(c.numLayers, 4);
    QCOMPARE(c.numHeads, 4);
    QCOMPARE(c.numKvHeads, 4);
    QCOMPARE(c.hiddenSize, 64);
    QCOMPARE(c.headDim, 16);
    QCOMPARE(c.intermediateSize, 256);
    QCOMPARE(c.maxPositionEmbeddings, 256);
}

void TestDemoModels::plantedInReference()
{
    QFETCH(DemoKind, kind);
    const QString dir = modelDir(m_tmp, kind);
    const Weights w = readWeights(dir);
    const auto tok = Tokenizer::fromFile(QDir(dir).filePath("tokenizer.json").toStdString(),
                                         QDir(dir).filePath("tokenizer_config.json").toStdString());
    Measured m;
    if (kind == DemoKind::Decoder) {
        for (const auto& ids : decoderPrompts(*tok)) {
            checkDecoder(referenceGpt2(w, ids, 4, 4, 64), ids, *tok, m);
            if (QTest::currentTestFailed())
                return;
        }
    } else {
        for (const auto& ids : encoderPrompts(*tok)) {
            checkEncoder(referenceBert(w, ids, 4, 4, 64), ids, *tok, m);
            if (QTest::currentTestFailed())
                return;
        }
    }
    report("reference", kind, m);
}

void TestDemoModels::plantedInModel()
{
    QFETCH(DemoKind, kind);
    const QString dir = modelDir(m_tmp, kind);
    std::unique_ptr<Model> model;
    try {
        model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::Unsupported)
            QSKIP(unsupportedReason(kind));
        throw;
    }
    QCOMPARE(model->info().modelType, std::string(kind == DemoKind::Decoder ? "gpt2" : "bert"));
    QCOMPARE(model->info().position, std::string("learned"));
    QCOMPARE(model->info().attention, std::string(kind == DemoKind::Decoder ? "causal" : "bidirectional"));
    const Weights w = readWeights(dir);
    const auto tok = model->tokenizer();
    QVERIFY(tok);
    Measured m;
    const auto prompts = kind == DemoKind::Decoder ? decoderPrompts(*tok) : encoderPrompts(*tok);
    for (const auto& ids : prompts) {
        RunRequest r;
        r.useIds = true;
        r.ids = ids;
        r.captureLogits = false;
        const std::shared_ptr<RunResult> run = model->run(r);
        const Forward f = fromRun(*run);
        const Forward ref = kind == DemoKind::Decoder ? referenceGpt2(w, ids, 4, 4, 64) : referenceBert(w, ids, 4, 4, 64);
        double attErr = 0, hidErr = 0;
        for (size_t i = 0; i < f.attention.size(); ++i)
            attErr = std::max(attErr, std::abs(f.attention[i] - ref.attention[i]));
        for (size_t i = 0; i < f.hidden.size(); ++i)
            hidErr = std::max(hidErr, std::abs(f.hidden[i] - ref.hidden[i]) / (1.0 + std::abs(ref.hidden[i])));
        QVERIFY2(attErr < 1e-4, qPrintable(QString("attention differs from the reference by %1").arg(attErr)));
        QVERIFY2(hidErr < 1e-4, qPrintable(QString("hidden states differ from the reference by %1").arg(hidErr)));
        if (kind == DemoKind::Decoder)
            checkDecoder(f, ids, *tok, m);
        else
            checkEncoder(f, ids, *tok, m);
        if (QTest::currentTestFailed())
            return;
    }
    report("model", kind, m);
}

// The positional heads follow the position id 0, not the first element: with position ids
// (3, 4, 0, 5, 6, ...) element 2 is at position 0, so every query t >= 2 of L0.H0 and L2.H0 puts
// its mass on element 2 (queries 0 and 1 cannot see it), while the "." head still finds the dots.
// Checked on the reference, and on sinkscope::Model when it runs gpt2.
void TestDemoModels::positionalFollowsPositionIds()
{
    const QString dir = modelDir(m_tmp, DemoKind::Decoder);
    const Weights w = readWeights(dir);
    const auto tok = Tokenizer::fromFile(QDir(dir).filePath("tokenizer.json").toStdString(),
                                         QDir(dir).filePath("tokenizer_config.json").toStdString());
    const std::vector<int32_t> ids = encodeIds(*tok, "the cat sat . on the mat . the dog slept", BosPolicy::Off);
    std::vector<int64_t> positions{3, 4, 0};
    for (int t = 3; t < int(ids.size()); ++t)
        positions.push_back(t + 2);
    const int32_t dot = *tok->tokenToId(".");

    auto check = [&](const Forward& f, const char* what) {
        for (const PlantedHead& h : plantedHeads(DemoKind::Decoder)) {
            double lo = 1.0;
            if (h.mechanism == "positional") {
                for (int t = 2; t < f.T; ++t)
                    lo = std::min(lo, f.A(h.layer, h.head, t, 2));
            } else {
                lo = minWaiverMass(f, h.layer, h.head, ids, dot, true, -1);
            }
            QVERIFY2(lo >= 0.99, qPrintable(QString("%1 L%2.H%3: %4").arg(what).arg(h.layer).arg(h.head).arg(lo)));
        }
    };
    check(referenceGpt2(w, ids, 4, 4, 64, positions), "reference");
    if (QTest::currentTestFailed())
        return;

    std::unique_ptr<Model> model;
    try {
        model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::Unsupported)
            QSKIP(unsupportedReason(DemoKind::Decoder));
        throw;
    }
    RunRequest r;
    r.useIds = true;
    r.ids = ids;
    r.captureLogits = false;
    r.interventions.positionIds = positions;
    check(fromRun(*model->run(r)), "model");
}

void TestDemoModels::kindNames()
{
    for (DemoKind k : allDemoKinds())
        QCOMPARE(parseDemoKind(demoKindName(k)), k);
    QVERIFY_THROWS_EXCEPTION(Error, parseDemoKind("transformer"));
    QCOMPARE(demoModelName(DemoKind::Decoder), std::string("sinkscope-demo-decoder"));
    // The ground truth names existing heads and the first-element/flag conventions the checks use.
    for (DemoKind k : allDemoKinds())
        for (const PlantedHead& h : plantedHeads(k)) {
            QVERIFY(h.layer >= 0 && h.layer < 4 && h.head >= 0 && h.head < 4);
            QVERIFY(h.mechanism == "positional" || h.mechanism == "feature");
            QCOMPARE(h.mechanism == "positional", h.waiverPosition == 0 && h.waiverToken.empty());
        }
    const DemoGroundTruth d = demoGroundTruth(DemoKind::Decoder);
    QCOMPARE(d.massive.size(), size_t(1));
    QCOMPARE(d.massive[0].dim, kMassiveDim);
    QVERIFY(std::find(d.flagDims.begin(), d.flagDims.end(), std::make_pair(std::string("position0"), kFlagDimPosition0)) !=
            d.flagDims.end());
}

QTEST_GUILESS_MAIN(TestDemoModels)
#include "tst_demomodels.moc"
