// SPDX-License-Identifier: GPL-3.0-or-later
// JSON helpers shared by the parsers of the core (safetensors headers, config.json, shard indexes).
// Private to the core: Qt types stay out of the public headers.
#pragma once

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <cstdint>
#include <optional>
#include <string>

namespace sinkscope::detail {

/// A JSON text parsed strictly, or why it is not JSON.
struct JsonParse {
    QJsonDocument document;
    std::string error;      ///< empty when the text is JSON; else what is wrong ("... inside a string")
    std::size_t offset = 0; ///< byte offset of the problem
};

/// Parses `size` bytes as JSON. Stricter than QJsonDocument alone, which accepts raw control
/// characters (U+0000..U+001F) inside strings: RFC 8259 and the Python writers of these files do
/// not, so they are refused here. UTF-8 is checked by the callers (each names its own file).
JsonParse parseJsonText(const char* bytes, std::size_t size);

/// How a raw control character `c` inside a JSON string is reported ("raw control character U+0009
/// inside a string"); shared with the tokenizer's own reader so both say the same.
std::string rawControlCharacterProblem(unsigned char c);

/// Parses `bytes` as one JSON object. Throws Error(Format) naming `source` when the text is not
/// UTF-8, not JSON, or not an object.
QJsonObject parseJsonObject(const QByteArray& bytes, const std::string& source);

/// The integer held by `value` when it is a JSON number with no fractional part that fits int64.
std::optional<int64_t> jsonInteger(const QJsonValue& value);

/// Short description of a JSON value's kind for messages ("a string", "null", ...).
const char* jsonKindName(const QJsonValue& value);

/// QString -> UTF-8 std::string.
inline std::string toStd(const QString& s)
{
    return s.toStdString();
}

} // namespace sinkscope::detail
