// SPDX-License-Identifier: GPL-3.0-or-later
// Safetensors: bit-exact round trips, dtype conversions against hand-derived bit patterns, and
// every way a header can be wrong, each with the message the user reads.
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/npy.h"
#include "sinkscope/safetensors.h"
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>

using namespace sinkscope;

Q_DECLARE_METATYPE(sinkscope::ErrorCode)

namespace {

QByteArray le64(uint64_t v)
{
    QByteArray out(8, '\0');
    for (int i = 0; i < 8; ++i)
        out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return out;
}

// A file image: 8-byte little-endian length, header text, data bytes.
QByteArray image(const QByteArray& header, const QByteArray& data)
{
    return le64(static_cast<uint64_t>(header.size())) + header + data;
}

uint32_t bitsOf(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float floatOf(uint32_t u)
{
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

HostTensor raw16(const std::string& name, DType dtype, const std::vector<uint16_t>& bits)
{
    HostTensor t = HostTensor::allocate(name, dtype, {static_cast<int64_t>(bits.size())});
    std::memcpy(t.data.get(), bits.data(), bits.size() * 2);
    return t;
}

void writeBytes(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QCOMPARE(f.write(bytes), bytes.size());
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void halfToFloat_data();
    void halfToFloat();
    void floatToHalf_data();
    void floatToHalf();
    void floatToBfloat16_data();
    void floatToBfloat16();
    void roundTrip();
    void writerLayoutIsByteExact();
    void acceptsValidEdgeCases_data();
    void acceptsValidEdgeCases();
    void rejectsBadFiles_data();
    void rejectsBadFiles();
    void rejectsImplausibleHeaderLength();
    void readUnknownTensor();
    void readAfterTruncation();
    void writerRejectsInconsistentTensors_data();
    void writerRejectsInconsistentTensors();
    void writerLeavesOldFileOnFailure();
    void stories260K();
};

void TestSafetensors::halfToFloat_data()
{
    QTest::addColumn<quint16>("half");
    QTest::addColumn<quint32>("expected");
    // Expected float32 bit patterns worked out by hand from the IEEE 754 layouts.
    QTest::newRow("one") << quint16(0x3C00) << quint32(0x3F800000);
    QTest::newRow("minus two") << quint16(0xC000) << quint32(0xC0000000);
    QTest::newRow("one half") << quint16(0x3800) << quint32(0x3F000000);
    QTest::newRow("0.333251953125") << quint16(0x3555) << quint32(0x3EAAA000);
    QTest::newRow("max 65504") << quint16(0x7BFF) << quint32(0x477FE000);
    QTest::newRow("smallest normal 2^-14") << quint16(0x0400) << quint32(0x38800000);
    QTest::newRow("smallest subnormal 2^-24") << quint16(0x0001) << quint32(0x33800000);
    QTest::newRow("largest subnormal") << quint16(0x03FF) << quint32(0x387FC000);
    QTest::newRow("negative subnormal 3*2^-24") << quint16(0x8003) << quint32(0xB4400000);
    QTest::newRow("+0") << quint16(0x0000) << quint32(0x00000000);
    QTest::newRow("-0") << quint16(0x8000) << quint32(0x80000000);
    QTest::newRow("+inf") << quint16(0x7C00) << quint32(0x7F800000);
    QTest::newRow("-inf") << quint16(0xFC00) << quint32(0xFF800000);
    QTest::newRow("quiet NaN") << quint16(0x7E00) << quint32(0x7FC00000);
    QTest::newRow("NaN payload") << quint16(0x7C01) << quint32(0x7F802000);
}

void TestSafetensors::halfToFloat()
{
    QFETCH(quint16, half);
    QFETCH(quint32, expected);
    QCOMPARE(bitsOf(sinkscope::halfToFloat(half)), expected);
    // Same through a tensor, the path the loader takes.
    const HostTensor t = raw16("t", DType::F16, {half, half});
    const std::vector<float> v = t.toFloats();
    QCOMPARE(v.size(), std::size_t(2));
    QCOMPARE(bitsOf(v[1]), expected);
}

void TestSafetensors::floatToHalf_data()
{
    QTest::addColumn<quint32>("input");
    QTest::addColumn<quint16>("expected");
    QTest::newRow("one") << quint32(0x3F800000) << quint16(0x3C00);
    QTest::newRow("65504") << bitsOf(65504.f) << quint16(0x7BFF);
    QTest::newRow("65519 rounds down") << bitsOf(65519.f) << quint16(0x7BFF);
    QTest::newRow("65520 ties to infinity") << bitsOf(65520.f) << quint16(0x7C00);
    QTest::newRow("1e10 overflows") << bitsOf(1e10f) << quint16(0x7C00);
    QTest::newRow("-1e10 overflows") << bitsOf(-1e10f) << quint16(0xFC00);
    QTest::newRow("1+2^-11 ties to even (down)") << quint32(0x3F801000) << quint16(0x3C00);
    QTest::newRow("1+3*2^-11 ties to even (up)") << quint32(0x3F803000) << quint16(0x3C02);
    QTest::newRow("just above a tie") << quint32(0x3F801001) << quint16(0x3C01);
    QTest::newRow("2^-24 smallest subnormal") << quint32(0x33800000) << quint16(0x0001);
    QTest::newRow("2^-25 ties to zero") << quint32(0x33000000) << quint16(0x0000);
    QTest::newRow("1.5*2^-25 rounds up") << quint32(0x33400000) << quint16(0x0001);
    QTest::newRow("3*2^-24 subnormal") << quint32(0x34400000) << quint16(0x0003);
    QTest::newRow("largest subnormal") << quint32(0x387FC000) << quint16(0x03FF);
    QTest::newRow("rounds up to smallest normal") << quint32(0x387FF000) << quint16(0x0400);
    QTest::newRow("1e-10 underflows") << bitsOf(1e-10f) << quint16(0x0000);
    QTest::newRow("-0") << quint32(0x80000000) << quint16(0x8000);
    QTest::newRow("+inf") << quint32(0x7F800000) << quint16(0x7C00);
    QTest::newRow("-inf") << quint32(0xFF800000) << quint16(0xFC00);
}

void TestSafetensors::floatToHalf()
{
    QFETCH(quint32, input);
    QFETCH(quint16, expected);
    QCOMPARE(sinkscope::floatToHalf(floatOf(input)), expected);
}

void TestSafetensors::floatToBfloat16_data()
{
    QTest::addColumn<quint32>("input");
    QTest::addColumn<quint16>("expected");
    QTest::newRow("one") << quint32(0x3F800000) << quint16(0x3F80);
    QTest::newRow("tie to even (down)") << quint32(0x3F808000) << quint16(0x3F80);
    QTest::newRow("tie to even (up)") << quint32(0x3F818000) << quint16(0x3F82);
    QTest::newRow("above tie") << quint32(0x3F808001) << quint16(0x3F81);
    QTest::newRow("max float rounds to inf") << quint32(0x7F7FFFFF) << quint16(0x7F80);
    QTest::newRow("-inf") << quint32(0xFF800000) << quint16(0xFF80);
    QTest::newRow("subnormal") << quint32(0x00010000) << quint16(0x0001);
}

void TestSafetensors::floatToBfloat16()
{
    QFETCH(quint32, input);
    QFETCH(quint16, expected);
    QCOMPARE(sinkscope::floatToBfloat16(floatOf(input)), expected);
    QCOMPARE(bitsOf(sinkscope::bfloat16ToFloat(expected)), quint32(expected) << 16);
}

void TestSafetensors::roundTrip()
{
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const std::string path = QDir(tmp.path()).filePath(QStringLiteral("rt.safetensors")).toStdString();

    const std::vector<float> f32 = {0.f, 1.f, -2.5f, 1e-40f /* subnormal */, floatOf(0x7F800000), 3.25f};
    // F16: 1, -2, 65504, 2^-24, -inf, NaN; BF16: 1, -3.140625, inf, NaN, smallest subnormal.
    const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0xFC00, 0x7E00};
    const std::vector<uint16_t> bf16 = {0x3F80, 0xC049, 0x7F80, 0x7FC0, 0x0001};
    std::vector<HostTensor> tensors;
    tensors.push_back(HostTensor::fromFloats("a.f32", {2, 3}, f32));
    tensors.push_back(raw16("b.f16", DType::F16, f16));
    tensors.push_back(raw16("c.bf16", DType::BF16, bf16));
    tensors.push_back(HostTensor::allocate("d.empty", DType::F32, {0, 4}));
    writeSafetensors(path, tensors, {{"format", "pt"}, {"note", "ünïcode"}});

    const SafetensorsFile file = SafetensorsFile::open(path);
    QCOMPARE(file.header().tensors.size(), std::size_t(4));
    QCOMPARE(file.header().dataOffset % 8, uint64_t(0));
    QCOMPARE(file.header().metadata.at("format"), std::string("pt"));
    QCOMPARE(file.header().metadata.at("note"), std::string("ünïcode"));
    // Tensors come back in data-area order, which is the order they were written in.
    QCOMPARE(file.header().tensors[0].name, std::string("a.f32"));
    QCOMPARE(file.header().tensors[3].name, std::string("d.empty"));

    for (const HostTensor& original : tensors) {
        const HostTensor back = file.read(original.name);
        QCOMPARE(back.dtype, original.dtype);
        QCOMPARE(back.shape, original.shape);
        QCOMPARE(back.nbytes, original.nbytes);
        QVERIFY(back.data);
        QCOMPARE(reinterpret_cast<uintptr_t>(back.data.get()) % 64, uintptr_t(0));
        QVERIFY(std::memcmp(back.data.get(), original.data.get(), original.nbytes) == 0);
    }
    const std::vector<float> b = file.read("b.f16").toFloats();
    QCOMPARE(bitsOf(b[2]), quint32(0x477FE000));
    QCOMPARE(bitsOf(b[3]), quint32(0x33800000));
    QCOMPARE(bitsOf(b[4]), quint32(0xFF800000));
    QVERIFY(std::isnan(b[5]));
    const std::vector<float> c = file.read("c.bf16").toFloats();
    QCOMPARE(c[1], -3.140625f);
    QVERIFY(std::isinf(c[2]));
    QVERIFY(std::isnan(c[3]));
    QCOMPARE(bitsOf(c[4]), quint32(0x00010000));

    // Narrowing conversions round to nearest even.
    const HostTensor asHalf = tensors[0].convertedTo(DType::F16);
    const std::vector<float> h = asHalf.toFloats();
    QCOMPARE(h[1], 1.f);
    QCOMPARE(h[2], -2.5f);
    QCOMPARE(h[3], 0.f);
    QVERIFY(std::isinf(h[4]));
}

void TestSafetensors::writerLayoutIsByteExact()
{
    QTemporaryDir tmp;
    const std::string path = QDir(tmp.path()).filePath(QStringLiteral("x.safetensors")).toStdString();
    writeSafetensors(path, {HostTensor::fromFloats("attn0", {1, 2, 3}, {0, 1, 2, 3, 4, 5})});
    // 63 bytes of JSON, one space of padding to reach a multiple of 8, then the data.
    const QByteArray json = R"({"attn0":{"data_offsets":[0,24],"dtype":"F32","shape":[1,2,3]}} )";
    QCOMPARE(json.size(), 64);
    const QByteArray values = QByteArray::fromHex("00000000"
                                                  "0000803f"
                                                  "00000040"
                                                  "00004040"
                                                  "00008040"
                                                  "0000a040");
    const QByteArray expected = QByteArray::fromHex("4000000000000000") + json + values;
    QCOMPARE(QByteArray::fromStdString(readFile(path)), expected);
}

void TestSafetensors::acceptsValidEdgeCases_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("tensors");
    QTest::newRow("no tensors") << image("{}", {}) << 0;
    QTest::newRow("only metadata") << image(R"({"__metadata__":{"a":"b"}})", {}) << 0;
    QTest::newRow("padding spaces and newline") << image("{ }     \n ", {}) << 0;
    QTest::newRow("scalar") << image(R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})", QByteArray(4, '\0'))
                            << 1;
    QTest::newRow("zero-size among others")
        << image(R"({"z":{"dtype":"BF16","shape":[0,7],"data_offsets":[2,2]},)"
                 R"("a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                 R"("b":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}})",
                 QByteArray(4, '\0'))
        << 3;
    QTest::newRow("keys in any order") << image(R"({"b":{"data_offsets":[4,8],"shape":[2],"dtype":"BF16"},)"
                                                R"("a":{"shape":[1],"dtype":"F32","data_offsets":[0,4]}})",
                                                QByteArray(8, '\0'))
                                       << 2;
}

void TestSafetensors::acceptsValidEdgeCases()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, tensors);
    const SafetensorsHeader h = parseSafetensorsHeader(reinterpret_cast<const std::byte*>(bytes.constData()),
                                                       static_cast<std::size_t>(bytes.size()),
                                                       static_cast<uint64_t>(bytes.size()));
    QCOMPARE(int(h.tensors.size()), tensors);
    for (std::size_t i = 1; i < h.tensors.size(); ++i)
        QVERIFY(h.tensors[i - 1].end <= h.tensors[i].begin);
}

void TestSafetensors::rejectsBadFiles_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<QString>("message");

    const QByteArray f4(4, '\0');
    auto one = [](const char* entry) { return QByteArray("{\"w\":") + entry + "}"; };

    QTest::newRow("empty file") << QByteArray() << ErrorCode::Format << "bad.safetensors: the file is empty";
    QTest::newRow("shorter than the length field")
        << QByteArray(5, '\x01') << ErrorCode::Format << "only 5 bytes long, too short for the 8-byte header length";
    QTest::newRow("header length beyond the file")
        << (le64(1000) + "{}") << ErrorCode::Format
        << "the header length 1000 runs past the end of the file (10 bytes)";
    QTest::newRow("truncated header") << image(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), f4).left(30)
                                      << ErrorCode::Format << "runs past the end of the file (30 bytes)";
    QTest::newRow("absurd header length") << (le64(uint64_t(1) << 63) + "{}") << ErrorCode::Format
                                          << "runs past the end of the file";
    QTest::newRow("header too short for JSON") << (le64(1) + "{") << ErrorCode::Format << "too short for JSON";
    QTest::newRow("invalid JSON") << image(R"({"w": {"dtype": )", {}) << ErrorCode::Format
                                  << "the header is not valid JSON";
    QTest::newRow("raw control character in a name") << image("{\"w\x01\":1}", {}) << ErrorCode::Format
        << "the header is not valid JSON (raw control character U+0001 inside a string at byte 3).";
    QTest::newRow("invalid UTF-8") << image("{\"\xff\xfe\":1}", {}) << ErrorCode::Format
                                   << "the header is not valid UTF-8";
    QTest::newRow("not an object") << image("[1, 2, 3]", {}) << ErrorCode::Format
                                   << "the header is not a JSON object";
    QTest::newRow("entry not an object") << image(one("5"), {}) << ErrorCode::Format
                                         << "the entry for tensor 'w' is not an object";
    QTest::newRow("missing dtype") << image(one(R"({"shape":[1],"data_offsets":[0,4]})"), f4) << ErrorCode::Format
                                   << "tensor 'w' has no \"dtype\"";
    QTest::newRow("missing shape") << image(one(R"({"dtype":"F32","data_offsets":[0,4]})"), f4) << ErrorCode::Format
                                   << "tensor 'w' has no \"shape\"";
    QTest::newRow("missing data_offsets") << image(one(R"({"dtype":"F32","shape":[1]})"), f4) << ErrorCode::Format
                                          << "tensor 'w' has no \"data_offsets\"";
    QTest::newRow("unsupported dtype I64")
        << image(one(R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})"), QByteArray(8, '\0'))
        << ErrorCode::Unsupported << "tensor 'w' has dtype 'I64', which is not supported (supported: F32, F16, BF16)";
    QTest::newRow("unsupported dtype F64")
        << image(one(R"({"dtype":"F64","shape":[1],"data_offsets":[0,8]})"), QByteArray(8, '\0'))
        << ErrorCode::Unsupported << "dtype 'F64', which is not supported";
    QTest::newRow("unknown dtype") << image(one(R"({"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]})"), f4)
                                   << ErrorCode::Unsupported << "tensor 'w' has unknown dtype 'Q4_K'";
    QTest::newRow("dtype not a string") << image(one(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})"), f4)
                                        << ErrorCode::Format << "has a dtype that is not a string";
    QTest::newRow("shape not an array") << image(one(R"({"dtype":"F32","shape":4,"data_offsets":[0,4]})"), f4)
                                        << ErrorCode::Format << "has a shape that is not an array";
    QTest::newRow("negative dimension") << image(one(R"({"dtype":"F32","shape":[-1,2],"data_offsets":[0,4]})"), f4)
                                        << ErrorCode::Format << "shape entry that is not a non-negative integer";
    QTest::newRow("fractional dimension") << image(one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"), f4)
                                          << ErrorCode::Format << "shape entry that is not a non-negative integer";
    QTest::newRow("size overflows")
        << image(one(R"({"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,4]})"), f4)
        << ErrorCode::Format << "whose size overflows";
    QTest::newRow("bytes overflow with dtype size")
        << image(one(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]})"), f4)
        << ErrorCode::Format << "whose size overflows";
    QTest::newRow("shape disagrees with span")
        << image(one(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})"), QByteArray(20, '\0'))
        << ErrorCode::Format
        << "tensor 'w' has shape [2, 3] and dtype F32 (24 bytes) but its data_offsets [0, 20] span 20 bytes";
    QTest::newRow("offsets outside the data area")
        << image(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), f4) << ErrorCode::Format
        << "tensor 'w' has data_offsets [0, 8] outside the data area (4 bytes)";
    QTest::newRow("offsets out of order") << image(one(R"({"dtype":"F32","shape":[0],"data_offsets":[4,0]})"), f4)
                                          << ErrorCode::Format << "data_offsets [4, 0] out of order (begin after end)";
    QTest::newRow("one offset") << image(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4]})"), f4)
                                << ErrorCode::Format << "needs \"data_offsets\" as two non-negative integers";
    QTest::newRow("negative offset") << image(one(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), f4)
                                     << ErrorCode::Format << "needs \"data_offsets\" as two non-negative integers";
    QTest::newRow("offset beyond 64 bits")
        << image(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,1e30]})"), f4) << ErrorCode::Format
        << "needs \"data_offsets\" as two non-negative integers";
    QTest::newRow("overlapping tensors")
        << image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 QByteArray(12, '\0'))
        << ErrorCode::Format << "tensors 'a' [0, 8] and 'b' [4, 12] overlap";
    QTest::newRow("two names for the same bytes")
        << image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                 f4)
        << ErrorCode::Format << "overlap";
    QTest::newRow("gap between tensors")
        << image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                 QByteArray(12, '\0'))
        << ErrorCode::Format << "bytes 4 to 8 of the data area belong to no tensor (a gap before 'b')";
    QTest::newRow("gap at the start") << image(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"),
                                               QByteArray(8, '\0'))
                                      << ErrorCode::Format << "bytes 0 to 4 of the data area belong to no tensor";
    QTest::newRow("bytes after the last tensor")
        << image(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), QByteArray(8, '\0')) << ErrorCode::Format
        << "the data area has 4 bytes after the last tensor";
    QTest::newRow("duplicate key hides a tensor")
        << image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 QByteArray(8, '\0'))
        << ErrorCode::Format << "belong to no tensor";
    QTest::newRow("metadata not an object") << image(R"({"__metadata__":"x"})", {}) << ErrorCode::Format
                                            << "\"__metadata__\" must be an object mapping strings to strings";
    QTest::newRow("metadata value not a string")
        << image(R"({"__metadata__":{"n":1}})", {}) << ErrorCode::Format
        << "\"__metadata__\" value for 'n' is a number, but metadata values must be strings";
}

void TestSafetensors::rejectsBadFiles()
{
    QFETCH(QByteArray, bytes);
    QFETCH(ErrorCode, code);
    QFETCH(QString, message);

    // Through the in-memory parser...
    try {
        parseSafetensorsHeader(reinterpret_cast<const std::byte*>(bytes.constData()),
                               static_cast<std::size_t>(bytes.size()), static_cast<uint64_t>(bytes.size()),
                               "bad.safetensors");
        QFAIL("the parser accepted a bad header");
    } catch (const Error& e) {
        QCOMPARE(errorCodeName(e.code()), errorCodeName(code));
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
    }
    // ...and through the file the user opens, which names the file in the message.
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("bad.safetensors"));
    writeBytes(path, bytes);
    try {
        SafetensorsFile::open(path.toStdString());
        QFAIL("open() accepted a bad file");
    } catch (const Error& e) {
        QCOMPARE(errorCodeName(e.code()), errorCodeName(code));
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
        QVERIFY2(QString::fromStdString(e.what()).startsWith(QStringLiteral("bad.safetensors: ")), e.what());
    }
}

void TestSafetensors::rejectsImplausibleHeaderLength()
{
    // A 150 MB header inside a (claimed) 200 MB file: refused before any of it is needed.
    const QByteArray prefix = le64(150'000'000);
    try {
        parseSafetensorsHeader(reinterpret_cast<const std::byte*>(prefix.constData()), 8, 200'000'000, "big");
        QFAIL("accepted a 150 MB header");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Format);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("implausibly large")), e.what());
    }
}

void TestSafetensors::readUnknownTensor()
{
    QTemporaryDir tmp;
    const std::string path = QDir(tmp.path()).filePath(QStringLiteral("a.safetensors")).toStdString();
    writeSafetensors(path, {HostTensor::fromFloats("x", {1}, {1.f})});
    const SafetensorsFile file = SafetensorsFile::open(path);
    QVERIFY(file.find("x"));
    QVERIFY(!file.find("y"));
    try {
        file.read("y");
        QFAIL("read an absent tensor");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QVERIFY(QString::fromStdString(e.what()).contains(QStringLiteral("There is no tensor 'y'")));
    }
}

void TestSafetensors::readAfterTruncation()
{
    // Copying out of a mapping whose file shrank would fault; it must be an error instead.
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("t.safetensors"));
    writeSafetensors(path.toStdString(), {HostTensor::fromFloats("x", {1024}, std::vector<float>(1024, 2.f))});
    const SafetensorsFile file = SafetensorsFile::open(path.toStdString());
    QCOMPARE(file.read("x").toFloats()[1023], 2.f);
    QVERIFY(QFile::resize(path, 16));
    try {
        file.read("x");
        QFAIL("read from a truncated file");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("changed on disk after it was opened")),
                 e.what());
    }
}

void TestSafetensors::writerRejectsInconsistentTensors_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("message");
    QTest::newRow("byte count disagrees with shape") << 0 << "disagree";
    QTest::newRow("duplicate names") << 1 << "Cannot write two tensors named 'x'";
    QTest::newRow("reserved name") << 2 << "Cannot write tensor '__metadata__'";
}

void TestSafetensors::writerRejectsInconsistentTensors()
{
    QFETCH(int, which);
    QFETCH(QString, message);
    std::vector<HostTensor> tensors;
    if (which == 0) {
        HostTensor t = HostTensor::fromFloats("x", {2}, {1.f, 2.f});
        t.shape = {3};
        tensors.push_back(t);
    } else if (which == 1) {
        tensors.push_back(HostTensor::fromFloats("x", {1}, {1.f}));
        tensors.push_back(HostTensor::fromFloats("x", {1}, {2.f}));
    } else {
        tensors.push_back(HostTensor::fromFloats("__metadata__", {1}, {1.f}));
    }
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("w.safetensors"));
    try {
        writeSafetensors(path.toStdString(), tensors);
        QFAIL("wrote inconsistent tensors");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
    }
    QVERIFY(!QFile::exists(path));
}

void TestSafetensors::writerLeavesOldFileOnFailure()
{
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("keep.safetensors"));
    writeSafetensors(path.toStdString(), {HostTensor::fromFloats("old", {1}, {7.f})});
    const std::string before = readFile(path.toStdString());
    HostTensor bad = HostTensor::fromFloats("new", {1}, {1.f});
    bad.nbytes = 8;
    QVERIFY_THROWS_EXCEPTION(Error, writeSafetensors(path.toStdString(), {bad}));
    QCOMPARE(readFile(path.toStdString()), before);
    // A folder that does not exist: an Io error, and nothing created.
    const QString nowhere = QDir(tmp.path()).filePath(QStringLiteral("no/such/dir/x.safetensors"));
    try {
        writeSafetensors(nowhere.toStdString(), {HostTensor::fromFloats("x", {1}, {1.f})});
        QFAIL("wrote into a missing folder");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
    }
    QCOMPARE(QDir(tmp.path()).entryList(QDir::Files | QDir::Hidden), QStringList{QStringLiteral("keep.safetensors")});
}

void TestSafetensors::stories260K()
{
    const QString dir = test::stories260KDir();
    if (dir.isEmpty())
        QSKIP(test::noSharedReason());
    const SafetensorsFile file = SafetensorsFile::open(QDir(dir).filePath(QStringLiteral("model.safetensors")).toStdString());
    QCOMPARE(file.header().tensors.size(), std::size_t(47));
    for (const TensorInfo& t : file.header().tensors)
        QCOMPARE(t.dtype, DType::F32);
    auto shapeOf = [&](const std::string& name) {
        const TensorInfo* t = file.find(name);
        return t ? t->shape : std::vector<int64_t>{-1};
    };
    QCOMPARE(shapeOf("model.embed_tokens.weight"), (std::vector<int64_t>{512, 64}));
    QCOMPARE(shapeOf("model.norm.weight"), (std::vector<int64_t>{64}));
    QVERIFY(!file.find("lm_head.weight")); // tied embeddings
    for (int l = 0; l < 5; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        QCOMPARE(shapeOf(p + "self_attn.q_proj.weight"), (std::vector<int64_t>{64, 64}));
        QCOMPARE(shapeOf(p + "self_attn.k_proj.weight"), (std::vector<int64_t>{32, 64})); // 4 KV heads x 8
        QCOMPARE(shapeOf(p + "self_attn.v_proj.weight"), (std::vector<int64_t>{32, 64}));
        QCOMPARE(shapeOf(p + "self_attn.o_proj.weight"), (std::vector<int64_t>{64, 64}));
        QCOMPARE(shapeOf(p + "mlp.gate_proj.weight"), (std::vector<int64_t>{172, 64}));
        QCOMPARE(shapeOf(p + "mlp.up_proj.weight"), (std::vector<int64_t>{172, 64}));
        QCOMPARE(shapeOf(p + "mlp.down_proj.weight"), (std::vector<int64_t>{64, 172}));
        QCOMPARE(shapeOf(p + "input_layernorm.weight"), (std::vector<int64_t>{64}));
        QCOMPARE(shapeOf(p + "post_attention_layernorm.weight"), (std::vector<int64_t>{64}));
    }
    // The copy matches the bytes in the file.
    const HostTensor emb = file.read("model.embed_tokens.weight");
    const TensorInfo* info = file.find("model.embed_tokens.weight");
    const std::string raw = readFile(file.path());
    QVERIFY(std::memcmp(emb.data.get(), raw.data() + file.header().dataOffset + info->begin, emb.nbytes) == 0);
    for (float v : emb.toFloats())
        QVERIFY(std::isfinite(v));
}

QTEST_GUILESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
