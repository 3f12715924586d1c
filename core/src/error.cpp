// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/error.h"

#include <cstdio>

namespace sinkscope {

const char* errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::Io: return "io";
    case ErrorCode::Format: return "format";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::InvalidArgument: return "invalid-argument";
    case ErrorCode::OutOfMemory: return "out-of-memory";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Internal: return "internal";
    }
    return "internal";
}

Error::Error(ErrorCode code, const std::string& message, std::string context)
    : std::runtime_error(escapeForDisplay(message)), m_code(code), m_context(escapeForDisplay(context))
{
}

namespace {

// Length of the UTF-8 sequence at s[i] and its code point, or 0 when the bytes are not UTF-8.
int utf8Sequence(const std::string& s, std::size_t i, uint32_t& cp)
{
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    int len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80, cp = c & 0x1Fu;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800, cp = c & 0x0Fu;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000, cp = c & 0x07u;
    else
        return 0;
    if (i + std::size_t(len) > s.size())
        return 0;
    for (int k = 1; k < len; ++k) {
        if ((b(i + std::size_t(k)) & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b(i + std::size_t(k)) & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool invisibleControl(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029
           || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F
           || cp == 0x061C;
}

} // namespace

std::string escapeForDisplay(const std::string& text)
{
    std::string out;
    out.reserve(text.size());
    char buf[16];
    for (std::size_t i = 0; i < text.size();) {
        uint32_t cp = 0;
        const int len = utf8Sequence(text, i, cp);
        if (len == 0) {
            std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(static_cast<unsigned char>(text[i])));
            out += buf;
            ++i;
            continue;
        }
        if (!invisibleControl(cp)) {
            out.append(text, i, std::size_t(len));
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp < 0x80) {
            std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(cp));
            out += buf;
        } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp));
            out += buf;
        }
        i += std::size_t(len);
    }
    return out;
}

std::string formatShape(const std::vector<int64_t>& shape)
{
    constexpr std::size_t kShown = 8, kHead = 4, kTail = 2;
    std::string out = "[";
    auto put = [&](std::size_t i) {
        if (out.size() > 1)
            out += ", ";
        out += std::to_string(shape[i]);
    };
    if (shape.size() <= kShown) {
        for (std::size_t i = 0; i < shape.size(); ++i)
            put(i);
        return out + "]";
    }
    for (std::size_t i = 0; i < kHead; ++i)
        put(i);
    out += ", ...";
    for (std::size_t i = shape.size() - kTail; i < shape.size(); ++i)
        put(i);
    return out + "] (" + std::to_string(shape.size()) + " dimensions)";
}

std::string Error::describe() const
{
    // Most messages already name their file, key or tensor; repeating it reads like a stutter.
    if (m_context.empty() || std::string(what()).find(m_context) != std::string::npos)
        return what();
    return std::string(what()) + " (" + m_context + ")";
}

} // namespace sinkscope
