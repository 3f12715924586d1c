// SPDX-License-Identifier: GPL-3.0-or-later
// Every supported family on tiny random checkpoints with the exact Hugging Face tensor names:
// numbers against an independent double-precision reference, and structural properties
// (row sums, causality or bidirectionality, windows, position effects, tied weights, prefixes).
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/safetensors.h"
#include "tinyfamilies.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace sinkscope;
using namespace sinkscope::test;

Q_DECLARE_METATYPE(sinkscope::test::TinyFamilySpec)

namespace {

std::unique_ptr<Model> writeAndLoad(const QTemporaryDir& tmp, const TinyFamilySpec& spec, const TinyWeights& w,
                                    const QString& sub = QStringLiteral("m"))
{
    const QString dir = QDir(tmp.path()).filePath(sub);
    writeTinyModel(dir, spec, w);
    try {
        // SINKSCOPE_TEST_DEVICE=cuda runs the family rows on a GPU (tests/benchmarks/gpu_check.sh);
        // the reference stays the double-precision CPU loop.
        const bool cuda = qEnvironmentVariable("SINKSCOPE_TEST_DEVICE") == QLatin1String("cuda");
        return Model::load(dir.toStdString(), cuda ? DevicePreference::Cuda : DevicePreference::Cpu);
    } catch (const std::exception& e) {
        qWarning("loading the tiny %s failed: %s", spec.modelType.c_str(), e.what()); // say why in the log
        throw;
    }
}

RunRequest idsRequest(std::vector<int32_t> ids, std::vector<int64_t> positions = {})
{
    RunRequest r;
    r.useIds = true;
    r.ids = std::move(ids);
    r.interventions.positionIds = std::move(positions);
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

TinyFamilySpec family(const char* type, uint32_t seed)
{
    TinyFamilySpec s;
    s.modelType = type;
    s.seed = seed;
    return s;
}

bool encoderType(const std::string& t)
{
    return t == "bert" || t == "roberta";
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b)
{
    double m = a.size() == b.size() ? 0.0 : INFINITY;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        m = std::max(m, std::abs(double(a[i]) - double(b[i])));
    return m;
}

} // namespace

class TestFamilies : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesReference_data();
    void matchesReference();
    void rowsAndMasks_data();
    void rowsAndMasks();
    void ropeDependsOnRelativePosition_data();
    void ropeDependsOnRelativePosition();
    void learnedPositions_data();
    void learnedPositions();
    void tiedWeights_data();
    void tiedWeights();
    void prefixes_data();
    void prefixes();
    void encoderWithoutHead();
    void robertaPositionLimit();
    void unknownModelType();
    void missingTensors_data();
    void missingTensors();
};

void TestFamilies::matchesReference_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    QTest::addColumn<QString>("ids"); // comma-separated, or empty for random ids
    QTest::addColumn<int>("T");

    auto row = [](const char* name, TinyFamilySpec s, int T, const char* ids = "") {
        QTest::newRow(name) << s << QString::fromLatin1(ids) << T;
    };
    TinyFamilySpec s;

    s = family("llama", 1), s.kvHeads = 2, s.tied = false;
    row("llama gqa", s, 11);
    s = family("llama", 2), s.attnBias = true;
    row("llama attention_bias (q/k/v/o)", s, 9);
    s = family("mistral", 3), s.kvHeads = 2, s.slidingWindow = 4;
    row("mistral window 4", s, 12);
    s = family("qwen2", 4), s.kvHeads = 1, s.tied = false;
    row("qwen2 q/k/v biases", s, 10);

    s = family("qwen3", 5), s.kvHeads = 2, s.headDim = 8, s.tied = false;
    row("qwen3 q/k norms, head_dim 8", s, 11);
    s = family("qwen3", 6), s.layers = 3, s.attnBias = true, s.slidingWindow = 3, s.windowFromLayer = 1;
    row("qwen3 biases, window from layer 1", s, 10);

    s = family("gemma", 7), s.kvHeads = 1, s.headDim = 8;
    row("gemma mqa head_dim 8", s, 12);
    s = family("gemma", 8), s.heads = 2, s.kvHeads = 2, s.tied = false, s.attnBias = true;
    row("gemma untied, attention_bias", s, 9);

    s = family("gemma2", 9), s.kvHeads = 2, s.headDim = 8, s.layers = 3, s.slidingWindow = 3,
    s.queryPreAttnScalar = 12, s.attnSoftcap = 1.5, s.finalSoftcap = 2.0, s.scale = 3.0f;
    row("gemma2 caps biting, window 3, scalar 12", s, 12);
    s = family("gemma2", 10), s.kvHeads = 4, s.attnSoftcap = 0, s.finalSoftcap = 0;
    row("gemma2 no caps, no window", s, 8);

    s = family("phi3", 11), s.kvHeads = 2;
    row("phi3 fused qkv and gate_up", s, 10);
    s = family("phi3", 12), s.rotaryFraction = 0.5, s.slidingWindow = 5, s.tied = false;
    row("phi3 partial rotary 0.5, window 5", s, 12);

    s = family("gpt2", 13);
    row("gpt2 transformer. prefix, tied", s, 12);
    s = family("gpt2", 14), s.prefix = "", s.tied = false, s.scaleByInverseLayer = true, s.layers = 3;
    row("gpt2 no prefix, untied, inverse-layer scaling", s, 10);
    s = family("gpt2", 15), s.act = "gelu", s.upcastAttn = true;
    row("gpt2 exact gelu, reorder_and_upcast_attn", s, 7);

    s = family("gpt_neox", 16), s.heads = 2, s.rotaryFraction = 0.25, s.tied = false, s.attnBias = true;
    row("gpt_neox parallel residual, rotary_pct 0.25", s, 12);
    s = family("gpt_neox", 17), s.rotaryFraction = 0.5, s.parallelResidual = false, s.tied = false;
    row("gpt_neox sequential, no attention bias", s, 9);

    s = family("opt", 18), s.attnBias = true;
    row("opt-125m-like pre-LN", s, 12);
    s = family("opt", 19), s.attnBias = true, s.normBefore = false, s.wordEmbedProjDim = 8, s.tied = true;
    row("opt-350m-like post-LN with project_in/out", s, 11);
    s = family("opt", 20), s.attnBias = false, s.tied = false;
    row("opt no biases, untied", s, 8);
    s = family("opt", 25), s.normAffine = false, s.normBefore = false;
    row("opt post-LN without LayerNorm weights", s, 9);

    s = family("bert", 21);
    row("bert mlm", s, 12);
    s = family("bert", 22), s.legacyNormNames = true, s.tied = false, s.act = "gelu_new";
    row("bert gamma/beta names, untied decoder", s, 9);
    s = family("roberta", 23), s.typeVocab = 1;
    row("roberta mlm", s, 12);
    s = family("roberta", 24), s.typeVocab = 1;
    row("roberta with pad tokens inside", s, 8, "0,5,1,7,9,1,1,3");

    s = family("starcoder2", 26), s.kvHeads = 2, s.attnBias = true, s.slidingWindow = 4, s.tied = false;
    row("starcoder2 gqa, use_bias, window 4", s, 12);
    s = family("starcoder2", 27), s.kvHeads = 1, s.attnBias = false, s.layers = 3, s.ropeTheta = 500.0;
    row("starcoder2 mqa, no biases, tied, theta 500", s, 10);
}

void TestFamilies::matchesReference()
{
    QFETCH(TinyFamilySpec, spec);
    QFETCH(QString, ids);
    QFETCH(int, T);
    QTemporaryDir tmp;
    const TinyWeights w = makeTinyWeights(spec);
    std::unique_ptr<Model> model;
    try {
        model = writeAndLoad(tmp, spec, w);
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
    std::vector<int32_t> tokens;
    for (const QString& p : ids.split(',', Qt::SkipEmptyParts))
        tokens.push_back(p.toInt());
    if (tokens.empty())
        tokens = someIds(T, spec.vocab, spec.seed);
    const auto r = model->run(idsRequest(tokens));
    const FamilyReference ref = referenceFamilyForward(spec, w, tokens);

    const bool enc = encoderType(spec.modelType);
    const bool rope = !(spec.modelType == "gpt2" || spec.modelType == "opt" || enc);
    QCOMPARE(QString::fromStdString(r->model.position), rope ? QStringLiteral("rope") : QStringLiteral("learned"));
    QCOMPARE(QString::fromStdString(r->model.attention), enc ? QStringLiteral("bidirectional") : QStringLiteral("causal"));

    QCOMPARE(r->attention.size(), ref.attention.size());
    double attnErr = 0.0;
    for (size_t i = 0; i < ref.attention.size(); ++i)
        attnErr = std::max(attnErr, std::abs(double(r->attention[i]) - ref.attention[i]));
    QVERIFY2(attnErr < 1e-5, qPrintable(QStringLiteral("max attention error %1").arg(attnErr)));

    QCOMPARE(r->logits.size(), ref.logits.size());
    double maxLogit = 0.0, logitErr = 0.0;
    for (size_t i = 0; i < ref.logits.size(); ++i) {
        maxLogit = std::max(maxLogit, std::abs(ref.logits[i]));
        logitErr = std::max(logitErr, std::abs(double(r->logits[i]) - ref.logits[i]));
    }
    if (!ref.logits.empty())
        QVERIFY2(logitErr / maxLogit < 1e-5, qPrintable(QStringLiteral("max logit error %1 of %2").arg(logitErr).arg(maxLogit)));

    if (!r->hidden.empty()) {
        QCOMPARE(r->hidden.data.size(), ref.hidden.size());
        double maxH = 0.0, errH = 0.0;
        for (size_t i = 0; i < ref.hidden.size(); ++i) {
            maxH = std::max(maxH, std::abs(ref.hidden[i]));
            errH = std::max(errH, std::abs(double(r->hidden.data[i]) - ref.hidden[i]));
        }
        QVERIFY2(errH / maxH < 1e-5, qPrintable(QStringLiteral("max hidden error %1 of %2").arg(errH).arg(maxH)));
    }
    if (!r->values.empty()) {
        QCOMPARE(r->values.data.size(), ref.values.size());
        double errV = 0.0;
        for (size_t i = 0; i < ref.values.size(); ++i)
            errV = std::max(errV, std::abs(double(r->values.data[i]) - ref.values[i]));
        QVERIFY2(errV < 1e-4, qPrintable(QStringLiteral("max value error %1").arg(errV)));
    }

    // The recipes say how each layer formed its logits, so maps recomputed from Q/K match.
    QCOMPARE(int(r->recipes.size()), spec.layers);
    for (int l = 0; l < spec.layers; ++l) {
        const AttentionRecipe& rc = r->recipes[size_t(l)];
        QVERIFY2(std::abs(rc.scale - ref.scales[size_t(l)]) < 1e-12 * ref.scales[size_t(l)],
                 qPrintable(QStringLiteral("layer %1 scale %2 vs %3").arg(l).arg(rc.scale).arg(ref.scales[size_t(l)])));
        QCOMPARE(rc.causal, !enc);
        QCOMPARE(rc.softcap, spec.modelType == "gemma2" ? spec.attnSoftcap : 0.0);
    }
    if (!r->queries.empty() && !r->keys.empty()) {
        RunResult fromQk = *r;
        fromQk.attention.clear();
        for (int l = 0; l < spec.layers; ++l)
            for (int h = 0; h < spec.heads; ++h) {
                const double err = (fromQk.attentionMap(l, h) - r->attentionMap(l, h)).cwiseAbs().maxCoeff();
                QVERIFY2(err < 1e-5, qPrintable(QStringLiteral("layer %1 head %2: map from Q/K off by %3").arg(l).arg(h).arg(err)));
            }
    }

    // Query blocks of 3 rows (several per prompt; windowed layers then start their keys late) and a
    // batch of two prompts give what the single pass gave, map by map and summary by summary.
    RunRequest blocked = idsRequest(tokens);
    blocked.attentionBlockRows = 3;
    const auto rb = model->run(blocked);
    std::vector<int32_t> other = someIds(int(tokens.size()), spec.vocab, spec.seed + 17);
    const auto single2 = model->run(idsRequest(other));
    const auto batch = model->runBatch({idsRequest(tokens), idsRequest(other)}, 2);
    QCOMPARE(int(batch.size()), 2);
    auto sameRun = [&](const RunResult& a, const RunResult& b, const char* what) {
        auto close = [&](const std::vector<float>& x, const std::vector<float>& y, double tol, const char* name) {
            QVERIFY2(x.size() == y.size(), qPrintable(QStringLiteral("%1: %2 sizes differ").arg(what, name)));
            double scale = 1.0;
            for (float v : y)
                scale = std::max(scale, double(std::abs(v)));
            const double err = maxAbsDiff(x, y);
            QVERIFY2(err <= tol * scale, qPrintable(QStringLiteral("%1: %2 off by %3").arg(what, name).arg(err)));
        };
        close(a.attention, b.attention, 1e-6, "attention");
        close(a.logits, b.logits, 1e-5, "logits");
        close(a.hidden.data, b.hidden.data, 1e-5, "hidden");
        close(a.queries.data, b.queries.data, 1e-5, "queries");
        close(a.firstMassPerQuery.data, b.firstMassPerQuery.data, 1e-6, "first mass per query");
        close(a.received.data, b.received.data, 1e-6, "received");
        close(a.entropy.data, b.entropy.data, 1e-5, "entropy");
        close(a.valueNorms.data, b.valueNorms.data, 1e-5, "value norms");
        close(a.contributionNorms.data, b.contributionNorms.data, 1e-5, "contribution norms");
        close(a.writtenNorms.data, b.writtenNorms.data, 1e-5, "written norms");
        QVERIFY2((a.firstTokenMass - b.firstTokenMass).cwiseAbs().maxCoeff() <= 1e-6, what);
        QCOMPARE(int(a.recipes.size()), int(b.recipes.size()));
    };
    sameRun(*rb, *r, "3-row blocks");
    sameRun(*batch[0], *r, "batch prompt 0");
    sameRun(*batch[1], *single2, "batch prompt 1");
    QVERIFY2(maxAbsDiff(batch[0]->hidden.data, batch[1]->hidden.data) > 1e-4, "the two prompts of the batch are not distinct");
}

void TestFamilies::rowsAndMasks_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    QTest::addColumn<QString>("windows"); // per layer (0: none)
    TinyFamilySpec s;
    for (const char* t : {"llama", "qwen3", "gemma", "gemma2", "phi3", "gpt2", "gpt_neox", "opt", "bert", "roberta",
                          "starcoder2"})
        QTest::newRow(t) << family(t, 31) << "0,0,0";
    s = family("gemma2", 32), s.slidingWindow = 4, s.layers = 3;
    QTest::newRow("gemma2 window on even layers") << s << "4,0,4";
    s = family("phi3", 33), s.slidingWindow = 3;
    QTest::newRow("phi3 window on every layer") << s << "3,3";
    s = family("qwen3", 34), s.slidingWindow = 2, s.layers = 3, s.windowFromLayer = 2;
    QTest::newRow("qwen3 window from layer 2") << s << "0,0,2";
    s = family("mistral", 35), s.slidingWindow = 5;
    QTest::newRow("mistral window") << s << "5,5";
    s = family("starcoder2", 36), s.slidingWindow = 3, s.kvHeads = 2, s.attnBias = true;
    QTest::newRow("starcoder2 window on every layer") << s << "3,3";
}

void TestFamilies::rowsAndMasks()
{
    QFETCH(TinyFamilySpec, spec);
    QFETCH(QString, windows);
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyWeights(spec));
    const int T = 13;
    const auto r = model->run(idsRequest(someIds(T, spec.vocab, 99)));
    const bool enc = encoderType(spec.modelType);
    for (int l = 0; l < spec.layers; ++l)
        for (int h = 0; h < spec.heads; ++h) {
            const auto A = r->attentionMap(l, h);
            for (int t = 0; t < T; ++t) {
                QVERIFY(std::abs(A.row(t).sum() - 1.0f) < 1e-5f);
                for (int k = 0; k < T; ++k) {
                    const bool future = k > t;
                    const int window = windows.split(',').value(l).toInt();
                    const bool outside = window > 0 && t - k >= window;
                    if ((future && !enc) || outside)
                        QCOMPARE(A(t, k), 0.0f);
                    else
                        QVERIFY2(A(t, k) > 0.0f, qPrintable(QStringLiteral("layer %1 head %2 (%3, %4)").arg(l).arg(h).arg(t).arg(k)));
                }
            }
        }
}

void TestFamilies::ropeDependsOnRelativePosition_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    TinyFamilySpec s;
    for (const char* t : {"llama", "qwen3", "gemma", "phi3"})
        QTest::newRow(t) << family(t, 41);
    s = family("gemma2", 42), s.slidingWindow = 8, s.attnSoftcap = 2.0;
    QTest::newRow("gemma2 soft-capped") << s;
    s = family("phi3", 43), s.rotaryFraction = 0.5;
    QTest::newRow("phi3 partial") << s;
    s = family("gpt_neox", 44), s.heads = 2, s.rotaryFraction = 0.25;
    QTest::newRow("gpt_neox rotary_pct 0.25") << s;
    s = family("starcoder2", 45), s.kvHeads = 2, s.attnBias = true;
    QTest::newRow("starcoder2 biased q/k") << s;
}

void TestFamilies::ropeDependsOnRelativePosition()
{
    // One token repeated: in layer 0 q_t and k_s differ only by their rotations, so any logit is a
    // function of t - s, and P[t, t-a] / P[t, t-b] must be the same for every query t.
    QFETCH(TinyFamilySpec, spec);
    spec.layers = 1;
    spec.scale = 3.0f; // sharper attention, so the test could fail
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyWeights(spec));
    const int T = 16;
    const auto r = model->run(idsRequest(std::vector<int32_t>(size_t(T), 7)));
    double spread = 0.0;
    for (int h = 0; h < spec.heads; ++h) {
        const auto A = r->attentionMap(0, h);
        for (int a = 0; a < 3; ++a)
            for (int b = a + 1; b < 4; ++b) {
                const double ref = std::log(double(A(b + 3, b + 3 - a)) / double(A(b + 3, b + 3 - b)));
                spread = std::max(spread, std::abs(ref));
                for (int t = b; t < T; ++t) {
                    const double ratio = std::log(double(A(t, t - a)) / double(A(t, t - b)));
                    QVERIFY2(std::abs(ratio - ref) < 1e-4,
                             qPrintable(QStringLiteral("head %1 t %2 a %3 b %4: %5 vs %6").arg(h).arg(t).arg(a).arg(b).arg(ratio).arg(ref)));
                }
            }
    }
    QVERIFY2(spread > 1e-3, "attention does not depend on the offset at all; the test would not see a bug");
}

void TestFamilies::learnedPositions_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    for (const char* t : {"gpt2", "opt", "bert", "roberta"})
        QTest::newRow(t) << family(t, 51);
}

void TestFamilies::learnedPositions()
{
    // Swapping the table rows of positions 1 and 3 changes the outputs; running the swapped model
    // with position ids that swap 1 and 3 back gives the original outputs exactly.
    QFETCH(TinyFamilySpec, spec);
    QTemporaryDir tmp;
    const TinyWeights w = makeTinyWeights(spec);
    TinyWeights swapped = w;
    const std::string table = tinyPositionTable(spec);
    auto& P = swapped.values.at(table);
    const int D = spec.hidden, r1 = tinyPositionRow(spec, 1), r3 = tinyPositionRow(spec, 3);
    for (int i = 0; i < D; ++i)
        std::swap(P[size_t(r1 * D + i)], P[size_t(r3 * D + i)]);
    const auto m0 = writeAndLoad(tmp, spec, w, "orig");
    const auto m1 = writeAndLoad(tmp, spec, swapped, "swapped");
    const auto ids = someIds(8, spec.vocab, 3);
    const auto a = m0->run(idsRequest(ids));
    const auto b = m1->run(idsRequest(ids));
    QVERIFY2(maxAbsDiff(a->attention, b->attention) > 1e-3, "position embeddings have no effect");
    const auto c = m1->run(idsRequest(ids, {0, 3, 2, 1, 4, 5, 6, 7}));
    QVERIFY2(maxAbsDiff(a->attention, c->attention) < 1e-6, "position ids are not used as given");
    QVERIFY(maxAbsDiff(a->logits, c->logits) < 1e-5);

    // And the reference agrees on what the position ids mean.
    const FamilyReference ref = referenceFamilyForward(spec, swapped, ids, {0, 3, 2, 1, 4, 5, 6, 7});
    double err = 0.0;
    for (size_t i = 0; i < ref.attention.size(); ++i)
        err = std::max(err, std::abs(double(c->attention[i]) - ref.attention[i]));
    QVERIFY2(err < 1e-5, qPrintable(QStringLiteral("max attention error %1").arg(err)));
}

void TestFamilies::tiedWeights_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    TinyFamilySpec s;
    for (const char* t : {"llama", "gemma", "gemma2", "phi3", "gpt2", "gpt_neox", "opt", "bert", "roberta", "starcoder2"})
        QTest::newRow(t) << family(t, 61);
    s = family("opt", 62), s.wordEmbedProjDim = 8;
    QTest::newRow("opt projected") << s;
}

void TestFamilies::tiedWeights()
{
    // A tied checkpoint (no output matrix) equals the untied one whose output matrix is a copy of
    // the input embeddings; a different output matrix changes the logits.
    QFETCH(TinyFamilySpec, spec);
    spec.tied = true;
    const TinyWeights tied = makeTinyWeights(spec);
    TinyFamilySpec untiedSpec = spec;
    untiedSpec.tied = false;
    TinyWeights copy = tied;
    copy.values[tinyOutputName(spec)] = tied.values.at(tinyEmbeddingName(spec));
    copy.shapes[tinyOutputName(spec)] = tied.shapes.at(tinyEmbeddingName(spec));
    TinyWeights other = copy;
    for (float& v : other.values[tinyOutputName(spec)])
        v = -v * 0.5f;
    QTemporaryDir tmp;
    const auto mt = writeAndLoad(tmp, spec, tied, "tied");
    const auto mc = writeAndLoad(tmp, untiedSpec, copy, "copy");
    const auto mo = writeAndLoad(tmp, untiedSpec, other, "other");
    const auto ids = someIds(9, spec.vocab, 4);
    const auto rt = mt->run(idsRequest(ids)), rc = mc->run(idsRequest(ids)), ro = mo->run(idsRequest(ids));
    QVERIFY(!rt->logits.empty());
    QVERIFY2(maxAbsDiff(rt->logits, rc->logits) < 1e-6, "tied and copied output matrices differ");
    QVERIFY2(maxAbsDiff(rt->logits, ro->logits) > 1e-2, "the untied output matrix is not used");
    QVERIFY(maxAbsDiff(rt->attention, ro->attention) < 1e-7);
}

void TestFamilies::prefixes_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    QTest::addColumn<QString>("prefix");
    QTest::newRow("gpt2 without transformer.") << family("gpt2", 71) << "";
    QTest::newRow("opt saved from OPTModel") << family("opt", 72) << "";
    QTest::newRow("bert without bert.") << family("bert", 73) << "";
    QTest::newRow("roberta without roberta.") << family("roberta", 74) << "";
}

void TestFamilies::prefixes()
{
    QFETCH(TinyFamilySpec, spec);
    QFETCH(QString, prefix);
    const TinyWeights w = makeTinyWeights(spec);
    // The same numbers under the other names.
    TinyWeights renamed;
    const std::string from = tinyPrefix(spec);
    for (const auto& [name, values] : w.values) {
        const std::string to = name.rfind(from, 0) == 0 ? prefix.toStdString() + name.substr(from.size()) : name;
        renamed.values[to] = values;
        renamed.shapes[to] = w.shapes.at(name);
    }
    TinyFamilySpec other = spec;
    other.prefix = prefix.toStdString();
    QTemporaryDir tmp;
    const auto a = writeAndLoad(tmp, spec, w, "a");
    const auto b = writeAndLoad(tmp, other, renamed, "b");
    const auto ids = someIds(10, spec.vocab, 5);
    const auto ra = a->run(idsRequest(ids)), rb = b->run(idsRequest(ids));
    QCOMPARE(rb->attention.size(), ra->attention.size());
    QVERIFY(maxAbsDiff(ra->attention, rb->attention) == 0.0);
    QVERIFY(maxAbsDiff(ra->logits, rb->logits) == 0.0);
    const FamilyReference ref = referenceFamilyForward(other, renamed, ids);
    QCOMPARE(rb->logits.size(), ref.logits.size());
}

void TestFamilies::encoderWithoutHead()
{
    TinyFamilySpec spec = family("bert", 81);
    spec.mlmHead = false;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyWeights(spec));
    const auto r = model->run(idsRequest(someIds(6, spec.vocab, 1)));
    QVERIFY(r->hasAttention());
    QVERIFY(r->logits.empty()); // a bare encoder has no vocabulary head: no logits, no error
    QCOMPARE(r->model.attention, std::string("bidirectional"));
}

void TestFamilies::robertaPositionLimit()
{
    // max_position_embeddings 20 with padding_idx 1 leaves positions 2..19: 18 tokens.
    TinyFamilySpec spec = family("roberta", 82);
    spec.maxPositions = 20;
    QTemporaryDir tmp;
    const auto model = writeAndLoad(tmp, spec, makeTinyWeights(spec));
    QCOMPARE(model->info().maxPositions, 18);
    QCOMPARE(model->run(idsRequest(someIds(18, spec.vocab, 2)))->tokens, int64_t(18));
    try {
        model->run(idsRequest(someIds(19, spec.vocab, 2)));
        QFAIL("an input past the position table was accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("at most 18 positions")), e.what());
    }
}

void TestFamilies::unknownModelType()
{
    QTemporaryDir tmp;
    QFile cfg(QDir(tmp.path()).filePath(QStringLiteral("config.json")));
    QVERIFY(cfg.open(QIODevice::WriteOnly));
    cfg.write(R"({"model_type": "bloom", "hidden_size": 8, "n_layer": 1, "n_head": 2, "vocab_size": 10})");
    cfg.close();
    writeSafetensors(QDir(tmp.path()).filePath(QStringLiteral("model.safetensors")).toStdString(),
                     {HostTensor::fromFloats("word_embeddings.weight", {10, 8}, std::vector<float>(80, 0.5f))});
    try {
        Model::load(tmp.path().toStdString(), DevicePreference::Cpu);
        QFAIL("an unknown model_type loaded");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Unsupported);
        std::string list;
        for (const std::string& t : ModelConfig::supportedModelTypes())
            list += (list.empty() ? "" : ", ") + t;
        QVERIFY2(QString::fromStdString(e.what()).contains(QString::fromStdString("model_type 'bloom' is not supported (supported: " + list + ")")),
                 e.what());
    }
}

void TestFamilies::missingTensors_data()
{
    QTest::addColumn<TinyFamilySpec>("spec");
    QTest::addColumn<QString>("drop");
    QTest::addColumn<QString>("message");
    TinyFamilySpec s = family("gpt2", 91);
    QTest::newRow("gpt2 mlp") << s << "transformer.h.1.mlp.c_fc.weight"
                              << "The checkpoint has no tensor 'transformer.h.1.mlp.c_fc.weight', which a gpt2 model needs.";
    s = family("gpt_neox", 92), s.tied = false;
    QTest::newRow("gpt_neox untied head") << s << "embed_out.weight"
                                          << "The checkpoint has no tensor 'embed_out.weight', which a gpt_neox model needs.";
    s = family("bert", 93);
    QTest::newRow("bert mlm bias") << s << "cls.predictions.bias"
                                   << "The checkpoint has no tensor 'cls.predictions.bias', which a bert model needs.";
    s = family("qwen3", 94);
    QTest::newRow("qwen3 k_norm") << s << "model.layers.0.self_attn.k_norm.weight"
                                  << "The checkpoint has no tensor 'model.layers.0.self_attn.k_norm.weight', which a qwen3 model needs.";
    s = family("gemma2", 95);
    QTest::newRow("gemma2 post-feedforward norm") << s << "model.layers.1.post_feedforward_layernorm.weight"
                                                  << "The checkpoint has no tensor 'model.layers.1.post_feedforward_layernorm.weight', which a gemma2 model needs.";
    s = family("starcoder2", 96), s.attnBias = true;
    QTest::newRow("starcoder2 c_fc bias (use_bias)") << s << "model.layers.1.mlp.c_fc.bias"
                                                     << "The checkpoint has no tensor 'model.layers.1.mlp.c_fc.bias', which a starcoder2 model needs.";
    s = family("starcoder2", 97);
    QTest::newRow("starcoder2 LayerNorm bias") << s << "model.layers.0.input_layernorm.bias"
                                               << "The checkpoint has no tensor 'model.layers.0.input_layernorm.bias', which a starcoder2 model needs.";
}

void TestFamilies::missingTensors()
{
    QFETCH(TinyFamilySpec, spec);
    QFETCH(QString, drop);
    QFETCH(QString, message);
    TinyWeights w = makeTinyWeights(spec);
    QVERIFY(w.values.erase(drop.toStdString()) == 1);
    w.shapes.erase(drop.toStdString());
    QTemporaryDir tmp;
    try {
        writeAndLoad(tmp, spec, w);
        QFAIL("a checkpoint with a missing tensor loaded");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Format);
        QCOMPARE(QString::fromStdString(e.what()), message);
    }
}

QTEST_GUILESS_MAIN(TestFamilies)
#include "tst_families.moc"
