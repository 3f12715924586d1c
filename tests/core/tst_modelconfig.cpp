// SPDX-License-Identifier: GPL-3.0-or-later
// config.json parsing for the Llama family: the defaults of each model_type, RoPE scaling kinds,
// and every rejected config with the message the user reads.
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
    QTest::newRow("not an object") << QByteArray("![1, 2]") << ErrorCode::Format << "config.json is not a JSON object";
    QTest::newRow("invalid UTF-8") << QByteArray("!{\"model_type\": \"\xc3\x28\"}") << ErrorCode::Format
                                   << "config.json is not valid UTF-8";
    QTest::newRow("missing model_type") << QByteArray(R"({"model_type": "<remove>"})") << ErrorCode::Format
                                        << "config.json: the key \"model_type\" is missing";
    QTest::newRow("model_type not a string") << QByteArray(R"({"model_type": 7})") << ErrorCode::Format
                                             << "\"model_type\" must be a string";
    QTest::newRow("unknown model_type") << QByteArray(R"({"model_type": "gpt2"})") << ErrorCode::Unsupported
                                        << "model_type 'gpt2' is not supported (supported: llama, mistral, qwen2)";
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
    QCOMPARE(ModelConfig::supportedModelTypes(), (std::vector<std::string>{"llama", "mistral", "qwen2"}));
}

QTEST_GUILESS_MAIN(TestModelConfig)
#include "tst_modelconfig.moc"
