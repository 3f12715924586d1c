// SPDX-License-Identifier: GPL-3.0-or-later
#include "json.h"

#include "sinkscope/text.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>

namespace sinkscope::json {

namespace dom = simdjson::dom;

// The value types keep simdjson's handles (a document pointer and a tape index) in opaque storage,
// so that simdjson's large header stays out of every other translation unit.
static_assert(sizeof(dom::element) <= 16 && std::is_trivially_copyable_v<dom::element>);
static_assert(sizeof(dom::object) <= 16 && std::is_trivially_copyable_v<dom::object>);
static_assert(sizeof(dom::array) <= 16 && std::is_trivially_copyable_v<dom::array>);
static_assert(sizeof(dom::object::iterator) <= 16 && std::is_trivially_copyable_v<dom::object::iterator>);
static_assert(sizeof(dom::array::iterator) <= 16 && std::is_trivially_copyable_v<dom::array::iterator>);

struct Access {
    template <class T> static T get(const unsigned char* handle)
    {
        T t;
        std::memcpy(static_cast<void*>(&t), handle, sizeof t);
        return t;
    }
    template <class T> static void put(unsigned char* handle, const T& t)
    {
        std::memcpy(handle, static_cast<const void*>(&t), sizeof t);
    }

    static Value make(dom::element e)
    {
        Value v;
        switch (e.type()) {
        case dom::element_type::NULL_VALUE: v.m_kind = Kind::Null; break;
        case dom::element_type::BOOL: v.m_kind = Kind::Bool; break;
        case dom::element_type::INT64:
        case dom::element_type::UINT64:
        case dom::element_type::DOUBLE: v.m_kind = Kind::Number; break;
        case dom::element_type::STRING: v.m_kind = Kind::String; break;
        case dom::element_type::ARRAY: v.m_kind = Kind::Array; break;
        case dom::element_type::OBJECT: v.m_kind = Kind::Object; break;
        }
        put(v.m_handle, e);
        return v;
    }
    static dom::element element(const Value& v) { return get<dom::element>(v.m_handle); }

    static Members members(dom::object o)
    {
        Members m;
        m.m_empty = false;
        put(m.m_handle, o);
        return m;
    }
    static dom::object object(const Members& m) { return get<dom::object>(m.m_handle); }
    static bool empty(const Members& m) { return m.m_empty; }
    static Members::iterator memberIt(dom::object::iterator it)
    {
        Members::iterator i;
        put(i.m_handle, it);
        return i;
    }
    static dom::object::iterator memberIt(const Members::iterator& i) { return get<dom::object::iterator>(i.m_handle); }

    static Elements elements(dom::array a)
    {
        Elements e;
        e.m_empty = false;
        put(e.m_handle, a);
        return e;
    }
    static dom::array array(const Elements& e) { return get<dom::array>(e.m_handle); }
    static bool empty(const Elements& e) { return e.m_empty; }
    static Elements::iterator elementIt(dom::array::iterator it)
    {
        Elements::iterator i;
        put(i.m_handle, it);
        return i;
    }
    static dom::array::iterator elementIt(const Elements::iterator& i) { return get<dom::array::iterator>(i.m_handle); }
};

// ---- Value ----------------------------------------------------------------------------------

bool Value::boolean() const
{
    return m_kind == Kind::Bool && Access::element(*this).get_bool().value_unsafe();
}

double Value::number() const
{
    if (m_kind != Kind::Number)
        return 0;
    const dom::element e = Access::element(*this);
    switch (e.type()) {
    case dom::element_type::INT64: return double(e.get_int64().value_unsafe());
    case dom::element_type::UINT64: return double(e.get_uint64().value_unsafe());
    default: return e.get_double().value_unsafe();
    }
}

std::optional<int64_t> Value::integer() const
{
    if (m_kind != Kind::Number)
        return std::nullopt;
    const dom::element e = Access::element(*this);
    switch (e.type()) {
    case dom::element_type::INT64: return e.get_int64().value_unsafe();
    case dom::element_type::UINT64: return std::nullopt; // simdjson uses it only above INT64_MAX
    default: break;
    }
    const double d = e.get_double().value_unsafe();
    // Range first: converting a double outside int64's range is undefined behaviour.
    if (!std::isfinite(d) || std::floor(d) != d || !(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return std::nullopt;
    return static_cast<int64_t>(d);
}

std::string_view Value::string() const
{
    if (m_kind != Kind::String)
        return {};
    return Access::element(*this).get_string().value_unsafe();
}

Value Value::find(std::string_view key) const
{
    if (m_kind != Kind::Object)
        return {};
    Value found;
    const dom::object object = Access::element(*this).get_object().value_unsafe();
    for (const auto field : object)
        if (field.key == key)
            found = Access::make(field.value);
    return found;
}

std::size_t Value::size() const
{
    const dom::element e = Access::element(*this);
    if (m_kind == Kind::Array)
        return e.get_array().value_unsafe().size();
    if (m_kind == Kind::Object)
        return e.get_object().value_unsafe().size();
    return 0;
}

Members Value::members() const
{
    if (m_kind != Kind::Object)
        return {};
    return Access::members(Access::element(*this).get_object().value_unsafe());
}

std::vector<std::pair<std::string_view, Value>> Value::uniqueMembers() const
{
    std::vector<std::pair<std::string_view, Value>> out;
    for (auto member : members())
        out.push_back(member);
    // Stable: of the members sharing a key, the last in the document comes last, and wins.
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<std::string_view, Value>> unique;
    unique.reserve(out.size());
    for (std::size_t i = 0; i < out.size(); ++i)
        if (i + 1 == out.size() || out[i + 1].first != out[i].first)
            unique.push_back(out[i]);
    return unique;
}

Elements Value::elements() const
{
    if (m_kind != Kind::Array)
        return {};
    return Access::elements(Access::element(*this).get_array().value_unsafe());
}

std::vector<Value> Value::array() const
{
    std::vector<Value> out;
    for (Value v : elements())
        out.push_back(v);
    return out;
}

std::string Value::toJson() const
{
    return m_kind == Kind::Absent ? std::string() : simdjson::minify(Access::element(*this));
}

const char* Value::kindName() const
{
    switch (m_kind) {
    case Kind::Absent: return "missing";
    case Kind::Null: return "null";
    case Kind::Bool: return "a boolean";
    case Kind::Number: return "a number";
    case Kind::String: return "a string";
    case Kind::Array: return "an array";
    case Kind::Object: return "an object";
    }
    return "unknown";
}

// ---- ranges ---------------------------------------------------------------------------------

std::pair<std::string_view, Value> Members::iterator::operator*() const
{
    const dom::object::iterator it = Access::memberIt(*this);
    return {it.key(), Access::make(it.value())};
}

Members::iterator& Members::iterator::operator++()
{
    dom::object::iterator it = Access::memberIt(*this);
    ++it;
    Access::put(m_handle, it);
    return *this;
}

bool Members::iterator::operator!=(const iterator& o) const
{
    return Access::memberIt(*this) != Access::memberIt(o);
}

Members::iterator Members::begin() const
{
    return Access::empty(*this) ? iterator() : Access::memberIt(Access::object(*this).begin());
}

Members::iterator Members::end() const
{
    return Access::empty(*this) ? iterator() : Access::memberIt(Access::object(*this).end());
}

Value Elements::iterator::operator*() const
{
    return Access::make(*Access::elementIt(*this));
}

Elements::iterator& Elements::iterator::operator++()
{
    dom::array::iterator it = Access::elementIt(*this);
    ++it;
    Access::put(m_handle, it);
    return *this;
}

bool Elements::iterator::operator!=(const iterator& o) const
{
    return Access::elementIt(*this) != Access::elementIt(o);
}

Elements::iterator Elements::begin() const
{
    return Access::empty(*this) ? iterator() : Access::elementIt(Access::array(*this).begin());
}

Elements::iterator Elements::end() const
{
    return Access::empty(*this) ? iterator() : Access::elementIt(Access::array(*this).end());
}

// ---- parsing --------------------------------------------------------------------------------

namespace {
constexpr std::size_t kMinimalCapacity = 32; // simdjson's MINIMAL_DOCUMENT_CAPACITY
} // namespace

struct Document::Impl {
    dom::parser parser;
    dom::element root;
};

Document::Document() = default;
Document::~Document() = default;
Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;

Value Document::root() const
{
    return d ? Access::make(d->root) : Value();
}

namespace {

// The deepest nesting accepted: 128, the recursion limit of serde_json, with which the reference
// tokenizer library reads tokenizer.json (no real config, index, header or tokenizer file comes
// near it). It also bounds every recursive walk over a parsed value (the error locator below, the
// tokenizer's readers), so that a hostile file cannot overflow a thread's stack: simdjson's own
// default of 1024 levels did, under the sanitizers, in the error locator.
constexpr std::size_t kMaxDepth = 128;

struct Problem {
    std::string what;
    std::size_t offset = 0;
};

std::string rawControlCharacter(unsigned char c)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "raw control character U+%04X inside a string", unsigned(c));
    return buf;
}

// Problems found by simdjson's first stage, which does not say where: one pass that tracks strings
// and nesting finds the first of them. Only refused texts come here.
std::optional<Problem> locateScanProblem(std::string_view text, simdjson::error_code code)
{
    bool inString = false;
    std::size_t stringStart = 0;
    std::size_t depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
            else if (c < 0x20 && code == simdjson::UNESCAPED_CHARS)
                return Problem{rawControlCharacter(c), i};
        } else if (c == '"') {
            inString = true;
            stringStart = i;
        } else if (c == '[' || c == '{') {
            // Whatever simdjson said (unbalanced brackets come back as a tape error): a text
            // deeper than the limit is reported as such here, so the recursive walk below only
            // ever sees texts within it.
            if (++depth > kMaxDepth)
                return Problem{"nesting deeper than " + std::to_string(kMaxDepth) + " levels", i};
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    if (inString && code == simdjson::UNCLOSED_STRING)
        return Problem{"unterminated string", stringStart};
    return std::nullopt;
}

// The other problems: a walk with simdjson's On-Demand reader, which stops where the text goes
// wrong and says where that is.
namespace od = simdjson::ondemand;

// A scalar that fails to parse is reported at its first byte (`where`); On-Demand itself would
// point past it.
struct Walker {
    const char* where = nullptr;

    template <class T> simdjson::error_code scalar(T& v, od::json_type type)
    {
        const std::string_view token = v.raw_json_token();
        simdjson::error_code e = simdjson::SUCCESS;
        switch (type) {
        case od::json_type::string: {
            std::string_view s;
            e = v.get_string().get(s);
            break;
        }
        case od::json_type::number: {
            od::number n;
            e = v.get_number().get(n);
            break;
        }
        case od::json_type::boolean: {
            bool b = false;
            e = v.get_bool().get(b);
            break;
        }
        default: {
            bool isNull = false;
            e = v.is_null().get(isNull);
            if (!e && !isNull)
                e = simdjson::N_ATOM_ERROR;
            break;
        }
        }
        if (e == simdjson::TRAILING_CONTENT) {
            // A scalar document followed by more: the more starts after the token's white space.
            std::size_t n = 0;
            while (n < token.size() && token[n] != ' ' && token[n] != '\t' && token[n] != '\n' && token[n] != '\r')
                ++n;
            while (n < token.size() && (token[n] == ' ' || token[n] == '\t' || token[n] == '\n' || token[n] == '\r'))
                ++n;
            where = token.data() + n;
        } else if (e) {
            where = token.data();
        }
        return e;
    }

    simdjson::error_code walk(od::value v)
    {
        od::json_type type{};
        if (auto e = v.type().get(type))
            return e;
        if (type == od::json_type::object) {
            od::object o;
            if (auto e = v.get_object().get(o))
                return e;
            for (auto f : o) {
                od::field field;
                if (auto e = std::move(f).get(field))
                    return e;
                std::string_view key;
                if (auto e = field.unescaped_key().get(key))
                    return e;
                if (auto e = walk(field.value()))
                    return e;
            }
            return simdjson::SUCCESS;
        }
        if (type == od::json_type::array) {
            od::array a;
            if (auto e = v.get_array().get(a))
                return e;
            for (auto x : a) {
                od::value element;
                if (auto e = std::move(x).get(element))
                    return e;
                if (auto e = walk(element))
                    return e;
            }
            return simdjson::SUCCESS;
        }
        return scalar(v, type);
    }
};

std::string phrase(simdjson::error_code code)
{
    switch (code) {
    case simdjson::STRING_ERROR: return "bad escape or unpaired surrogate in a string";
    case simdjson::NUMBER_ERROR: return "malformed number or number out of range";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR: return "misspelled true, false or null";
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::EMPTY: return "no JSON value";
    case simdjson::TRAILING_CONTENT: return "unexpected data after the document";
    default: return "unexpected character";
    }
}

Problem locate(std::string_view text, simdjson::error_code domError)
{
    if (domError == simdjson::UTF8_ERROR) {
        const std::size_t at = firstInvalidUtf8(text);
        return {"invalid UTF-8", at == std::string_view::npos ? 0 : at};
    }
    if (domError == simdjson::EMPTY)
        return {"no JSON value", text.size()};
    if (auto p = locateScanProblem(text, domError))
        return *p;
    const simdjson::padded_string padded(text);
    od::parser parser;
    od::document doc;
    simdjson::error_code e = parser.allocate(std::max(text.size(), kMinimalCapacity), kMaxDepth);
    if (!e)
        e = parser.iterate(padded).get(doc);
    if (e) // refused before any value was read: nothing more precise to say than the start
        return {phrase(e), 0};
    Walker walker;
    od::json_type rootType{};
    e = doc.type().get(rootType);
    if (!e && (rootType == od::json_type::object || rootType == od::json_type::array)) {
        od::value v;
        e = doc.get_value().get(v);
        if (!e)
            e = walker.walk(v);
    } else if (!e) {
        e = walker.scalar(doc, rootType);
    }
    std::size_t offset = text.size();
    const char* at = walker.where;
    if (at == nullptr && doc.current_location().get(at))
        at = nullptr;
    if (at != nullptr)
        offset = std::size_t(std::clamp<std::ptrdiff_t>(at - padded.data(), 0, std::ptrdiff_t(text.size())));
    if (!e) // the value itself is sound: what follows it is the problem
        return {"unexpected data after the document", offset};
    return {phrase(e), offset};
}

} // namespace

Document parse(std::string_view text, const ErrorStyle& style)
{
    std::size_t skipped = 0;
    if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0)
        skipped = 3; // a byte order mark before the value is tolerated
    const std::string_view body = text.substr(skipped);

    Document doc;
    doc.d = std::make_unique<Document::Impl>();
    simdjson::error_code e = doc.d->parser.allocate(std::max(body.size(), kMinimalCapacity), kMaxDepth);
    if (e)
        throw Error(ErrorCode::OutOfMemory, style.before + "no memory to parse " + std::to_string(body.size()) + " bytes" + style.after,
                    style.context);
    e = doc.d->parser.parse(body.data(), body.size()).get(doc.d->root);
    if (!e)
        return doc;
    const Problem p = locate(body, e);
    throw Error(style.code, style.before + p.what + " at byte " + std::to_string(p.offset + skipped) + style.after,
                style.context);
}

Document parseObject(std::string_view bytes, const std::string& source)
{
    if (!isValidUtf8(bytes))
        throw Error(ErrorCode::Format, source + " is not valid UTF-8 text.", source);
    Document doc = parse(bytes, ErrorStyle{source + " is not valid JSON: ", ".", source});
    if (!doc.root().isObject())
        throw Error(ErrorCode::Format, source + " is not a JSON object.", source);
    return doc;
}

} // namespace sinkscope::json
