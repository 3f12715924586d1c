// SPDX-License-Identifier: GPL-3.0-or-later
// The core's one JSON reader (core/src/json.h): strictness, byte-exact strings, the byte order
// mark, repeated keys, number ranges and the wording and offsets of its errors. Every expected
// value is worked out by hand from the constructed text.
#include "json.h"

#include <QtTest>

#include <string>

using namespace sinkscope;

namespace {

const json::ErrorStyle kStyle{"t: ", ".", "ctx", ErrorCode::Format};

// The message parse() gives for `text`, or "accepted".
std::string refusal(const std::string& text)
{
    try {
        json::parse(text, kStyle);
        return "accepted";
    } catch (const Error& e) {
        return e.what();
    }
}

} // namespace

class TestJson : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void refusals_data();
    void refusals();
    void errorStyle();
    void byteOrderMark();
    void exactStrings();
    void repeatedKeys();
    void integers();
    void depthLimit();
    void parseObject();
    void compactText();
};

void TestJson::refusals_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("raw tab") << QByteArray("{\"a\":\"x\ty\"}") << "t: raw control character U+0009 inside a string at byte 7.";
    QTest::newRow("raw NUL") << QByteArray("[\"\0\"]", 5) << "t: raw control character U+0000 inside a string at byte 2.";
    QTest::newRow("escaped quote then raw newline") << QByteArray("[\"\\\"\n\"]")
                                                    << "t: raw control character U+000A inside a string at byte 4.";
    QTest::newRow("trailing garbage") << QByteArray("{\"a\":1} x") << "t: unexpected data after the document at byte 8.";
    QTest::newRow("two values") << QByteArray("1 2") << "t: unexpected data after the document at byte 2.";
    QTest::newRow("unterminated string") << QByteArray("{\"a\":\"abc") << "t: unterminated string at byte 5.";
    QTest::newRow("empty") << QByteArray("  ") << "t: no JSON value at byte 2.";
    QTest::newRow("invalid UTF-8") << QByteArray("{\"a\":\"\xff\"}") << "t: invalid UTF-8 at byte 6.";
    QTest::newRow("lone high surrogate") << QByteArray(R"({"a":"\ud800"})")
                                         << "t: bad escape or unpaired surrogate in a string at byte 5.";
    QTest::newRow("lone low surrogate") << QByteArray(R"({"a":"\udc00"})")
                                        << "t: bad escape or unpaired surrogate in a string at byte 5.";
    QTest::newRow("unknown escape") << QByteArray(R"(["\x"])") << "t: bad escape or unpaired surrogate in a string at byte 1.";
    QTest::newRow("integer beyond 2^64") << QByteArray("[18446744073709551616]")
                                         << "t: malformed number or number out of range at byte 1.";
    QTest::newRow("double overflow") << QByteArray("[1e400]") << "t: malformed number or number out of range at byte 1.";
    QTest::newRow("leading zero") << QByteArray("[01]") << "t: malformed number or number out of range at byte 1.";
    QTest::newRow("trailing comma") << QByteArray("[1,2,]") << "t: unexpected character at byte 5.";
    QTest::newRow("NaN") << QByteArray("{\"a\":NaN}") << "t: unexpected character at byte 5.";
    QTest::newRow("missing colon") << QByteArray("{\"a\" 1}") << "t: unexpected character at byte 5.";
}

void TestJson::refusals()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, message);
    QCOMPARE(QString::fromStdString(refusal(text.toStdString())), message);
}

void TestJson::errorStyle()
{
    try {
        json::parse("[", {"before ", " after", "the context", ErrorCode::Unsupported});
        QFAIL("accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Unsupported);
        QCOMPARE(QString::fromStdString(e.context()), QStringLiteral("the context"));
        QVERIFY2(QString::fromStdString(e.what()).startsWith("before "), e.what());
        QVERIFY2(QString::fromStdString(e.what()).endsWith(" after"), e.what());
    }
}

void TestJson::byteOrderMark()
{
    const json::Document doc = json::parse("\xEF\xBB\xBF{\"a\":1}", kStyle);
    QCOMPARE(doc.root().find("a").integer().value_or(-1), int64_t(1));
    // Offsets count the mark: they are offsets in the file as given.
    QCOMPARE(QString::fromStdString(refusal("\xEF\xBB\xBF[\"\t\"]")),
             QStringLiteral("t: raw control character U+0009 inside a string at byte 5."));
    // Only one mark, and only before the value.
    QVERIFY(refusal("\xEF\xBB\xBF\xEF\xBB\xBF{}") != "accepted");
}

void TestJson::exactStrings()
{
    const json::Document doc = json::parse("[\"a\\u0000b\", \"\\ud83d\\ude00\", \"x\\/y\", \"\xEF\xBB\xBFlead\"]", kStyle);
    const std::vector<json::Value> a = doc.root().array();
    QCOMPARE(a.size(), std::size_t(4));
    QCOMPARE(a[0].string(), std::string_view("a\0b", 3));
    QCOMPARE(a[1].string(), std::string_view("\xF0\x9F\x98\x80"));
    QCOMPARE(a[2].string(), std::string_view("x/y"));
    QCOMPARE(a[3].string(), std::string_view("\xEF\xBB\xBFlead")); // a U+FEFF inside a string is kept
}

void TestJson::repeatedKeys()
{
    const json::Document doc = json::parse(R"({"b":1,"a":2,"b":3})", kStyle);
    const json::Value o = doc.root();
    QCOMPARE(o.find("b").integer().value_or(-1), int64_t(3));
    QVERIFY(o.find("c").isAbsent());
    int seen = 0;
    for (const auto [key, value] : o.members()) {
        (void)key;
        (void)value;
        ++seen;
    }
    QCOMPARE(seen, 3);
    const auto unique = o.uniqueMembers();
    QCOMPARE(unique.size(), std::size_t(2));
    QCOMPARE(unique[0].first, std::string_view("a"));
    QCOMPARE(unique[1].first, std::string_view("b"));
    QCOMPARE(unique[1].second.integer().value_or(-1), int64_t(3));
}

void TestJson::integers()
{
    const json::Document doc = json::parse(
        "[9223372036854775807, 9223372036854775808, -9223372036854775808, 1e3, 2.5, 1e19, -0, 2.0, true]", kStyle);
    const std::vector<json::Value> a = doc.root().array();
    QCOMPARE(a[0].integer(), std::optional<int64_t>(INT64_MAX));
    QCOMPARE(a[1].integer(), std::optional<int64_t>());
    QCOMPARE(a[1].number(), 9223372036854775808.0);
    QCOMPARE(a[2].integer(), std::optional<int64_t>(INT64_MIN));
    QCOMPARE(a[3].integer(), std::optional<int64_t>(1000));
    QCOMPARE(a[4].integer(), std::optional<int64_t>());
    QCOMPARE(a[5].integer(), std::optional<int64_t>());
    QCOMPARE(a[6].integer(), std::optional<int64_t>(0));
    QCOMPARE(a[7].integer(), std::optional<int64_t>(2));
    QCOMPARE(a[8].integer(), std::optional<int64_t>());
    QCOMPARE(QString(a[8].kindName()), QStringLiteral("a boolean"));
}

void TestJson::depthLimit()
{
    // 128 levels, serde_json's limit (the reference tokenizer library's reader).
    const std::string ok = std::string(128, '[') + std::string(128, ']');
    QCOMPARE(QString::fromStdString(refusal(ok)), QStringLiteral("accepted"));
    const std::string deep = std::string(129, '[') + std::string(129, ']');
    QCOMPARE(QString::fromStdString(refusal(deep)), QStringLiteral("t: nesting deeper than 128 levels at byte 128."));
    // The fuzzer's find: thousands of open brackets and no close. With simdjson's default depth the
    // error locator recursed once per level and overflowed the stack under the sanitizers.
    const std::string unclosed = std::string(6321, '[') + "\n";
    QCOMPARE(QString::fromStdString(refusal(unclosed)), QStringLiteral("t: nesting deeper than 128 levels at byte 128."));
    // Deep but within the limit, and broken inside: located by the walk, which stays shallow.
    const std::string brokenInside = std::string(128, '[') + "01" + std::string(128, ']');
    QVERIFY(QString::fromStdString(refusal(brokenInside)).contains(QStringLiteral("at byte 128.")));
}

void TestJson::parseObject()
{
    auto message = [](const std::string& text) -> QString {
        try {
            json::parseObject(text, "f.json");
            return "accepted";
        } catch (const Error& e) {
            return QString::fromStdString(e.what());
        }
    };
    QCOMPARE(message("{}"), QStringLiteral("accepted"));
    QCOMPARE(message("[1]"), QStringLiteral("f.json is not a JSON object."));
    QCOMPARE(message("{\"a\":\"\xC3\"}"), QStringLiteral("f.json is not valid UTF-8 text."));
    QCOMPARE(message("{\"a\":1,}"), QStringLiteral("f.json is not valid JSON: unexpected character at byte 7."));
}

void TestJson::compactText()
{
    const json::Document doc = json::parse("{ \"s\" : [1, 2.5, \"x\\n\"], \"t\": null }", kStyle);
    QCOMPARE(QString::fromStdString(doc.root().toJson()), QStringLiteral("{\"s\":[1,2.5,\"x\\n\"],\"t\":null}"));
}

QTEST_GUILESS_MAIN(TestJson)
#include "tst_json.moc"
