// SPDX-License-Identifier: GPL-3.0-or-later
// .npy reader for the tests: they read back what the core's writer (sinkscope/npy.h) wrote. Accepts
// only what numpy itself writes for a plain little-endian float32 C-order array.
#include "npyreader.h"

#include "sinkscope/error.h"

#include <QFile>

#include <cstring>
#include <limits>

namespace sinkscope::test {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

std::string shapeTuple(const std::vector<int64_t>& shape)
{
    // Python's repr of a tuple: "()", "(3,)", "(2, 3)".
    std::string out = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + (shape.size() == 1 ? ",)" : ")");
}

bool littleEndianHost()
{
    const uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

} // namespace

namespace {

// Minimal reader for the Python-literal dict numpy writes: {'descr': '<f4', 'fortran_order':
// False, 'shape': (2, 3), }. Only what numpy itself produces for a plain float32 array is accepted.
class DictParser {
public:
    DictParser(const std::string& text, const std::string& path) : m_s(text), m_path(path) {}

    void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape)
    {
        bool haveDescr = false, haveFortran = false, haveShape = false;
        skipSpace();
        expect('{');
        for (;;) {
            skipSpace();
            if (peek() == '}') {
                ++m_i;
                break;
            }
            const std::string key = parseString();
            skipSpace();
            expect(':');
            skipSpace();
            if (key == "descr") {
                descr = parseString();
                haveDescr = true;
            } else if (key == "fortran_order") {
                fortran = parseBool();
                haveFortran = true;
            } else if (key == "shape") {
                shape = parseTuple();
                haveShape = true;
            } else {
                fail("unexpected key '" + key + "' in the header");
            }
            skipSpace();
            if (peek() == ',') {
                ++m_i;
                continue;
            }
            skipSpace();
            expect('}');
            break;
        }
        skipSpace();
        if (m_i != m_s.size())
            fail("trailing characters after the header dictionary");
        if (!haveDescr || !haveFortran || !haveShape)
            fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    }

private:
    [[noreturn]] void fail(const std::string& why) const
    {
        throw Error(ErrorCode::Format, m_path + " is not a valid .npy file: " + why + ".", m_path);
    }
    char peek() const { return m_i < m_s.size() ? m_s[m_i] : '\0'; }
    void skipSpace()
    {
        while (m_i < m_s.size() && (m_s[m_i] == ' ' || m_s[m_i] == '\n' || m_s[m_i] == '\t'))
            ++m_i;
    }
    void expect(char c)
    {
        if (peek() != c)
            fail(std::string("expected '") + c + "' at header byte " + std::to_string(m_i));
        ++m_i;
    }
    std::string parseString()
    {
        const char q = peek();
        if (q != '\'' && q != '"')
            fail("expected a quoted string at header byte " + std::to_string(m_i));
        ++m_i;
        const std::size_t start = m_i;
        while (m_i < m_s.size() && m_s[m_i] != q)
            ++m_i;
        if (m_i >= m_s.size())
            fail("unterminated string in the header");
        return m_s.substr(start, m_i++ - start);
    }
    bool parseBool()
    {
        if (m_s.compare(m_i, 4, "True") == 0) {
            m_i += 4;
            return true;
        }
        if (m_s.compare(m_i, 5, "False") == 0) {
            m_i += 5;
            return false;
        }
        fail("'fortran_order' is neither True nor False");
    }
    std::vector<int64_t> parseTuple()
    {
        std::vector<int64_t> out;
        expect('(');
        for (;;) {
            skipSpace();
            if (peek() == ')') {
                ++m_i;
                return out;
            }
            if (peek() < '0' || peek() > '9')
                fail("a shape entry is not a non-negative integer");
            int64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                if (v > (std::numeric_limits<int64_t>::max() - 9) / 10)
                    fail("a shape entry is too large");
                v = v * 10 + (peek() - '0');
                ++m_i;
            }
            out.push_back(v);
            skipSpace();
            if (peek() == ',') {
                ++m_i;
                continue;
            }
            expect(')');
            return out;
        }
    }

    const std::string& m_s;
    const std::string& m_path;
    std::size_t m_i = 0;
};

} // namespace

NpyArray readNpy(const std::string& path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(ErrorCode::Io, "Could not open " + path + ": " + file.errorString().toStdString() + ".", path);
    const QByteArray all = file.readAll();
    const std::string bytes(all.constData(), std::size_t(all.size()));
    auto fail = [&](const std::string& why) {
        return Error(ErrorCode::Format, path + " is not a valid .npy file: " + why + ".", path);
    };
    if (bytes.size() < kMagicLen + 2 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0)
        throw fail("the magic string \\x93NUMPY is missing");
    const auto major = static_cast<unsigned char>(bytes[kMagicLen]);
    std::size_t lenBytes = 0;
    if (major == 1)
        lenBytes = 2;
    else if (major == 2 || major == 3)
        lenBytes = 4;
    else
        throw Error(ErrorCode::Unsupported, path + " uses .npy format version " + std::to_string(major) +
                                                ", which is not supported (1, 2 and 3 are).", path);
    const std::size_t lenAt = kMagicLen + 2;
    if (bytes.size() < lenAt + lenBytes)
        throw fail("the file ends inside the header length");
    uint64_t headerLen = 0;
    for (std::size_t i = 0; i < lenBytes; ++i)
        headerLen |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[lenAt + i])) << (8 * i);
    const std::size_t dataAt = lenAt + lenBytes;
    if (headerLen > bytes.size() - dataAt)
        throw fail("the header length runs past the end of the file");
    const std::string dictText = bytes.substr(dataAt, static_cast<std::size_t>(headerLen));

    std::string descr;
    bool fortran = false;
    NpyArray out;
    DictParser(dictText, path).parse(descr, fortran, out.shape);
    if (descr != "<f4" && !(descr == "=f4" && littleEndianHost())) {
        throw Error(ErrorCode::Unsupported,
                    path + " holds dtype '" + descr + "'; only little-endian float32 ('<f4') is supported.", path);
    }
    if (fortran)
        throw Error(ErrorCode::Unsupported, path + " is stored in Fortran order; only C order is supported.", path);

    uint64_t n = 1;
    for (int64_t d : out.shape) {
        const auto ud = static_cast<uint64_t>(d);
        if (ud != 0 && n > std::numeric_limits<uint64_t>::max() / 4 / ud)
            throw fail("the shape is too large");
        n *= ud;
    }
    const std::size_t payload = bytes.size() - dataAt - static_cast<std::size_t>(headerLen);
    if (payload != n * 4) {
        throw fail("the shape " + shapeTuple(out.shape) + " needs " + std::to_string(n * 4) + " bytes of data but " +
                   std::to_string(payload) + " follow the header");
    }
    out.data.resize(static_cast<std::size_t>(n));
    const char* src = bytes.data() + dataAt + headerLen;
    if (littleEndianHost()) {
        if (n)
            std::memcpy(out.data.data(), src, static_cast<std::size_t>(n) * 4);
    } else {
        for (uint64_t i = 0; i < n; ++i) {
            uint32_t u = 0;
            for (int b = 0; b < 4; ++b)
                u |= static_cast<uint32_t>(static_cast<unsigned char>(src[4 * i + b])) << (8 * b);
            std::memcpy(&out.data[i], &u, 4);
        }
    }
    return out;
}

} // namespace sinkscope::test
