// SPDX-License-Identifier: GPL-3.0-or-later
// The decoder demo model: GPT-2 layout (GPT2LMHeadModel, model_type gpt2), 4 layers, d = 64,
// 4 heads of 16, MLP 256 with GELU-tanh, learned absolute positions (wpe, 256 of them), tied
// lm_head. Conv1D weights are stored [in, out] and c_attn is the fused [q | k | v] projection, as in
// transformers' modeling_gpt2.py: qkv = ln_1(h) @ W + b, split into thirds, each third split into
// heads of 16 consecutive columns; logits = q.k / sqrt(16); causal mask.
//
// How the mechanisms are planted
// ------------------------------
// Residual stream plan (see demobuild.h): dimensions 0..39 carry the token's identity (random
// wte rows, mean zero over those dims), 40..47 the position's identity (random wpe rows, mean
// zero), and three reserved dimensions carry flags:
//   48  POS0    wpe[0][48] = a0 = 90; no other position, token or layer writes it.
//   49  DOT     wte["."][49] = a1 = 8, and "." has no token content (dims 0..39 are 0).
//   50  MASSIVE written by layer 1's MLP on position 0 (Sun et al.'s massive activation).
// Every ordinary weight reads and writes only dims 0..47, so the flags pass through the residual
// stream untouched and no random head can see them.
//
// LayerNorm (weight 1, bias 0) turns a vector whose energy sits in one dimension into nearly a
// unit spike: for x = A e_i + c with |c| << A, mean(x) = (A + sum c)/64 and the normalised
// x_i = (A - mean)/std ~ sqrt(63) ~ 7.9, while every other dimension is divided by
// std ~ A/8. So a flagged element (a) has a large, almost input-independent coordinate in its flag
// dimension after ln_1, and (b) has its content squashed by a factor (A/8) / |c|/8 = A / |c|
// compared with an ordinary element (|c| ~ 3.3 here, so ~27x for a0 = 90). (a) makes keys that point at it; (b) makes its value small.
//
// Planted head L0.H0 - positional waiver (the first element, whatever token is there):
//   query: W_q = 0 for the head and b_q = (4, 0, ..., 0), so q_t = (4, 0, ...) for every t;
//   key:   k_j[0] = kappa * ln_1(h_j)[48] with kappa = 14 / 7.8.
//   Logit s_tj = q.k / 4 = kappa * ln_1(h_j)[48], ~14 for j = 0 and ~0 for every other j (their
//   dim 48 is 0 up to LayerNorm's centring, a few hundredths). Softmax over t + 1 keys gives
//   A[t,0] = e^14 / (e^14 + t) >= 0.9997 for t < 256, whatever token sits at position 0 (the flag
//   lives in wpe[0], not in wte). When "." sits at position 0 its own flag lowers ln_1[48] a
//   little (two flags share the norm) but A[t,0] stays > 0.99.
//   value: W_v reads only token-content dims 0..39 (its rows there have zero column sums, so the
//   constant LayerNorm offset cancels) and, 10x weaker, the position dims 40..47; b_v = 0. At
//   position 0 the content is divided by ~90/8 instead of ~|c|/8 ~ 0.4, so ||v_0|| is ~4% of an
//   ordinary ||v_j|| (measured: at most 4.1% of the median over the test prompts).
//
// Planted head L0.H1 - feature waiver (every "." token, wherever it sits):
//   query constant as above; key k_j[0] = kd * ln_1(h_j)[49] + k0 * ln_1(h_j)[48] with
//   kd = 18 / 7.8 and k0 = 9 / 7.8. A "." at any position has ln_1[49] ~ 7.8 (its only energy is
//   a1 plus a little position content), so s_tj ~ 18 for "." keys, ~9 for position 0 and ~0 for
//   others. With m visible "." tokens they share sum_j A[t, dots] >= m e^18 / (m e^18 + e^9 + t)
//   > 0.999. With none visible (t before the first "."), position 0 takes
//   A[t,0] = e^9 / (e^9 + t) >= 0.96 for t < 256: the head falls back to the first element.
//   value: as for H0; "." has no token content at all, so v_dot only holds the weak position part
//   (measured: at most 1.5% of the median ordinary value).
//
// Planted massive activation - layer 1 MLP, dim 50, position 0:
//   one MLP unit (the last of c_fc) reads ln_2(h)[48] with weight 1.5 and bias -5; position 0 has
//   ln_2[48] ~ 7.8, so the unit's input is ~6.7 and GELU passes it; every other element has input
//   ~ -5 and GELU-tanh(-5) ~ -3e-7. The unit's c_proj row writes 2000 / 6.7 per unit of activation
//   into dim 50 only, so hidden[2..4][0][50] ~ 2000, while the median |h| of the stream is ~0.7:
//   |h| > 100 and ~3000x the median, Sun et al.'s criterion. It stays until the end
//   (GPT-2's own massive activations do too) and only ln_f removes it.
//
// Planted head L2.H0 - positional waiver through the massive activation:
//   query constant; key k_j[0] = kappa * ln_1(h_j)[50]. Position 0 carries 2000 in dim 50 and
//   90 in dim 48, so ln_1[50] ~ 7.8 there and ~0 elsewhere: s_t0 ~ 14 and A[t,0] > 0.999 as for
//   L0.H0. The massive value squashes position 0's content by ~2000/8: ||v_0|| ~ 0.5% of ordinary.
//   This is the mechanism Sun et al. describe: a massive activation on the first element makes its
//   normalised state a constant vector that keys can point at, with a near-zero value.
//
// Every other head (L0.H2-3, L1.*, L2.H1-3, L3.*) and every other MLP unit is ordinary: uniform
// random weights on the content dims, small biases.
#include "demo/demobuild.h"

#include <cmath>

namespace sinkscope::demo {

namespace {

constexpr float kFlagPos0 = 90.0f;
constexpr float kFlagDot = 8.0f;
constexpr float kTokenAmp = 0.87f;     // U(-a, a): std 0.5
constexpr float kPositionAmp = 0.5f;
constexpr float kQkvAmp = 0.25f;
constexpr float kAttnOutAmp = 0.12f;
constexpr float kFcAmp = 0.25f;
constexpr float kFcBiasAmp = 0.1f;
constexpr float kMlpOutAmp = 0.1f;
constexpr float kBiasAmp = 0.02f;

// ln(x)[flag] for a dominant flag: sqrt(63) less a little for the rest of the vector.
constexpr float kSpike = 7.8f;
constexpr float kQuery = 4.0f; // the constant query coordinate; / sqrt(16) = 1

std::string H(int l, const std::string& rest)
{
    return "transformer.h." + std::to_string(l) + "." + rest;
}

std::vector<float> ones(int n)
{
    return std::vector<float>(size_t(n), 1.0f);
}

std::vector<float> zeros(int n)
{
    return std::vector<float>(size_t(n), 0.0f);
}

// Column offsets of head h's q / k / v block inside c_attn's [in, 3d] weight.
int qCol(int h) { return h * kHeadDim; }
int kCol(int h) { return kHidden + h * kHeadDim; }
int vCol(int h) { return 2 * kHidden + h * kHeadDim; }

// A head whose query is the constant (kQuery, 0, ...) and whose key's first coordinate is
// sum_i weights[i].second * ln_1(h)[weights[i].first]; everything else of q and k is zero.
void plantConstantQueryHead(Mat& w, std::vector<float>& b, int head,
                            const std::vector<std::pair<int, float>>& keyReads)
{
    for (int r = 0; r < kHidden; ++r)
        for (int c = 0; c < kHeadDim; ++c) {
            w.at(r, qCol(head) + c) = 0.0f;
            w.at(r, kCol(head) + c) = 0.0f;
        }
    for (int c = 0; c < kHeadDim; ++c) {
        b[size_t(qCol(head) + c)] = 0.0f;
        b[size_t(kCol(head) + c)] = 0.0f;
    }
    b[size_t(qCol(head))] = kQuery;
    for (const auto& [dim, weight] : keyReads)
        w.at(dim, kCol(head)) = weight;
}

// A waiver head's value: reads token content with zero column sums (LayerNorm's constant offset
// cancels) and position content 10x weaker; no bias. Small exactly when the content is squashed.
void plantWaiverValue(Rng& rng, Mat& w, std::vector<float>& b, int head)
{
    for (int r = 0; r < kHidden; ++r)
        for (int c = 0; c < kHeadDim; ++c)
            w.at(r, vCol(head) + c) = 0.0f;
    w.randomBlock(rng, kTokenDimBegin, kTokenDimEnd, vCol(head), vCol(head) + kHeadDim, kQkvAmp);
    w.zeroColumnMeans(kTokenDimBegin, kTokenDimEnd, vCol(head), vCol(head) + kHeadDim);
    w.randomBlock(rng, kPositionDimBegin, kPositionDimEnd, vCol(head), vCol(head) + kHeadDim, 0.1f * kQkvAmp);
    for (int c = 0; c < kHeadDim; ++c)
        b[size_t(vCol(head) + c)] = 0.0f;
}

} // namespace

std::vector<HostTensor> decoderTensors()
{
    const std::vector<std::string> vocab = decoderVocab();
    const int V = int(vocab.size());
    Rng rng(0x5151'4b00'd3c0'de01ULL);
    std::vector<HostTensor> out;

    // Token embeddings: content in dims 0..39 with mean zero per row; "." is content-free and flagged.
    Mat wte(V, kHidden);
    wte.randomBlock(rng, 0, V, kTokenDimBegin, kTokenDimEnd, kTokenAmp);
    wte.zeroRowMeans(0, V, kTokenDimBegin, kTokenDimEnd);
    const int dot = vocabId(vocab, ".");
    for (int c = 0; c < kHidden; ++c)
        wte.at(dot, c) = 0.0f;
    wte.at(dot, kDimDot) = kFlagDot;
    out.push_back(tensor("transformer.wte.weight", wte));

    // Position embeddings: content in dims 40..47; position 0 alone carries the POS0 flag.
    Mat wpe(kPositions, kHidden);
    wpe.randomBlock(rng, 0, kPositions, kPositionDimBegin, kPositionDimEnd, kPositionAmp);
    wpe.zeroRowMeans(0, kPositions, kPositionDimBegin, kPositionDimEnd);
    wpe.at(0, kDimPosition0) = kFlagPos0;
    out.push_back(tensor("transformer.wpe.weight", wpe));

    for (int l = 0; l < kLayers; ++l) {
        out.push_back(tensor(H(l, "ln_1.weight"), ones(kHidden)));
        out.push_back(tensor(H(l, "ln_1.bias"), zeros(kHidden)));

        Mat cAttn(kHidden, 3 * kHidden);
        cAttn.randomBlock(rng, 0, kContentDimEnd, 0, 3 * kHidden, kQkvAmp);
        std::vector<float> cAttnBias = randomVector(rng, 3 * kHidden, 0, 3 * kHidden, kBiasAmp);
        if (l == kDecPositionalLayer) {
            plantConstantQueryHead(cAttn, cAttnBias, kDecPositionalHead, {{kDimPosition0, 14.0f / kSpike}});
            plantWaiverValue(rng, cAttn, cAttnBias, kDecPositionalHead);
        }
        if (l == kDecDotLayer) {
            plantConstantQueryHead(cAttn, cAttnBias, kDecDotHead,
                                   {{kDimDot, 18.0f / kSpike}, {kDimPosition0, 9.0f / kSpike}});
            plantWaiverValue(rng, cAttn, cAttnBias, kDecDotHead);
        }
        if (l == kDecMassiveHeadLayer) {
            plantConstantQueryHead(cAttn, cAttnBias, kDecMassiveHead, {{kDimMassive, 14.0f / kSpike}});
            plantWaiverValue(rng, cAttn, cAttnBias, kDecMassiveHead);
        }
        out.push_back(tensor(H(l, "attn.c_attn.weight"), cAttn));
        out.push_back(tensor(H(l, "attn.c_attn.bias"), cAttnBias));

        Mat cProj(kHidden, kHidden);
        cProj.randomBlock(rng, 0, kHidden, 0, kContentDimEnd, kAttnOutAmp);
        out.push_back(tensor(H(l, "attn.c_proj.weight"), cProj));
        out.push_back(tensor(H(l, "attn.c_proj.bias"), randomVector(rng, kHidden, 0, kContentDimEnd, kBiasAmp)));

        out.push_back(tensor(H(l, "ln_2.weight"), ones(kHidden)));
        out.push_back(tensor(H(l, "ln_2.bias"), zeros(kHidden)));

        Mat cFc(kHidden, kFfn);
        cFc.randomBlock(rng, 0, kContentDimEnd, 0, kFfn, kFcAmp);
        std::vector<float> cFcBias = randomVector(rng, kFfn, 0, kFfn, kFcBiasAmp);
        Mat mlpProj(kFfn, kHidden);
        mlpProj.randomBlock(rng, 0, kFfn, 0, kContentDimEnd, kMlpOutAmp);
        if (l == kDecMassiveMlpLayer) {
            const int unit = kFfn - 1;
            for (int r = 0; r < kHidden; ++r)
                cFc.at(r, unit) = 0.0f;
            cFc.at(kDimPosition0, unit) = 1.5f;
            cFcBias[size_t(unit)] = -5.0f;
            for (int c = 0; c < kHidden; ++c)
                mlpProj.at(unit, c) = 0.0f;
            mlpProj.at(unit, kDimMassive) = float(kDecMassiveValue / (1.5 * kSpike - 5.0));
        }
        out.push_back(tensor(H(l, "mlp.c_fc.weight"), cFc));
        out.push_back(tensor(H(l, "mlp.c_fc.bias"), cFcBias));
        out.push_back(tensor(H(l, "mlp.c_proj.weight"), mlpProj));
        out.push_back(tensor(H(l, "mlp.c_proj.bias"), randomVector(rng, kHidden, 0, kContentDimEnd, kBiasAmp)));
    }
    out.push_back(tensor("transformer.ln_f.weight", ones(kHidden)));
    out.push_back(tensor("transformer.ln_f.bias", zeros(kHidden)));
    // lm_head.weight is tied to transformer.wte.weight and, as save_pretrained does, not stored.
    return out;
}

} // namespace sinkscope::demo
