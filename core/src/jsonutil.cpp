// SPDX-License-Identifier: GPL-3.0-or-later
#include "jsonutil.h"

#include "sinkscope/error.h"
#include "sinkscope/text.h"

#include <QJsonDocument>
#include <QJsonParseError>

#include <cmath>
#include <cstdio>
#include <limits>

namespace sinkscope::detail {

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
    if (!isValidUtf8(std::string_view(bytes.constData(), std::size_t(bytes.size()))))
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
