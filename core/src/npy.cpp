// SPDX-License-Identifier: GPL-3.0-or-later
// .npy writer for float32 arrays (files go through fileio: atomic writes). Only the tests read
// .npy back: the reader is in tests/support.
#include "sinkscope/npy.h"

#include "sinkscope/error.h"
#include "sinkscope/fileio.h"

#include <cstring>
#include <limits>

namespace sinkscope {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
// numpy aligns the whole preamble (magic, version, length, header) to this many bytes.
constexpr std::size_t kArrayAlign = 64;
// numpy leaves room after the dict so the first axis can grow in place to this many digits.
constexpr std::size_t kGrowthAxisMaxDigits = 21;

std::string shapeTuple(const std::vector<int64_t>& shape)
{
    // Python's repr of a tuple: "()", "(3,)", "(2, 3)".
    std::string out = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            out += ", ";
        out += std::to_string(shape[i]);
    }
    if (shape.size() == 1)
        out += ",";
    return out + ")";
}

uint64_t elementCount(const std::vector<int64_t>& shape, const char* what)
{
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0)
            throw Error(ErrorCode::InvalidArgument, std::string(what) + ": a dimension is negative.");
        const auto ud = static_cast<uint64_t>(d);
        if (ud != 0 && n > std::numeric_limits<uint64_t>::max() / 4 / ud)
            throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the shape is too large.");
        n *= ud;
    }
    return n;
}

bool littleEndianHost()
{
    const uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

} // namespace

std::string encodeNpy(const float* data, const std::vector<int64_t>& shape)
{
    const uint64_t n = elementCount(shape, "encodeNpy");
    if (n && !data)
        throw Error(ErrorCode::InvalidArgument, "encodeNpy: no data for a non-empty array.");
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeTuple(shape) + ", }";
    if (!shape.empty()) {
        const std::size_t digits = std::to_string(shape.front()).size();
        dict.append(kGrowthAxisMaxDigits > digits ? kGrowthAxisMaxDigits - digits : 0, ' ');
    }
    // Like numpy: at least one space of padding, then '\n', the preamble a multiple of 64 bytes.
    const std::size_t preamble = kMagicLen + 2 + 2;
    const std::size_t unpadded = preamble + dict.size() + 1;
    const std::size_t pad = kArrayAlign - unpadded % kArrayAlign;
    const std::size_t headerLen = dict.size() + pad + 1;
    if (headerLen > 0xFFFF)
        throw Error(ErrorCode::InvalidArgument, "encodeNpy: the shape has too many dimensions for format 1.0.");

    std::string out;
    out.reserve(preamble + headerLen + n * 4);
    out.append(kMagic, kMagicLen);
    out.push_back('\x01');
    out.push_back('\x00');
    out.push_back(static_cast<char>(headerLen & 0xFF));
    out.push_back(static_cast<char>((headerLen >> 8) & 0xFF));
    out += dict;
    out.append(pad, ' ');
    out.push_back('\n');
    if (littleEndianHost()) {
        out.append(reinterpret_cast<const char*>(data), n * 4);
    } else {
        for (uint64_t i = 0; i < n; ++i) {
            uint32_t u;
            std::memcpy(&u, data + i, 4);
            for (int b = 0; b < 4; ++b)
                out.push_back(static_cast<char>((u >> (8 * b)) & 0xFF));
        }
    }
    return out;
}

void writeNpy(const std::string& path, const float* data, const std::vector<int64_t>& shape)
{
    writeFileAtomically(path, encodeNpy(data, shape));
}

} // namespace sinkscope
