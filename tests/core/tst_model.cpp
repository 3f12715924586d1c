// SPDX-License-Identifier: GPL-3.0-or-later
// The generic transformer against an independent double-precision reference on tiny random
// checkpoints, structural properties of attention, and the real stories260K model.
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "testsupport.h"
#include "tinymodels.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace sinkscope;
using namespace sinkscope::test;

Q_DECLARE_METATYPE(sinkscope::test::TinyLlamaSpec)

namespace {

std::unique_ptr<Model> writeAndLoad(const QTemporaryDir& tmp, const TinyLlamaSpec& spec, const TinyWeights& w,
                                    const QString& sub = QStringLiteral("m"))
{
    const QString dir = QDir(tmp.path()).filePath(sub);
    writeTinyLlama(dir, spec, w);
    return Model::load(dir.toStdString(), DevicePreference::Cpu);
}

RunRequest idsRequest(std::vector<int32_t> ids)
{
    RunRequest r;
    r.useIds = true;
    r.ids = std::move(ids);
    return r;
}

std::vector<int32_t> someIds(int T, int vocab, uint32_t seed)
{
    std::vector<int32_t> ids;
    uint32_t x = seed * 2654435761u + 12345u;
    for (int t = 0; t < T; ++t) {
        x = x * 1664525u + 1013904223u;
        ids.push_back(int32_t((x >> 8) % uint32_t(vocab)));
    }
    return ids;
}

} // namespace

class TestModel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesReference_data();
    void matchesReference();
    void rowsSumToOneAndCausal();
    void gqaEqualsRepeatedMha();
    void ropeDependsOnRelativePosition();
    void firstTokenMassMatchesMaps();
    void progressAndCancel();
    void badRequests_data();
    void badRequests();
    void badCheckpoints_data();
    void badCheckpoints();
    void nanBornInLastMlp_data();
    void nanBornInLastMlp();
    void stories260KGreedyContinuation();
};

void TestModel::matchesReference_data()
{
    QTest::addColumn<TinyLlamaSpec>("spec");
    QTest::addColumn<int>("T");
    TinyLlamaSpec base;
    QTest::newRow("llama mha tied") << base << 12;
    TinyLlamaSpec gqa = base;
    gqa.heads = 4, gqa.kvHeads = 2, gqa.seed = 2, gqa.tied = false;
    QTest::newRow("llama gqa untied") << gqa << 10;
    TinyLlamaSpec mqa = base;
    mqa.heads = 4, mqa.kvHeads = 1, mqa.seed = 3, mqa.layers = 3;
    QTest::newRow("llama mqa 3 layers") << mqa << 9;
    TinyLlamaSpec qwen = base;
    qwen.modelType = "qwen2", qwen.qkvBias = true, qwen.kvHeads = 2, qwen.seed = 4, qwen.tied = false;
    QTest::newRow("qwen2 biases") << qwen << 11;
    TinyLlamaSpec wide = base;
    wide.headDim = 8, wide.heads = 3, wide.kvHeads = 3, wide.seed = 5; // head_dim * heads != hidden
    QTest::newRow("llama explicit head_dim") << wide << 7;
    TinyLlamaSpec lin = base;
    lin.ropeType = "linear", lin.ropeFactor = 4.0, lin.seed = 6;
    QTest::newRow("rope linear") << lin << 12;
    TinyLlamaSpec l3 = base;
    l3.ropeType = "llama3", l3.ropeFactor = 8.0, l3.lowFreqFactor = 1.0, l3.highFreqFactor = 4.0;
    l3.originalMaxPositions = 32, l3.ropeTheta = 500.0, l3.headDim = 16, l3.heads = 2, l3.kvHeads = 1, l3.seed = 7;
    QTest::newRow("rope llama3") << l3 << 14;
    TinyLlamaSpec dyn = base;
    dyn.ropeType = "dynamic", dyn.ropeFactor = 2.0, dyn.maxPositions = 8, dyn.seed = 8;
    QTest::newRow("rope dynamic within context") << dyn << 8;
    TinyLlamaSpec mis = base;
    mis.modelType = "mistral", mis.slidingWindow = 4, mis.kvHeads = 2, mis.seed = 9;
    QTest::newRow("mistral sliding window") << mis << 12;
    TinyLlamaSpec qwin = base;
    qwin.modelType = "qwen2", qwin.qkvBias = true, qwin.layers = 3, qwin.slidingWindow = 3, qwin.windowFromLayer = 1;
    qwin.seed = 10;
    QTest::newRow("qwen2 window from layer 1") << qwin << 10;
}

void TestModel::matchesReference()
{
    QFETCH(TinyLlamaSpec, spec);
    QFETCH(int, T);
    QTemporaryDir tmp;
    const TinyWeights w = makeTinyLlamaWeights(spec);
    const auto model = writeAndLoad(tmp, spec, w);
    const std::vector<int32_t> ids = someIds(T, spec.vocab, spec.seed);
    const auto result = model->run(idsRequest(ids));
    const ReferenceOutput ref = referenceLlamaForward(spec, w, ids);

    QCOMPARE(result->attention.size(), ref.attention.size());
    double maxAttnErr = 0.0;
    for (size_t i = 0; i < ref.attention.size(); ++i)
        maxAttnErr = std::max(maxAttnErr, std::abs(double(result->attention[i]) - ref.attention[i]));
    QCOMPARE(result->logits.size(), ref.logits.size());
    double maxLogit = 0.0, maxLogitErr = 0.0;
    for (size_t i = 0; i < ref.logits.size(); ++i) {
        maxLogit = std::max(maxLogit, std::abs(ref.logits[i]));
        maxLogitErr = std::max(maxLogitErr, std::abs(double(result->logits[i]) - ref.logits[i]));
    }
    // fp32 against a double reference: probabilities to 1e-5 absolute, logits to 1e-5 relative.
    QVERIFY2(maxAttnErr < 1e-5, qPrintable(QString("max attention error %1").arg(maxAttnErr)));
    QVERIFY2(maxLogitErr / maxLogit < 1e-5, qPrintable(QString("max logit error %1 of %2").arg(maxLogitErr).arg(maxLogit)));
}

void TestModel::rowsSumToOneAndCausal()
{
    TinyLlamaSpec spec;
    spec.layers = 3;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyLlamaWeights(spec));
    const int T = 17;
    const auto r = model->run(idsRequest(someIds(T, spec.vocab, 42)));
    for (int l = 0; l < spec.layers; ++l)
        for (int h = 0; h < spec.heads; ++h) {
            const auto A = r->attentionMap(l, h);
            for (int t = 0; t < T; ++t) {
                QVERIFY(std::abs(A.row(t).sum() - 1.0f) < 1e-5f);
                for (int k = t + 1; k < T; ++k)
                    QCOMPARE(A(t, k), 0.0f);
                QVERIFY(A(t, 0) > 0.0f);
            }
        }
}

void TestModel::gqaEqualsRepeatedMha()
{
    // A GQA checkpoint and the MHA checkpoint whose k/v projections are the GQA ones repeated per
    // query head (head h gets KV head h / (H / H_kv)) must produce the same attention and logits.
    TinyLlamaSpec gqa;
    gqa.heads = 4, gqa.kvHeads = 2, gqa.seed = 11;
    const TinyWeights wg = makeTinyLlamaWeights(gqa);
    TinyLlamaSpec mha = gqa;
    mha.kvHeads = 4;
    TinyWeights wm = wg;
    const int hd = gqa.hidden / gqa.heads, D = gqa.hidden, group = gqa.heads / gqa.kvHeads;
    for (int l = 0; l < gqa.layers; ++l)
        for (const char* p : {"k_proj", "v_proj"}) {
            const std::string name = "model.layers." + std::to_string(l) + ".self_attn." + p + ".weight";
            const std::vector<float>& src = wg.values.at(name);
            std::vector<float> dst;
            for (int h = 0; h < mha.heads; ++h) {
                const int kv = h / group;
                dst.insert(dst.end(), src.begin() + kv * hd * D, src.begin() + (kv + 1) * hd * D);
            }
            wm.values[name] = dst;
            wm.shapes[name] = {int64_t(mha.heads * hd), int64_t(D)};
        }
    QTemporaryDir tmp;
    const auto mg = writeAndLoad(tmp, gqa, wg, "gqa");
    const auto mm = writeAndLoad(tmp, mha, wm, "mha");
    const auto ids = someIds(13, gqa.vocab, 5);
    const auto rg = mg->run(idsRequest(ids));
    const auto rm = mm->run(idsRequest(ids));
    QCOMPARE(rg->attention.size(), rm->attention.size());
    for (size_t i = 0; i < rg->attention.size(); ++i)
        QVERIFY(std::abs(rg->attention[i] - rm->attention[i]) < 1e-6f);
    for (size_t i = 0; i < rg->logits.size(); ++i)
        QVERIFY(std::abs(rg->logits[i] - rm->logits[i]) < 1e-5f);
    // and the two KV groups really differ, so the mapping is observable
    const auto A0 = rg->attentionMap(0, 0), A2 = rg->attentionMap(0, 2);
    QVERIFY((A0 - A2).cwiseAbs().maxCoeff() > 1e-3f);
}

void TestModel::ropeDependsOnRelativePosition()
{
    // The same token at every position: in layer 0 the only thing that differs between q_t and
    // k_s is the rotation, so the logit is a function of t - s and P[t, t-a] / P[t, t-b] must be
    // the same for every query t.
    TinyLlamaSpec spec;
    spec.layers = 1, spec.seed = 21;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyLlamaWeights(spec));
    const int T = 16;
    const auto r = model->run(idsRequest(std::vector<int32_t>(size_t(T), 7)));
    for (int h = 0; h < spec.heads; ++h) {
        const auto A = r->attentionMap(0, h);
        for (int a = 0; a < 3; ++a)
            for (int b = a + 1; b < 4; ++b) {
                const double ref = std::log(double(A(b + 3, b + 3 - a)) / double(A(b + 3, b + 3 - b)));
                for (int t = b; t < T; ++t) {
                    const double ratio = std::log(double(A(t, t - a)) / double(A(t, t - b)));
                    QVERIFY2(std::abs(ratio - ref) < 1e-4,
                             qPrintable(QString("head %1 t %2 a %3 b %4: %5 vs %6").arg(h).arg(t).arg(a).arg(b).arg(ratio).arg(ref)));
                }
            }
    }
}

void TestModel::firstTokenMassMatchesMaps()
{
    TinyLlamaSpec spec;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyLlamaWeights(spec));
    const int T = 9;
    const auto r = model->run(idsRequest(someIds(T, spec.vocab, 77)));
    for (int l = 0; l < spec.layers; ++l)
        for (int h = 0; h < spec.heads; ++h) {
            const auto A = r->attentionMap(l, h);
            double s = 0;
            for (int t = 1; t < T; ++t)
                s += A(t, 0);
            QVERIFY(std::abs(r->firstTokenMass(l, h) - s / (T - 1)) < 1e-6);
        }
    // A run without the maps still has the per-head summary.
    RunRequest noMaps = idsRequest(someIds(T, spec.vocab, 77));
    noMaps.captureAttention = false;
    noMaps.captureLogits = false;
    const auto r2 = model->run(noMaps);
    QVERIFY(!r2->hasAttention());
    QVERIFY(r2->logits.empty());
    QVERIFY((r2->firstTokenMass - r->firstTokenMass).cwiseAbs().maxCoeff() < 1e-6f);
}

void TestModel::progressAndCancel()
{
    TinyLlamaSpec spec;
    spec.layers = 4;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyLlamaWeights(spec));
    std::vector<int> seen;
    model->run(idsRequest(someIds(5, spec.vocab, 1)), [&](int done, int total) {
        QCOMPARE(total, 4);
        seen.push_back(done);
    });
    QCOMPARE(seen, (std::vector<int>{1, 2, 3, 4}));

    std::atomic<bool> cancel{false};
    seen.clear();
    try {
        model->run(idsRequest(someIds(5, spec.vocab, 1)), [&](int done, int) {
            seen.push_back(done);
            if (done == 2)
                cancel = true;
        }, &cancel);
        QFAIL("a cancelled run returned a result");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Cancelled);
    }
    QCOMPARE(seen, (std::vector<int>{1, 2})); // stopped before layer 3
}

void TestModel::badRequests_data()
{
    QTest::addColumn<QString>("ids");
    QTest::addColumn<QString>("message");
    QTest::newRow("no ids") << QString() << "No token ids were given.";
    QTest::newRow("id past vocab") << "1,2,32" << "Token id 32 is outside the vocabulary (0..31).";
    QTest::newRow("negative id") << "-1" << "Token id -1 is outside the vocabulary (0..31).";
    QTest::newRow("too long") << QString("1,").repeated(64) + "1" << "The prompt has 65 tokens but the model handles at most 64 positions; shorten it.";
}

void TestModel::badRequests()
{
    QFETCH(QString, ids);
    QFETCH(QString, message);
    TinyLlamaSpec spec;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyLlamaWeights(spec));
    std::vector<int32_t> v;
    for (const QString& p : ids.split(',', Qt::SkipEmptyParts))
        v.push_back(p.toInt());
    try {
        model->run(idsRequest(v));
        QFAIL("bad request accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QCOMPARE(QString::fromStdString(e.what()), message);
    }
    // the model stays usable
    QCOMPARE(model->run(idsRequest({1, 2, 3}))->tokens, int64_t(3));
}

void TestModel::badCheckpoints_data()
{
    QTest::addColumn<QString>("drop");
    QTest::addColumn<QString>("reshape");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing tensor") << "model.layers.1.mlp.up_proj.weight" << QString()
                                    << "The checkpoint has no tensor 'model.layers.1.mlp.up_proj.weight', which a llama model needs.";
    QTest::newRow("wrong shape") << QString() << "model.layers.0.self_attn.k_proj.weight"
                                 << "Tensor 'model.layers.0.self_attn.k_proj.weight' has shape [8, 16] but the config implies [16, 16].";
}

void TestModel::badCheckpoints()
{
    QFETCH(QString, drop);
    QFETCH(QString, reshape);
    QFETCH(QString, message);
    TinyLlamaSpec spec;
    TinyWeights w = makeTinyLlamaWeights(spec);
    if (!drop.isEmpty()) {
        w.values.erase(drop.toStdString());
        w.shapes.erase(drop.toStdString());
    }
    if (!reshape.isEmpty()) {
        auto& v = w.values[reshape.toStdString()];
        v.resize(v.size() / 2);
        w.shapes[reshape.toStdString()] = {8, 16};
    }
    QTemporaryDir tmp;
    try {
        writeAndLoad(tmp, spec, w);
        QFAIL("bad checkpoint accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Format);
        QCOMPARE(QString::fromStdString(e.what()), message);
    }
}

void TestModel::nanBornInLastMlp_data()
{
    QTest::addColumn<QString>("weight");
    QTest::addColumn<bool>("summaries");
    QTest::addColumn<bool>("logits");
    QTest::addColumn<QString>("message");
    const QString rest = " The checkpoint's weights or its config are broken there; no metric is computed from such "
                         "values.";
    // A NaN in the last block's MLP: the summaries of that block are formed before it, so only the
    // check of the last layer's output sees it when neither hidden states nor logits are kept.
    const QString lastMlp = "model.layers.1.mlp.down_proj.weight";
    const QString located = "The forward pass produced NaN or infinite values, first in the output of layer 1 (layers "
                            "count from 0, over 5 tokens)." + rest;
    QTest::newRow("last MLP, summaries, no logits") << lastMlp << true << false << located;
    // With the logits kept it is still placed in layer 1, not in the output head.
    QTest::newRow("last MLP, summaries and logits") << lastMlp << true << true << located;
    // Nothing per layer kept: the last output is where it was seen, not necessarily where it began.
    QTest::newRow("last MLP, nothing kept")
        << lastMlp << false << false
        << "The forward pass produced NaN or infinite values by the output of layer 1, the last one (layers count from "
           "0, over 5 tokens; the run kept no per-layer values that would say where they began)." + rest;
    // The final norm comes after the last layer's output: only the logits show it.
    QTest::newRow("final norm, logits") << "model.norm.weight" << true << true
                                        << "The forward pass produced NaN or infinite values, first in the output head "
                                           "(the logits) (layers count from 0, over 5 tokens)." + rest;
}

void TestModel::nanBornInLastMlp()
{
    QFETCH(QString, weight);
    QFETCH(bool, summaries);
    QFETCH(bool, logits);
    QFETCH(QString, message);
    TinyLlamaSpec spec; // 2 layers
    TinyWeights w = makeTinyLlamaWeights(spec);
    w.values[weight.toStdString()][3] = std::numeric_limits<float>::quiet_NaN();
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, w);
    RunRequest r = idsRequest(someIds(5, spec.vocab, 3));
    r.computeSummaries = summaries;
    r.captureLogits = logits;
    r.captureAttention = r.captureHidden = r.captureQK = r.captureValues = false;
    for (int batch : {0, 1}) { // Model::run and Model::runBatch check alike
        try {
            if (batch)
                model->runBatch({r, r}, 2);
            else
                model->run(r);
            QFAIL("a pass with NaN values returned a result");
        } catch (const Error& e) {
            QCOMPARE(e.code(), ErrorCode::Format);
            QCOMPARE(QString::fromStdString(e.what()), message);
        }
    }
    // The same request on the intact weights passes, so the check is not what fails it.
    QTemporaryDir good;
    QCOMPARE(writeAndLoad(good, spec, makeTinyLlamaWeights(spec))->run(r)->tokens, int64_t(5));
}

void TestModel::stories260KGreedyContinuation()
{
    const QString dir = stories260KDir();
    if (dir.isEmpty())
        QSKIP(noSharedReason());
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    QCOMPARE(model->info().layers, 5);
    QCOMPARE(model->info().kvHeads, 4);
    // Greedy decoding from <s>, one full forward pass per step (no KV cache needed at this size).
    std::vector<int32_t> ids{1};
    const std::vector<int32_t> documented{403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                          315, 421, 395, 317, 426, 338, 401, 396, 267};
    const int steps = 48;
    for (int s = 0; s < steps; ++s) {
        RunRequest r = idsRequest(ids);
        r.captureAttention = false;
        const auto res = model->run(r);
        const int V = model->info().vocabSize;
        const float* last = res->logits.data() + (res->tokens - 1) * V;
        ids.push_back(int32_t(std::max_element(last, last + V) - last));
    }
    QCOMPARE(std::vector<int32_t>(ids.begin() + 1, ids.begin() + 1 + documented.size()), documented);
    const std::string text = model->tokenizer()->decode(std::vector<int32_t>(ids.begin() + 1, ids.end()));
    const std::string sample = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                               "One day, she saw a big, red ball. She wanted to play with it, but it was too high";
    QVERIFY2(text.rfind(sample.substr(0, 120), 0) == 0, text.c_str());
    QVERIFY2(text.size() >= sample.size() ? text.rfind(sample, 0) == 0 : sample.rfind(text, 0) == 0, text.c_str());
}

QTEST_GUILESS_MAIN(TestModel)
#include "tst_model.moc"
