// SPDX-License-Identifier: GPL-3.0-or-later
// Tokenizer tests: golden encodings from the reference implementation for the real tokenizer
// files (shared fixtures) and for small synthetic pipelines (in the repository), plus BOS policy,
// display text, malformed files, invalid UTF-8 and a mutation fuzz of the reader and encoder.
#include "sinkscope/error.h"
#include "sinkscope/tokenizer.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTest>

#include <map>

using namespace sinkscope;

namespace {

QString dataDir()
{
    return QStringLiteral(SINKSCOPE_TOKENIZER_DATA);
}

// Where the tokenizer.json of a golden set lives; "" when it is an absent shared fixture.
QString tokenizerPathFor(const QString& name)
{
    if (name.startsWith(QLatin1String("synthetic_")))
        return QDir(dataDir()).filePath(QStringLiteral("synthetic/%1.json").arg(name.mid(10)));
    const QString shared = test::sharedFixturesDir();
    if (shared.isEmpty())
        return {};
    const QString path = name == QLatin1String("stories260K")
        ? QDir(shared).filePath(QStringLiteral("stories260K/tokenizer.json"))
        : QDir(shared).filePath(QStringLiteral("tokenizers/%1/tokenizer.json").arg(name));
    return QFile::exists(path) ? path : QString();
}

QString sharedTokenizerDir(const QString& name)
{
    const QString shared = test::sharedFixturesDir();
    if (shared.isEmpty())
        return {};
    const QString dir = QDir(shared).filePath(QStringLiteral("tokenizers/%1").arg(name));
    return QFile::exists(QDir(dir).filePath(QStringLiteral("tokenizer.json"))) ? dir : QString();
}

// Tokenizers are loaded once per test run (the large ones take a noticeable fraction of a second).
std::shared_ptr<const Tokenizer> cachedTokenizer(const QString& path, const QString& config = {})
{
    static std::map<QString, std::shared_ptr<const Tokenizer>> cache;
    const QString key = path + QLatin1Char('|') + config;
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second;
    auto t = Tokenizer::fromFile(path.toStdString(), config.toStdString());
    cache.emplace(key, t);
    return t;
}

QJsonObject readJson(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

QString describeIds(const std::vector<int32_t>& ids)
{
    QStringList s;
    for (int32_t id : ids)
        s << QString::number(id);
    return s.join(QLatin1Char(','));
}

// A tiny but complete tokenizer.json used by the error and fuzz tests.
const char* kTinyTokenizer = R"({
  "version": "1.0",
  "added_tokens": [{"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                 {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
  "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\s+"}, "behavior": "Isolated", "invert": false},
  "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
                     "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
              {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": false,
            "vocab": {"<s>": 0, "<unk>": 1, "▁": 2, "a": 3, "b": 4, "▁a": 5, "ab": 6},
            "merges": ["▁ a", "a b"]}
})";

} // namespace

class TokenizerTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void golden_data();
    void golden();
    void decodeMatchesReference_data() { golden_data(); }
    void decodeMatchesReference();
    void bosPolicy_data();
    void bosPolicy();
    void bosNeedsABosToken();
    void displayText_data();
    void displayText();
    void fromIds();
    void vocabularyQueries();
    void invalidUtf8_data();
    void invalidUtf8();
    void malformedJson_data();
    void malformedJson();
    void missingFile();
    void fuzzReaderAndEncoder();
};

void TokenizerTest::golden_data()
{
    QTest::addColumn<QString>("tokenizerName");
    QTest::addColumn<QJsonObject>("goldenCase");
    const QDir dir(dataDir());
    const QStringList files = dir.entryList({QStringLiteral("golden_*.json")}, QDir::Files, QDir::Name);
    QVERIFY2(files.size() >= 7, "golden files are missing from tests/core/data/tokenizer");
    for (const QString& file : files) {
        const QJsonObject golden = readJson(dir.filePath(file));
        const QString name = golden.value(QStringLiteral("tokenizer")).toString();
        const QJsonArray cases = golden.value(QStringLiteral("cases")).toArray();
        QVERIFY2(!cases.isEmpty(), qPrintable(file + QStringLiteral(" has no cases")));
        for (const QJsonValue& c : cases) {
            const QJsonObject o = c.toObject();
            QTest::newRow(qPrintable(name + QLatin1Char('/') + o.value(QStringLiteral("name")).toString()))
                << name << o;
        }
    }
}

void TokenizerTest::golden()
{
    QFETCH(QString, tokenizerName);
    QFETCH(QJsonObject, goldenCase);
    const QString path = tokenizerPathFor(tokenizerName);
    if (path.isEmpty())
        QSKIP(test::noSharedReason());
    const auto tok = cachedTokenizer(path);
    const std::string text = goldenCase.value(QStringLiteral("text")).toString().toStdString();
    const Encoding enc = tok->encode(text, BosPolicy::Auto);

    const QJsonArray ids = goldenCase.value(QStringLiteral("ids")).toArray();
    const QJsonArray tokens = goldenCase.value(QStringLiteral("tokens")).toArray();
    const QJsonArray offsets = goldenCase.value(QStringLiteral("offsets")).toArray();
    const QJsonArray special = goldenCase.value(QStringLiteral("special")).toArray();
    std::vector<int32_t> expectedIds;
    for (const QJsonValue& v : ids)
        expectedIds.push_back(v.toInt());
    const std::vector<int32_t> actualIds = enc.ids();
    QVERIFY2(actualIds == expectedIds, qPrintable(QStringLiteral("ids differ\n  expected %1\n  actual   %2")
                                                      .arg(describeIds(expectedIds), describeIds(actualIds))));
    for (qsizetype i = 0; i < ids.size(); ++i) {
        const Token& t = enc.tokens[size_t(i)];
        const QJsonArray off = offsets.at(i).toArray();
        const QString where = QStringLiteral("token %1 (id %2)").arg(i).arg(t.id);
        QVERIFY2(QString::fromStdString(t.piece) == tokens.at(i).toString(),
                 qPrintable(where + QStringLiteral(": piece '%1', expected '%2'")
                                        .arg(QString::fromStdString(t.piece), tokens.at(i).toString())));
        QVERIFY2(t.start == off.at(0).toInt() && t.end == off.at(1).toInt(),
                 qPrintable(where + QStringLiteral(": offsets [%1,%2), expected [%3,%4)")
                                        .arg(t.start).arg(t.end).arg(off.at(0).toInt()).arg(off.at(1).toInt())));
        QVERIFY2(t.special == special.at(i).toBool(), qPrintable(where + QStringLiteral(": special flag")));
        QVERIFY2(!t.display.empty() || t.piece.empty(), qPrintable(where + QStringLiteral(": empty display")));
    }
}

void TokenizerTest::decodeMatchesReference()
{
    QFETCH(QString, tokenizerName);
    QFETCH(QJsonObject, goldenCase);
    const QString path = tokenizerPathFor(tokenizerName);
    if (path.isEmpty())
        QSKIP(test::noSharedReason());
    const auto tok = cachedTokenizer(path);
    std::vector<int32_t> ids;
    for (const QJsonValue& v : goldenCase.value(QStringLiteral("ids")).toArray())
        ids.push_back(v.toInt());
    QCOMPARE(QString::fromStdString(tok->decode(ids)), goldenCase.value(QStringLiteral("decoded")).toString());
}

void TokenizerTest::bosPolicy_data()
{
    QTest::addColumn<QString>("tokenizerName");
    QTest::addColumn<bool>("withConfig");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("policy");
    QTest::addColumn<QString>("expectedLeadingPieces"); // first pieces, comma separated
    QTest::addColumn<bool>("expectedBosAdded");

    // stories260K / llama2: the template adds <s>.
    QTest::newRow("llama2 auto") << "llama2" << true << "Hello" << "auto" << "<s>,▁Hello" << true;
    QTest::newRow("llama2 on") << "llama2" << true << "Hello" << "on" << "<s>,▁Hello" << true;
    QTest::newRow("llama2 off") << "llama2" << true << "Hello" << "off" << "▁Hello" << false;
    // Auto follows the files even when that doubles a typed BOS; On keeps exactly one.
    QTest::newRow("llama2 auto typed") << "llama2" << true << "<s>Hello" << "auto" << "<s>,<s>,▁Hello" << true;
    QTest::newRow("llama2 on typed") << "llama2" << true << "<s>Hello" << "on" << "<s>,▁Hello" << false;
    QTest::newRow("llama2 off typed") << "llama2" << true << "<s>Hello" << "off" << "<s>,▁Hello" << false;
    // Llama 3: post-processor is ByteLevel only and tokenizer_config.json has no add_bos_token,
    // so auto adds nothing; on adds <|begin_of_text|>.
    QTest::newRow("llama3 auto") << "llama3" << true << "Hello" << "auto" << "Hello" << false;
    QTest::newRow("llama3 on") << "llama3" << true << "Hello" << "on" << "<|begin_of_text|>,Hello" << true;
    QTest::newRow("llama3 on typed") << "llama3" << true << "<|begin_of_text|>Hello" << "on"
                                     << "<|begin_of_text|>,Hello" << false;
    QTest::newRow("llama3 off typed") << "llama3" << true << "<|begin_of_text|>Hello" << "off"
                                      << "<|begin_of_text|>,Hello" << false;
    // Gemma 3: template adds <bos>, config agrees.
    QTest::newRow("gemma3 auto") << "gemma3" << true << "Hello" << "auto" << "<bos>,Hello" << true;
    QTest::newRow("gemma3 off") << "gemma3" << true << "Hello" << "off" << "Hello" << false;
    // BERT: [CLS] is the leading special; [SEP] stays whatever the policy.
    QTest::newRow("bert auto") << "bert-base-uncased" << false << "hi" << "auto" << "[CLS],hi,[SEP]" << true;
    QTest::newRow("bert off") << "bert-base-uncased" << false << "hi" << "off" << "hi,[SEP]" << false;
    QTest::newRow("bert on typed") << "bert-base-uncased" << false << "[CLS] hi" << "on" << "[CLS],hi,[SEP]" << false;
    // Qwen 3 has no BOS at all.
    QTest::newRow("qwen3 auto") << "qwen3" << true << "Hello" << "auto" << "Hello" << false;
    QTest::newRow("qwen3 off") << "qwen3" << true << "Hello" << "off" << "Hello" << false;
    // The empty prompt: auto gives just the BOS of the template.
    QTest::newRow("llama2 auto empty") << "llama2" << true << "" << "auto" << "<s>" << true;
    QTest::newRow("llama2 off empty") << "llama2" << true << "" << "off" << "" << false;
}

void TokenizerTest::bosPolicy()
{
    QFETCH(QString, tokenizerName);
    QFETCH(bool, withConfig);
    QFETCH(QString, text);
    QFETCH(QString, policy);
    QFETCH(QString, expectedLeadingPieces);
    QFETCH(bool, expectedBosAdded);
    const QString dir = sharedTokenizerDir(tokenizerName);
    if (dir.isEmpty())
        QSKIP(test::noSharedReason());
    const QString config = withConfig ? QDir(dir).filePath(QStringLiteral("tokenizer_config.json")) : QString();
    const auto tok = cachedTokenizer(QDir(dir).filePath(QStringLiteral("tokenizer.json")), config);
    const Encoding enc = tok->encode(text.toStdString(), parseBosPolicy(policy.toStdString()));
    const QStringList expected = expectedLeadingPieces.isEmpty() ? QStringList() : expectedLeadingPieces.split(QLatin1Char(','));
    QStringList actual;
    for (size_t i = 0; i < enc.tokens.size() && actual.size() < expected.size(); ++i)
        actual << QString::fromStdString(enc.tokens[i].piece);
    QCOMPARE(actual, expected);
    if (expected.isEmpty())
        QVERIFY(enc.tokens.empty());
    QCOMPARE(enc.bosAdded, expectedBosAdded);
    if (enc.bosAdded) {
        QVERIFY(enc.tokens[0].special);
        QCOMPARE(enc.tokens[0].start, int64_t(0));
        QCOMPARE(enc.tokens[0].end, int64_t(0));
        QCOMPARE(std::optional<int32_t>(enc.tokens[0].id), tok->bosId());
    }
    int bosCount = 0;
    for (const Token& t : enc.tokens)
        bosCount += tok->bosId() && t.id == *tok->bosId();
    if (policy == QLatin1String("on"))
        QCOMPARE(bosCount, 1);
    if (policy == QLatin1String("off") && !text.contains(QLatin1Char('<')) && !text.contains(QLatin1Char('[')))
        QCOMPARE(bosCount, 0);
}

void TokenizerTest::bosNeedsABosToken()
{
    const QString dir = sharedTokenizerDir(QStringLiteral("qwen3"));
    if (dir.isEmpty())
        QSKIP(test::noSharedReason());
    const auto tok = cachedTokenizer(QDir(dir).filePath(QStringLiteral("tokenizer.json")),
                                     QDir(dir).filePath(QStringLiteral("tokenizer_config.json")));
    QVERIFY(!tok->bosId());
    try {
        tok->encode("Hello", BosPolicy::On);
        QFAIL("BOS on must fail without a BOS token");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QVERIFY2(std::string(e.what()).find("no BOS token") != std::string::npos, e.what());
    }
}

void TokenizerTest::displayText_data()
{
    QTest::addColumn<QString>("tokenizerName");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QStringList>("expectedDisplays");

    QTest::newRow("llama2 leading space and newline")
        << "llama2" << "a b\nc" << QStringList{"<s>", " a", " b", "↵", "c"};
    QTest::newRow("llama2 partial utf-8 bytes") << "llama2" << "\xF0\x9F\xAA\x90"
                                                << QStringList{"<s>", " ", "<0xF0>", "<0x9F>", "<0xAA>", "<0x90>"};
    QTest::newRow("llama3 tab and space") << "llama3" << "x\ty z" << QStringList{"x", "→y", " z"};
    QTest::newRow("llama3 newlines") << "llama3" << "a\n\nb" << QStringList{"a", "↵↵", "b"};
    QTest::newRow("gpt2 split emoji") << "gpt2" << "\xF0\x9F\x98\x80" << QStringList{"<0xF0><0x9F><0x98>", "<0x80>"};
    QTest::newRow("bert word pieces") << "bert-base-uncased" << "Tokenizing."
                                      << QStringList{"[CLS]", " token", "izing", ".", "[SEP]"};
}

void TokenizerTest::displayText()
{
    QFETCH(QString, tokenizerName);
    QFETCH(QString, text);
    QFETCH(QStringList, expectedDisplays);
    const QString path = tokenizerPathFor(tokenizerName);
    if (path.isEmpty())
        QSKIP(test::noSharedReason());
    const Encoding enc = cachedTokenizer(path)->encode(text.toStdString());
    QStringList actual;
    for (const Token& t : enc.tokens)
        actual << QString::fromStdString(t.display);
    QCOMPARE(actual, expectedDisplays);
}

void TokenizerTest::fromIds()
{
    const auto tok = Tokenizer::fromJson(kTinyTokenizer);
    const Encoding enc = tok->fromIds({0, 5, 6, 4});
    QCOMPARE(enc.tokens.size(), size_t(4));
    QVERIFY(!enc.bosAdded);
    QCOMPARE(QString::fromStdString(enc.tokens[0].piece), QStringLiteral("<s>"));
    QVERIFY(enc.tokens[0].special);
    QCOMPARE(QString::fromStdString(enc.tokens[1].display), QStringLiteral(" a"));
    for (const Token& t : enc.tokens) {
        QCOMPARE(t.start, int64_t(0));
        QCOMPARE(t.end, int64_t(0));
    }
    QCOMPARE(QString::fromStdString(tok->decode({0, 5, 6, 4}, true)), QStringLiteral("aabb"));
    QVERIFY_THROWS_EXCEPTION(Error, tok->fromIds({7}));
    QVERIFY_THROWS_EXCEPTION(Error, tok->fromIds({-1}));
}

void TokenizerTest::vocabularyQueries()
{
    const auto tok = Tokenizer::fromJson(kTinyTokenizer);
    QCOMPARE(tok->vocabSize(), 7);
    QCOMPARE(tok->tokenToId("ab"), std::optional<int32_t>(6));
    QCOMPARE(tok->tokenToId("zz"), std::optional<int32_t>());
    QCOMPARE(tok->piece(5), std::string("▁a"));
    QCOMPARE(tok->piece(99), std::string());
    QVERIFY(tok->isSpecial(0));
    QVERIFY(!tok->isSpecial(3));
    QCOMPARE(tok->bosId(), std::optional<int32_t>(0));
    const Encoding enc = tok->encode("ab a");
    QCOMPARE(enc.ids(), (std::vector<int32_t>{0, 2, 6, 2, 3}));
    QVERIFY(enc.bosAdded);
    QCOMPARE(enc.tokens[2].start, int64_t(0));
    QCOMPARE(enc.tokens[2].end, int64_t(2));
}

void TokenizerTest::invalidUtf8_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("badOffset");
    QTest::newRow("lone continuation") << QByteArray("ab\x80") << 2;
    QTest::newRow("truncated sequence") << QByteArray("abc\xC3") << 3;
    QTest::newRow("overlong slash") << QByteArray("\xC0\xAF") << 0;
    QTest::newRow("surrogate") << QByteArray("x\xED\xA0\x80") << 1;
    QTest::newRow("beyond U+10FFFF") << QByteArray("\xF4\x90\x80\x80") << 0;
    QTest::newRow("0xFF byte") << QByteArray("ok \xFF") << 3;
}

void TokenizerTest::invalidUtf8()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, badOffset);
    const auto tok = Tokenizer::fromJson(kTinyTokenizer);
    try {
        tok->encode(bytes.toStdString());
        QFAIL("invalid UTF-8 was accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        const std::string msg = e.what();
        QVERIFY2(msg.find("not valid UTF-8") != std::string::npos, e.what());
        QVERIFY2(msg.find("byte offset " + std::to_string(badOffset)) != std::string::npos, e.what());
    }
}

void TokenizerTest::malformedJson_data()
{
    QTest::addColumn<QString>("replaceFrom");
    QTest::addColumn<QString>("replaceTo");
    QTest::addColumn<int>("expectedCode");
    QTest::addColumn<QString>("expectedMessage");
    const int format = int(ErrorCode::Format);
    const int unsupported = int(ErrorCode::Unsupported);

    QTest::newRow("not json") << R"("version")" << R"(version")" << format << "not valid JSON";
    QTest::newRow("model missing") << R"("model": {)" << R"("modelx": {)" << format << "model: missing";
    QTest::newRow("model type unknown") << R"("type": "BPE")" << R"("type": "Magic")" << unsupported
                                        << "model Magic: this model type is not implemented";
    QTest::newRow("merge unknown piece") << R"("a b"])" << R"("a c"])" << format
                                         << "model BPE: merge 1 uses 'c', which is not in the vocabulary";
    QTest::newRow("merge bad shape") << R"("a b"])" << R"(7])" << format << "model BPE: merge 1 must be";
    QTest::newRow("vocab id negative") << R"("ab": 6)" << R"("ab": -6)" << format
                                       << "vocabulary entry 'ab' must map to a non-negative integer id";
    QTest::newRow("vocab not object") << R"("vocab": {)" << R"("vocab": 5, "v": {)" << format << "model BPE: \"vocab\"";
    QTest::newRow("bad regex") << R"(\\p{L}+|\\s+)" << R"(\\p{L}+|(\\s+)" << format
                               << "pre_tokenizer Split: the regular expression";
    QTest::newRow("bad split behavior") << R"("Isolated")" << R"("Sideways")" << format
                                        << "pre_tokenizer Split: unknown split behavior 'Sideways'";
    QTest::newRow("unknown normalizer") << R"("type": "Prepend")" << R"("type": "Precompiled")" << unsupported
                                        << "normalizer Sequence[0] Precompiled";
    QTest::newRow("added tokens not array") << R"("added_tokens": [)" << R"("added_tokens": 3, "at": [)" << format
                                            << "added_tokens";
    QTest::newRow("added token id missing") << R"({"id": 0, "content": "<s>")" << R"({"content": "<s>")" << format
                                            << "added_tokens[0]: missing \"id\"";
    QTest::newRow("template unknown special") << R"({"SpecialToken": {"id": "<s>")"
                                              << R"({"SpecialToken": {"id": "<x>")" << format
                                              << "post_processor TemplateProcessing: the template uses '<x>'";
    QTest::newRow("decoder strip no content") << R"("content": " ", "start")" << R"("start")" << format
                                              << "decoder Sequence[3] Strip: missing \"content\"";
    QTest::newRow("flag not bool") << R"("fuse_unk": true)" << R"("fuse_unk": "yes")" << format
                                   << "model BPE: \"fuse_unk\" must be true or false";
    QTest::newRow("top level array") << "WRAP" << "" << format << "the top level must be a JSON object";
    QTest::newRow("raw tab in a string") << R"("fuse_unk": true)" << "\"fuse_unk\": \"y\tes\"" << format
                                         << "not valid JSON (raw control character U+0009 inside a string at byte";
}

void TokenizerTest::malformedJson()
{
    QFETCH(QString, replaceFrom);
    QFETCH(QString, replaceTo);
    QFETCH(int, expectedCode);
    QFETCH(QString, expectedMessage);
    QString json = QString::fromUtf8(kTinyTokenizer);
    if (replaceFrom == QLatin1String("WRAP")) {
        json = QLatin1Char('[') + json + QLatin1Char(']');
    } else {
        QVERIFY2(json.contains(replaceFrom), qPrintable(QStringLiteral("test setup: '%1' not found").arg(replaceFrom)));
        json.replace(json.indexOf(replaceFrom), replaceFrom.size(), replaceTo);
    }
    try {
        Tokenizer::fromJson(json.toStdString());
        QFAIL("a malformed tokenizer.json was accepted");
    } catch (const Error& e) {
        QCOMPARE(int(e.code()), expectedCode);
        QVERIFY2(QString::fromUtf8(e.what()).contains(expectedMessage), e.what());
    }
}

void TokenizerTest::missingFile()
{
    try {
        Tokenizer::fromFile("/nonexistent/tokenizer.json");
        QFAIL("a missing file was accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QCOMPARE(e.context(), std::string("/nonexistent/tokenizer.json"));
    }
}

void TokenizerTest::fuzzReaderAndEncoder()
{
    // Mutated tokenizer files and random prompts: the only acceptable failure is sinkscope::Error,
    // and every successful encoding has offsets inside the prompt.
    QRandomGenerator rng(20240517);
    const std::string base = kTinyTokenizer;
    int loaded = 0, rejected = 0;
    for (int round = 0; round < 400; ++round) {
        std::string json = base;
        const int edits = 1 + int(rng.bounded(3));
        for (int k = 0; k < edits; ++k) {
            const size_t pos = rng.bounded(quint32(json.size()));
            switch (rng.bounded(3)) {
            case 0: json.erase(pos, 1 + rng.bounded(4u)); break;
            case 1: json.insert(pos, 1, "{}[]\",:0-9a\\ "[rng.bounded(14u)]); break;
            default: json[pos] = char(rng.bounded(256u)); break;
            }
        }
        std::shared_ptr<const Tokenizer> tok;
        try {
            tok = Tokenizer::fromJson(json);
            ++loaded;
        } catch (const Error&) {
            ++rejected;
            continue;
        }
        for (int p = 0; p < 5; ++p) {
            std::string prompt;
            const int len = int(rng.bounded(12u));
            for (int i = 0; i < len; ++i)
                prompt.push_back("ab <s>\n\xC3\xA9\xF0\x9F\x98\x80 "[rng.bounded(15u)]);
            try {
                const Encoding enc = tok->encode(prompt, BosPolicy(rng.bounded(3u)));
                for (const Token& t : enc.tokens) {
                    QVERIFY(t.start >= 0 && t.start <= t.end);
                    QVERIFY(t.end <= int64_t(prompt.size()));
                }
                tok->decode(enc.ids());
            } catch (const Error&) {
            }
        }
    }
    QVERIFY(loaded > 0);
    QVERIFY(rejected > 0);
}

QTEST_GUILESS_MAIN(TokenizerTest)
#include "tst_tokenizer.moc"
