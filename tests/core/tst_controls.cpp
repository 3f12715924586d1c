// SPDX-License-Identifier: GPL-3.0-or-later
// Controls (docs/METHODS.md): SPEC parsing and its errors, the exact masks and position ids, and
// on the demo decoder: a block gives exactly zero attention to J, designating j reproduces a
// prompt that starts at j (so a positional head puts its waiver on j), a control that changes
// nothing costs exactly 0, and the costs against an independent computation.
#include "sinkscope/controls.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

an::PromptSet onePrompt(const std::string& text)
{
    an::PromptSet s;
    s.prompts.push_back({0, text});
    return s;
}

std::shared_ptr<const an::ControlResult> control(const Model& m, const std::string& prompt, const std::string& spec)
{
    an::ControlJob job(onePrompt(prompt), an::parseControlSpec(spec));
    return std::static_pointer_cast<const an::ControlResult>(runJob(m, job));
}

const std::string kPrompt = "The cat sat on the mat. The dog slept by the door.";

} // namespace

class TestControls : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void parse_data();
    void parse();
    void masks();
    void costsOfConstructedLogits();
    void blockGivesZero();
    void designateReproducesFirstElement();
    void nothingChangedCostsNothing_data();
    void nothingChangedCostsNothing();
    void eviction();
    void elementOutsidePrompt();

private:
    QTemporaryDir m_tmp;
    std::unique_ptr<Model> m_decoder;
};

void TestControls::initTestCase()
{
    QVERIFY(m_tmp.isValid());
    writeDemoModel(DemoKind::Decoder, m_tmp.filePath("decoder").toStdString());
    m_decoder = Model::load(m_tmp.filePath("decoder").toStdString(), DevicePreference::Cpu);
}

void TestControls::parse_data()
{
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("error"); // "" for a valid SPEC
    QTest::newRow("block") << "block:3" << "";
    QTest::newRow("designate") << "designate:0" << "";
    QTest::newRow("shift") << "positions:shift=5" << "";
    QTest::newRow("position zero") << "positions:4=0" << "";
    QTest::newRow("evict") << "evict:1,8" << "";
    QTest::newRow("window only") << "evict:0,2" << "";
    QTest::newRow("no colon") << "block" << "is not one of block:J";
    QTest::newRow("unknown kind") << "mask:3" << "is not one of block:J";
    QTest::newRow("J not a number") << "block:x" << "J must be an integer, got 'x'";
    QTest::newRow("J with junk") << "designate:3a" << "J must be an integer, got '3a'";
    QTest::newRow("negative J") << "block:-1" << "J must be an element index";
    QTest::newRow("negative shift") << "positions:shift=-2" << "D must be 0 or more";
    QTest::newRow("position not zero") << "positions:3=1" << "only positions:J=0 is supported";
    QTest::newRow("positions without =") << "positions:3" << "use positions:shift=D or positions:J=0";
    QTest::newRow("evict without comma") << "evict:4" << "use evict:K,W";
    QTest::newRow("W zero") << "evict:4,0" << "W must be at least 1";
    QTest::newRow("K+W one") << "evict:0,1" << "K + W must be at least 2";
    QTest::newRow("K negative") << "evict:-1,4" << "K must be 0 or more";
}

void TestControls::parse()
{
    QFETCH(QString, spec);
    QFETCH(QString, error);
    try {
        const an::ControlSpec s = an::parseControlSpec(spec.toStdString());
        QVERIFY2(error.isEmpty(), qPrintable("accepted " + spec));
        QCOMPARE(QString::fromStdString(s.text), spec);
    } catch (const Error& e) {
        QVERIFY2(!error.isEmpty(), e.what());
        QVERIFY2(QString(e.what()).contains(error), e.what());
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
    }
}

void TestControls::masks()
{
    const float ninf = -std::numeric_limits<float>::infinity();
    // block:1, T = 3: column 1 is -inf except on row 1.
    const Interventions b = an::controlInterventions(an::parseControlSpec("block:1"), 3, true, 16);
    QCOMPARE(b.maskBias, (std::vector<float>{0, ninf, 0, 0, 0, 0, 0, ninf, 0}));
    QVERIFY(b.positionIds.empty());
    // designate:2, T = 4: rows 2, 3 lose keys 0, 1; positions 0 1 0 1.
    const Interventions d = an::controlInterventions(an::parseControlSpec("designate:2"), 4, true, 16);
    QCOMPARE(d.maskBias, (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, ninf, ninf, 0, 0, ninf, ninf, 0, 0}));
    QCOMPARE(d.positionIds, (std::vector<int64_t>{0, 1, 0, 1}));
    // evict:1,2, T = 5: query t sees key 0 and keys t-1, t.
    const Interventions e = an::controlInterventions(an::parseControlSpec("evict:1,2"), 5, true, 16);
    for (int t = 0; t < 5; ++t)
        for (int k = 0; k <= t; ++k) {
            const bool visible = k == 0 || t - k < 2;
            QCOMPARE(e.maskBias[size_t(t * 5 + k)], visible ? 0.0f : ninf);
        }
    // The designated-waiver eviction of evict:1,2, T = 5: element 1 replaces element 0 as the
    // kept element and gets position id 0.
    const Interventions dz = an::designatedEviction(an::parseControlSpec("evict:1,2"), 5);
    for (int t = 0; t < 5; ++t)
        for (int k = 0; k <= t; ++k) {
            const bool visible = k == 1 || t - k < 2;
            QCOMPARE(dz.maskBias[size_t(t * 5 + k)], visible ? 0.0f : ninf);
        }
    QCOMPARE(dz.positionIds, (std::vector<int64_t>{0, 0, 2, 3, 4}));
    QVERIFY(an::designatedEviction(an::parseControlSpec("evict:0,2"), 5).maskBias.empty());
    QCOMPARE(an::controlInterventions(an::parseControlSpec("positions:shift=3"), 3, true, 16).positionIds,
             (std::vector<int64_t>{3, 4, 5}));
    QCOMPARE(an::controlInterventions(an::parseControlSpec("positions:2=0"), 4, true, 16).positionIds,
             (std::vector<int64_t>{0, 1, 0, 3}));
    QVERIFY_THROWS_EXCEPTION(Error, an::controlInterventions(an::parseControlSpec("positions:shift=14"), 3, true, 16));
    QVERIFY_THROWS_EXCEPTION(Error, an::controlInterventions(an::parseControlSpec("evict:1,2"), 5, false, 16));
}

void TestControls::costsOfConstructedLogits()
{
    // Two positions, vocabulary 2. Row 0: logits (0, 0) -> p = (1/2, 1/2); row 1: (ln 3, 0) -> (3/4, 1/4).
    const std::vector<float> a{0.0f, 0.0f, float(std::log(3.0)), 0.0f};
    const std::vector<double> nll = an::tokenNll(a, {0, 1}, 2, true); // position 0 predicts id 1
    QCOMPARE(int(nll.size()), 1);
    QVERIFY(std::abs(nll[0] - std::log(2.0)) < 1e-7);
    const std::vector<double> mlm = an::tokenNll(a, {0, 1}, 2, false); // each position its own id
    QVERIFY(std::abs(mlm[0] - std::log(2.0)) < 1e-7);
    QVERIFY(std::abs(mlm[1] - std::log(4.0)) < 1e-6);
    // KL((1/2, 1/2) || (3/4, 1/4)) = 1/2 ln(2/3) + 1/2 ln 2
    const std::vector<float> b{float(std::log(3.0)), 0.0f, float(std::log(3.0)), 0.0f};
    const std::vector<double> kl = an::klPerPosition(a, b, 2, 2);
    QVERIFY(std::abs(kl[0] - (0.5 * std::log(2.0 / 3.0) + 0.5 * std::log(2.0))) < 1e-6);
    QCOMPARE(kl[1], 0.0);
}

void TestControls::blockGivesZero()
{
    const auto r = control(*m_decoder, kPrompt, "block:0");
    QVERIFY(r->before && r->after);
    const ModelInfo& info = m_decoder->info();
    for (int l = 0; l < info.layers; ++l)
        for (int h = 0; h < info.heads; ++h) {
            const RowMatrixXf A = r->after->attentionMap(l, h);
            for (int t = 1; t < A.rows(); ++t)
                QCOMPARE(A(t, 0), 0.0f); // exactly: the key is masked with -inf
            QCOMPARE(r->firstMassAfter(l, h), 0.0f);
        }
    // The positional heads put their mass on element 0 before; it had to go somewhere.
    QVERIFY(r->firstMassBefore(0, 0) > 0.99f);
    QVERIFY(r->klMean > 0.0);
}

void TestControls::designateReproducesFirstElement()
{
    // designate:j makes elements j.. an independent prompt: their rows equal a run of the suffix
    // alone, in every layer. The positional head L0.H0 then puts its waiver on j.
    const auto tok = m_decoder->tokenizer();
    const Encoding enc = tok->encode(kPrompt);
    const int j = 6;
    const auto r = control(*m_decoder, kPrompt, "designate:" + std::to_string(j));
    RunRequest suffix;
    suffix.useIds = true;
    const std::vector<int32_t> ids = enc.ids();
    suffix.ids.assign(ids.begin() + j, ids.end());
    const auto alone = m_decoder->run(suffix);
    const ModelInfo& info = m_decoder->info();
    const int T = int(ids.size());
    for (int l = 0; l < info.layers; ++l)
        for (int h = 0; h < info.heads; ++h) {
            const RowMatrixXf A = r->after->attentionMap(l, h);
            const RowMatrixXf S = alone->attentionMap(l, h);
            for (int t = j; t < T; ++t)
                for (int k = j; k <= t; ++k)
                    QVERIFY2(std::abs(A(t, k) - S(t - j, k - j)) < 1e-4f,
                             qPrintable(QString("L%1.H%2 [%3,%4]").arg(l).arg(h).arg(t).arg(k)));
        }
    const RowMatrixXf P = r->after->attentionMap(0, 0);
    for (int t = j + 1; t < T; ++t)
        QVERIFY(P(t, j) > 0.99f);
}

void TestControls::nothingChangedCostsNothing_data()
{
    QTest::addColumn<QString>("spec");
    QTest::newRow("element 0 to position 0") << "positions:0=0";
    QTest::newRow("shift by 0") << "positions:shift=0";
    QTest::newRow("window as long as the prompt") << "evict:0,64";
    QTest::newRow("designate the first element") << "designate:0";
}

void TestControls::nothingChangedCostsNothing()
{
    QFETCH(QString, spec);
    const auto r = control(*m_decoder, kPrompt, spec.toStdString());
    QCOMPARE(r->klMean, 0.0);
    for (double k : r->klPerPosition)
        QCOMPARE(k, 0.0);
    QCOMPARE(r->nllAfter, r->nllBefore);
    QVERIFY(r->firstMassBefore == r->firstMassAfter);
}

void TestControls::eviction()
{
    const auto r = control(*m_decoder, kPrompt, "evict:1,4");
    const int T = int(m_decoder->tokenizer()->encode(kPrompt).tokens.size());
    QCOMPARE(int(r->nllFull.size()), T - 1);
    QCOMPARE(int(r->nllEvicted.size()), T - 1);
    QCOMPARE(int(r->nllWindowOnly.size()), T - 1);
    QCOMPARE(int(r->nllDesignated.size()), T - 1);
    for (double x : r->nllDesignated)
        QVERIFY(std::isfinite(x) && x > 0);
    // Queries that still see everything predict exactly as before.
    for (int t = 0; t < 4; ++t)
        QCOMPARE(r->nllEvicted[size_t(t)], r->nllFull[size_t(t)]);
    // The mean of the per-position NLL is the prompt's mean NLL.
    double s = 0;
    for (double x : r->nllFull)
        s += x;
    QVERIFY(std::abs(s / (T - 1) - r->nllBefore) < 1e-9);
    // With the sink kept, the positional heads still find element 0 from every query.
    QVERIFY(r->firstMassAfter(0, 0) > 0.99f);
}

void TestControls::elementOutsidePrompt()
{
    const int T = int(m_decoder->tokenizer()->encode(kPrompt).tokens.size());
    for (const std::string& spec : std::vector<std::string>{"block:" + std::to_string(T), "designate:99", "positions:" + std::to_string(T) + "=0"}) {
        try {
            control(*m_decoder, kPrompt, spec);
            QFAIL(("accepted " + spec).c_str());
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("is outside the prompt"), e.what());
        }
    }
}

QTEST_GUILESS_MAIN(TestControls)
#include "tst_controls.moc"
