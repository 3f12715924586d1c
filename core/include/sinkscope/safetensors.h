// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sinkscope {

/// Element types we read from checkpoints. Anything else in a header is ErrorCode::Unsupported.
enum class DType { F32, F16, BF16 };

/// Bytes per element of `dtype`.
std::size_t dtypeSize(DType dtype);
/// Safetensors spelling: "F32", "F16", "BF16".
const char* dtypeName(DType dtype);

/// IEEE 754 binary16 bits -> float (exact: subnormals, infinities and NaN payloads are kept).
float halfToFloat(uint16_t bits);
/// bfloat16 bits -> float (exact).
float bfloat16ToFloat(uint16_t bits);
/// float -> binary16 bits, rounding to nearest even; overflow gives infinity, NaN stays NaN.
uint16_t floatToHalf(float value);
/// float -> bfloat16 bits, rounding to nearest even; NaN stays NaN.
uint16_t floatToBfloat16(float value);

/// One tensor entry of a safetensors header. Offsets are relative to the start of the data area.
struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0; ///< first byte, relative to the data area
    uint64_t end = 0;   ///< one past the last byte
    int64_t numel() const;
};

/// An owned, 64-byte aligned host tensor in its stored dtype, row-major (C order).
struct HostTensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::shared_ptr<std::byte> data; ///< aligned storage of nbytes bytes
    std::size_t nbytes = 0;

    int64_t numel() const;
    /// Allocates zero-initialised aligned storage for `shape` x `dtype`.
    static HostTensor allocate(std::string name, DType dtype, std::vector<int64_t> shape);
    /// Wraps a float32 copy of `values` (size must equal the product of `shape`).
    static HostTensor fromFloats(std::string name, std::vector<int64_t> shape, const std::vector<float>& values);
    /// Converts any stored dtype to float32 values.
    std::vector<float> toFloats() const;
    /// A copy of this tensor stored as `dtype` (rounding to nearest even when narrowing).
    HostTensor convertedTo(DType dtype) const;
};

/// Parsed, validated header of a safetensors file.
struct SafetensorsHeader {
    std::vector<TensorInfo> tensors;             ///< in ascending `begin` order
    std::map<std::string, std::string> metadata; ///< the optional "__metadata__" object
    uint64_t dataOffset = 0;                     ///< 8 + header length
};

/// Validates a safetensors file image given as its first bytes and total size: the 8-byte header
/// length lies within the file, the header is a JSON object, every dtype is F32/F16/BF16, every
/// shape x dtype size equals its byte span, spans lie inside the data area and do not overlap.
/// `prefix` must hold at least min(fileSize, 8 + header length) bytes. Throws Error(Format|Unsupported).
SafetensorsHeader parseSafetensorsHeader(const std::byte* prefix, std::size_t prefixSize, uint64_t fileSize,
                                         const std::string& fileNameForMessages = {});

/// A memory-mapped, validated safetensors file. Cheap to move; tensors are copied out on read().
class SafetensorsFile {
public:
    /// Opens, validates and maps `path`. Throws Error(Io|Format|Unsupported).
    static SafetensorsFile open(const std::string& path);

    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    ~SafetensorsFile();

    const std::string& path() const;
    const SafetensorsHeader& header() const;
    /// nullptr when the file has no tensor of that name.
    const TensorInfo* find(const std::string& name) const;
    /// Copies one tensor into aligned owned memory. Throws Error(InvalidArgument) for an unknown name.
    HostTensor read(const std::string& name) const;

private:
    struct Impl;
    explicit SafetensorsFile(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> d;
};

/// Writes tensors as a safetensors file (atomically: temp file + rename). For tests, the demo model
/// generator and exports. Tensor order in the data area follows `tensors`.
void writeSafetensors(const std::string& path, const std::vector<HostTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

} // namespace sinkscope
