// SPDX-License-Identifier: GPL-3.0-or-later
// A small, strict JSON reader for tokenizer files. Qt's reader is slower on 5-15 MB vocabularies
// and drops a raw U+FEFF at the start of a string (Gemma 3's vocabulary has such entries), so the
// tokenizer parses its files itself. Strings are kept as UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sinkscope::tok {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    /// Parses a whole document. Throws Error(Format) "<what>: not valid JSON (...)".
    static Json parse(std::string_view text, const std::string& what);

    Type type() const { return m_type; }
    bool isNull() const { return m_type == Type::Null; }
    bool isBool() const { return m_type == Type::Bool; }
    bool isNumber() const { return m_type == Type::Number; }
    bool isString() const { return m_type == Type::String; }
    bool isArray() const { return m_type == Type::Array; }
    bool isObject() const { return m_type == Type::Object; }

    bool boolean() const { return m_bool; }
    double number() const { return m_number; }
    const std::string& string() const { return m_string; }
    const std::vector<Json>& array() const { return m_array; }
    const std::vector<std::pair<std::string, Json>>& members() const { return m_members; }
    /// The member named `key` (the last one when repeated), nullptr when absent or not an object.
    const Json* find(std::string_view key) const;
    bool contains(std::string_view key) const { return find(key) != nullptr; }

private:
    friend class JsonParser;
    Type m_type = Type::Null;
    bool m_bool = false;
    double m_number = 0;
    std::string m_string;
    std::vector<Json> m_array;
    std::vector<std::pair<std::string, Json>> m_members;
};

} // namespace sinkscope::tok
