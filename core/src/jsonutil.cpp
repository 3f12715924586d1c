// SPDX-License-Identifier: GPL-3.0-or-later
#include "jsonutil.h"

#include "sinkscope/error.h"

#include <QJsonDocument>
#include <QJsonParseError>

#include <cmath>
#include <cstdio>
#include <limits>

namespace sinkscope::detail {

bool isValidUtf8(const char* bytes, std::size_t size)
{
    const auto* s = reinterpret_cast<const unsigned char*>(bytes);
    std::size_t i = 0;
    while (i < size) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (size - i < len)
            return false;
        for (std::size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < minimum[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

std::string rawControlCharacterProblem(unsigned char c)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "raw control character U+%04X inside a string", unsigned(c));
    return buf;
}

JsonParse parseJsonText(const char* bytes, std::size_t size)
{
    JsonParse out;
    QJsonParseError err{};
    out.document = QJsonDocument::fromJson(QByteArray::fromRawData(bytes, qsizetype(size)), &err);
    if (err.error != QJsonParseError::NoError) {
        out.document = QJsonDocument();
        out.error = toStd(err.errorString());
        out.offset = std::size_t(err.offset);
        return out;
    }
    // The text is JSON as far as Qt is concerned, so quotes and escapes are balanced: one pass that
    // tracks whether it is inside a string finds the raw control characters Qt let through.
    bool inString = false;
    for (std::size_t i = 0; i < size; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (!inString) {
            inString = c == '"';
        } else if (c == '\\') {
            ++i;
        } else if (c == '"') {
            inString = false;
        } else if (c < 0x20) {
            out.document = QJsonDocument();
            out.error = rawControlCharacterProblem(c);
            out.offset = i;
            return out;
        }
    }
    return out;
}

QJsonObject parseJsonObject(const QByteArray& bytes, const std::string& source)
{
    // QJsonDocument silently replaces invalid UTF-8; a file that is not UTF-8 is corrupt, say so.
    if (!isValidUtf8(bytes.constData(), static_cast<std::size_t>(bytes.size())))
        throw Error(ErrorCode::Format, source + " is not valid UTF-8 text.", source);
    const JsonParse parsed = parseJsonText(bytes.constData(), std::size_t(bytes.size()));
    if (!parsed.error.empty()) {
        throw Error(ErrorCode::Format,
                    source + " is not valid JSON: " + parsed.error + " at byte " + std::to_string(parsed.offset) + ".",
                    source);
    }
    if (!parsed.document.isObject())
        throw Error(ErrorCode::Format, source + " is not a JSON object.", source);
    return parsed.document.object();
}

std::optional<int64_t> jsonInteger(const QJsonValue& value)
{
    if (!value.isDouble())
        return std::nullopt;
    const double d = value.toDouble();
    if (!std::isfinite(d) || std::floor(d) != d)
        return std::nullopt;
    // Qt keeps integers that fit in 64 bits exactly; larger ones arrive as doubles and are
    // rejected here rather than rounded.
    const qint64 sentinel = std::numeric_limits<qint64>::min();
    const qint64 i = value.toInteger(sentinel);
    if (i == sentinel)
        return std::nullopt;
    return static_cast<int64_t>(i);
}

const char* jsonKindName(const QJsonValue& value)
{
    switch (value.type()) {
    case QJsonValue::Null: return "null";
    case QJsonValue::Bool: return "a boolean";
    case QJsonValue::Double: return "a number";
    case QJsonValue::String: return "a string";
    case QJsonValue::Array: return "an array";
    case QJsonValue::Object: return "an object";
    case QJsonValue::Undefined: return "missing";
    }
    return "unknown";
}

} // namespace sinkscope::detail
