// SPDX-License-Identifier: GPL-3.0-or-later
// The classifier (docs/METHODS.md): pure rules on constructed numbers, and whole classify jobs on
// models whose mechanisms are known by construction - the demo decoder's positional and feature
// heads, a prompt where the feature token stands at position 0, the demo encoder's [SEP] head
// wherever [SEP] stands, a RoPE decoder built here whose waiver is one token's outlier dimension,
// and a model with no waiver at all.
#include "sinkscope/classify.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"

#include "../support/testsupport.h"
#include "../support/tinymodels.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

an::PromptSet onePrompt(const std::string& text)
{
    an::PromptSet s;
    s.prompts.push_back({0, text});
    return s;
}

std::shared_ptr<const an::Classification> classify(const Model& m, const an::PromptSet& set, an::ClassifySettings st = {},
                                                   std::vector<an::ProbeDesign>* designs = nullptr)
{
    an::ClassifyJob job(set, st, [designs](int, const an::ProbeDesign& d) {
        if (designs)
            designs->push_back(d);
    });
    return std::static_pointer_cast<const an::Classification>(runJob(m, job));
}

const an::HeadVerdict& headOf(const an::Classification& c, int l, int h)
{
    return c.heads.at(size_t(l * c.model.heads + h));
}

QString describe(const an::HeadVerdict& v)
{
    QString s = QStringLiteral("L%1.H%2 %3 (%4):").arg(v.layer).arg(v.head).arg(an::verdictName(v.verdict)).arg(v.confidence, 0, 'f', 2);
    for (const auto& [name, x] : v.probes)
        s += QStringLiteral(" %1=%2").arg(QString::fromStdString(name)).arg(x, 0, 'f', 3);
    return s;
}

// Unplanted heads must be none, or mixed with low confidence.
void checkUnplanted(const an::Classification& c, const std::vector<PlantedHead>& planted)
{
    for (const an::HeadVerdict& v : c.heads) {
        bool isPlanted = false;
        for (const PlantedHead& p : planted)
            isPlanted = isPlanted || (p.layer == v.layer && p.head == v.head);
        if (isPlanted)
            continue;
        const bool ok = v.verdict == an::Verdict::None || (v.verdict == an::Verdict::Mixed && v.confidence < 0.5);
        QVERIFY2(ok, qPrintable(describe(v)));
    }
}

} // namespace

class TestClassify : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void queriesAndMass();
    void headSinkOfConstructedMaps();
    void rules_data();
    void rules();
    void promptsCombine();
    void modelVerdictRule();
    void demoDecoderPlantedHeads();
    void featureTokenAtPositionZero();
    void demoEncoderSepWhereverItStands();
    void ropeOutlierTokenIsFeature();
    void noWaiverModel();
    void promptSetAgreement();
    void stories260K();

private:
    QTemporaryDir m_tmp;
    std::unique_ptr<Model> m_decoder, m_encoder;
};

void TestClassify::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    const QString dec = m_tmp.filePath("decoder"), enc = m_tmp.filePath("encoder");
    writeDemoModel(DemoKind::Decoder, dec.toStdString());
    writeDemoModel(DemoKind::Encoder, enc.toStdString());
    m_decoder = Model::load(dec.toStdString(), DevicePreference::Cpu);
    m_encoder = Model::load(enc.toStdString(), DevicePreference::Cpu);
}

void TestClassify::queriesAndMass()
{
    QCOMPARE(an::queriesAfter(1, 4, true), (std::vector<int>{2, 3}));
    QCOMPARE(an::queriesAfter(1, 4, false), (std::vector<int>{0, 2, 3}));
    QCOMPARE(an::queriesSeeingBoth(0, 2, 5, true), (std::vector<int>{3, 4}));
    QCOMPARE(an::queriesSeeingBoth(0, 2, 4, false), (std::vector<int>{1, 3}));
    RowMatrixXf A = RowMatrixXf::Zero(3, 3);
    A << 1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5;
    // mean over t in {1, 2} of A[t, 0]: (0.5 + 0.2) / 2
    QVERIFY(std::abs(an::attentionMass(A, {0}, {1, 2}) - 0.35) < 1e-7);
    QVERIFY(std::abs(an::attentionMass(A, {0, 1}, {2}) - 0.5) < 1e-7);
    QCOMPARE(an::attentionMass(A, {0}, {}), 0.0);
}

void TestClassify::headSinkOfConstructedMaps()
{
    // Causal T = 4, every query t >= 1 puts 0.9 on element 0 (METRICS.md worked example):
    // excess_0 = 0.8435.
    RowMatrixXf A = RowMatrixXf::Zero(4, 4);
    A(0, 0) = 1;
    for (int t = 1; t < 4; ++t) {
        A(t, 0) = 0.9f;
        for (int j = 1; j <= t; ++j)
            A(t, j) = 0.1f / float(t);
    }
    const an::HeadSink s = an::headSink(A, true, 0.3, 0);
    QVERIFY(s.present);
    QCOMPARE(s.primary, 0);
    QVERIFY(std::abs(s.excess - 0.8435f) < 1e-3f);
    QCOMPARE(s.elements, std::vector<int>{0});
    // A uniform causal map has no sink: every excess is 0.
    RowMatrixXf U = RowMatrixXf::Zero(4, 4);
    for (int t = 0; t < 4; ++t)
        for (int j = 0; j <= t; ++j)
            U(t, j) = 1.0f / float(t + 1);
    const an::HeadSink u = an::headSink(U, true, 0.3, 0);
    QVERIFY(!u.present);
    QVERIFY(u.excess < 1e-6f);
}

void TestClassify::rules_data()
{
    QTest::addColumn<double>("move");
    QTest::addColumn<double>("content");
    QTest::addColumn<QString>("verdict");
    QTest::addColumn<double>("confidence");
    // S = conflict = move; agreement = 1 - |S - D|, weight = 0.5 + 0.5 * agreement.
    QTest::newRow("positional, agreeing") << 1.0 << 1.0 << "positional" << 1.0;
    QTest::newRow("feature, agreeing") << 0.0 << 0.0 << "feature" << 1.0;
    // S = 0.1: (0.5 - 0.1) / 0.5 = 0.8; D = 0.9: agreement 0.2, weight 0.6 -> 0.48
    QTest::newRow("feature with a positional fallback") << 0.1 << 0.9 << "feature" << 0.48;
    // S = 0.5: mixed, 1 - 0 / 0.2 = 1; D = 0.5: weight 1
    QTest::newRow("mixed, middle") << 0.5 << 0.5 << "mixed" << 1.0;
    // S = 0.6: 1 - 0.1 / 0.2 = 0.5; D = 0.6 -> weight 1
    QTest::newRow("mixed, towards positional") << 0.6 << 0.6 << "mixed" << 0.5;
}

void TestClassify::rules()
{
    QFETCH(double, move);
    QFETCH(double, content);
    QFETCH(QString, verdict);
    QFETCH(double, confidence);
    an::HeadSink sink;
    sink.present = true;
    sink.excess = 0.9f;
    sink.elements = {0};
    const an::HeadVerdict v = an::decideHead(1, 2, sink, {{"move", move}, {"content_random", content}}, false, {});
    QCOMPARE(QString(an::verdictName(v.verdict)), verdict);
    QVERIFY2(std::abs(v.confidence - confidence) < 1e-9, qPrintable(QString::number(v.confidence)));
    QCOMPARE(v.probes.at("position_score"), move);
    QCOMPARE(v.waiverElements, std::vector<int>{0});

    // No sink: none, with confidence 1 - excess / threshold.
    an::HeadSink weak;
    weak.excess = 0.15f;
    const an::HeadVerdict n = an::decideHead(0, 0, weak, {}, false, {});
    QCOMPARE(n.verdict, an::Verdict::None);
    QVERIFY(std::abs(n.confidence - 0.5) < 1e-6);
    // Only dependence probes: decided by them, with half the weight.
    const an::HeadVerdict d = an::decideHead(0, 0, sink, {{"content_random", 1.0}}, false, {});
    QCOMPARE(d.verdict, an::Verdict::Positional);
    QVERIFY(std::abs(d.confidence - 0.5) < 1e-9);
    // Learned positions: the shift counts as 1 - retention; RoPE: it is reported only.
    const an::HeadVerdict learned = an::decideHead(0, 0, sink, {{"move", 1.0}, {"shift", 1.0}}, true, {});
    QCOMPARE(learned.probes.at("dependence"), 0.0);
    const an::HeadVerdict rope = an::decideHead(0, 0, sink, {{"move", 1.0}, {"shift", 1.0}}, false, {});
    QVERIFY(!rope.probes.count("dependence"));
}

void TestClassify::promptsCombine()
{
    auto head = [](an::Verdict v, double conf, double move, std::vector<int> el) {
        an::HeadVerdict h;
        h.verdict = v;
        h.confidence = conf;
        h.probes["move"] = move;
        h.waiverElements = std::move(el);
        return h;
    };
    const std::vector<std::vector<an::HeadVerdict>> per{{head(an::Verdict::Feature, 0.9, 0.0, {3})},
                                                        {head(an::Verdict::Feature, 0.7, 0.2, {3, 5})},
                                                        {head(an::Verdict::Positional, 0.8, 1.0, {0})}};
    const std::vector<an::HeadVerdict> c = an::combinePrompts(per);
    QCOMPARE(int(c.size()), 1);
    QCOMPARE(c[0].verdict, an::Verdict::Feature);
    QVERIFY(std::abs(c[0].probes.at("agreement") - 2.0 / 3.0) < 1e-12);
    QVERIFY(std::abs(c[0].confidence - 0.8 * 2.0 / 3.0) < 1e-12); // mean of 0.9, 0.7 x agreement
    QVERIFY(std::abs(c[0].probes.at("move") - 0.4) < 1e-12);
    QCOMPARE(c[0].waiverElements, std::vector<int>{3}); // in 2 of 3 prompts; 5 and 0 in one
    // A tie is mixed.
    const auto tie = an::combinePrompts({{head(an::Verdict::Feature, 1, 0, {})}, {head(an::Verdict::Positional, 1, 1, {})}});
    QCOMPARE(tie[0].verdict, an::Verdict::Mixed);
    QCOMPARE(tie[0].confidence, 0.0);
}

void TestClassify::modelVerdictRule()
{
    auto heads = [](std::vector<an::Verdict> vs) {
        std::vector<an::HeadVerdict> out;
        for (an::Verdict v : vs) {
            an::HeadVerdict h;
            h.verdict = v;
            out.push_back(h);
        }
        return out;
    };
    using V = an::Verdict;
    std::map<std::string, int> counts;
    QCOMPARE(an::modelVerdict(heads({V::None, V::None}), 0.6, &counts), V::None);
    QCOMPARE(counts.at("none"), 2);
    QCOMPARE(an::modelVerdict(heads({V::Positional, V::Positional, V::Feature, V::None, V::None}), 0.6, &counts), V::Positional);
    QCOMPARE(counts.at("positional"), 2);
    QCOMPARE(an::modelVerdict(heads({V::Positional, V::Feature}), 0.6, nullptr), V::Mixed);
    QCOMPARE(an::modelVerdict(heads({V::Feature, V::Feature, V::Mixed}), 0.6, nullptr), V::Feature);
}

void TestClassify::demoDecoderPlantedHeads()
{
    const std::string prompt = demoGroundTruth(DemoKind::Decoder).samplePrompts.at(1); // three "." in it
    std::vector<an::ProbeDesign> designs;
    const auto c = classify(*m_decoder, onePrompt(prompt), {}, &designs);
    QCOMPARE(int(c->heads.size()), m_decoder->info().layers * m_decoder->info().heads);
    QCOMPARE(int(designs.size()), 1);
    // One run per probe serves every head: the cost does not grow with the model.
    QCOMPARE(c->forwardPasses, an::probeRunCount(designs[0]));
    QVERIFY(c->forwardPasses <= 40);
    const std::vector<PlantedHead> planted = plantedHeads(DemoKind::Decoder);
    for (const PlantedHead& p : planted) {
        const an::HeadVerdict& v = headOf(*c, p.layer, p.head);
        QVERIFY2(QString(an::verdictName(v.verdict)) == QString::fromStdString(p.mechanism), qPrintable(describe(v)));
        QVERIFY2(v.confidence >= 0.7, qPrintable(describe(v)));
    }
    checkUnplanted(*c, planted);
    QCOMPARE(QString(an::verdictName(c->modelVerdict)), QString("positional")); // 2 of the 3 waiver heads
}

void TestClassify::featureTokenAtPositionZero()
{
    // No BOS: "." stands at position 0, where the positional heads' waiver is too. The base run
    // alone cannot tell the heads apart (both put their mass on element 0); the probes can.
    const auto c = classify(*m_decoder, onePrompt(". the cat sat on the mat and the dog slept by the door ."),
                            [] {
                                an::ClassifySettings s;
                                s.bos = BosPolicy::Off;
                                return s;
                            }());
    const an::HeadVerdict& pos = headOf(*c, 0, 0);
    const an::HeadVerdict& dot = headOf(*c, 0, 1);
    QVERIFY2(!pos.waiverElements.empty() && pos.waiverElements.front() == 0, qPrintable(describe(pos)));
    QVERIFY2(!dot.waiverElements.empty() && dot.waiverElements.front() == 0, qPrintable(describe(dot)));
    QVERIFY2(pos.verdict == an::Verdict::Positional, qPrintable(describe(pos)));
    QVERIFY2(dot.verdict == an::Verdict::Feature, qPrintable(describe(dot)));
    QVERIFY2(headOf(*c, 2, 0).verdict == an::Verdict::Positional, qPrintable(describe(headOf(*c, 2, 0))));
}

void TestClassify::demoEncoderSepWhereverItStands()
{
    // [SEP] at the end (the template's), and typed in the middle as well.
    for (const std::string& prompt : {std::string("the cat sat on the mat and the dog slept by the door"),
                                      std::string("the cat sat on the mat [SEP] and the dog slept by the door")}) {
        const auto c = classify(*m_encoder, onePrompt(prompt));
        const std::vector<PlantedHead> planted = plantedHeads(DemoKind::Encoder);
        for (const PlantedHead& p : planted) {
            const an::HeadVerdict& v = headOf(*c, p.layer, p.head);
            QVERIFY2(v.verdict == an::Verdict::Feature, qPrintable(describe(v)));
            QVERIFY2(v.confidence >= 0.7, qPrintable(describe(v)));
        }
        checkUnplanted(*c, planted);
    }
}

void TestClassify::ropeOutlierTokenIsFeature()
{
    // A Qwen2-layout (RoPE) decoder whose layer-0 head 0 attends to whatever element has dimension D-1 set, and
    // only token "▁x" has it (an outlier dimension of one token). Nothing else reads or writes
    // D-1, so the flag survives, and the head's query and key use the rotary pair (1, 3), whose
    // frequency 1e9^-0.5 makes RoPE nearly the identity over the prompt: the head is chosen by the
    // token, not by its position.
    test::TinyLlamaSpec spec;
    spec.modelType = "qwen2"; // q/k/v biases, no output bias
    spec.layers = 2;
    spec.vocab = test::kTinyTokenizerVocab;
    spec.maxPositions = 128;
    spec.qkvBias = true;
    spec.ropeTheta = 1e9;
    spec.seed = 7;
    test::TinyWeights w = test::makeTinyLlamaWeights(spec);
    const int D = spec.hidden, hd = D / spec.heads, flag = D - 1, x = 286 + ('x' - 'a');
    auto& emb = w.values["model.embed_tokens.weight"];
    for (int v = 0; v < spec.vocab; ++v)
        emb[size_t(v * D + flag)] = 0.0f;
    for (int d = 0; d < D; ++d)
        emb[size_t(x * D + d)] = d == flag ? 10.0f : 0.0f;
    for (int l = 0; l < spec.layers; ++l) {
        auto L = [l](const std::string& r) { return "model.layers." + std::to_string(l) + "." + r; };
        for (const char* proj : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"}) {
            auto& m = w.values[L(std::string(proj) + ".weight")];
            const int rows = int(m.size()) / D;
            for (int r = 0; r < rows; ++r)
                m[size_t(r * D + flag)] = 0.0f; // nobody reads the flag ...
        }
        for (const char* proj : {"self_attn.o_proj", "mlp.down_proj"}) {
            auto& m = w.values[L(std::string(proj) + ".weight")];
            const int cols = int(m.size()) / D;
            for (int c = 0; c < cols; ++c)
                m[size_t(flag * cols + c)] = 0.0f; // ... and nobody writes it
        }
    }
    // Layer 0, head 0: q = bias (0, 3, 0, 0); k[1] = 2 * norm(h)[flag]; norm weight 1 there.
    auto& q = w.values["model.layers.0.self_attn.q_proj.weight"];
    auto& k = w.values["model.layers.0.self_attn.k_proj.weight"];
    auto& qb = w.values["model.layers.0.self_attn.q_proj.bias"];
    auto& kb = w.values["model.layers.0.self_attn.k_proj.bias"];
    for (int r = 0; r < hd; ++r) {
        for (int d = 0; d < D; ++d)
            q[size_t(r * D + d)] = k[size_t(r * D + d)] = 0.0f;
        qb[size_t(r)] = kb[size_t(r)] = 0.0f;
    }
    qb[1] = 3.0f;
    k[size_t(1 * D + flag)] = 2.0f;
    w.values["model.layers.0.input_layernorm.weight"][size_t(flag)] = 1.0f;
    const QString dir = m_tmp.filePath("rope-outlier");
    test::writeTinyLlama(dir, spec, w);
    QFile tok(QDir(dir).filePath("tokenizer.json"));
    QVERIFY(tok.open(QIODevice::WriteOnly));
    tok.write(QByteArray::fromStdString(test::tinyTokenizerJson()));
    tok.close();
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    const auto c = classify(*model, onePrompt("a b c d x e f g h i j k"));
    const an::HeadVerdict& v = headOf(*c, 0, 0);
    QVERIFY2(v.verdict == an::Verdict::Feature, qPrintable(describe(v)));
    QCOMPARE(v.waiverElements, std::vector<int>{5}); // <s> a b c d x: x is element 5
    QVERIFY2(v.confidence >= 0.7, qPrintable(describe(v)));
}

void TestClassify::noWaiverModel()
{
    // Tiny weights: every logit is close to 0 and every map close to uniform.
    test::TinyLlamaSpec spec;
    spec.vocab = test::kTinyTokenizerVocab;
    spec.maxPositions = 128;
    spec.scale = 0.02f;
    const QString dir = m_tmp.filePath("no-waiver");
    test::writeTinyLlama(dir, spec, test::makeTinyLlamaWeights(spec));
    QFile tok(QDir(dir).filePath("tokenizer.json"));
    QVERIFY(tok.open(QIODevice::WriteOnly));
    tok.write(QByteArray::fromStdString(test::tinyTokenizerJson()));
    tok.close();
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    const auto c = classify(*model, onePrompt("a b c d e f g h i j"));
    for (const an::HeadVerdict& v : c->heads)
        QVERIFY2(v.verdict == an::Verdict::None && v.confidence > 0.9, qPrintable(describe(v)));
    QCOMPARE(c->modelVerdict, an::Verdict::None);
    QCOMPARE(c->counts.at("none"), int(c->heads.size()));
    QCOMPARE(c->forwardPasses, 1); // nothing to probe: the base run only
}

void TestClassify::promptSetAgreement()
{
    const DemoGroundTruth truth = demoGroundTruth(DemoKind::Decoder);
    an::PromptSet set;
    for (size_t i = 0; i < truth.samplePrompts.size(); ++i)
        set.prompts.push_back({int(i + 1), truth.samplePrompts[i]});
    const auto c = classify(*m_decoder, set);
    QCOMPARE(c->prompts, int(set.prompts.size()));
    QCOMPARE(int(c->perPrompt.size()), c->prompts);
    for (const PlantedHead& p : truth.heads) {
        const an::HeadVerdict& v = headOf(*c, p.layer, p.head);
        QVERIFY2(QString(an::verdictName(v.verdict)) == QString::fromStdString(p.mechanism), qPrintable(describe(v)));
        QCOMPARE(v.probes.at("agreement"), 1.0);
        for (const auto& pp : c->perPrompt)
            QCOMPARE(QString(an::verdictName(pp.verdicts[size_t(p.layer * 4 + p.head)])), QString::fromStdString(p.mechanism));
    }
}

void TestClassify::stories260K()
{
    const QString dir = test::stories260KDir();
    if (dir.isEmpty())
        QSKIP(test::noSharedReason());
    const auto model = Model::load(dir.toStdString(), DevicePreference::Cpu);
    an::ClassifySettings st;
    const auto c = classify(*model, onePrompt("Once upon a time, there was a little girl named Lily. She loved to play outside in the park."), st);
    // No verdict is asserted for a trained model (docs/METHODS.md reports what it says); the
    // contract is one verdict per head and numbers in range.
    QCOMPARE(int(c->heads.size()), model->info().layers * model->info().heads);
    for (const an::HeadVerdict& v : c->heads) {
        QVERIFY(v.confidence >= 0.0 && v.confidence <= 1.0);
        for (const auto& [name, x] : v.probes)
            QVERIFY2(x >= 0.0 && x <= 1.0, name.c_str());
    }
    qInfo("stories260K: model verdict %s, positional %d, feature %d, mixed %d, none %d, %d forward passes",
          an::verdictName(c->modelVerdict), c->counts.at("positional"), c->counts.at("feature"), c->counts.at("mixed"),
          c->counts.at("none"), c->forwardPasses);
}

QTEST_GUILESS_MAIN(TestClassify)
#include "tst_classify.moc"
