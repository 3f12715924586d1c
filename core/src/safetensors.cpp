// SPDX-License-Identifier: GPL-3.0-or-later
// Safetensors reader and writer. The file is treated as hostile: every number in the header is
// checked before it is used, so a bad file is an Error, never an out-of-bounds read.
#include "sinkscope/safetensors.h"

#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/text.h"
#include "sinkscope/fileio.h"

#include <Eigen/Core>
#include <QByteArray>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <set>
#include <unordered_map>

namespace sinkscope {

namespace {

// The reference implementation refuses headers above this size; real headers are a few MB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::size_t kAlignment = 64;

// Dtypes the format defines that we do not compute with: named as unsupported rather than unknown.
const std::set<std::string>& knownOtherDtypes()
{
    static const std::set<std::string> names = {"BOOL",    "U8",      "I8",      "I16",     "U16",     "I32",
                                                "U32",     "I64",     "U64",     "F64",     "F8_E5M2", "F8_E4M3",
                                                "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",      "C64"};
    return names;
}

std::string inQuotes(const std::string& s)
{
    return "'" + s + "'";
}

std::string shapeText(const std::vector<int64_t>& shape)
{
    return formatShape(shape);
}

std::string spanText(uint64_t begin, uint64_t end)
{
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::shared_ptr<std::byte> alignedStorage(std::size_t nbytes, const std::string& name)
{
    // aligned_alloc wants a multiple of the alignment; always hand out at least one block so that
    // empty tensors still have a valid pointer.
    const std::size_t rounded = std::max<std::size_t>(kAlignment, (nbytes + kAlignment - 1) / kAlignment * kAlignment);
    if (rounded < nbytes)
        throw Error(ErrorCode::OutOfMemory, "Tensor " + inQuotes(name) + " is too large to allocate.", name);
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (!p) {
        throw Error(ErrorCode::OutOfMemory,
                    "Could not allocate " + std::to_string(nbytes) + " bytes for tensor " + inQuotes(name) + ".", name);
    }
    std::memset(p, 0, rounded);
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

// Number of elements of `shape`, or nullopt when a dimension is negative or the product overflows.
std::optional<uint64_t> checkedNumel(const std::vector<int64_t>& shape)
{
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0)
            return std::nullopt;
        const auto ud = static_cast<uint64_t>(d);
        if (ud != 0 && n > std::numeric_limits<uint64_t>::max() / ud)
            return std::nullopt;
        n *= ud;
    }
    return n;
}

std::optional<DType> dtypeFromName(const std::string& s)
{
    if (s == "F32")
        return DType::F32;
    if (s == "F16")
        return DType::F16;
    if (s == "BF16")
        return DType::BF16;
    return std::nullopt;
}

} // namespace

std::size_t dtypeSize(DType dtype)
{
    switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    }
    return 4;
}

const char* dtypeName(DType dtype)
{
    switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    }
    return "F32";
}

// Eigen's half and bfloat16 do the conversions. Their portable paths (this build enables no F16C)
// move the bits of a half NaN's payload into the float unchanged, round to nearest even in both
// directions, and keep subnormals; a NaN written as 16 bits becomes Eigen's quiet NaN.
float halfToFloat(uint16_t h)
{
    return static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(h));
}

float bfloat16ToFloat(uint16_t bits)
{
    return static_cast<float>(Eigen::numext::bit_cast<Eigen::bfloat16>(bits));
}

uint16_t floatToHalf(float value)
{
    return Eigen::numext::bit_cast<uint16_t>(Eigen::half(value));
}

uint16_t floatToBfloat16(float value)
{
    return Eigen::numext::bit_cast<uint16_t>(Eigen::bfloat16(value));
}

int64_t TensorInfo::numel() const
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

int64_t HostTensor::numel() const
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

HostTensor HostTensor::allocate(std::string name, DType dtype, std::vector<int64_t> shape)
{
    const auto n = checkedNumel(shape);
    if (!n || *n > std::numeric_limits<std::size_t>::max() / dtypeSize(dtype)) {
        throw Error(ErrorCode::InvalidArgument,
                    "Tensor " + inQuotes(name) + " has an invalid shape " + shapeText(shape) + ".", name);
    }
    HostTensor t;
    t.nbytes = static_cast<std::size_t>(*n) * dtypeSize(dtype);
    t.data = alignedStorage(t.nbytes, name);
    t.name = std::move(name);
    t.dtype = dtype;
    t.shape = std::move(shape);
    return t;
}

HostTensor HostTensor::fromFloats(std::string name, std::vector<int64_t> shape, const std::vector<float>& values)
{
    HostTensor t = allocate(std::move(name), DType::F32, std::move(shape));
    if (t.nbytes != values.size() * sizeof(float)) {
        throw Error(ErrorCode::InvalidArgument,
                    "Tensor " + inQuotes(t.name) + " of shape " + shapeText(t.shape) + " needs " +
                        std::to_string(t.nbytes / sizeof(float)) + " values, got " + std::to_string(values.size()) +
                        ".",
                    t.name);
    }
    if (!values.empty())
        std::memcpy(t.data.get(), values.data(), t.nbytes);
    return t;
}

std::vector<float> HostTensor::toFloats() const
{
    const std::size_t n = nbytes / dtypeSize(dtype);
    std::vector<float> out(n);
    if (n == 0)
        return out;
    switch (dtype) {
    case DType::F32:
        std::memcpy(out.data(), data.get(), n * sizeof(float));
        break;
    case DType::F16:
    case DType::BF16: {
        const bool half = dtype == DType::F16;
        for (std::size_t i = 0; i < n; ++i) {
            uint16_t bits;
            std::memcpy(&bits, data.get() + 2 * i, 2);
            out[i] = half ? halfToFloat(bits) : bfloat16ToFloat(bits);
        }
        break;
    }
    }
    return out;
}

HostTensor HostTensor::convertedTo(DType target) const
{
    if (target == dtype) {
        HostTensor copy = allocate(name, dtype, shape);
        if (nbytes)
            std::memcpy(copy.data.get(), data.get(), nbytes);
        return copy;
    }
    const std::vector<float> values = toFloats();
    if (target == DType::F32)
        return fromFloats(name, shape, values);
    HostTensor out = allocate(name, target, shape);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const uint16_t bits = target == DType::F16 ? floatToHalf(values[i]) : floatToBfloat16(values[i]);
        std::memcpy(out.data.get() + 2 * i, &bits, 2);
    }
    return out;
}

SafetensorsHeader parseSafetensorsHeader(const std::byte* prefix, std::size_t prefixSize, uint64_t fileSize,
                                         const std::string& fileNameForMessages)
{
    const std::string file = fileNameForMessages.empty() ? std::string("the safetensors file") : fileNameForMessages;
    auto fail = [&](ErrorCode code, const std::string& what, const std::string& context = {}) -> Error {
        return Error(code, file + ": " + what, context.empty() ? file : context);
    };

    if (fileSize == 0)
        throw fail(ErrorCode::Format, "the file is empty, so it holds no safetensors header.");
    if (fileSize < 8) {
        throw fail(ErrorCode::Format, "the file is only " + std::to_string(fileSize) +
                                          " bytes long, too short for the 8-byte header length.");
    }
    if (prefixSize < 8)
        throw Error(ErrorCode::InvalidArgument, "parseSafetensorsHeader needs the first 8 bytes of the file.", file);

    uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i)
        headerLen = (headerLen << 8) | static_cast<uint8_t>(prefix[i]);

    if (headerLen > fileSize - 8) {
        throw fail(ErrorCode::Format, "the header length " + std::to_string(headerLen) +
                                          " runs past the end of the file (" + std::to_string(fileSize) +
                                          " bytes); the file is truncated or not a safetensors file.");
    }
    if (headerLen > kMaxHeaderBytes) {
        throw fail(ErrorCode::Format, "the header length " + std::to_string(headerLen) +
                                          " bytes is implausibly large (the limit is " +
                                          std::to_string(kMaxHeaderBytes) + ").");
    }
    if (headerLen < 2)
        throw fail(ErrorCode::Format, "the header is " + std::to_string(headerLen) + " bytes long, too short for JSON.");
    if (prefixSize < 8 + headerLen) {
        throw Error(ErrorCode::InvalidArgument,
                    "parseSafetensorsHeader needs the first " + std::to_string(8 + headerLen) + " bytes of the file.",
                    file);
    }

    const auto* text = reinterpret_cast<const char*>(prefix + 8);
    if (!isValidUtf8(std::string_view(text, static_cast<std::size_t>(headerLen))))
        throw fail(ErrorCode::Format, "the header is not valid UTF-8.");
    // Writers pad the header with trailing spaces to align the data; JSON allows those.
    const json::Document parsed = json::parse(std::string_view(text, static_cast<std::size_t>(headerLen)),
                                              {file + ": the header is not valid JSON (", ").", file});
    const json::Value root = parsed.root();
    if (!root.isObject())
        throw fail(ErrorCode::Format, "the header is not a JSON object.");

    SafetensorsHeader header;
    header.dataOffset = 8 + headerLen;
    const uint64_t dataSize = fileSize - header.dataOffset;

    // Each name once, its last entry winning: a repeated name cannot describe two tensors.
    for (const auto& [key, value] : root.uniqueMembers()) {
        const std::string name(key);
        if (name == "__metadata__") {
            if (!value.isObject())
                throw fail(ErrorCode::Format, "\"__metadata__\" must be an object mapping strings to strings.");
            for (const auto& [metaKey, metaValue] : value.uniqueMembers()) {
                if (!metaValue.isString()) {
                    throw fail(ErrorCode::Format, "\"__metadata__\" value for " + inQuotes(std::string(metaKey)) +
                                                      " is " + metaValue.kindName() +
                                                      ", but metadata values must be strings.");
                }
                header.metadata[std::string(metaKey)] = metaValue.str();
            }
            continue;
        }
        if (!value.isObject())
            throw fail(ErrorCode::Format, "the entry for tensor " + inQuotes(name) + " is not an object.", name);
        const json::Value entry = value;
        for (const char* key : {"dtype", "shape", "data_offsets"}) {
            if (!entry.contains(key))
                throw fail(ErrorCode::Format, "tensor " + inQuotes(name) + " has no \"" + key + "\".", name);
        }

        TensorInfo info;
        info.name = name;

        const json::Value dtypeValue = entry.find("dtype");
        if (!dtypeValue.isString())
            throw fail(ErrorCode::Format, "tensor " + inQuotes(name) + " has a dtype that is not a string.", name);
        const std::string dtypeText = dtypeValue.str();
        const auto dtype = dtypeFromName(dtypeText);
        if (!dtype) {
            const bool known = knownOtherDtypes().count(dtypeText) != 0;
            throw fail(ErrorCode::Unsupported,
                       "tensor " + inQuotes(name) + " has " + (known ? "dtype " : "unknown dtype ") + inQuotes(dtypeText) +
                           ", which is not supported (supported: F32, F16, BF16).",
                       name);
        }
        info.dtype = *dtype;

        const json::Value shapeValue = entry.find("shape");
        if (!shapeValue.isArray())
            throw fail(ErrorCode::Format, "tensor " + inQuotes(name) + " has a shape that is not an array.", name);
        for (const json::Value d : shapeValue.elements()) {
            const auto dim = d.integer();
            if (!dim || *dim < 0) {
                throw fail(ErrorCode::Format,
                           "tensor " + inQuotes(name) + " has a shape entry that is not a non-negative integer.", name);
            }
            info.shape.push_back(*dim);
        }

        const std::vector<json::Value> off = entry.find("data_offsets").array();
        std::optional<int64_t> b;
        std::optional<int64_t> e;
        if (off.size() == 2) {
            b = off[0].integer();
            e = off[1].integer();
        }
        if (!b || !e || *b < 0 || *e < 0) {
            throw fail(ErrorCode::Format,
                       "tensor " + inQuotes(name) + " needs \"data_offsets\" as two non-negative integers [begin, end].",
                       name);
        }
        info.begin = static_cast<uint64_t>(*b);
        info.end = static_cast<uint64_t>(*e);
        if (info.begin > info.end) {
            throw fail(ErrorCode::Format,
                       "tensor " + inQuotes(name) + " has data_offsets " + spanText(info.begin, info.end) +
                           " out of order (begin after end).",
                       name);
        }

        const auto numel = checkedNumel(info.shape);
        if (!numel || *numel > std::numeric_limits<uint64_t>::max() / dtypeSize(info.dtype) ||
            *numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            throw fail(ErrorCode::Format,
                       "tensor " + inQuotes(name) + " has shape " + shapeText(info.shape) + " whose size overflows.",
                       name);
        }
        const uint64_t expected = *numel * dtypeSize(info.dtype);
        if (expected != info.end - info.begin) {
            throw fail(ErrorCode::Format,
                       "tensor " + inQuotes(name) + " has shape " + shapeText(info.shape) + " and dtype " + dtypeText +
                           " (" + std::to_string(expected) + " bytes) but its data_offsets " +
                           spanText(info.begin, info.end) + " span " + std::to_string(info.end - info.begin) +
                           " bytes.",
                       name);
        }
        if (info.end > dataSize) {
            throw fail(ErrorCode::Format,
                       "tensor " + inQuotes(name) + " has data_offsets " + spanText(info.begin, info.end) +
                           " outside the data area (" + std::to_string(dataSize) + " bytes).",
                       name);
        }
        header.tensors.push_back(std::move(info));
    }

    std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    // The format requires the tensors to tile the data area exactly: no overlap (two names for the
    // same bytes) and no hole (bytes that belong to no tensor, where a dropped duplicate key hides).
    uint64_t cursor = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo& t : header.tensors) {
        if (t.begin < cursor) {
            throw fail(ErrorCode::Format,
                       "tensors " + inQuotes(previous->name) + " " + spanText(previous->begin, previous->end) + " and " +
                           inQuotes(t.name) + " " + spanText(t.begin, t.end) + " overlap.",
                       t.name);
        }
        if (t.begin > cursor) {
            throw fail(ErrorCode::Format,
                       "bytes " + std::to_string(cursor) + " to " + std::to_string(t.begin) +
                           " of the data area belong to no tensor (a gap before " + inQuotes(t.name) + ").",
                       t.name);
        }
        cursor = t.end;
        previous = &t;
    }
    if (cursor != dataSize) {
        throw fail(ErrorCode::Format, "the data area has " + std::to_string(dataSize - cursor) +
                                          " bytes after the last tensor that belong to no tensor.");
    }
    return header;
}

struct SafetensorsFile::Impl {
    std::string path;
    QFile file;
    const std::byte* map = nullptr;
    uint64_t size = 0;
    struct timespec mtime {};
    SafetensorsHeader header;
    std::unordered_map<std::string, std::size_t> byName;

    ~Impl()
    {
        if (map)
            file.unmap(reinterpret_cast<uchar*>(const_cast<std::byte*>(map)));
    }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : d(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path)
{
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    const QFileInfo info(QString::fromStdString(path));
    // The checked open: a regular file (never a FIFO or device, which would block or never end).
    const int fd = openRegularFile(path, files::kWeights);
    if (!impl->file.open(fd, QIODevice::ReadOnly, QFileDevice::AutoCloseHandle)) {
        ::close(fd);
        throw Error(ErrorCode::Io, "Could not open " + path + ": " + (impl->file.errorString()).toStdString() + ".",
                    path);
    }
    struct stat st {};
    if (::fstat(impl->file.handle(), &st) != 0)
        throw Error(ErrorCode::Io, "Could not read the size of " + path + ".", path);
    impl->size = static_cast<uint64_t>(st.st_size);
    impl->mtime = st.st_mtim;
    const std::string shownName = (info.fileName()).toStdString();
    if (impl->size < 8) {
        // Let the parser phrase the message; it needs no bytes for this.
        const std::byte none[8] = {};
        parseSafetensorsHeader(none, 0, impl->size, shownName);
    }
    uchar* mapped = impl->file.map(0, static_cast<qint64>(impl->size));
    if (!mapped) {
        throw Error(ErrorCode::Io,
                    "Could not memory-map " + path + ": " + (impl->file.errorString()).toStdString() + ".", path);
    }
    impl->map = reinterpret_cast<const std::byte*>(mapped);
    impl->header = parseSafetensorsHeader(impl->map, static_cast<std::size_t>(impl->size), impl->size, shownName);
    for (std::size_t i = 0; i < impl->header.tensors.size(); ++i)
        impl->byName.emplace(impl->header.tensors[i].name, i);
    return SafetensorsFile(std::move(impl));
}

const std::string& SafetensorsFile::path() const
{
    return d->path;
}

const SafetensorsHeader& SafetensorsFile::header() const
{
    return d->header;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const
{
    const auto it = d->byName.find(name);
    return it == d->byName.end() ? nullptr : &d->header.tensors[it->second];
}

HostTensor SafetensorsFile::read(const std::string& name) const
{
    const TensorInfo* info = find(name);
    if (!info)
        throw Error(ErrorCode::InvalidArgument, "There is no tensor " + inQuotes(name) + " in " + d->path + ".", name);
    // Touching a mapped page past the end of a file that was truncated under us is a SIGBUS, so
    // check the file is still the one we validated before copying out of the mapping.
    struct stat st {};
    if (::fstat(d->file.handle(), &st) != 0 || static_cast<uint64_t>(st.st_size) != d->size ||
        st.st_mtim.tv_sec != d->mtime.tv_sec || st.st_mtim.tv_nsec != d->mtime.tv_nsec) {
        throw Error(ErrorCode::Io,
                    "The weight file " + d->path + " changed on disk after it was opened; open the model again.",
                    d->path);
    }
    HostTensor t = HostTensor::allocate(info->name, info->dtype, info->shape);
    if (t.nbytes)
        std::memcpy(t.data.get(), d->map + d->header.dataOffset + info->begin, t.nbytes);
    return t;
}

void writeSafetensors(const std::string& path, const std::vector<HostTensor>& tensors,
                      const std::map<std::string, std::string>& metadata)
{
    QJsonObject root;
    if (!metadata.empty()) {
        QJsonObject meta;
        for (const auto& [k, v] : metadata)
            meta.insert(QString::fromStdString(k), QString::fromStdString(v));
        root.insert(QStringLiteral("__metadata__"), meta);
    }
    uint64_t offset = 0;
    for (const HostTensor& t : tensors) {
        const auto numel = checkedNumel(t.shape);
        if (t.name == "__metadata__" || !numel || *numel * dtypeSize(t.dtype) != t.nbytes || (t.nbytes && !t.data)) {
            throw Error(ErrorCode::InvalidArgument,
                        "Cannot write tensor " + inQuotes(t.name) + ": its shape " + shapeText(t.shape) + ", dtype " +
                            dtypeName(t.dtype) + " and " + std::to_string(t.nbytes) + " bytes of data disagree.",
                        t.name);
        }
        const QString key = QString::fromStdString(t.name);
        if (root.contains(key))
            throw Error(ErrorCode::InvalidArgument, "Cannot write two tensors named " + inQuotes(t.name) + ".", t.name);
        QJsonArray shape;
        for (int64_t dim : t.shape)
            shape.append(static_cast<qint64>(dim));
        QJsonObject entry;
        entry.insert(QStringLiteral("dtype"), QString::fromLatin1(dtypeName(t.dtype)));
        entry.insert(QStringLiteral("shape"), shape);
        entry.insert(QStringLiteral("data_offsets"),
                     QJsonArray{static_cast<qint64>(offset), static_cast<qint64>(offset + t.nbytes)});
        root.insert(key, entry);
        offset += t.nbytes;
    }
    QByteArray json = QJsonDocument(root).toJson(QJsonDocument::Compact);
    // Pad with spaces to a multiple of 8, as the reference writer does, so the data area is aligned.
    json.append(QByteArray((8 - json.size() % 8) % 8, ' '));

    char lengthBytes[8];
    uint64_t n = static_cast<uint64_t>(json.size());
    for (char& c : lengthBytes) {
        c = static_cast<char>(n & 0xFF);
        n >>= 8;
    }

    // Streamed through the atomic writer (temp file beside the target, flushed, checked, renamed)
    // rather than assembled in memory: checkpoints can be as large as the memory we have.
    AtomicFileWriter file(path);
    file.write(lengthBytes, sizeof lengthBytes);
    file.write(json.constData(), static_cast<std::size_t>(json.size()));
    for (const HostTensor& t : tensors) {
        if (t.nbytes)
            file.write(reinterpret_cast<const char*>(t.data.get()), t.nbytes);
    }
    file.commit();
}

} // namespace sinkscope
