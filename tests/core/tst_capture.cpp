// SPDX-License-Identifier: GPL-3.0-or-later
// Everything a run captures besides the maps: hidden states, values, Q/K (and maps recomputed from
// them), per-head summaries, and the interventions applied inside the forward pass.
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "tinymodels.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

RunRequest idsRequest(std::vector<int32_t> ids)
{
    RunRequest r;
    r.useIds = true;
    r.ids = std::move(ids);
    r.captureHeadOutputs = true;
    return r;
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<double>& b)
{
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i)
        m = std::max(m, std::abs(double(a[i]) - b[i]));
    return a.size() == b.size() ? m : 1e30;
}

} // namespace

class TestCapture : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void hiddenAndValuesMatchReference();
    void mapsRecomputedFromQK_data();
    void mapsRecomputedFromQK();
    void mapsKeptUpToALimit();
    void summariesMatchTheirDefinitions();
    void shiftedPositionsKeepRopeMaps();
    void maskBiasBlocksAKey();
    void hiddenOverwrites();
    void badInterventions_data();
    void badInterventions();

private:
    QTemporaryDir m_tmp;
    TinyLlamaSpec m_spec;
    TinyWeights m_w;
    std::unique_ptr<Model> m_model;
    std::vector<int32_t> m_ids{3, 17, 5, 9, 30, 1, 22, 8, 14, 2, 11};
};

void TestCapture::initTestCase()
{
    m_spec.layers = 3, m_spec.heads = 4, m_spec.kvHeads = 2, m_spec.seed = 31, m_spec.tied = false;
    m_w = makeTinyLlamaWeights(m_spec);
    const QString dir = QDir(m_tmp.path()).filePath("m");
    writeTinyLlama(dir, m_spec, m_w);
    m_model = Model::load(dir.toStdString(), DevicePreference::Cpu);
}

void TestCapture::hiddenAndValuesMatchReference()
{
    const auto r = m_model->run(idsRequest(m_ids));
    const ReferenceOutput ref = referenceLlamaForward(m_spec, m_w, m_ids);
    const int64_t T = int64_t(m_ids.size());
    QCOMPARE(r->hidden.shape, (std::vector<int64_t>{4, T, 16}));
    QCOMPARE(r->values.shape, (std::vector<int64_t>{3, 2, T, 4}));
    QCOMPARE(r->queries.shape, (std::vector<int64_t>{3, 4, T, 4}));
    QCOMPARE(r->keys.shape, (std::vector<int64_t>{3, 2, T, 4}));
    QCOMPARE(r->headOutputs.shape, (std::vector<int64_t>{3, 4, T, 4}));
    QVERIFY2(maxAbsDiff(r->hidden.data, ref.hidden) < 1e-4, "hidden states differ from the reference");
    QVERIFY2(maxAbsDiff(r->values.data, ref.values) < 1e-5, "values differ from the reference");
    // hidden[0] is the embedding row of each token
    const auto& emb = m_w.at("model.embed_tokens.weight");
    for (int64_t t = 0; t < T; ++t)
        QCOMPARE(r->hidden.at({0, t})[5], emb[size_t(m_ids[size_t(t)]) * 16 + 5]);
    // head outputs are A.V of that head's KV group
    const int l = 1, h = 3, kv = h / 2;
    const auto A = r->attentionMap(l, h);
    const Eigen::Map<const RowMatrixXf> V(r->values.at({l, kv}), T, 4);
    const Eigen::Map<const RowMatrixXf> O(r->headOutputs.at({l, h}), T, 4);
    QVERIFY(((A * V) - O).cwiseAbs().maxCoeff() < 1e-5f);
}

void TestCapture::mapsRecomputedFromQK_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<int>("window");
    QTest::newRow("llama causal") << "llama" << 0;
    QTest::newRow("mistral window 3") << "mistral" << 3;
}

void TestCapture::mapsRecomputedFromQK()
{
    QFETCH(QString, type);
    QFETCH(int, window);
    TinyLlamaSpec spec = m_spec;
    spec.modelType = type.toStdString();
    spec.slidingWindow = window;
    QTemporaryDir tmp;
    writeTinyLlama(tmp.path(), spec, makeTinyLlamaWeights(spec));
    const auto model = Model::load(tmp.path().toStdString(), DevicePreference::Cpu);
    RunRequest withMaps = idsRequest(m_ids);
    RunRequest onDemand = withMaps;
    onDemand.captureAttention = false;
    const auto a = model->run(withMaps);
    const auto b = model->run(onDemand);
    QVERIFY(a->hasAttention());
    QVERIFY(!b->hasAttention());
    QVERIFY(b->canMakeMaps());
    QCOMPARE(int(b->recipes.size()), spec.layers);
    QCOMPARE(b->recipes[0].window, window);
    for (int l = 0; l < spec.layers; ++l)
        for (int h = 0; h < spec.heads; ++h) {
            const RowMatrixXf stored = a->attentionMap(l, h);
            const RowMatrixXf recomputed = b->attentionMap(l, h);
            QVERIFY2((stored - recomputed).cwiseAbs().maxCoeff() < 2e-6f,
                     qPrintable(QString("layer %1 head %2").arg(l).arg(h)));
        }
}

void TestCapture::mapsKeptUpToALimit()
{
    // keepAttentionUpTo: every map kept while all of them fit in it; past it none, and the run
    // serves the same maps from Q and K. The limit is in bytes of L x H x T x T floats.
    const int64_t T = int64_t(m_ids.size());
    const int64_t bytes = int64_t(m_spec.layers) * m_spec.heads * T * T * 4;
    RunRequest exact = idsRequest(m_ids);
    exact.keepAttentionUpTo = bytes; // exactly fits
    RunRequest under = exact;
    under.keepAttentionUpTo = bytes - 1;
    RunRequest none = exact;
    none.captureAttention = false;
    none.keepAttentionUpTo = 0;
    const auto kept = m_model->run(exact);
    const auto onDemand = m_model->run(under);
    QVERIFY(kept->hasAttention());
    QCOMPARE(qsizetype(kept->attention.size()), qsizetype(bytes / 4));
    QVERIFY(!onDemand->hasAttention());
    QVERIFY(onDemand->canMakeMaps());
    QVERIFY(!m_model->run(none)->hasAttention()); // the limit never turns maps on
    for (int l = 0; l < m_spec.layers; ++l)
        for (int h = 0; h < m_spec.heads; ++h)
            QVERIFY((kept->attentionMap(l, h) - onDemand->attentionMap(l, h)).cwiseAbs().maxCoeff() < 2e-6f);
    // The summaries do not depend on where the maps live.
    QCOMPARE(kept->firstTokenMass, onDemand->firstTokenMass);
}

void TestCapture::summariesMatchTheirDefinitions()
{
    const auto r = m_model->run(idsRequest(m_ids));
    const int64_t T = r->tokens;
    const int H = 4, hd = 4, D = 16;
    for (int l = 0; l < 3; ++l) {
        const auto& wo = m_w.at("model.layers." + std::to_string(l) + ".self_attn.o_proj.weight"); // [D, H*hd]
        for (int h = 0; h < H; ++h) {
            const RowMatrixXf A = r->attentionMap(l, h);
            const int kv = h / 2;
            for (int64_t j = 0; j < T; ++j) {
                // alpha_j: mean over the queries t >= j (the ones that see j) of A[t, j]
                double col = 0;
                for (int64_t t = j; t < T; ++t)
                    col += A(t, j);
                QVERIFY(std::abs(r->received.at({l, h})[j] - col / double(T - j)) < 1e-6);
                QVERIFY(std::abs(r->firstMassPerQuery.at({l, h})[j] - A(j, 0)) < 1e-7);
                double ent = 0;
                for (int64_t s = 0; s < T; ++s)
                    if (A(j, s) > 0)
                        ent -= A(j, s) * std::log(double(A(j, s)));
                QVERIFY(std::abs(r->entropy.at({l, h})[j] - ent) < 1e-5);
                // ||v_j W_O^h||: W_O^h = columns h*hd .. h*hd+hd-1 of o_proj
                const float* v = r->values.at({l, kv, j});
                double n2 = 0;
                for (int o = 0; o < D; ++o) {
                    double acc = 0;
                    for (int i = 0; i < hd; ++i)
                        acc += double(wo[size_t(o * H * hd + h * hd + i)]) * v[i];
                    n2 += acc * acc;
                }
                QVERIFY(std::abs(r->contributionNorms.at({l, h})[j] - std::sqrt(n2)) < 1e-5);
                QVERIFY(std::abs(r->writtenNorms.at({l, h})[j] - std::sqrt(n2) * col) < 1e-5);
            }
        }
        for (int kv = 0; kv < 2; ++kv)
            for (int64_t j = 0; j < T; ++j) {
                const Eigen::Map<const Eigen::VectorXf> v(r->values.at({l, kv, j}), hd);
                QVERIFY(std::abs(r->valueNorms.at({l, kv})[j] - v.norm()) < 1e-6);
            }
    }
}

void TestCapture::shiftedPositionsKeepRopeMaps()
{
    // RoPE only sees relative positions: ids 0..T-1 shifted by 7 give the same maps, while a
    // permuted order does not.
    RunRequest shifted = idsRequest(m_ids);
    for (size_t t = 0; t < m_ids.size(); ++t)
        shifted.interventions.positionIds.push_back(int64_t(t) + 7);
    RunRequest swapped = idsRequest(m_ids);
    for (size_t t = 0; t < m_ids.size(); ++t)
        swapped.interventions.positionIds.push_back(int64_t(t));
    std::swap(swapped.interventions.positionIds[2], swapped.interventions.positionIds[6]);
    const auto base = m_model->run(idsRequest(m_ids));
    const auto a = m_model->run(shifted);
    const auto b = m_model->run(swapped);
    double dShift = 0, dSwap = 0;
    for (size_t i = 0; i < base->attention.size(); ++i) {
        dShift = std::max(dShift, double(std::abs(base->attention[i] - a->attention[i])));
        dSwap = std::max(dSwap, double(std::abs(base->attention[i] - b->attention[i])));
    }
    QVERIFY2(dShift < 2e-5, qPrintable(QString::number(dShift)));
    QVERIFY2(dSwap > 1e-3, qPrintable(QString::number(dSwap)));
}

void TestCapture::maskBiasBlocksAKey()
{
    const int64_t T = int64_t(m_ids.size());
    RunRequest req = idsRequest(m_ids);
    req.interventions.maskBias.assign(size_t(T * T), 0.0f);
    for (int64_t t = 1; t < T; ++t)
        req.interventions.maskBias[size_t(t * T)] = -std::numeric_limits<float>::infinity(); // key 0 for t >= 1
    const auto r = m_model->run(req);
    for (int l = 0; l < 3; ++l)
        for (int h = 0; h < 4; ++h) {
            const RowMatrixXf A = r->attentionMap(l, h);
            QCOMPARE(A(0, 0), 1.0f);
            for (int64_t t = 1; t < T; ++t) {
                QCOMPARE(A(t, 0), 0.0f);
                QVERIFY(std::abs(A.row(t).sum() - 1.0f) < 1e-5f);
            }
            QCOMPARE(r->firstTokenMass(l, h), 0.0f);
        }
    // and the recomputed-from-Q/K path applies the same bias
    req.captureAttention = false;
    const auto r2 = m_model->run(req);
    QCOMPARE(r2->attentionMap(2, 1)(5, 0), 0.0f);
    QVERIFY((r2->attentionMap(2, 1) - r->attentionMap(2, 1)).cwiseAbs().maxCoeff() < 2e-6f);
}

void TestCapture::hiddenOverwrites()
{
    RunRequest req = idsRequest(m_ids);
    req.interventions.dims.push_back({1, 4, -1, 50.0f}); // dim 4 of every token entering layer 1
    req.interventions.dims.push_back({0, 2, 3, -7.0f});  // dim 2 of token 3 entering layer 0
    Interventions::TokenOverwrite tok;
    tok.layer = 2, tok.token = 5, tok.hidden.assign(16, 0.25f);
    req.interventions.tokens.push_back(tok);
    const auto r = m_model->run(req);
    const auto base = m_model->run(idsRequest(m_ids));
    const int64_t T = r->tokens;
    for (int64_t t = 0; t < T; ++t)
        QCOMPARE(r->hidden.at({1, t})[4], 50.0f);
    QCOMPARE(r->hidden.at({0, 3})[2], -7.0f);
    QCOMPARE(r->hidden.at({0, 4})[2], base->hidden.at({0, 4})[2]);
    for (int i = 0; i < 16; ++i)
        QCOMPARE(r->hidden.at({2, 5})[i], 0.25f);
    // the change propagates: later layers differ from the clean run
    QVERIFY(std::abs(r->hidden.at({3, T - 1})[0] - base->hidden.at({3, T - 1})[0]) > 1e-4f);
}

void TestCapture::badInterventions_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("message");
    QTest::newRow("positions size") << 0 << "The replacement position ids have 2 entries for 11 tokens.";
    QTest::newRow("position range") << 1 << "Position id 64 is outside 0..63.";
    QTest::newRow("mask size") << 2 << "The attention mask bias must have T x T = 121 entries.";
    QTest::newRow("dim range") << 3 << "A hidden-dimension overwrite targets layer 0, dimension 16, token -1, outside the model or prompt.";
    QTest::newRow("token size") << 4 << "A hidden-state overwrite targets layer 1, token 0 with 3 values; it needs a layer 0..3, a token of the prompt and 16 values.";
}

void TestCapture::badInterventions()
{
    QFETCH(int, which);
    QFETCH(QString, message);
    RunRequest req = idsRequest(m_ids);
    switch (which) {
    case 0: req.interventions.positionIds = {0, 1}; break;
    case 1: for (size_t t = 0; t < m_ids.size(); ++t) req.interventions.positionIds.push_back(int64_t(t) + 54); break;
    case 2: req.interventions.maskBias.assign(5, 0.0f); break;
    case 3: req.interventions.dims.push_back({0, 16, -1, 1.0f}); break;
    case 4: { Interventions::TokenOverwrite t; t.layer = 1; t.token = 0; t.hidden = {1, 2, 3}; req.interventions.tokens.push_back(t); } break;
    }
    try {
        m_model->run(req);
        QFAIL("accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QCOMPARE(QString::fromStdString(e.what()), message);
    }
}

QTEST_GUILESS_MAIN(TestCapture)
#include "tst_capture.moc"
