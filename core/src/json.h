// SPDX-License-Identifier: GPL-3.0-or-later
// The core's one JSON reader: every JSON file the core parses (config.json, safetensors headers,
// shard indexes, tokenizer.json, tokenizer_config.json, prompt lines, session manifests, demo
// models) goes through parse() below, which wraps simdjson's DOM parser. Private to the core:
// neither simdjson nor this header reaches the public headers, and simdjson itself is included
// by json.cpp only (the value types here keep its handles in opaque storage).
#pragma once

#include "sinkscope/error.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sinkscope::json {

enum class Kind { Absent, Null, Bool, Number, String, Array, Object };

class Members;
class Elements;

/// A view of one value inside a Document (valid while the Document lives), or Absent: what find()
/// gives for a missing member. Copying is cheap (a handle of two words).
class Value {
public:
    Value() = default;
    /// True unless Absent.
    explicit operator bool() const { return m_kind != Kind::Absent; }
    Kind kind() const { return m_kind; }
    bool isAbsent() const { return m_kind == Kind::Absent; }
    bool isNull() const { return m_kind == Kind::Null; }
    bool isAbsentOrNull() const { return m_kind == Kind::Absent || m_kind == Kind::Null; }
    bool isBool() const { return m_kind == Kind::Bool; }
    bool isNumber() const { return m_kind == Kind::Number; }
    bool isString() const { return m_kind == Kind::String; }
    bool isArray() const { return m_kind == Kind::Array; }
    bool isObject() const { return m_kind == Kind::Object; }

    /// The boolean; false unless isBool().
    bool boolean() const;
    /// Any number as a double (integers beyond 2^53 rounded); 0 unless isNumber().
    double number() const;
    /// The number when it is a whole number that fits int64 exactly (2.0 and 1e3 count, 2.5 and
    /// 1e19 do not); nullopt for anything else, so that no caller converts an out-of-range double.
    std::optional<int64_t> integer() const;
    /// The string's bytes exactly as decoded (escapes resolved, NUL and U+FEFF kept); empty unless
    /// isString(). Points into the Document.
    std::string_view string() const;
    std::string str() const { return std::string(string()); }

    /// The member named `key` of an object; with a repeated key the last one wins (as in
    /// Python's json module). Absent when missing or when this is not an object.
    Value find(std::string_view key) const;
    bool contains(std::string_view key) const { return bool(find(key)); }
    /// How many elements (array) or members (object, repeated keys counted) the value has, as
    /// the parser counted them (no walk; saturates at 2^24 - 1); 0 for anything else. A hint for
    /// reserving.
    std::size_t size() const;
    /// Members in document order, repeated keys included (for the large tokenizer tables).
    Members members() const;
    /// Members with each key once (its last value), sorted by key: the view for callers that must
    /// not see a hidden duplicate.
    std::vector<std::pair<std::string_view, Value>> uniqueMembers() const;
    /// Elements of an array in order (empty range unless isArray()).
    Elements elements() const;
    /// The elements gathered into a vector, for short arrays that are indexed.
    std::vector<Value> array() const;

    /// The value as compact JSON text (for a piece that is stored verbatim, such as session
    /// settings); empty when Absent.
    std::string toJson() const;

    /// Short description of the kind for messages ("a string", "null", "missing", ...).
    const char* kindName() const;

private:
    friend struct Access;
    Kind m_kind = Kind::Absent;
    alignas(8) unsigned char m_handle[16] = {};
};

/// A forward range over an object's members as (key, value) pairs.
class Members {
public:
    class iterator {
    public:
        std::pair<std::string_view, Value> operator*() const;
        iterator& operator++();
        bool operator!=(const iterator& o) const;

    private:
        friend struct Access;
        alignas(8) unsigned char m_handle[16] = {};
    };
    iterator begin() const;
    iterator end() const;

private:
    friend struct Access;
    bool m_empty = true;
    alignas(8) unsigned char m_handle[16] = {};
};

/// A forward range over an array's elements.
class Elements {
public:
    class iterator {
    public:
        Value operator*() const;
        iterator& operator++();
        bool operator!=(const iterator& o) const;

    private:
        friend struct Access;
        alignas(8) unsigned char m_handle[16] = {};
    };
    iterator begin() const;
    iterator end() const;

private:
    friend struct Access;
    bool m_empty = true;
    alignas(8) unsigned char m_handle[16] = {};
};

/// How a refused text is reported: Error(code, before + problem + " at byte N" + after, context),
/// where the problem is a short phrase ("raw control character U+0009 inside a string",
/// "unexpected data after the document", ...) and N the byte offset in the text as given.
struct ErrorStyle {
    std::string before;
    std::string after;
    std::string context;
    ErrorCode code = ErrorCode::Format;
};

/// A parsed JSON text; owns the storage every Value of it points into. Move-only.
class Document {
public:
    Document();
    ~Document();
    Document(Document&&) noexcept;
    Document& operator=(Document&&) noexcept;
    Value root() const;

private:
    friend Document parse(std::string_view, const ErrorStyle&);
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// Parses `text` as one strict JSON value (RFC 8259): raw control characters U+0000..U+001F inside
/// strings, invalid UTF-8, unpaired surrogate escapes, numbers out of range (|x| > ~1.8e308, or
/// integers beyond 2^64), nesting deeper than 128 (serde_json's limit), and anything but white space after the value
/// are refused. One UTF-8 byte order mark before the value is skipped. Throws Error(style.code)
/// as ErrorStyle says: this is the one place where a JSON error becomes an Error.
Document parse(std::string_view text, const ErrorStyle& style);

/// Parses `bytes` as one JSON object, the common case of the core's files; messages name
/// `source`: "<source> is not valid UTF-8 text.", "<source> is not valid JSON: <problem> at byte
/// N." and "<source> is not a JSON object.", each Error(Format) with `source` as context.
Document parseObject(std::string_view bytes, const std::string& source);

} // namespace sinkscope::json
