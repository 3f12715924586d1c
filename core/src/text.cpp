// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/text.h"

namespace sinkscope {

std::size_t utf8MaximalSubpart(const unsigned char* p, std::size_t n)
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
    std::size_t len = 1;
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

std::size_t firstInvalidUtf8(std::string_view bytes)
{
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        const int len = utf8SequenceLength(p + i, n - i);
        if (len == 0)
            return i;
        i += std::size_t(len);
    }
    return std::string_view::npos;
}

std::string csvField(std::string_view text)
{
    if (text.find_first_of(",\"\n\r") == std::string_view::npos)
        return std::string(text);
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"')
            out += '"';
        out += c;
    }
    out += '"';
    return out;
}

} // namespace sinkscope
