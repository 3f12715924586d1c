// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenizer/json.h"

#include "jsonutil.h"
#include "sinkscope/error.h"
#include "tokenizer/unicodeutil.h"

#include <cstdlib>
#include <cstring>

namespace sinkscope::tok {

const Json* Json::find(std::string_view key) const
{
    if (m_type != Type::Object)
        return nullptr;
    for (auto it = m_members.rbegin(); it != m_members.rend(); ++it)
        if (it->first == key)
            return &it->second;
    return nullptr;
}

class JsonParser {
public:
    JsonParser(std::string_view text, const std::string& what, bool lazy = false)
        : m_p(text.data()), m_begin(text.data()), m_end(text.data() + text.size()), m_what(what), m_lazy(lazy)
    {
    }

    Json document()
    {
        if (m_end - m_p >= 3 && std::memcmp(m_p, "\xEF\xBB\xBF", 3) == 0)
            m_p += 3; // a byte order mark before the document is tolerated
        Json v;
        value(v, 0);
        skipSpace();
        if (m_p != m_end)
            fail("unexpected data after the end of the document");
        return v;
    }

    [[noreturn]] void fail(const char* problem) const
    {
        throw Error(ErrorCode::Format, "Malformed " + m_what + ": not valid JSON (" + problem + " at byte "
                                           + std::to_string(m_p - m_begin) + ").");
    }

    void skipSpace()
    {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t'))
            ++m_p;
    }

    void expectLiteral(const char* lit)
    {
        const size_t n = std::strlen(lit);
        if (size_t(m_end - m_p) < n || std::memcmp(m_p, lit, n) != 0)
            fail("unexpected character");
        m_p += n;
    }

    void value(Json& out, int depth)
    {
        if (depth > 200)
            fail("nesting too deep");
        skipSpace();
        if (m_p >= m_end)
            fail("unexpected end of data");
        switch (*m_p) {
        case '{': object(out, depth); return;
        case '[': array(out, depth); return;
        case '"':
            out.m_type = Json::Type::String;
            string(out.m_string);
            return;
        case 't': expectLiteral("true"); out.m_type = Json::Type::Bool; out.m_bool = true; return;
        case 'f': expectLiteral("false"); out.m_type = Json::Type::Bool; out.m_bool = false; return;
        case 'n': expectLiteral("null"); out.m_type = Json::Type::Null; return;
        default: number(out); return;
        }
    }

    void object(Json& out, int depth)
    {
        out.m_type = Json::Type::Object;
        ++m_p;
        skipSpace();
        if (m_p < m_end && *m_p == '}') {
            ++m_p;
            return;
        }
        while (true) {
            skipSpace();
            if (m_p >= m_end || *m_p != '"')
                fail("expected a member name");
            out.m_members.emplace_back();
            string(out.m_members.back().first);
            skipSpace();
            if (m_p >= m_end || *m_p != ':')
                fail("expected ':'");
            ++m_p;
            const std::string& key = out.m_members.back().first;
            if (m_lazy && (key == "vocab" || key == "merges")) {
                skipSpace();
                const char* start = m_p;
                skip(depth + 1);
                Json& raw = out.m_members.back().second;
                raw.m_type = Json::Type::Raw;
                raw.m_raw = std::string_view(start, size_t(m_p - start));
            } else {
                value(out.m_members.back().second, depth + 1);
            }
            skipSpace();
            if (m_p < m_end && *m_p == ',') {
                ++m_p;
                continue;
            }
            if (m_p < m_end && *m_p == '}') {
                ++m_p;
                return;
            }
            fail("expected ',' or '}'");
        }
    }

    void array(Json& out, int depth)
    {
        out.m_type = Json::Type::Array;
        ++m_p;
        skipSpace();
        if (m_p < m_end && *m_p == ']') {
            ++m_p;
            return;
        }
        while (true) {
            out.m_array.emplace_back();
            value(out.m_array.back(), depth + 1);
            skipSpace();
            if (m_p < m_end && *m_p == ',') {
                ++m_p;
                continue;
            }
            if (m_p < m_end && *m_p == ']') {
                ++m_p;
                return;
            }
            fail("expected ',' or ']'");
        }
    }

    int hex4()
    {
        if (m_end - m_p < 4)
            fail("truncated \\u escape");
        int v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_p[i];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= c - '0';
            else if (c >= 'a' && c <= 'f')
                v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v |= c - 'A' + 10;
            else
                fail("bad \\u escape");
        }
        m_p += 4;
        return v;
    }

    void string(std::string& out)
    {
        ++m_p; // opening quote
        while (true) {
            const char* run = m_p;
            while (m_p < m_end && *m_p != '"' && *m_p != '\\' && static_cast<unsigned char>(*m_p) >= 0x20
                   && static_cast<unsigned char>(*m_p) < 0x80)
                ++m_p;
            out.append(run, size_t(m_p - run));
            if (m_p >= m_end)
                fail("unterminated string");
            const unsigned char c = static_cast<unsigned char>(*m_p);
            if (c == '"') {
                ++m_p;
                return;
            }
            if (c < 0x20)
                fail(detail::rawControlCharacterProblem(c).c_str());
            if (c >= 0x80) {
                const int len = utf8SequenceLength(reinterpret_cast<const unsigned char*>(m_p), size_t(m_end - m_p));
                if (len == 0)
                    fail("invalid UTF-8 in a string");
                out.append(m_p, size_t(len));
                m_p += len;
                continue;
            }
            // backslash escape
            ++m_p;
            if (m_p >= m_end)
                fail("unterminated escape");
            const char e = *m_p++;
            switch (e) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                char32_t cp = char32_t(hex4());
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (m_end - m_p >= 6 && m_p[0] == '\\' && m_p[1] == 'u') {
                        m_p += 2;
                        const char32_t lo = char32_t(hex4());
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            fail("unpaired surrogate escape");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else {
                        fail("unpaired surrogate escape");
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail("unpaired surrogate escape");
                }
                appendUtf8(out, cp);
                break;
            }
            default: fail("unknown escape");
            }
        }
    }

    void number(Json& out)
    {
        const char* start = m_p;
        if (m_p < m_end && *m_p == '-')
            ++m_p;
        if (m_p >= m_end || !(*m_p >= '0' && *m_p <= '9'))
            fail("unexpected character");
        while (m_p < m_end && ((*m_p >= '0' && *m_p <= '9') || *m_p == '.' || *m_p == 'e' || *m_p == 'E'
                               || *m_p == '+' || *m_p == '-'))
            ++m_p;
        if (m_p - start < 10 && *start != '-') {
            bool plain = true;
            int64_t v = 0;
            for (const char* q = start; q < m_p; ++q) {
                if (*q < '0' || *q > '9') {
                    plain = false;
                    break;
                }
                v = v * 10 + (*q - '0');
            }
            if (plain) { // the common case: vocabulary ids
                out.m_type = Json::Type::Number;
                out.m_number = double(v);
                return;
            }
        }
        const std::string digits(start, size_t(m_p - start));
        char* endp = nullptr;
        const double d = std::strtod(digits.c_str(), &endp);
        if (endp != digits.c_str() + digits.size())
            fail("malformed number");
        out.m_type = Json::Type::Number;
        out.m_number = d;
    }

    // Moves past one value, checking only its bracket structure and strings.
    void skip(int depth)
    {
        if (depth > 200)
            fail("nesting too deep");
        skipSpace();
        if (m_p >= m_end)
            fail("unexpected end of data");
        const char c = *m_p;
        if (c == '"') {
            ++m_p;
            while (m_p < m_end && *m_p != '"') {
                if (*m_p == '\\')
                    ++m_p;
                ++m_p;
            }
            if (m_p >= m_end)
                fail("unterminated string");
            ++m_p;
            return;
        }
        if (c == '{' || c == '[') {
            const char close = c == '{' ? '}' : ']';
            ++m_p;
            skipSpace();
            if (m_p < m_end && *m_p == close) {
                ++m_p;
                return;
            }
            while (true) {
                if (c == '{') {
                    skipSpace();
                    if (m_p >= m_end || *m_p != '"')
                        fail("expected a member name");
                    skip(depth + 1);
                    skipSpace();
                    if (m_p >= m_end || *m_p != ':')
                        fail("expected ':'");
                    ++m_p;
                }
                skip(depth + 1);
                skipSpace();
                if (m_p < m_end && *m_p == ',') {
                    ++m_p;
                    continue;
                }
                if (m_p < m_end && *m_p == close) {
                    ++m_p;
                    return;
                }
                fail(c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
        Json scratch;
        value(scratch, depth);
    }

    char peekChar()
    {
        skipSpace();
        return m_p < m_end ? *m_p : '\0';
    }
    void consume(char c)
    {
        if (peekChar() != c)
            fail("unexpected character");
        ++m_p;
    }
    bool atEnd()
    {
        skipSpace();
        return m_p >= m_end;
    }

private:
    const char* m_p;
    const char* m_begin;
    const char* m_end;
    std::string m_what;
    bool m_lazy = false;
};

Json Json::parse(std::string_view text, const std::string& what, bool lazyVocabulary)
{
    return JsonParser(text, what, lazyVocabulary).document();
}

JsonStream::JsonStream(std::string_view text, const std::string& what) : m_parser(new JsonParser(text, what)) {}

JsonStream::~JsonStream()
{
    delete m_parser;
}

Json::Type JsonStream::peek()
{
    switch (m_parser->peekChar()) {
    case '{': return Json::Type::Object;
    case '[': return Json::Type::Array;
    case '"': return Json::Type::String;
    case 't':
    case 'f': return Json::Type::Bool;
    case 'n': return Json::Type::Null;
    default: return Json::Type::Number;
    }
}

void JsonStream::enterObject()
{
    m_parser->consume('{');
    m_first.push_back(true);
}

void JsonStream::enterArray()
{
    m_parser->consume('[');
    m_first.push_back(true);
}

bool JsonStream::nextMember(std::string& key)
{
    if (m_parser->peekChar() == '}') {
        m_parser->consume('}');
        m_first.pop_back();
        return false;
    }
    if (!m_first.back())
        m_parser->consume(',');
    m_first.back() = false;
    if (m_parser->peekChar() != '"')
        m_parser->fail("expected a member name");
    key.clear();
    m_parser->string(key);
    m_parser->consume(':');
    return true;
}

bool JsonStream::nextElement()
{
    if (m_parser->peekChar() == ']') {
        m_parser->consume(']');
        m_first.pop_back();
        return false;
    }
    if (!m_first.back())
        m_parser->consume(',');
    m_first.back() = false;
    return true;
}

std::string JsonStream::readString()
{
    if (m_parser->peekChar() != '"')
        m_parser->fail("expected a string");
    std::string s;
    m_parser->string(s);
    return s;
}

double JsonStream::readNumber()
{
    Json v;
    m_parser->skipSpace();
    m_parser->number(v);
    return v.number();
}

void JsonStream::skipValue()
{
    m_parser->skip(0);
}

void JsonStream::finish()
{
    if (!m_parser->atEnd())
        m_parser->fail("unexpected data after the value");
}

} // namespace sinkscope::tok
