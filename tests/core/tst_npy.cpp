// SPDX-License-Identifier: GPL-3.0-or-later
// .npy export: byte-exact headers against hand-written ones, round trips, bad files, atomic writes,
// and (when a Python with numpy is around) numpy itself reading and writing the same bytes.
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/npy.h"
#include "npyreader.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>

using namespace sinkscope;
using namespace sinkscope::test;

Q_DECLARE_METATYPE(sinkscope::ErrorCode)
Q_DECLARE_METATYPE(std::vector<int64_t>)

namespace {

QByteArray npyPreamble(uint16_t headerLen)
{
    QByteArray out("\x93NUMPY\x01\x00", 8);
    out.append(static_cast<char>(headerLen & 0xFF));
    out.append(static_cast<char>(headerLen >> 8));
    return out;
}

// A Python interpreter that can import numpy, or "" when there is none.
QString pythonWithNumpy()
{
    QStringList candidates;
    const QString onPath = QStandardPaths::findExecutable(QStringLiteral("python3"));
    if (!onPath.isEmpty())
        candidates << onPath;
    candidates << QStringLiteral("/usr/bin/python3");
    for (const QString& python : candidates) {
        if (!QFile::exists(python))
            continue;
        QProcess p;
        p.start(python, {QStringLiteral("-c"), QStringLiteral("import numpy")});
        if (p.waitForFinished(20000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0)
            return python;
    }
    return {};
}

void writeBytes(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QCOMPARE(f.write(bytes), bytes.size());
}

} // namespace

class TestNpy : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void headerIsByteExact_data();
    void headerIsByteExact();
    void roundTrip();
    void readsVersion2Headers();
    void rejectsBadFiles_data();
    void rejectsBadFiles();
    void atomicWrites();
    void readFileErrors();
    void numpyAgrees();
};

void TestNpy::headerIsByteExact_data()
{
    QTest::addColumn<std::vector<int64_t>>("shape");
    QTest::addColumn<QByteArray>("header");
    // Written out by hand: numpy's dict, 21 - digits(shape[0]) spaces of growth room, then spaces
    // and '\n' up to a 64-byte boundary (here always 128 bytes in total, header length 118).
    const QByteArray pad20(20, ' ');
    QTest::newRow("2x3") << std::vector<int64_t>{2, 3}
                         << npyPreamble(118) + "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + pad20 +
                                QByteArray(38, ' ') + "\n";
    QTest::newRow("vector") << std::vector<int64_t>{5}
                            << npyPreamble(118) + "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + pad20 +
                                   QByteArray(40, ' ') + "\n";
    QTest::newRow("scalar") << std::vector<int64_t>{}
                            << npyPreamble(118) + "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" +
                                   QByteArray(62, ' ') + "\n";
    QTest::newRow("4-d") << std::vector<int64_t>{1, 2, 3, 4}
                         << npyPreamble(118) + "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4), }" +
                                pad20 + QByteArray(32, ' ') + "\n";
    QTest::newRow("long first axis") << std::vector<int64_t>{10000000000, 0}
                                     << npyPreamble(118) +
                                            "{'descr': '<f4', 'fortran_order': False, 'shape': (10000000000, 0), }" +
                                            QByteArray(10, ' ') + QByteArray(38, ' ') + "\n";
}

void TestNpy::headerIsByteExact()
{
    QFETCH(std::vector<int64_t>, shape);
    QFETCH(QByteArray, header);
    QCOMPARE(header.size() % 64, 0);
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    std::vector<float> values(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = float(i) + 0.5f;
    const std::string encoded = encodeNpy(values.data(), shape);
    QCOMPARE(QByteArray::fromStdString(encoded.substr(0, std::min<std::size_t>(encoded.size(), header.size()))), header);
    QCOMPARE(encoded.size(), std::size_t(header.size()) + values.size() * 4);
    if (!values.empty()) {
        // Little-endian 0.5f is 00 00 00 3f.
        QCOMPARE(QByteArray::fromStdString(encoded.substr(header.size(), 4)), QByteArray::fromHex("0000003f"));
    }
}

void TestNpy::roundTrip()
{
    QTemporaryDir tmp;
    const std::string path = QDir(tmp.path()).filePath(QStringLiteral("a.npy")).toStdString();
    const std::vector<float> values = {0.f,     -0.f,  1.f, -1.5f, 1e-42f /* subnormal */,
                                       std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity(), std::nanf(""), 3.4e38f, 1e-7f,
                                       42.f,    7.25f};
    writeNpy(path, values.data(), {3, 2, 2});
    const NpyArray back = readNpy(path);
    QCOMPARE(back.shape, (std::vector<int64_t>{3, 2, 2}));
    QCOMPARE(back.data.size(), values.size());
    QVERIFY(std::memcmp(back.data.data(), values.data(), values.size() * 4) == 0);

    writeNpy(path, nullptr, {0, 5});
    const NpyArray empty = readNpy(path);
    QCOMPARE(empty.shape, (std::vector<int64_t>{0, 5}));
    QVERIFY(empty.data.empty());
}

void TestNpy::readsVersion2Headers()
{
    // Format 2.0 has a 4-byte header length; numpy writes it for huge headers.
    const QByteArray dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    QByteArray header = dict + QByteArray(64 - (12 + dict.size() + 1) % 64, ' ') + "\n";
    QByteArray bytes("\x93NUMPY\x02\x00", 8);
    const uint32_t len = static_cast<uint32_t>(header.size());
    for (int i = 0; i < 4; ++i)
        bytes.append(static_cast<char>((len >> (8 * i)) & 0xFF));
    bytes += header + QByteArray::fromHex("0000803f00000040"); // 1.0, 2.0
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("v2.npy"));
    writeBytes(path, bytes);
    const NpyArray a = readNpy(path.toStdString());
    QCOMPARE(a.shape, (std::vector<int64_t>{2}));
    QCOMPARE(a.data, (std::vector<float>{1.f, 2.f}));
}

void TestNpy::rejectsBadFiles_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<QString>("message");
    auto file = [](const QByteArray& dict, const QByteArray& data) {
        QByteArray h = dict + "\n";
        return npyPreamble(static_cast<uint16_t>(h.size())) + h + data;
    };
    const QByteArray good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    QTest::newRow("empty") << QByteArray() << ErrorCode::Format << "the magic string \\x93NUMPY is missing";
    QTest::newRow("not npy") << QByteArray("PK\x03\x04 zip file") << ErrorCode::Format << "magic string";
    QTest::newRow("version 9") << QByteArray("\x93NUMPY\x09\x00\x10\x00", 10) << ErrorCode::Unsupported
                               << "format version 9";
    QTest::newRow("header past the end") << npyPreamble(500) + good << ErrorCode::Format
                                         << "the header length runs past the end of the file";
    QTest::newRow("float64") << file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", QByteArray(8, '\0'))
                             << ErrorCode::Unsupported << "holds dtype '<f8'";
    QTest::newRow("big-endian") << file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", QByteArray(4, '\0'))
                                << ErrorCode::Unsupported << "only little-endian float32";
    QTest::newRow("fortran order") << file("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
                                           QByteArray(4, '\0'))
                                   << ErrorCode::Unsupported << "Fortran order";
    QTest::newRow("data too short") << file(good, QByteArray(7, '\0')) << ErrorCode::Format
                                    << "the shape (2,) needs 8 bytes of data but 7 follow the header";
    QTest::newRow("data too long") << file(good, QByteArray(9, '\0')) << ErrorCode::Format << "but 9 follow";
    QTest::newRow("unknown key") << file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                                         QByteArray(8, '\0'))
                                 << ErrorCode::Format << "unexpected key 'x'";
    QTest::newRow("missing shape") << file("{'descr': '<f4', 'fortran_order': False}", {}) << ErrorCode::Format
                                   << "lacks 'descr', 'fortran_order' or 'shape'";
    QTest::newRow("negative dimension") << file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", {})
                                        << ErrorCode::Format << "not a non-negative integer";
    QTest::newRow("unterminated") << file("{'descr': '<f4", {}) << ErrorCode::Format << "unterminated string";
}

void TestNpy::rejectsBadFiles()
{
    QFETCH(QByteArray, bytes);
    QFETCH(ErrorCode, code);
    QFETCH(QString, message);
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("bad.npy"));
    writeBytes(path, bytes);
    try {
        readNpy(path.toStdString());
        QFAIL("a bad .npy was accepted");
    } catch (const Error& e) {
        QCOMPARE(errorCodeName(e.code()), errorCodeName(code));
        QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
    }
}

void TestNpy::atomicWrites()
{
    QTemporaryDir tmp;
    const QString path = QDir(tmp.path()).filePath(QStringLiteral("out.bin"));
    writeFileAtomically(path.toStdString(), "first");
    writeFileAtomically(path.toStdString(), "second version");
    QCOMPARE(QByteArray::fromStdString(readFile(path.toStdString())), QByteArray("second version"));
    // Nothing but the target is left in the folder.
    QCOMPARE(QDir(tmp.path()).entryList(QDir::Files | QDir::Hidden), QStringList{QStringLiteral("out.bin")});

    const QString missingDir = QDir(tmp.path()).filePath(QStringLiteral("nope/out.npy"));
    const float one = 1.f;
    try {
        writeNpy(missingDir.toStdString(), &one, {1});
        QFAIL("wrote into a folder that does not exist");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("Could not write")), e.what());
    }
    QVERIFY(!QFile::exists(missingDir));
}

void TestNpy::readFileErrors()
{
    QTemporaryDir tmp;
    try {
        readFile(QDir(tmp.path()).filePath(QStringLiteral("absent.json")).toStdString());
        QFAIL("read a missing file");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("absent.json does not exist")), e.what());
    }
    try {
        readFile(tmp.path().toStdString());
        QFAIL("read a folder");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Io);
        QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("exists but is a folder, not a regular file")), e.what());
    }
}

void TestNpy::numpyAgrees()
{
    const QString python = pythonWithNumpy();
    if (python.isEmpty())
        QSKIP("no python3 with numpy on this machine");
    QTemporaryDir tmp;
    const QString ours = QDir(tmp.path()).filePath(QStringLiteral("ours.npy"));
    const QString theirs = QDir(tmp.path()).filePath(QStringLiteral("theirs.npy"));
    std::vector<float> values(2 * 3 * 4);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = float(i) * 0.25f - 1.f;
    writeNpy(ours.toStdString(), values.data(), {2, 3, 4});

    // numpy reads our file, and saves the same array; the two files must be identical.
    const QString script = QStringLiteral(
        "import sys, numpy as np\n"
        "a = np.load(sys.argv[1])\n"
        "assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)\n"
        "expected = (np.arange(24, dtype=np.float32) * 0.25 - 1).reshape(2, 3, 4)\n"
        "assert (a == expected).all()\n"
        "np.save(sys.argv[2], expected)\n"
        "print('ok')\n");
    QProcess p;
    p.start(python, {QStringLiteral("-c"), script, ours, theirs});
    QVERIFY(p.waitForFinished(60000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    QCOMPARE(p.readAllStandardOutput().trimmed(), QByteArray("ok"));
    QCOMPARE(QByteArray::fromStdString(readFile(ours.toStdString())),
             QByteArray::fromStdString(readFile(theirs.toStdString())));
}

QTEST_GUILESS_MAIN(TestNpy)
#include "tst_npy.moc"
