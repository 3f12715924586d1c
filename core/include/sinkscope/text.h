// SPDX-License-Identifier: GPL-3.0-or-later
// Text primitives shared by every layer: the one UTF-8 validator and the one CSV field quoting.
// Plain C++, no Qt.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sinkscope {

/// Length (1..4) of the well-formed UTF-8 sequence at `p` (`available` >= 1 bytes readable), or 0
/// when the bytes there are not one: stray continuation bytes, overlong forms (C0, C1, E0 80..9F,
/// F0 80..8F), surrogates (ED A0..BF), code points past U+10FFFF (F4 90.., F5..FF), truncation.
inline int utf8SequenceLength(const unsigned char* p, std::size_t available)
{
    const unsigned char b0 = p[0];
    if (b0 < 0x80)
        return 1;
    int len = 0;
    char32_t min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (available < std::size_t(len))
        return 0;
    char32_t c = b0 & (0x7F >> len);
    for (int i = 1; i < len; ++i) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return len;
}

/// Where ill-formed UTF-8 starts at `p` (utf8SequenceLength() == 0 there): how many bytes form its
/// maximal subpart, the longest prefix that could begin a well-formed sequence (>= 1). Replacing each
/// maximal subpart by one U+FFFD is the Unicode (and WHATWG, Python, Rust) substitution practice.
std::size_t utf8MaximalSubpart(const unsigned char* p, std::size_t available);

/// Byte offset of the first byte that is not part of well-formed UTF-8, or std::string_view::npos.
std::size_t firstInvalidUtf8(std::string_view bytes);

/// True when `bytes` is well-formed UTF-8.
inline bool isValidUtf8(std::string_view bytes)
{
    return firstInvalidUtf8(bytes) == std::string_view::npos;
}

/// One CSV field (RFC 4180): as is, or in double quotes with quotes doubled when it holds a comma,
/// a double quote, a line feed or a carriage return.
std::string csvField(std::string_view text);

} // namespace sinkscope
