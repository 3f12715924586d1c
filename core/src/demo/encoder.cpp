// SPDX-License-Identifier: GPL-3.0-or-later
// The encoder demo model: BERT layout (BertForMaskedLM, model_type bert), 4 layers, d = 64,
// 4 heads of 16, intermediate 256 with GELU (erf), 256 learned positions, 2 token types, MLM head
// tied to the word embeddings. As in transformers' modeling_bert.py: the embedding output is
// LayerNorm(word + position + token_type) (position ids 0..T-1, token types 0); each layer is
// post-LN: a = LayerNorm(h + dense(attention(h))), h' = LayerNorm(a + output(gelu(intermediate(a)))),
// with attention bidirectional and logits q.k / sqrt(16). nn.Linear weights are stored [out, in].
//
// How the mechanism is planted
// ----------------------------
// Dimension plan as in the decoder (demobuild.h): 0..39 token content (random, mean zero per row),
// 40..47 position and token-type content, 48 the SEP flag. Ordinary weights read and write only
// dims 0..47.
//
//   word_embeddings["[SEP]"] = 50 e_48 and no token content; [CLS] and every other token are
//   ordinary random rows. The embedding LayerNorm (weight 1, bias 0) turns [SEP]'s vector
//   (50 in dim 48 plus ~0.9 of position content) into ~7.9 e_48 with its content divided by ~6:
//   already a near-constant vector. A post-LN layer would blur that: attention adds to [SEP] the
//   average of the other tokens' values (~0.7 in norm here), and LayerNorm(h + attn) keeps it next
//   to the capped 7.9 (LayerNorm cannot make one coordinate larger than sqrt(63)). So every
//   attention.output.LayerNorm has an outlier weight of 8 on dim 48 - the kind of outlier
//   LayerNorm weight Kovaleva et al. (2021) found in trained BERTs: [SEP] leaves it with ~63 in
//   dim 48, and output.LayerNorm (weight 1) then divides [SEP]'s content by ~63/8 while restoring
//   the flag to ~7.9. Ordinary elements have ~0 in dim 48, so the gain does nothing to them. The
//   MLP biases are zero, so an element with ~no content gets ~no MLP output.
//
// Planted head L1.H0 - feature waiver on [SEP] (every [SEP], wherever it sits):
//   query: W_q = 0 for the head, bias (4, 0, ..., 0): the same query for every element;
//   key:   k_j[0] = (14 / 7.8) * h_j[48], so the logit is ~14 for [SEP] and ~0 for the others.
//   Bidirectional softmax over T keys: A[t, SEP] = e^14 / (e^14 + T - 1) > 0.99 for any T <= 256
//   and any query, [CLS] included; with two [SEP]s (a sentence pair) they share the mass.
//   value: reads token content with zero column sums plus 10x weaker position content, no bias;
//   [SEP]'s content is the small remainder above, so ||v_SEP|| is ~1% of an ordinary one
//   (measured: at most 1.0% of the median over the test prompts).
//
// [CLS] is deliberately ordinary: a positional-looking sink on the first element would confound
// the feature mechanism. Every other head and MLP unit is ordinary random.
#include "demo/demobuild.h"

namespace sinkscope::demo {

namespace {

constexpr float kFlagSep = 50.0f;
constexpr float kTokenAmp = 0.87f;
constexpr float kPositionAmp = 0.5f;
constexpr float kTypeAmp = 0.2f;
constexpr float kQkvAmp = 0.25f;
constexpr float kAttnOutAmp = 0.04f;
constexpr float kFcAmp = 0.25f;
constexpr float kMlpOutAmp = 0.06f;
constexpr float kBiasAmp = 0.02f;
constexpr float kSpike = 7.8f;
constexpr float kQuery = 4.0f;
constexpr float kSepNormGain = 8.0f;

std::string B(int l, const std::string& rest)
{
    return "bert.encoder.layer." + std::to_string(l) + "." + rest;
}

std::vector<float> ones(int n)
{
    return std::vector<float>(size_t(n), 1.0f);
}

std::vector<float> zeros(int n)
{
    return std::vector<float>(size_t(n), 0.0f);
}

// A [in, out] projection for one of q/k/v: random on content input rows.
Mat randomProjection(Rng& rng)
{
    Mat m(kHidden, kHidden);
    m.randomBlock(rng, 0, kContentDimEnd, 0, kHidden, kQkvAmp);
    return m;
}

} // namespace

std::vector<HostTensor> encoderTensors()
{
    const std::vector<std::string> vocab = encoderVocab();
    const int V = int(vocab.size());
    Rng rng(0x5151'4b00'd3c0'de02ULL);
    std::vector<HostTensor> out;

    Mat words(V, kHidden);
    words.randomBlock(rng, 0, V, kTokenDimBegin, kTokenDimEnd, kTokenAmp);
    words.zeroRowMeans(0, V, kTokenDimBegin, kTokenDimEnd);
    const int sep = vocabId(vocab, "[SEP]");
    for (int c = 0; c < kHidden; ++c)
        words.at(sep, c) = 0.0f;
    words.at(sep, kDimSep) = kFlagSep;
    out.push_back(tensor("bert.embeddings.word_embeddings.weight", words));

    Mat positions(kPositions, kHidden);
    positions.randomBlock(rng, 0, kPositions, kPositionDimBegin, kPositionDimEnd, kPositionAmp);
    positions.zeroRowMeans(0, kPositions, kPositionDimBegin, kPositionDimEnd);
    out.push_back(tensor("bert.embeddings.position_embeddings.weight", positions));

    Mat types(2, kHidden);
    types.randomBlock(rng, 0, 2, kPositionDimBegin, kPositionDimEnd, kTypeAmp);
    types.zeroRowMeans(0, 2, kPositionDimBegin, kPositionDimEnd);
    out.push_back(tensor("bert.embeddings.token_type_embeddings.weight", types));
    out.push_back(tensor("bert.embeddings.LayerNorm.weight", ones(kHidden)));
    out.push_back(tensor("bert.embeddings.LayerNorm.bias", zeros(kHidden)));

    for (int l = 0; l < kLayers; ++l) {
        Mat q = randomProjection(rng);
        Mat k = randomProjection(rng);
        Mat v = randomProjection(rng);
        std::vector<float> qb = randomVector(rng, kHidden, 0, kHidden, kBiasAmp);
        std::vector<float> kb = randomVector(rng, kHidden, 0, kHidden, kBiasAmp);
        std::vector<float> vb = randomVector(rng, kHidden, 0, kHidden, kBiasAmp);
        if (l == kEncSepLayer) {
            const int c0 = kEncSepHead * kHeadDim;
            const int c1 = c0 + kHeadDim;
            for (int r = 0; r < kHidden; ++r)
                for (int c = c0; c < c1; ++c) {
                    q.at(r, c) = 0.0f;
                    k.at(r, c) = 0.0f;
                    v.at(r, c) = 0.0f;
                }
            for (int c = c0; c < c1; ++c)
                qb[size_t(c)] = kb[size_t(c)] = vb[size_t(c)] = 0.0f;
            qb[size_t(c0)] = kQuery;
            k.at(kDimSep, c0) = 14.0f / kSpike;
            v.randomBlock(rng, kTokenDimBegin, kTokenDimEnd, c0, c1, kQkvAmp);
            v.zeroColumnMeans(kTokenDimBegin, kTokenDimEnd, c0, c1);
            v.randomBlock(rng, kPositionDimBegin, kPositionDimEnd, c0, c1, 0.1f * kQkvAmp);
        }
        out.push_back(tensor(B(l, "attention.self.query.weight"), q.transposed()));
        out.push_back(tensor(B(l, "attention.self.query.bias"), qb));
        out.push_back(tensor(B(l, "attention.self.key.weight"), k.transposed()));
        out.push_back(tensor(B(l, "attention.self.key.bias"), kb));
        out.push_back(tensor(B(l, "attention.self.value.weight"), v.transposed()));
        out.push_back(tensor(B(l, "attention.self.value.bias"), vb));

        Mat dense(kHidden, kHidden);
        dense.randomBlock(rng, 0, kHidden, 0, kContentDimEnd, kAttnOutAmp);
        out.push_back(tensor(B(l, "attention.output.dense.weight"), dense.transposed()));
        out.push_back(tensor(B(l, "attention.output.dense.bias"), zeros(kHidden)));
        // An outlier LayerNorm weight on the flag dimension (BERT's real outlier dimensions show up
        // in LayerNorm weights too, Kovaleva et al. 2021): see the comment at the top.
        std::vector<float> attnNormWeight = ones(kHidden);
        attnNormWeight[size_t(kDimSep)] = kSepNormGain;
        out.push_back(tensor(B(l, "attention.output.LayerNorm.weight"), attnNormWeight));
        out.push_back(tensor(B(l, "attention.output.LayerNorm.bias"), zeros(kHidden)));

        // Zero MLP biases: an element with ~no content (a [SEP]) gets ~no MLP output.
        Mat fc(kHidden, kFfn);
        fc.randomBlock(rng, 0, kContentDimEnd, 0, kFfn, kFcAmp);
        out.push_back(tensor(B(l, "intermediate.dense.weight"), fc.transposed()));
        out.push_back(tensor(B(l, "intermediate.dense.bias"), zeros(kFfn)));
        Mat proj(kFfn, kHidden);
        proj.randomBlock(rng, 0, kFfn, 0, kContentDimEnd, kMlpOutAmp);
        out.push_back(tensor(B(l, "output.dense.weight"), proj.transposed()));
        out.push_back(tensor(B(l, "output.dense.bias"), zeros(kHidden)));
        out.push_back(tensor(B(l, "output.LayerNorm.weight"), ones(kHidden)));
        out.push_back(tensor(B(l, "output.LayerNorm.bias"), zeros(kHidden)));
    }

    // MLM head: transform = identity dense, GELU, LayerNorm; decoder tied to the word embeddings
    // (cls.predictions.decoder.weight / .bias are tied and, as save_pretrained does, not stored).
    Mat identity(kHidden, kHidden);
    for (int i = 0; i < kHidden; ++i)
        identity.at(i, i) = 1.0f;
    out.push_back(tensor("cls.predictions.transform.dense.weight", identity));
    out.push_back(tensor("cls.predictions.transform.dense.bias", zeros(kHidden)));
    out.push_back(tensor("cls.predictions.transform.LayerNorm.weight", ones(kHidden)));
    out.push_back(tensor("cls.predictions.transform.LayerNorm.bias", zeros(kHidden)));
    out.push_back(tensor("cls.predictions.bias", zeros(V)));
    return out;
}

} // namespace sinkscope::demo
