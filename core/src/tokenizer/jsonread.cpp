// SPDX-License-Identifier: GPL-3.0-or-later
// The tokenizer's messages over the core's JSON values (json.h): every surprise in tokenizer.json
// becomes an Error naming the component,
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

json::Value requireObject(json::Value v, const std::string& component)
{
    if (!v)
        malformed(component, "missing");
    if (!v.isObject())
        malformed(component, "expected a JSON object");
    return v;
}

std::string requireString(json::Value o, const char* key, const std::string& component)
{
    json::Value v = o.find(key);
    if (!v)
        malformed(component, std::string("missing \"") + key + "\"");
    if (!v.isString())
        malformed(component, std::string("\"") + key + "\" must be a string");
    return v.str();
}

std::string optString(json::Value o, const char* key, const std::string& component, const std::string& fallback)
{
    json::Value v = o.find(key);
    if (absent(v))
        return fallback;
    if (!v.isString())
        malformed(component, std::string("\"") + key + "\" must be a string");
    return v.str();
}

bool optBool(json::Value o, const char* key, const std::string& component, bool fallback)
{
    json::Value v = o.find(key);
    if (absent(v))
        return fallback;
    if (!v.isBool())
        malformed(component, std::string("\"") + key + "\" must be true or false");
    return v.boolean();
}

int64_t requireInt(json::Value o, const char* key, const std::string& component)
{
    json::Value v = o.find(key);
    if (!v)
        malformed(component, std::string("missing \"") + key + "\"");
    const std::optional<int64_t> i = v.integer();
    if (!i || *i < 0 || *i > 2147483647)
        malformed(component, std::string("\"") + key + "\" must be a non-negative integer");
    return *i;
}

std::vector<json::Value> requireArray(json::Value o, const char* key, const std::string& component)
{
    json::Value v = o.find(key);
    if (!v)
        malformed(component, std::string("missing \"") + key + "\"");
    if (!v.isArray())
        malformed(component, std::string("\"") + key + "\" must be an array");
    return v.array();
}

char32_t requireChar(json::Value o, const char* key, const std::string& component)
{
    const std::u32string s = decodeUtf8Trusted(requireString(o, key, component));
    if (s.size() != 1)
        malformed(component, std::string("\"") + key + "\" must be exactly one character");
    return s[0];
}

Pattern readPattern(json::Value v, const std::string& component)
{
    json::Value o = requireObject(v, component + " pattern");
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
        const int len = utf8SequenceLength(p + i, n - i);
        if (len > 0) {
            out.append(bytes, i, size_t(len));
            i += size_t(len);
        } else {
            out += "\xEF\xBF\xBD";
            i += utf8MaximalSubpart(p + i, n - i);
        }
    }
    return out;
}

} // namespace sinkscope::tok
