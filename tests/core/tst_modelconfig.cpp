// SPDX-License-Identifier: GPL-3.0-or-later
// config.json parsing for every family: the defaults of each model_type, RoPE scaling kinds,
// real configs of each family, and every rejected config with the message the user reads.
#include "sinkscope/error.h"
#include "sinkscope/modelconfig.h"
#include "testsupport.h"

#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace sinkscope;

Q_DECLARE_METATYPE(sinkscope::ErrorCode)

namespace {

// A small valid llama config; rows override or remove keys from it.
QJsonObject baseConfig(const char* modelType = "llama")
{
    return QJsonObject{{"model_type", modelType},      {"hidden_size", 64},         {"intermediate_size", 172},
                       {"num_hidden_layers", 2},       {"num_attention_heads", 8}, {"num_key_value_heads", 4},
                       {"vocab_size", 512}};
}

// Applies `patch` to `base`: a key mapped to the string "<remove>" is deleted.
std::string withPatch(QJsonObject base, const QJsonObject& patch)
{
    for (auto it = patch.begin(); it != patch.end(); ++it) {
        if (it.value() == QJsonValue(QStringLiteral("<remove>")))
            base.remove(it.key());
        else
            base.insert(it.key(), it.value());
    }
    return QJsonDocument(base).toJson().toStdString();
}

QJsonObject obj(const char* json)
{
    return QJsonDocument::fromJson(json).object();
}

} // namespace

class TestModelConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void stories260K();
    void familyDefaults();
    void explicitValues();
    void ropeScaling_data();
    void ropeScaling();
    void slidingWindow_data();
    void slidingWindow();
    void rejects_data();
    void rejects();
    void fromFileErrors();
    void supportedTypes();
    void familyConfigs_data();
    void familyConfigs();
    void familyRejects_data();
    void familyRejects();
};

void TestModelConfig::stories260K()
{
    const QString dir = test::stories260KDir();
    if (dir.isEmpty())
        QSKIP(test::noSharedReason());
    const ModelConfig c = ModelConfig::fromFile(QDir(dir).filePath(QStringLiteral("config.json")).toStdString());
    QCOMPARE(c.modelType, std::string("llama"));
    QCOMPARE(c.hiddenSize, 64);
    QCOMPARE(c.intermediateSize, 172);
    QCOMPARE(c.numLayers, 5);
    QCOMPARE(c.numHeads, 8);
    QCOMPARE(c.numKvHeads, 4);
    QCOMPARE(c.headDim, 8);
    QCOMPARE(c.vocabSize, 512);
    QCOMPARE(c.maxPositionEmbeddings, 512);
    QCOMPARE(c.normEps, 1e-5);
    QCOMPARE(c.ropeTheta, 10000.0);
    QCOMPARE(c.ropeScaling.type, std::string("default"));
    QVERIFY(c.tieWordEmbeddings);
    QVERIFY(!c.attentionBias);
    QVERIFY(!c.slidingWindow);
    QCOMPARE(c.bosTokenId, std::optional<int>(1));
    QCOMPARE(c.eosTokenId, std::optional<int>(2));
    QCOMPARE(c.torchDtype, std::string("float32"));
}

void TestModelConfig::familyDefaults()
{
    // What each Hugging Face configuration class assumes for an absent key.
    QJsonObject minimal = baseConfig();
    minimal.remove(QStringLiteral("num_key_value_heads"));
    const ModelConfig llama = ModelConfig::fromJson(QJsonDocument(minimal).toJson().toStdString());
    QCOMPARE(llama.numKvHeads, 8); // = num_attention_heads
    QCOMPARE(llama.headDim, 8);
    QCOMPARE(llama.maxPositionEmbeddings, 2048);
    QCOMPARE(llama.normEps, 1e-6);
    QCOMPARE(llama.ropeTheta, 10000.0);
    QVERIFY(!llama.tieWordEmbeddings);
    QVERIFY(!llama.attentionBias);
    QVERIFY(!llama.mlpBias);
    QCOMPARE(llama.hiddenAct, std::string("silu"));
    QCOMPARE(llama.bosTokenId, std::optional<int>(1));
    QCOMPARE(llama.eosTokenId, std::optional<int>(2));

    minimal.insert(QStringLiteral("model_type"), QStringLiteral("mistral"));
    const ModelConfig mistral = ModelConfig::fromJson(QJsonDocument(minimal).toJson().toStdString());
    QCOMPARE(mistral.numKvHeads, 8); // MistralConfig's own default
    QCOMPARE(mistral.maxPositionEmbeddings, 131072);
    QCOMPARE(mistral.slidingWindow, std::optional<int>(4096));
    QVERIFY(!mistral.attentionBias);

    minimal.insert(QStringLiteral("model_type"), QStringLiteral("qwen2"));
    minimal.insert(QStringLiteral("num_attention_heads"), 32);
    minimal.insert(QStringLiteral("hidden_size"), 128);
    const ModelConfig qwen = ModelConfig::fromJson(QJsonDocument(minimal).toJson().toStdString());
    QCOMPARE(qwen.numKvHeads, 32); // Qwen2Config's own default
    QCOMPARE(qwen.headDim, 4);
    QCOMPARE(qwen.maxPositionEmbeddings, 32768);
    QVERIFY(qwen.attentionBias); // q/k/v biases, always
    QVERIFY(!qwen.slidingWindow);
    QVERIFY(!qwen.bosTokenId);
    QVERIFY(!qwen.eosTokenId);

    // An explicit null means "same as the query heads" in every family.
    minimal.insert(QStringLiteral("num_key_value_heads"), QJsonValue::Null);
    QCOMPARE(ModelConfig::fromJson(QJsonDocument(minimal).toJson().toStdString()).numKvHeads, 32);
}

void TestModelConfig::explicitValues()
{
    const ModelConfig c = ModelConfig::fromJson(withPatch(
        baseConfig(), obj(R"({"head_dim": 16, "num_attention_heads": 3, "num_key_value_heads": 1,
                              "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                              "tie_word_embeddings": true, "attention_bias": true, "mlp_bias": true,
                              "hidden_act": "gelu", "bos_token_id": 128000, "eos_token_id": [128001, 128009],
                              "torch_dtype": "bfloat16"})")));
    QCOMPARE(c.headDim, 16); // given, even though 64 / 3 is not whole
    QCOMPARE(c.numHeads, 3);
    QCOMPARE(c.numKvHeads, 1);
    QCOMPARE(c.maxPositionEmbeddings, 8192);
    QCOMPARE(c.normEps, 1e-5);
    QCOMPARE(c.ropeTheta, 500000.0);
    QVERIFY(c.tieWordEmbeddings);
    QVERIFY(c.attentionBias);
    QVERIFY(c.mlpBias);
    QCOMPARE(c.hiddenAct, std::string("gelu"));
    QCOMPARE(c.bosTokenId, std::optional<int>(128000));
    QCOMPARE(c.eosTokenId, std::optional<int>(128001));
    QCOMPARE(c.torchDtype, std::string("bfloat16"));

    // Mistral has no attention biases, whatever the config says; newer configs spell "dtype".
    const ModelConfig m =
        ModelConfig::fromJson(withPatch(baseConfig("mistral"), obj(R"({"attention_bias": true, "dtype": "float16",
                                                                       "bos_token_id": null})")));
    QVERIFY(!m.attentionBias);
    QCOMPARE(m.torchDtype, std::string("float16"));
    QVERIFY(!m.bosTokenId);
}

void TestModelConfig::ropeScaling_data()
{
    QTest::addColumn<QByteArray>("patch");
    QTest::addColumn<QString>("type");
    QTest::addColumn<double>("factor");
    QTest::addColumn<double>("low");
    QTest::addColumn<double>("high");
    QTest::addColumn<int>("original");
    QTest::addColumn<double>("theta");

    QTest::newRow("none") << QByteArray("{}") << "default" << 1.0 << 1.0 << 4.0 << 0 << 10000.0;
    QTest::newRow("null") << QByteArray(R"({"rope_scaling": null})") << "default" << 1.0 << 1.0 << 4.0 << 0 << 10000.0;
    QTest::newRow("linear") << QByteArray(R"({"rope_scaling": {"rope_type": "linear", "factor": 2.0}})") << "linear"
                            << 2.0 << 1.0 << 4.0 << 0 << 10000.0;
    QTest::newRow("legacy type key") << QByteArray(R"({"rope_scaling": {"type": "linear", "factor": 4}})") << "linear"
                                     << 4.0 << 1.0 << 4.0 << 0 << 10000.0;
    QTest::newRow("rope_type wins over type")
        << QByteArray(R"({"rope_scaling": {"rope_type": "dynamic", "type": "yarn", "factor": 2.0}})") << "dynamic"
        << 2.0 << 1.0 << 4.0 << 2048 << 10000.0;
    QTest::newRow("dynamic uses max_position_embeddings")
        << QByteArray(R"({"max_position_embeddings": 4096, "rope_scaling": {"type": "dynamic", "factor": 2.0}})")
        << "dynamic" << 2.0 << 1.0 << 4.0 << 4096 << 10000.0;
    QTest::newRow("dynamic with its own original")
        << QByteArray(R"({"rope_scaling": {"rope_type": "dynamic", "factor": 3.0,
                                           "original_max_position_embeddings": 1024}})")
        << "dynamic" << 3.0 << 1.0 << 4.0 << 1024 << 10000.0;
    QTest::newRow("llama3 (Llama 3.1)")
        << QByteArray(R"({"rope_theta": 500000.0, "max_position_embeddings": 131072,
                          "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})")
        << "llama3" << 8.0 << 1.0 << 4.0 << 8192 << 500000.0;
    QTest::newRow("rope_parameters (newer configs)")
        << QByteArray(R"({"rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                              "low_freq_factor": 2.0, "high_freq_factor": 8.0,
                                              "original_max_position_embeddings": 8192}})")
        << "llama3" << 32.0 << 2.0 << 8.0 << 8192 << 500000.0;
    QTest::newRow("rope_parameters default")
        << QByteArray(R"({"rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})") << "default" << 1.0
        << 1.0 << 4.0 << 0 << 1000000.0;
}

void TestModelConfig::ropeScaling()
{
    QFETCH(QByteArray, patch);
    QFETCH(QString, type);
    QFETCH(double, factor);
    QFETCH(double, low);
    QFETCH(double, high);
    QFETCH(int, original);
    QFETCH(double, theta);
    const ModelConfig c = ModelConfig::fromJson(withPatch(baseConfig(), obj(patch.constData())));
    QCOMPARE(QString::fromStdString(c.ropeScaling.type), type);
    QCOMPARE(c.ropeScaling.factor, factor);
    QCOMPARE(c.ropeScaling.lowFreqFactor, low);
    QCOMPARE(c.ropeScaling.highFreqFactor, high);
    QCOMPARE(c.ropeScaling.originalMaxPositionEmbeddings, original);
    QCOMPARE(c.ropeTheta, theta);
}

void TestModelConfig::slidingWindow_data()
{
    QTest::addColumn<QString>("modelType");
    QTest::addColumn<QByteArray>("patch");
    QTest::addColumn<int>("window"); // 0: none
    QTest::addColumn<int>("fromLayer");
    QTest::newRow("llama never") << "llama" << QByteArray(R"({"sliding_window": 128})") << 0 << 0;
    QTest::newRow("mistral absent: 4096") << "mistral" << QByteArray("{}") << 4096 << 0;
    QTest::newRow("mistral null: none") << "mistral" << QByteArray(R"({"sliding_window": null})") << 0 << 0;
    QTest::newRow("mistral given") << "mistral" << QByteArray(R"({"sliding_window": 1024})") << 1024 << 0;
    QTest::newRow("qwen2 not enabled") << "qwen2" << QByteArray(R"({"sliding_window": 128})") << 0 << 0;
    QTest::newRow("qwen2 enabled")
        << "qwen2" << QByteArray(R"({"use_sliding_window": true, "sliding_window": 128, "max_window_layers": 1})")
        << 128 << 1;
    QTest::newRow("qwen2 enabled, defaults") << "qwen2" << QByteArray(R"({"use_sliding_window": true})") << 4096 << 28;
}

void TestModelConfig::slidingWindow()
{
    QFETCH(QString, modelType);
    QFETCH(QByteArray, patch);
    QFETCH(int, window);
    QFETCH(int, fromLayer);
    const QByteArray type = modelType.toLatin1();
    const ModelConfig c = ModelConfig::fromJson(withPatch(baseConfig(type.constData()), obj(patch.constData())));
    QCOMPARE(c.slidingWindow.value_or(0), window);
    QCOMPARE(c.slidingWindowFromLayer, fromLayer);
}

void TestModelConfig::rejects_data()
{
    QTest::addColumn<QByteArray>("json"); // a patch over baseConfig(), or raw text when it starts with '!'
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<QString>("message");

    QTest::newRow("invalid JSON") << QByteArray("!{\"model_type\": ") << ErrorCode::Format
                                  << "config.json is not valid JSON";
    // Strict JSON (RFC 8259, Python's json) refuses raw control characters inside strings; Qt alone accepts them.
    QTest::newRow("raw NUL in a string") << QByteArray("!{\"model_type\": \"lla\0ma\"}", 25) << ErrorCode::Format
                                         << "config.json is not valid JSON: raw control character U+0000 inside a string "
                                            "at byte 19.";
    QTest::newRow("raw tab in a key") << QByteArray("!{\"model\ttype\": \"llama\"}") << ErrorCode::Format
                                      << "config.json is not valid JSON: raw control character U+0009 inside a string "
                                         "at byte 7.";
    QTest::newRow("escaped control characters are fine, raw ones not") << QByteArray("!{\"a\": \"\\u0000\\\"\", \"b\": \"x\ny\"}")
        << ErrorCode::Format << "config.json is not valid JSON: raw control character U+000A inside a string at byte 25.";
    QTest::newRow("not an object") << QByteArray("![1, 2]") << ErrorCode::Format << "config.json is not a JSON object";
    QTest::newRow("invalid UTF-8") << QByteArray("!{\"model_type\": \"\xc3\x28\"}") << ErrorCode::Format
                                   << "config.json is not valid UTF-8";
    QTest::newRow("missing model_type") << QByteArray(R"({"model_type": "<remove>"})") << ErrorCode::Format
                                        << "config.json: the key \"model_type\" is missing";
    QTest::newRow("model_type not a string") << QByteArray(R"({"model_type": 7})") << ErrorCode::Format
                                             << "\"model_type\" must be a string";
    QTest::newRow("unknown model_type") << QByteArray(R"({"model_type": "bloom"})") << ErrorCode::Unsupported
                                        << "model_type 'bloom' is not supported (supported: llama, mistral, qwen2, "
                                           "qwen3, gemma, gemma2, phi3, gpt2, gpt_neox, opt, bert, roberta, starcoder2)";
    for (const char* key : {"hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                            "intermediate_size"}) {
        QTest::newRow(qPrintable(QStringLiteral("missing %1").arg(QLatin1String(key))))
            << (QByteArray("{\"") + key + "\": \"<remove>\"}") << ErrorCode::Format
            << QStringLiteral("the required key \"%1\" is missing").arg(QLatin1String(key));
    }
    QTest::newRow("required key null") << QByteArray(R"({"vocab_size": null})") << ErrorCode::Format
                                       << "the required key \"vocab_size\" is missing";
    QTest::newRow("hidden not divisible by heads")
        << QByteArray(R"({"hidden_size": 100, "num_attention_heads": 3, "num_key_value_heads": 1})")
        << ErrorCode::Format << "hidden_size (100) is not divisible by num_attention_heads (3)";
    QTest::newRow("heads not divisible by kv heads") << QByteArray(R"({"num_key_value_heads": 3})")
                                                     << ErrorCode::Format
                                                     << "num_attention_heads (8) is not divisible by "
                                                        "num_key_value_heads (3)";
    QTest::newRow("zero hidden size") << QByteArray(R"({"hidden_size": 0})") << ErrorCode::Format
                                      << "\"hidden_size\" must be positive, but it is 0";
    QTest::newRow("negative layers") << QByteArray(R"({"num_hidden_layers": -2})") << ErrorCode::Format
                                     << "\"num_hidden_layers\" must be positive, but it is -2";
    QTest::newRow("zero heads") << QByteArray(R"({"num_attention_heads": 0})") << ErrorCode::Format
                                << "\"num_attention_heads\" must be positive, but it is 0";
    QTest::newRow("zero kv heads") << QByteArray(R"({"num_key_value_heads": 0})") << ErrorCode::Format
                                   << "\"num_key_value_heads\" must be positive, but it is 0";
    QTest::newRow("zero vocab") << QByteArray(R"({"vocab_size": 0})") << ErrorCode::Format
                                << "\"vocab_size\" must be positive, but it is 0";
    QTest::newRow("negative ffn") << QByteArray(R"({"intermediate_size": -1})") << ErrorCode::Format
                                  << "\"intermediate_size\" must be positive, but it is -1";
    QTest::newRow("zero head_dim") << QByteArray(R"({"head_dim": 0})") << ErrorCode::Format
                                   << "\"head_dim\" must be positive, but it is 0";
    QTest::newRow("zero positions") << QByteArray(R"({"max_position_embeddings": 0})") << ErrorCode::Format
                                    << "\"max_position_embeddings\" must be positive, but it is 0";
    QTest::newRow("size as a string") << QByteArray(R"({"hidden_size": "64"})") << ErrorCode::Format
                                      << "\"hidden_size\" must be an integer, but it is the string \"64\"";
    QTest::newRow("fractional size") << QByteArray(R"({"hidden_size": 64.5})") << ErrorCode::Format
                                     << "\"hidden_size\" must be an integer";
    QTest::newRow("size beyond int") << QByteArray(R"({"vocab_size": 9999999999})") << ErrorCode::Format
                                     << "\"vocab_size\" is 9999999999, which is too large";
    QTest::newRow("mistral default kv heads")
        << QByteArray(R"({"model_type": "mistral", "num_attention_heads": 4, "hidden_size": 64,
                          "num_key_value_heads": "<remove>"})")
        << ErrorCode::Format
        << "num_attention_heads (4) is not divisible by num_key_value_heads (8), the mistral default when the key "
           "is absent";
    QTest::newRow("rope yarn") << QByteArray(R"({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}})")
                               << ErrorCode::Unsupported
                               << "rope_scaling type 'yarn' is not supported (supported: default, linear, dynamic, "
                                  "llama3)";
    QTest::newRow("rope longrope (legacy key)")
        << QByteArray(R"({"rope_scaling": {"type": "longrope", "short_factor": [1], "long_factor": [1]}})")
        << ErrorCode::Unsupported << "rope_scaling type 'longrope' is not supported";
    QTest::newRow("rope_parameters yarn")
        << QByteArray(R"({"rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0}})")
        << ErrorCode::Unsupported << "rope_scaling type 'yarn' is not supported";
    QTest::newRow("rope without a type") << QByteArray(R"({"rope_scaling": {"factor": 2.0}})") << ErrorCode::Format
                                         << "\"rope_scaling\" has no \"rope_type\"";
    QTest::newRow("rope type not a string") << QByteArray(R"({"rope_scaling": {"rope_type": 3}})")
                                            << ErrorCode::Format << "rope_type must be a string";
    QTest::newRow("rope scaling not an object") << QByteArray(R"({"rope_scaling": "linear"})") << ErrorCode::Format
                                                << "\"rope_scaling\" must be an object or null";
    QTest::newRow("linear without factor") << QByteArray(R"({"rope_scaling": {"rope_type": "linear"}})")
                                           << ErrorCode::Format
                                           << "\"rope_scaling\" of type 'linear' is missing \"factor\"";
    QTest::newRow("zero factor") << QByteArray(R"({"rope_scaling": {"rope_type": "dynamic", "factor": 0}})")
                                 << ErrorCode::Format << "\"rope_scaling.factor\" must be positive, but it is 0";
    QTest::newRow("llama3 without low_freq_factor")
        << QByteArray(R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0,
                                           "original_max_position_embeddings": 8192}})")
        << ErrorCode::Format << "\"rope_scaling\" of type 'llama3' is missing \"low_freq_factor\"";
    QTest::newRow("llama3 without original length")
        << QByteArray(R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0}})")
        << ErrorCode::Format << "is missing \"original_max_position_embeddings\"";
    QTest::newRow("llama3 high not above low")
        << QByteArray(R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})")
        << ErrorCode::Format << "has high_freq_factor 4 not above low_freq_factor 4";
    QTest::newRow("negative rope_theta") << QByteArray(R"({"rope_theta": -1})") << ErrorCode::Format
                                         << "\"rope_theta\" must be positive, but it is -1";
    QTest::newRow("rope_theta as a string") << QByteArray(R"({"rope_theta": "1e4"})") << ErrorCode::Format
                                            << "\"rope_theta\" must be a number";
    QTest::newRow("zero eps") << QByteArray(R"({"rms_norm_eps": 0})") << ErrorCode::Format
                              << "\"rms_norm_eps\" must be positive, but it is 0";
    QTest::newRow("tie as a string") << QByteArray(R"({"tie_word_embeddings": "yes"})") << ErrorCode::Format
                                     << "\"tie_word_embeddings\" must be true or false, but it is the string \"yes\"";
    QTest::newRow("mistral zero window") << QByteArray(R"({"model_type": "mistral", "sliding_window": 0})")
                                         << ErrorCode::Format << "\"sliding_window\" must be positive or null";
    QTest::newRow("eos as a string") << QByteArray(R"({"eos_token_id": "</s>"})") << ErrorCode::Format
                                     << "\"eos_token_id\" must be an integer";
}

void TestModelConfig::rejects()
{
    QFETCH(QByteArray, json);
    QFETCH(ErrorCode, code);
    QFETCH(QString, message);
    const std::string text = json.startsWith('!') ? json.mid(1).toStdString()
                                                  : withPatch(baseConfig(), obj(json.constData()));
    if (!json.startsWith('!'))
        QVERIFY2(!obj(json.constData()).isEmpty(), "the test row's patch is not valid JSON");
    try {
        ModelConfig::fromJson(text);
        QFAIL("the config was accepted");
    } catch (const Error& e) {
        QCOMPARE(errorCodeName(e.code()), errorCodeName(code));
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
    }
}

void TestModelConfig::fromFileErrors()
{
    try {
        ModelConfig::fromFile("/nonexistent/sinkscope/config.json");
        QFAIL("read a missing config");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY(QString::fromStdString(e.what()).contains(QStringLiteral("does not exist")));
    }
}

void TestModelConfig::supportedTypes()
{
    QCOMPARE(ModelConfig::supportedModelTypes(),
             (std::vector<std::string>{"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "gpt2",
                                       "gpt_neox", "opt", "bert", "roberta", "starcoder2"}));
}

namespace {

// One line with every field that differs between families, so a row states the whole reading.
QString summary(const ModelConfig& c)
{
    auto num = [](double v) { return QString::number(v, 'g', 10); };
    const char* norm = c.norm == NormKind::Rms ? "rms" : c.norm == NormKind::RmsUnitOffset ? "rms1p" : "layer";
    QString bias;
    if (c.attentionBias)
        bias += QStringLiteral("qkv");
    if (c.outputBias)
        bias += QStringLiteral("+o");
    if (c.mlpBias)
        bias += QStringLiteral("+mlp");
    QString windows;
    for (int l = 0; l < c.numLayers && l < 6; ++l)
        windows += QString::number(c.windowForLayer(l)) + (l + 1 < std::min(c.numLayers, 6) ? "," : "");
    return QStringLiteral("D%1 F%2 L%3 H%4/%5 hd%6 V%7 pos%8/%9 eps%10 %11 %12 %13 %14 act=%15 tie%16 bias=%17 "
                          "rot%18 theta%19 win=%20 scale0=%21 scale1=%22 caps=%23/%24 par%25 aff%26 fin%27 off%28 "
                          "types%29 wep%30 pad%31")
        .arg(c.hiddenSize).arg(c.intermediateSize).arg(c.numLayers).arg(c.numHeads).arg(c.numKvHeads).arg(c.headDim)
        .arg(c.vocabSize).arg(c.maxPositionEmbeddings).arg(c.maxTokens).arg(num(c.normEps)).arg(QLatin1String(norm))
        .arg(QLatin1String(positionKindName(c.position)))
        .arg(c.causal ? QStringLiteral("causal") : QStringLiteral("bidir"))
        .arg(c.normBefore ? QStringLiteral("preLN") : QStringLiteral("postLN"))
        .arg(QString::fromStdString(c.hiddenAct)).arg(int(c.tieWordEmbeddings)).arg(bias.isEmpty() ? "none" : bias)
        .arg(c.rotaryDim()).arg(num(c.ropeTheta)).arg(windows).arg(num(c.attentionScale(0)))
        .arg(num(c.attentionScale(1))).arg(num(c.attnSoftcap)).arg(num(c.finalSoftcap)).arg(int(c.parallelResidual))
        .arg(int(c.normAffine)).arg(int(c.finalNorm)).arg(c.positionOffset).arg(c.typeVocabSize)
        .arg(c.wordEmbedProjDim).arg(c.padTokenId ? QString::number(*c.padTokenId) : QStringLiteral("-"));
}

} // namespace

void TestModelConfig::familyConfigs_data()
{
    // config.json files as the model repositories ship them (trimmed of keys we do not read),
    // and minimal ones that rely on the configuration classes' defaults.
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expected");

    QTest::newRow("gpt2") << QByteArray(R"({"activation_function": "gelu_new", "bos_token_id": 50256,
        "eos_token_id": 50256, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768,
        "n_head": 12, "n_inner": null, "n_layer": 12, "n_positions": 1024, "reorder_and_upcast_attn": false,
        "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true, "vocab_size": 50257})")
        << "D768 F3072 L12 H12/12 hd64 V50257 pos1024/1024 eps1e-05 layer learned causal preLN act=gelu_new tie1 "
           "bias=qkv+o+mlp rot0 theta10000 win=0,0,0,0,0,0 scale0=0.125 scale1=0.125 caps=0/0 par0 aff1 fin1 off0 "
           "types0 wep768 pad-";
    QTest::newRow("gpt2 minimal, inverse layer scaling")
        << QByteArray(R"({"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "vocab_size": 100,
                          "scale_attn_by_inverse_layer_idx": true})")
        << "D64 F256 L2 H4/4 hd16 V100 pos1024/1024 eps1e-05 layer learned causal preLN act=gelu_new tie1 "
           "bias=qkv+o+mlp rot0 theta10000 win=0,0 scale0=0.25 scale1=0.125 caps=0/0 par0 aff1 fin1 off0 types0 "
           "wep64 pad-";
    QTest::newRow("gpt2 common key names") << QByteArray(R"({"model_type": "gpt2", "hidden_size": 32,
        "num_attention_heads": 2, "num_hidden_layers": 1, "max_position_embeddings": 40, "vocab_size": 10,
        "scale_attn_weights": false})")
        << "D32 F128 L1 H2/2 hd16 V10 pos40/40 eps1e-05 layer learned causal preLN act=gelu_new tie1 bias=qkv+o+mlp "
           "rot0 theta10000 win=0 scale0=1 scale1=1 caps=0/0 par0 aff1 fin1 off0 types0 wep32 pad-";
    QTest::newRow("pythia-70m") << QByteArray(R"({"bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
        "hidden_size": 512, "intermediate_size": 2048, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048,
        "model_type": "gpt_neox", "num_attention_heads": 8, "num_hidden_layers": 6, "rotary_emb_base": 10000,
        "rotary_pct": 0.25, "tie_word_embeddings": false, "torch_dtype": "float16", "use_parallel_residual": true,
        "vocab_size": 50304})")
        << "D512 F2048 L6 H8/8 hd64 V50304 pos2048/2048 eps1e-05 layer rope causal preLN act=gelu tie0 "
           "bias=qkv+o+mlp rot16 theta10000 win=0,0,0,0,0,0 scale0=0.125 scale1=0.125 caps=0/0 par1 aff1 fin1 off0 "
           "types0 wep512 pad-";
    QTest::newRow("gpt_neox sequential, rope_parameters") << QByteArray(R"({"model_type": "gpt_neox",
        "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "num_hidden_layers": 1,
        "vocab_size": 50, "use_parallel_residual": false, "attention_bias": false,
        "rope_parameters": {"rope_type": "default", "rope_theta": 500.0, "partial_rotary_factor": 0.5}})")
        << "D64 F96 L1 H4/4 hd16 V50 pos2048/2048 eps1e-05 layer rope causal preLN act=gelu tie0 bias=+mlp rot8 "
           "theta500 win=0 scale0=0.25 scale1=0.25 caps=0/0 par0 aff1 fin1 off0 types0 wep64 pad-";
    QTest::newRow("opt-125m") << QByteArray(R"({"activation_function": "relu", "bos_token_id": 2,
        "do_layer_norm_before": true, "eos_token_id": 2, "ffn_dim": 3072, "hidden_size": 768,
        "max_position_embeddings": 2048, "model_type": "opt", "num_attention_heads": 12, "num_hidden_layers": 12,
        "pad_token_id": 1, "vocab_size": 50272, "word_embed_proj_dim": 768})")
        << "D768 F3072 L12 H12/12 hd64 V50272 pos2048/2048 eps1e-05 layer learned causal preLN act=relu tie1 "
           "bias=qkv+o+mlp rot0 theta10000 win=0,0,0,0,0,0 scale0=0.125 scale1=0.125 caps=0/0 par0 aff1 fin1 off2 "
           "types0 wep768 pad1";
    QTest::newRow("opt-350m (post-LN, projections)") << QByteArray(R"({"activation_function": "relu",
        "do_layer_norm_before": false, "ffn_dim": 4096, "hidden_size": 1024, "max_position_embeddings": 2048,
        "model_type": "opt", "num_attention_heads": 16, "num_hidden_layers": 24, "pad_token_id": 1,
        "vocab_size": 50272, "word_embed_proj_dim": 512})")
        << "D1024 F4096 L24 H16/16 hd64 V50272 pos2048/2048 eps1e-05 layer learned causal postLN act=relu tie1 "
           "bias=qkv+o+mlp rot0 theta10000 win=0,0,0,0,0,0 scale0=0.125 scale1=0.125 caps=0/0 par0 aff1 fin0 off2 "
           "types0 wep512 pad1";
    QTest::newRow("opt without biases or affine norms") << QByteArray(R"({"model_type": "opt", "ffn_dim": 8,
        "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9, "enable_bias": false,
        "layer_norm_elementwise_affine": false, "_remove_final_layer_norm": true})")
        << "D8 F8 L1 H2/2 hd4 V9 pos2048/2048 eps1e-05 layer learned causal preLN act=relu tie1 bias=none rot0 "
           "theta10000 win=0 scale0=0.5 scale1=0.5 caps=0/0 par0 aff0 fin0 off2 types0 wep8 pad1";
    QTest::newRow("bert-base-uncased") << QByteArray(R"({"hidden_act": "gelu", "hidden_size": 768,
        "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
        "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute",
        "type_vocab_size": 2, "vocab_size": 30522})")
        << "D768 F3072 L12 H12/12 hd64 V30522 pos512/512 eps1e-12 layer learned bidir postLN act=gelu tie1 "
           "bias=qkv+o+mlp rot0 theta10000 win=0,0,0,0,0,0 scale0=0.125 scale1=0.125 caps=0/0 par0 aff1 fin0 off0 "
           "types2 wep768 pad0";
    QTest::newRow("roberta-base") << QByteArray(R"({"bos_token_id": 0, "eos_token_id": 2, "hidden_act": "gelu",
        "hidden_size": 768, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 514,
        "model_type": "roberta", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1,
        "type_vocab_size": 1, "vocab_size": 50265})")
        << "D768 F3072 L12 H12/12 hd64 V50265 pos514/512 eps1e-05 layer learned bidir postLN act=gelu tie1 "
           "bias=qkv+o+mlp rot0 theta10000 win=0,0,0,0,0,0 scale0=0.125 scale1=0.125 caps=0/0 par0 aff1 fin0 off2 "
           "types1 wep768 pad1";
    QTest::newRow("gemma-2b") << QByteArray(R"({"attention_bias": false, "bos_token_id": 2, "eos_token_id": 1,
        "head_dim": 256, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2048,
        "intermediate_size": 16384, "max_position_embeddings": 8192, "model_type": "gemma", "num_attention_heads": 8,
        "num_hidden_layers": 18, "num_key_value_heads": 1, "pad_token_id": 0, "rms_norm_eps": 1e-06,
        "rope_scaling": null, "rope_theta": 10000.0, "torch_dtype": "bfloat16", "vocab_size": 256000})")
        << "D2048 F16384 L18 H8/1 hd256 V256000 pos8192/8192 eps1e-06 rms1p rope causal preLN "
           "act=gelu_pytorch_tanh tie1 bias=none rot256 theta10000 win=0,0,0,0,0,0 scale0=0.0625 scale1=0.0625 "
           "caps=0/0 par0 aff1 fin1 off0 types0 wep2048 pad0";
    QTest::newRow("gemma minimal: class defaults") << QByteArray(R"({"model_type": "gemma", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 1,
        "vocab_size": 20})")
        << "D32 F48 L1 H2/1 hd256 V20 pos8192/8192 eps1e-06 rms1p rope causal preLN act=gelu_pytorch_tanh tie1 "
           "bias=none rot256 theta10000 win=0 scale0=0.0625 scale1=0.0625 caps=0/0 par0 aff1 fin1 off0 types0 wep32 "
           "pad0";
    QTest::newRow("gemma-2-2b") << QByteArray(R"({"attention_bias": false, "attn_logit_softcapping": 50.0,
        "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1, "final_logit_softcapping": 30.0,
        "head_dim": 256, "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 2304, "intermediate_size": 9216, "max_position_embeddings": 8192, "model_type": "gemma2",
        "num_attention_heads": 8, "num_hidden_layers": 26, "num_key_value_heads": 4, "pad_token_id": 0,
        "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096,
        "torch_dtype": "float32", "vocab_size": 256000})")
        << "D2304 F9216 L26 H8/4 hd256 V256000 pos8192/8192 eps1e-06 rms1p rope causal preLN "
           "act=gelu_pytorch_tanh tie1 bias=none rot256 theta10000 win=4096,0,4096,0,4096,0 scale0=0.0625 "
           "scale1=0.0625 caps=50/30 par0 aff1 fin1 off0 types0 wep2304 pad0";
    QTest::newRow("gemma2 layer_types, no caps, scalar 144") << QByteArray(R"({"model_type": "gemma2",
        "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 3,
        "num_key_value_heads": 1, "head_dim": 16, "vocab_size": 20, "query_pre_attn_scalar": 144,
        "attn_logit_softcapping": null, "final_logit_softcapping": null, "sliding_window": 5,
        "layer_types": ["full_attention", "sliding_attention", "sliding_attention"]})")
        << "D32 F48 L3 H2/1 hd16 V20 pos8192/8192 eps1e-06 rms1p rope causal preLN act=gelu_pytorch_tanh tie1 "
           "bias=none rot16 theta10000 win=0,5,5 scale0=0.08333333333 scale1=0.08333333333 caps=0/0 par0 aff1 fin1 "
           "off0 types0 wep32 pad0";
    QTest::newRow("qwen3-0.6b") << QByteArray(R"({"attention_bias": false, "bos_token_id": 151643,
        "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
        "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
        "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
        "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
        "torch_dtype": "bfloat16", "use_sliding_window": false, "vocab_size": 151936})")
        << "D1024 F3072 L28 H16/8 hd128 V151936 pos40960/40960 eps1e-06 rms rope causal preLN act=silu tie1 "
           "bias=none rot128 theta1000000 win=0,0,0,0,0,0 scale0=0.08838834765 scale1=0.08838834765 caps=0/0 par0 "
           "aff1 fin1 off0 types0 wep1024 pad-";
    QTest::newRow("qwen3 window from layer 1, biases") << QByteArray(R"({"model_type": "qwen3",
        "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 3,
        "num_key_value_heads": 1, "vocab_size": 20, "attention_bias": true, "use_sliding_window": true,
        "sliding_window": 4, "max_window_layers": 1})")
        << "D32 F48 L3 H2/1 hd128 V20 pos32768/32768 eps1e-06 rms rope causal preLN act=silu tie0 bias=qkv+o rot128 "
           "theta10000 win=0,4,4 scale0=0.08838834765 scale1=0.08838834765 caps=0/0 par0 aff1 fin1 off0 types0 "
           "wep32 pad-";
    QTest::newRow("phi-3-mini-4k") << QByteArray(R"({"attention_bias": false, "bos_token_id": 1,
        "eos_token_id": 32000, "hidden_act": "silu", "hidden_size": 3072, "intermediate_size": 8192,
        "max_position_embeddings": 4096, "model_type": "phi3", "num_attention_heads": 32, "num_hidden_layers": 32,
        "num_key_value_heads": 32, "original_max_position_embeddings": 4096, "pad_token_id": 32000,
        "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0, "sliding_window": 2047,
        "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 32064})")
        << "D3072 F8192 L32 H32/32 hd96 V32064 pos4096/4096 eps1e-05 rms rope causal preLN act=silu tie0 bias=none "
           "rot96 theta10000 win=2047,2047,2047,2047,2047,2047 scale0=0.1020620726 scale1=0.1020620726 caps=0/0 par0 "
           "aff1 fin1 off0 types0 wep3072 pad32000";
    // Starcoder2: LayerNorm, GELU-tanh, every linear layer biased by use_bias, a window on every layer.
    QTest::newRow("starcoder2-3b-like") << QByteArray(R"({"architectures": ["Starcoder2ForCausalLM"],
        "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu_pytorch_tanh", "hidden_size": 3072,
        "intermediate_size": 12288, "max_position_embeddings": 16384, "model_type": "starcoder2", "norm_epsilon": 1e-05,
        "norm_type": "layer_norm", "num_attention_heads": 24, "num_hidden_layers": 30, "num_key_value_heads": 2,
        "rope_theta": 999999.4420358813, "sliding_window": 4096, "torch_dtype": "float32", "use_bias": true,
        "vocab_size": 49152})")
        << "D3072 F12288 L30 H24/2 hd128 V49152 pos16384/16384 eps1e-05 layer rope causal preLN act=gelu_pytorch_tanh "
           "tie1 bias=qkv+o+mlp rot128 theta999999.442 win=4096,4096,4096,4096,4096,4096 scale0=0.08838834765 "
           "scale1=0.08838834765 caps=0/0 par0 aff1 fin1 off0 types0 wep3072 pad-";
    QTest::newRow("starcoder2 defaults (2 KV heads, no window, biases)") << QByteArray(R"({"model_type": "starcoder2",
        "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4, "num_hidden_layers": 2,
        "vocab_size": 20})")
        << "D32 F48 L2 H4/2 hd8 V20 pos4096/4096 eps1e-05 layer rope causal preLN act=gelu_pytorch_tanh tie1 "
           "bias=qkv+o+mlp rot8 theta10000 win=0,0 scale0=0.3535533906 scale1=0.3535533906 caps=0/0 par0 aff1 fin1 "
           "off0 types0 wep32 pad-";
    QTest::newRow("starcoder2 use_bias false, untied") << QByteArray(R"({"model_type": "starcoder2",
        "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4, "num_hidden_layers": 2,
        "num_key_value_heads": 4, "vocab_size": 20, "use_bias": false, "tie_word_embeddings": false,
        "sliding_window": null})")
        << "D32 F48 L2 H4/4 hd8 V20 pos4096/4096 eps1e-05 layer rope causal preLN act=gelu_pytorch_tanh tie0 "
           "bias=none rot8 theta10000 win=0,0 scale0=0.3535533906 scale1=0.3535533906 caps=0/0 par0 aff1 fin1 "
           "off0 types0 wep32 pad-";
    QTest::newRow("phi3 partial rotary") << QByteArray(R"({"model_type": "phi3", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 20,
        "partial_rotary_factor": 0.75})")
        << "D32 F48 L1 H2/2 hd16 V20 pos4096/4096 eps1e-05 rms rope causal preLN act=silu tie0 bias=none rot12 "
           "theta10000 win=0 scale0=0.25 scale1=0.25 caps=0/0 par0 aff1 fin1 off0 types0 wep32 pad32000";
}

void TestModelConfig::familyConfigs()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    QVERIFY2(QJsonDocument::fromJson(json).isObject(), "the row's JSON does not parse");
    const ModelConfig c = ModelConfig::fromJson(json.toStdString());
    QCOMPARE(summary(c), expected);
}

void TestModelConfig::familyRejects_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<QString>("message");
    QTest::newRow("gpt2 missing n_embd") << QByteArray(R"({"model_type": "gpt2", "n_head": 2, "n_layer": 1,
        "vocab_size": 9})") << ErrorCode::Format << "the required key \"n_embd\" is missing";
    QTest::newRow("gpt2 heads do not divide") << QByteArray(R"({"model_type": "gpt2", "n_embd": 10, "n_head": 3,
        "n_layer": 1, "vocab_size": 9})") << ErrorCode::Format << "n_embd (10) is not divisible by n_head (3).";
    QTest::newRow("unknown activation") << QByteArray(R"({"model_type": "gpt2", "n_embd": 8, "n_head": 2,
        "n_layer": 1, "vocab_size": 9, "activation_function": "gelu_10"})")
        << ErrorCode::Unsupported << "activation 'gelu_10' is not supported (supported: silu, swish, relu, gelu, "
                                     "gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu)";
    QTest::newRow("opt missing ffn_dim") << QByteArray(R"({"model_type": "opt", "hidden_size": 8,
        "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9})")
        << ErrorCode::Format << "the required key \"ffn_dim\" is missing";
    QTest::newRow("bert relative positions") << QByteArray(R"({"model_type": "bert", "hidden_size": 8,
        "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9,
        "position_embedding_type": "relative_key"})")
        << ErrorCode::Unsupported << "position_embedding_type 'relative_key' is not supported (supported: absolute)";
    QTest::newRow("bert as a decoder") << QByteArray(R"({"model_type": "bert", "hidden_size": 8,
        "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9,
        "is_decoder": true})") << ErrorCode::Unsupported << "causal bert decoders (is_decoder) are not supported";
    QTest::newRow("roberta without room for positions") << QByteArray(R"({"model_type": "roberta",
        "hidden_size": 8, "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1,
        "vocab_size": 9, "max_position_embeddings": 2})")
        << ErrorCode::Format << "max_position_embeddings (2) leaves no positions after padding_idx 1";
    QTest::newRow("roberta pad null") << QByteArray(R"({"model_type": "roberta", "hidden_size": 8,
        "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9,
        "pad_token_id": null})") << ErrorCode::Format << "a roberta config needs \"pad_token_id\"";
    QTest::newRow("phi3 longrope") << QByteArray(R"({"model_type": "phi3", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 20,
        "rope_scaling": {"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}})")
        << ErrorCode::Unsupported
        << "rope_scaling type 'longrope' is not supported (supported: default); LongRoPE checkpoints (e.g. Phi-3 "
           "128k) cannot be run.";
    QTest::newRow("phi3 legacy su") << QByteArray(R"({"model_type": "phi3", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 20,
        "rope_scaling": {"type": "su", "short_factor": [1.0], "long_factor": [1.0]}})")
        << ErrorCode::Unsupported << "LongRoPE checkpoints";
    QTest::newRow("phi3 linear (not a Phi-3 kind)") << QByteArray(R"({"model_type": "phi3", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 20,
        "rope_scaling": {"type": "linear", "factor": 2.0}})")
        << ErrorCode::Unsupported << "rope_scaling type 'linear' is not supported (supported: default).";
    QTest::newRow("neox odd rotary dims") << QByteArray(R"({"model_type": "gpt_neox", "hidden_size": 40,
        "intermediate_size": 8, "num_attention_heads": 4, "num_hidden_layers": 1, "vocab_size": 9,
        "rotary_pct": 0.5})")
        << ErrorCode::Format << "the rotary fraction 0.5 of head_dim 10 gives 5 rotary dimensions";
    QTest::newRow("gemma2 layer_types length") << QByteArray(R"({"model_type": "gemma2", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 3, "num_key_value_heads": 1, "vocab_size": 20,
        "layer_types": ["full_attention"]})")
        << ErrorCode::Format << "\"layer_types\" lists 1 layers but num_hidden_layers is 3.";
    QTest::newRow("gemma2 chunked layer") << QByteArray(R"({"model_type": "gemma2", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 1, "vocab_size": 20,
        "layer_types": ["chunked_attention"]})")
        << ErrorCode::Unsupported << "layer type the string \"chunked_attention\" is not supported";
    QTest::newRow("gemma2 zero softcap") << QByteArray(R"({"model_type": "gemma2", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 1, "vocab_size": 20,
        "attn_logit_softcapping": 0})")
        << ErrorCode::Format << "\"attn_logit_softcapping\" must be positive, but it is 0.";
    QTest::newRow("bidirectional gemma") << QByteArray(R"({"model_type": "gemma", "hidden_size": 32,
        "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 1, "vocab_size": 20,
        "use_bidirectional_attention": true})")
        << ErrorCode::Unsupported << "bidirectional Gemma variants";
    QTest::newRow("zero layer_norm_eps") << QByteArray(R"({"model_type": "bert", "hidden_size": 8,
        "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9,
        "layer_norm_eps": 0})") << ErrorCode::Format << "\"layer_norm_eps\" must be positive, but it is 0.";
    QTest::newRow("starcoder2 zero norm_epsilon") << QByteArray(R"({"model_type": "starcoder2", "hidden_size": 8,
        "intermediate_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 9,
        "norm_epsilon": 0})") << ErrorCode::Format << "\"norm_epsilon\" must be positive, but it is 0.";
    QTest::newRow("starcoder2 kv default does not divide") << QByteArray(R"({"model_type": "starcoder2",
        "hidden_size": 9, "intermediate_size": 8, "num_attention_heads": 3, "num_hidden_layers": 1, "vocab_size": 9})")
        << ErrorCode::Format
        << "num_attention_heads (3) is not divisible by num_key_value_heads (2), the starcoder2 default when the key "
           "is absent.";
}

void TestModelConfig::familyRejects()
{
    QFETCH(QByteArray, json);
    QFETCH(ErrorCode, code);
    QFETCH(QString, message);
    QVERIFY2(QJsonDocument::fromJson(json).isObject(), "the row's JSON does not parse");
    try {
        ModelConfig::fromJson(json.toStdString());
        QFAIL("the config was accepted");
    } catch (const Error& e) {
        QCOMPARE(errorCodeName(e.code()), errorCodeName(code));
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
    }
}

QTEST_GUILESS_MAIN(TestModelConfig)
#include "tst_modelconfig.moc"
