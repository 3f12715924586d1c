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
    enum class Type { Null, Bool, Number, String, Array, Object, Raw };

    /// Parses a whole document. Throws Error(Format) "<what>: not valid JSON (...)".
    /// Members named "vocab" or "merges" are not expanded when `lazyVocabulary`: they stay Raw
    /// (their source text, to be read with JsonStream), which saves building a tree of a few
    /// hundred thousand nodes for a large vocabulary. `text` must outlive the result then.
    static Json parse(std::string_view text, const std::string& what, bool lazyVocabulary = false);

    Type type() const { return m_type; }
    bool isNull() const { return m_type == Type::Null; }
    bool isBool() const { return m_type == Type::Bool; }
    bool isNumber() const { return m_type == Type::Number; }
    bool isString() const { return m_type == Type::String; }
    bool isArray() const { return m_type == Type::Array; }
    bool isObject() const { return m_type == Type::Object; }
    bool isRaw() const { return m_type == Type::Raw; }
    std::string_view raw() const { return m_raw; }

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
    std::string_view m_raw;
};

/// A pull reader over one JSON value (a Raw member's text).
class JsonStream {
public:
    JsonStream(std::string_view text, const std::string& what);
    ~JsonStream();
    JsonStream(const JsonStream&) = delete;
    JsonStream& operator=(const JsonStream&) = delete;

    /// What the next value is, without consuming it.
    Json::Type peek();
    /// Consumes '{' / '['; the caller checked peek().
    void enterObject();
    void enterArray();
    /// Reads the next member name of the current object; false (and leaves it) at its end.
    bool nextMember(std::string& key);
    /// Moves to the next element of the current array; false (and leaves it) at its end.
    bool nextElement();
    std::string readString();
    double readNumber();
    void skipValue();
    /// Throws when anything but white space follows.
    void finish();

private:
    class JsonParser* m_parser;
    std::vector<bool> m_first;
};

} // namespace sinkscope::tok
