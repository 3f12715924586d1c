// SPDX-License-Identifier: GPL-3.0-or-later
// JSON accessors that turn every surprise in tokenizer.json into an Error naming the component,
// plus small tables shared by several components.
#include "sinkscope/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"

#include <array>

namespace sinkscope::tok {

void malformed(const std::string& component, const std::string& problem)
{
    throw Error(ErrorCode::Format, "Malformed tokenizer.json: " + component + ": " + problem + ".");
}

void unsupported(const std::string& component, const std::string& problem)
{
    throw Error(ErrorCode::Unsupported, "Unsupported tokenizer.json: " + component + ": " + problem + ".");
}

const Json& requireObject(const Json* v, const std::string& component)
{
    if (v == nullptr)
        malformed(component, "missing");
    if (!v->isObject())
        malformed(component, "expected a JSON object");
    return *v;
}

std::string requireString(const Json& o, const char* key, const std::string& component)
{
    const Json* v = o.find(key);
    if (v == nullptr)
        malformed(component, std::string("missing \"") + key + "\"");
    if (!v->isString())
        malformed(component, std::string("\"") + key + "\" must be a string");
    return v->string();
}

std::string optString(const Json& o, const char* key, const std::string& component, const std::string& fallback)
{
    const Json* v = o.find(key);
    if (absent(v))
        return fallback;
    if (!v->isString())
        malformed(component, std::string("\"") + key + "\" must be a string");
    return v->string();
}

bool optBool(const Json& o, const char* key, const std::string& component, bool fallback)
{
    const Json* v = o.find(key);
    if (absent(v))
        return fallback;
    if (!v->isBool())
        malformed(component, std::string("\"") + key + "\" must be true or false");
    return v->boolean();
}

int64_t requireInt(const Json& o, const char* key, const std::string& component)
{
    const Json* v = o.find(key);
    if (v == nullptr)
        malformed(component, std::string("missing \"") + key + "\"");
    const double d = v->isNumber() ? v->number() : -1.5;
    // Range first: converting a double outside int64's range is undefined behaviour.
    if (!(d >= 0 && d <= 2147483647.0) || d != double(int64_t(d)))
        malformed(component, std::string("\"") + key + "\" must be a non-negative integer");
    return int64_t(d);
}

const std::vector<Json>& requireArray(const Json& o, const char* key, const std::string& component)
{
    const Json* v = o.find(key);
    if (v == nullptr)
        malformed(component, std::string("missing \"") + key + "\"");
    if (!v->isArray())
        malformed(component, std::string("\"") + key + "\" must be an array");
    return v->array();
}

char32_t requireChar(const Json& o, const char* key, const std::string& component)
{
    const std::u32string s = decodeUtf8Trusted(requireString(o, key, component));
    if (s.size() != 1)
        malformed(component, std::string("\"") + key + "\" must be exactly one character");
    return s[0];
}

Pattern readPattern(const Json* v, const std::string& component)
{
    const Json& o = requireObject(v, component + " pattern");
    if (o.contains("String"))
        return Pattern::literal(decodeUtf8Trusted(requireString(o, "String", component + " pattern")));
    if (o.contains("Regex"))
        return Pattern::regex(QString::fromStdString(requireString(o, "Regex", component + " pattern")),
                              component.c_str());
    malformed(component, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

namespace {

struct ByteTables {
    std::array<char32_t, 256> toChar{};
    std::unordered_map<char32_t, int> toByte;
    ByteTables()
    {
        // Printable Latin-1 bytes stand for themselves; the rest are moved to U+0100 onwards.
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            toChar[size_t(b)] = printable ? char32_t(b) : next++;
            toByte.emplace(toChar[size_t(b)], b);
        }
    }
};

const ByteTables& byteTables()
{
    static const ByteTables tables;
    return tables;
}

// Length of the longest prefix of p[0..n) that could start a valid UTF-8 sequence (>= 1).
size_t maximalSubpart(const unsigned char* p, size_t n)
{
    const unsigned char b0 = p[0];
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0)
            lo = 0xA0;
        if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0)
            lo = 0x90;
        if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        return 1;
    }
    size_t len = 1;
    for (int k = 0; k < need && len < n; ++k) {
        const unsigned char b = p[len];
        const unsigned char l = k == 0 ? lo : 0x80;
        const unsigned char h = k == 0 ? hi : 0xBF;
        if (b < l || b > h)
            break;
        ++len;
    }
    return len;
}

} // namespace

char32_t byteToChar(uint8_t b)
{
    return byteTables().toChar[b];
}

int charToByte(char32_t c)
{
    const auto& t = byteTables().toByte;
    auto it = t.find(c);
    return it == t.end() ? -1 : it->second;
}

std::string utf8Lossy(const std::string& bytes)
{
    std::string out;
    out.reserve(bytes.size());
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        const int len = validUtf8Length(p + i, n - i);
        if (len > 0) {
            out.append(bytes, i, size_t(len));
            i += size_t(len);
        } else {
            out += "\xEF\xBF\xBD";
            i += maximalSubpart(p + i, n - i);
        }
    }
    return out;
}

} // namespace sinkscope::tok
