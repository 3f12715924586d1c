// SPDX-License-Identifier: GPL-3.0-or-later
// The file-I/O foundation (sinkscope/fileio.h) and message escaping: every input path through the
// checked open (FIFOs, folders, devices, symbolic link loops, missing and empty paths, size
// limits, each with its exact message and never blocking), the all-or-nothing publish of result
// folders at each failure point, and escaping/abbreviation of text from files.
#include "sinkscope/analysis.h"
#include "sinkscope/checkpoint.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/safetensors.h"
#include "sinkscope/tokenizer.h"

#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>

using namespace sinkscope;
using namespace sinkscope::test;

namespace {

bool makeFifo(const QString& path)
{
    return ::mkfifo(QFile::encodeName(path).constData(), 0600) == 0;
}

// Runs `f` and returns the message of the Error it throws ("" when it does not throw). Fails the
// test (instead of hanging it) when `f` takes longer than 5 s: a read that waits on a FIFO. The
// FIFO is then opened for writing, which releases the blocked reader.
QString messageWithin5s(const std::function<void()>& f, const QString& fifo = {})
{
    auto job = std::async(std::launch::async, [f]() -> std::string {
        try {
            f();
        } catch (const Error& e) {
            return e.describe();
        }
        return {};
    });
    if (job.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        if (!fifo.isEmpty()) {
            const int fd = ::open(QFile::encodeName(fifo).constData(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0)
                ::close(fd);
        }
        job.wait();
        return QStringLiteral("BLOCKED for more than 5 s");
    }
    return QString::fromStdString(job.get());
}

} // namespace

class TestFileIo : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init() { setPublishFaultForTesting(""); }
    void cleanup() { setPublishFaultForTesting(""); }
    void readsRegularFiles();
    void checkedOpen_data();
    void checkedOpen();
    void modelFolderInputs_data();
    void modelFolderInputs();
    void cacheRefIsFifo();
    void tokenizerAndPromptInputs();
    void publishIntoAbsentOrEmpty();
    void refuseNonEmpty();
    void replaceWhole();
    void failurePoints_data();
    void failurePoints();
    void targetFilledAfterCheck();
    void badTargets();
    void escaping_data();
    void escaping();
    void errorsAreEscaped();
    void hostileTensorName();
    void longShapeAbbreviated();

private:
    QTemporaryDir m_tmp;
    QString path(const QString& name) const { return QDir(m_tmp.path()).filePath(name); }
    // A folder that looks like a finished earlier run.
    QString oldRun(const QString& name)
    {
        const QString dir = path(name);
        QDir().mkpath(dir);
        writeBytes(QDir(dir).filePath("run.json"), "{\"old\": true}");
        writeBytes(QDir(dir).filePath("attention.npy"), "old maps");
        return dir;
    }
};

void TestFileIo::readsRegularFiles()
{
    writeBytes(path("plain.txt"), QByteArray("hello\0world", 11));
    QCOMPARE(readFile(path("plain.txt").toStdString(), files::kText), std::string("hello\0world", 11));
    writeBytes(path("empty.txt"), {});
    QCOMPARE(readFile(path("empty.txt").toStdString(), files::kText), std::string());
    // Through a symbolic link to a regular file.
    QVERIFY(QFile::link(path("plain.txt"), path("link.txt")));
    QCOMPARE(readFile(path("link.txt").toStdString(), files::kText).size(), size_t(11));
    QCOMPARE(checkRegularFile(path("plain.txt").toStdString(), files::kText), uint64_t(11));
}

void TestFileIo::checkedOpen_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("message");
    // %P% is the path. Each row is built in checkedOpen().
    QTest::newRow("FIFO") << "fifo" << "The tokenizer file %P% exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("folder") << "dir" << "The tokenizer file %P% exists but is a folder, not a regular file.";
    QTest::newRow("character device") << "/dev/zero" << "The tokenizer file /dev/zero exists but is a character device, not a regular file.";
    QTest::newRow("symlink loop") << "loop" << "The tokenizer file %P% exists but is a symbolic link loop, not a regular file.";
    QTest::newRow("missing") << "absent.json" << "The tokenizer file %P% does not exist.";
    QTest::newRow("dangling link") << "dangling" << "The tokenizer file %P% does not exist.";
    QTest::newRow("parent is a file") << "plainfile/x.json" << "The tokenizer file %P% cannot exist: a part of its path is a file, not a folder.";
    QTest::newRow("empty path") << "" << "No path was given for the tokenizer file (the path is empty).";
}

void TestFileIo::checkedOpen()
{
    QFETCH(QString, name);
    QFETCH(QString, message);
    const QString p = name.startsWith('/') || name.isEmpty() ? name : path(name);
    if (name == "fifo" && !QFileInfo::exists(p))
        QVERIFY(makeFifo(p));
    if (name == "dir")
        QDir().mkpath(p);
    if (name == "loop" && !QFileInfo(p).isSymLink()) {
        QVERIFY(QFile::link(path("loop2"), p));
        QVERIFY(QFile::link(p, path("loop2")));
    }
    if (name == "dangling" && !QFileInfo(p).isSymLink())
        QVERIFY(QFile::link(path("nowhere"), p));
    if (name.startsWith("plainfile"))
        writeBytes(path("plainfile"), "x");
    if (name == "/dev/zero" && !QFileInfo::exists(p))
        QSKIP("no /dev/zero here");
    const QString want = QString(message).replace("%P%", p);
    QCOMPARE(messageWithin5s([&] { readFile(p.toStdString(), files::kTokenizer); }, p), want);
    QCOMPARE(messageWithin5s([&] { checkRegularFile(p.toStdString(), files::kTokenizer); }, p), want);
}

void TestFileIo::modelFolderInputs_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("message");
    QTest::newRow("config.json FIFO") << "config.json" << "fifo"
                                      << "The config file %D%/config.json exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("config.json folder") << "config.json" << "dir"
                                        << "The config file %D%/config.json exists but is a folder, not a regular file.";
    QTest::newRow("config.json loop") << "config.json" << "loop"
                                      << "The config file %D%/config.json exists but is a symbolic link loop, not a regular file.";
    QTest::newRow("tokenizer.json FIFO") << "tokenizer.json" << "fifo"
                                         << "The tokenizer file %D%/tokenizer.json exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("tokenizer_config.json FIFO")
        << "tokenizer_config.json" << "fifo"
        << "The tokenizer configuration %D%/tokenizer_config.json exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("index FIFO") << "model.safetensors.index.json" << "fifo"
                                << "The shard index %D%/model.safetensors.index.json exists but is a FIFO (named pipe), not "
                                   "a regular file.";
    QTest::newRow("weights FIFO") << "model.safetensors" << "fifo"
                                  << "The weight file %D%/model.safetensors exists but is a FIFO (named pipe), not a regular file.";
    QTest::newRow("weights folder") << "model.safetensors" << "dir"
                                    << "The weight file %D%/model.safetensors exists but is a folder, not a regular file.";
    QTest::newRow("folder is a FIFO") << "" << "fifo" << "The model folder %D% exists but is a FIFO (named pipe), not a folder.";
    QTest::newRow("empty folder path") << "" << "empty" << "No model folder was given (the path is empty).";
}

void TestFileIo::modelFolderInputs()
{
    QFETCH(QString, file);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    const QString dir = path("model-" + QString(QTest::currentDataTag()).replace(' ', '-'));
    QString target = dir;
    if (kind == "empty") {
        target.clear();
    } else if (file.isEmpty()) {
        QVERIFY(makeFifo(dir));
    } else {
        QDir().mkpath(dir);
        if (file != "config.json")
            writeBytes(QDir(dir).filePath("config.json"), "{}");
        if (file == "model.safetensors.index.json")
            writeBytes(QDir(dir).filePath("x.safetensors"), "x");
        const QString p = QDir(dir).filePath(file);
        if (kind == "fifo")
            QVERIFY(makeFifo(p));
        else if (kind == "dir")
            QDir().mkpath(p);
        else if (kind == "loop")
            QVERIFY(QFile::link(p, p));
    }
    const QString want = QString(message).replace("%D%", dir);
    const QString got = messageWithin5s(
        [&] {
            const ModelDirectory md = ModelDirectory::locate(target.toStdString());
            if (!md.tokenizerConfigPath.empty() || !md.tokenizerPath.empty())
                Tokenizer::fromFile(md.tokenizerPath, md.tokenizerConfigPath);
            Checkpoint::open(md);
        },
        file.isEmpty() ? dir : QDir(dir).filePath(file));
    QCOMPARE(got, want);
}

void TestFileIo::cacheRefIsFifo()
{
    // models--org--name/{refs/main, snapshots/<rev>/...}: a FIFO refs/main was read forever.
    const QString entry = path("models--org--name");
    QDir().mkpath(entry + "/refs");
    QDir().mkpath(entry + "/snapshots/0123abcd");
    QDir().mkpath(entry + "/snapshots/4567ef01");
    QVERIFY(makeFifo(entry + "/refs/main"));
    QCOMPARE(messageWithin5s([&] { ModelDirectory::locate(entry.toStdString()); }, entry + "/refs/main"),
             "The cache reference " + entry + "/refs/main exists but is a FIFO (named pipe), not a regular file.");
    // A regular refs/main picks its snapshot.
    QFile::remove(entry + "/refs/main");
    writeBytes(entry + "/refs/main", "4567ef01\n");
    writeBytes(entry + "/snapshots/4567ef01/config.json", "{}");
    writeBytes(entry + "/snapshots/4567ef01/model.safetensors", "x");
    QCOMPARE(QString::fromStdString(ModelDirectory::locate(entry.toStdString()).dir), entry + "/snapshots/4567ef01");
}

void TestFileIo::tokenizerAndPromptInputs()
{
    QVERIFY(makeFifo(path("tok-fifo.json")));
    QCOMPARE(messageWithin5s([&] { Tokenizer::fromFile(path("tok-fifo.json").toStdString()); }, path("tok-fifo.json")),
             "The tokenizer file " + path("tok-fifo.json") + " exists but is a FIFO (named pipe), not a regular file.");
    QVERIFY(makeFifo(path("prompts-fifo.txt")));
    QCOMPARE(messageWithin5s([&] { analysis::readPromptSet(path("prompts-fifo.txt").toStdString()); }, path("prompts-fifo.txt")),
             "The prompt file " + path("prompts-fifo.txt") + " exists but is a FIFO (named pipe), not a regular file.");
    // A prompt file larger than its documented limit is refused before it is read.
    {
        QFile big(path("huge-prompts.txt"));
        QVERIFY(big.open(QIODevice::WriteOnly));
        QVERIFY(big.resize(qint64(limits::kPromptFileBytes) + 1)); // sparse: no disk used
    }
    QCOMPARE(messageWithin5s([&] { analysis::readPromptSet(path("huge-prompts.txt").toStdString()); }),
             "The prompt file " + path("huge-prompts.txt") + " is 256.0 MiB; a prompt file may have at most 256.0 MiB.");
    const FileKind tiny{"test file", 10};
    writeBytes(path("eleven.txt"), "01234567890");
    QCOMPARE(messageWithin5s([&] { readFile(path("eleven.txt").toStdString(), tiny); }),
             "The test file " + path("eleven.txt") + " is 11 bytes; a test file may have at most 10 bytes.");
}

void TestFileIo::publishIntoAbsentOrEmpty()
{
    for (const QString& name : {QStringLiteral("absent/out"), QStringLiteral("empty-out")}) {
        const QString out = path(name);
        if (name == "empty-out")
            QDir().mkpath(out);
        {
            StagedFolder folder(out.toStdString(), ExistingOutput::Refuse);
            folder.write("run.json", "{\"new\": true}");
            writeFileAtomically(folder.path("b.npy"), "bytes");
            QVERIFY(!QFileInfo::exists(QDir(out).filePath("run.json"))); // nothing visible before the publish
            folder.publish();
        }
        QCOMPARE(entries(out), (QStringList{"b.npy", "run.json"}));
        QCOMPARE(readBytes(QDir(out).filePath("run.json")), QByteArray("{\"new\": true}"));
        QCOMPARE(entries(QFileInfo(out).path()).filter(".staging"), QStringList());
        QCOMPARE(QFileInfo(out).permissions() & QFileDevice::ReadOther, QFileDevice::ReadOther);
    }
}

void TestFileIo::refuseNonEmpty()
{
    const QString out = oldRun("refused");
    const QString want = "The output folder " + out
                         + " already holds files (attention.npy, run.json); choose a new or empty folder, or give --force "
                           "to replace the folder as a whole.";
    QCOMPARE(messageWithin5s([&] { checkOutputFolder(out.toStdString(), ExistingOutput::Refuse); }), want);
    QCOMPARE(messageWithin5s([&] { StagedFolder f(out.toStdString(), ExistingOutput::Refuse); }), want);
    QCOMPARE(readBytes(QDir(out).filePath("attention.npy")), QByteArray("old maps"));
    QCOMPARE(entries(m_tmp.path()).filter(".staging"), QStringList());
}

void TestFileIo::replaceWhole()
{
    const QString out = oldRun("replaced");
    {
        StagedFolder folder(out.toStdString(), ExistingOutput::Replace);
        folder.write("run.json", "{\"new\": true}");
        folder.publish();
    }
    // The old attention.npy is gone: a reader never combines two runs.
    QCOMPARE(entries(out), QStringList{"run.json"});
    QCOMPARE(readBytes(QDir(out).filePath("run.json")), QByteArray("{\"new\": true}"));
    QCOMPARE(entries(m_tmp.path()).filter(".staging"), QStringList());
}

void TestFileIo::failurePoints_data()
{
    QTest::addColumn<QString>("step");
    QTest::addColumn<int>("policy");
    QTest::addColumn<bool>("published");
    QTest::newRow("stage, refuse") << "stage" << int(ExistingOutput::Refuse) << false;
    QTest::newRow("stage, replace") << "stage" << int(ExistingOutput::Replace) << false;
    QTest::newRow("swap, into empty") << "swap" << int(ExistingOutput::Refuse) << false;
    QTest::newRow("swap, replace") << "swap" << int(ExistingOutput::Replace) << false;
    QTest::newRow("cleanup, replace") << "cleanup" << int(ExistingOutput::Replace) << true;
}

void TestFileIo::failurePoints()
{
    QFETCH(QString, step);
    QFETCH(int, policy);
    QFETCH(bool, published);
    const auto existing = ExistingOutput(policy);
    const QString tag = QString(QTest::currentDataTag()).replace(QRegularExpression("[^a-z]+"), "-");
    // Under Refuse the target is empty (an earlier run would be refused up front).
    const QString out = existing == ExistingOutput::Replace ? oldRun("fault-" + tag) : path("fault-" + tag);
    if (existing == ExistingOutput::Refuse)
        QDir().mkpath(out);
    const QStringList before = entries(out);
    setPublishFaultForTesting(step.toStdString());
    const QString message = messageWithin5s([&] {
        StagedFolder folder(out.toStdString(), existing);
        folder.write("run.json", "{\"new\": true}");
        folder.write("attention.npy", "new maps");
        folder.publish();
    });
    setPublishFaultForTesting("");
    if (published) {
        QCOMPARE(message, QString());
        QCOMPARE(entries(out), (QStringList{"attention.npy", "run.json"}));
        QCOMPARE(readBytes(QDir(out).filePath("attention.npy")), QByteArray("new maps"));
        // The replaced folder could not be removed: it stays hidden beside the target, whole.
        const QStringList left = entries(m_tmp.path()).filter(".staging");
        QCOMPARE(left.size(), 1);
        const QString old = QDir(m_tmp.path()).filePath(left.front());
        QCOMPARE(readBytes(QDir(old).filePath("attention.npy")), QByteArray("old maps"));
        QVERIFY(QDir(old).removeRecursively());
        return;
    }
    if (step == "stage")
        QVERIFY2(message.startsWith("Could not write ") && message.endsWith("run.json: injected fault."), qPrintable(message));
    else
        QCOMPARE(message, "Cannot move the result into the output folder " + out
                              + ": Input/output error. The folder is unchanged.");
    // Exactly what was there before, byte for byte, and no staging folder left beside it.
    QCOMPARE(entries(out), before);
    if (existing == ExistingOutput::Replace) {
        QCOMPARE(readBytes(QDir(out).filePath("run.json")), QByteArray("{\"old\": true}"));
        QCOMPARE(readBytes(QDir(out).filePath("attention.npy")), QByteArray("old maps"));
    }
    QCOMPARE(entries(m_tmp.path()).filter(".staging"), QStringList());
}

void TestFileIo::targetFilledAfterCheck()
{
    // Another process fills the folder between the check and the publish: still refused, and the
    // other process's file is untouched.
    const QString out = path("filled-later");
    QDir().mkpath(out);
    const QString message = messageWithin5s([&] {
        StagedFolder folder(out.toStdString(), ExistingOutput::Refuse);
        folder.write("run.json", "{\"new\": true}");
        writeBytes(QDir(out).filePath("theirs.txt"), "theirs");
        folder.publish();
    });
    QCOMPARE(message, "The output folder " + out
                          + " already holds files (theirs.txt); choose a new or empty folder, or give --force to replace "
                            "the folder as a whole.");
    QCOMPARE(entries(out), QStringList{"theirs.txt"});
    QCOMPARE(entries(m_tmp.path()).filter(".staging"), QStringList());
}

void TestFileIo::badTargets()
{
    writeBytes(path("a-file"), "keep me");
    QCOMPARE(messageWithin5s([&] { StagedFolder f(path("a-file").toStdString(), ExistingOutput::Replace); }),
             "The output folder " + path("a-file") + " exists but is a regular file, not a folder.");
    QCOMPARE(messageWithin5s([&] { StagedFolder f((path("a-file") + "/run").toStdString(), ExistingOutput::Refuse); }),
             "Cannot create the output folder. (" + path("a-file") + "/run)");
    QCOMPARE(messageWithin5s([&] { StagedFolder f("", ExistingOutput::Refuse); }),
             "No output folder was given (the path is empty).");
    QCOMPARE(readBytes(path("a-file")), QByteArray("keep me"));
}

void TestFileIo::escaping_data()
{
    QTest::addColumn<QByteArray>("in");
    QTest::addColumn<QByteArray>("out");
    QTest::newRow("plain") << QByteArray("tensor 'w' [2, 3]") << QByteArray("tensor 'w' [2, 3]");
    QTest::newRow("newline and fake error") << QByteArray("w\nerror: pwned") << QByteArray("w\\nerror: pwned");
    QTest::newRow("OSC sequence") << QByteArray("x\x1b]0;title\x07y") << QByteArray("x\\x1b]0;title\\x07y");
    QTest::newRow("CSI colour") << QByteArray("\x1b[31mred") << QByteArray("\\x1b[31mred");
    QTest::newRow("NUL") << QByteArray("a\0b", 3) << QByteArray("a\\x00b");
    QTest::newRow("tab, CR, DEL") << QByteArray("a\tb\rc\x7f") << QByteArray("a\\tb\\rc\\x7f");
    QTest::newRow("C1 CSI") << QByteArray("a\xc2\x9b" "31m") << QByteArray("a\\u009b31m");
    QTest::newRow("bidi override") << QByteArray("abc\xe2\x80\xae" "fed") << QByteArray("abc\\u202efed");
    QTest::newRow("line separator") << QByteArray("a\xe2\x80\xa8" "b") << QByteArray("a\\u2028b");
    QTest::newRow("invalid UTF-8") << QByteArray("a\xff\xc3") << QByteArray("a\\xff\\xc3");
    QTest::newRow("UTF-8 kept") << QByteArray("caf\xc3\xa9 \xe2\x96\x81the \xf0\x9f\x98\x80") << QByteArray("caf\xc3\xa9 \xe2\x96\x81the \xf0\x9f\x98\x80");
    QTest::newRow("backslashes kept") << QByteArray("a\\nb") << QByteArray("a\\nb");
}

void TestFileIo::escaping()
{
    QFETCH(QByteArray, in);
    QFETCH(QByteArray, out);
    const std::string once = escapeForDisplay(in.toStdString());
    QCOMPARE(QByteArray::fromStdString(once), out);
    QCOMPARE(escapeForDisplay(once), once); // idempotent
}

void TestFileIo::errorsAreEscaped()
{
    const Error e(ErrorCode::Format, std::string("tensor 'a\0b' is\nbad", 19), std::string("ctx\x1b", 4));
    QCOMPARE(QByteArray(e.what()), QByteArray("tensor 'a\\x00b' is\\nbad"));
    QCOMPARE(QByteArray::fromStdString(e.describe()), QByteArray("tensor 'a\\x00b' is\\nbad (ctx\\x1b)"));
}

void TestFileIo::hostileTensorName()
{
    // A tensor name with a newline, a fake "error:" line and an OSC sequence (JSON \u escapes).
    const QByteArray header =
        "{\"w\\nerror: pwned\\u001b]0;x\\u0007\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    QByteArray bytes(8, '\0');
    bytes[0] = char(header.size());
    bytes += header + QByteArray(16, 'x');
    try {
        parseSafetensorsHeader(reinterpret_cast<const std::byte*>(bytes.constData()), size_t(bytes.size()),
                               uint64_t(bytes.size()), "model.safetensors");
        QFAIL("an I64 tensor was accepted");
    } catch (const Error& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("model.safetensors: tensor 'w\\nerror: pwned\\x1b]0;x\\x07' has dtype 'I64', "
                                                  "which is not supported (supported: F32, F16, BF16)."));
    }
}

void TestFileIo::longShapeAbbreviated()
{
    QCOMPARE(QString::fromStdString(formatShape({})), "[]");
    QCOMPARE(QString::fromStdString(formatShape({2, 3})), "[2, 3]");
    QCOMPARE(QString::fromStdString(formatShape({1, 2, 3, 4, 5, 6, 7, 8})), "[1, 2, 3, 4, 5, 6, 7, 8]");
    QCOMPARE(QString::fromStdString(formatShape({1, 2, 3, 4, 5, 6, 7, 8, 9})), "[1, 2, 3, 4, ..., 8, 9] (9 dimensions)");
    // A header with a 100,000-dimension shape: the message stays one short line.
    QByteArray shape = "[";
    for (int i = 0; i < 100000; ++i)
        shape += i ? ",1" : "1";
    shape += "]";
    QByteArray header = "{\"w\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,8]}}";
    QByteArray bytes(8, '\0');
    for (int i = 0; i < 8; ++i)
        bytes[i] = char((quint64(header.size()) >> (8 * i)) & 0xFF);
    bytes += header + QByteArray(8, 'x');
    try {
        parseSafetensorsHeader(reinterpret_cast<const std::byte*>(bytes.constData()), size_t(bytes.size()),
                               uint64_t(bytes.size()), "model.safetensors");
        QFAIL("a wrong span was accepted");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), "model.safetensors: tensor 'w' has shape [1, 1, 1, 1, ..., 1, 1] (100000 dimensions) "
                                    "and dtype F32 (4 bytes) but its data_offsets [0, 8] span 8 bytes.");
    }
}

QTEST_GUILESS_MAIN(TestFileIo)
#include "tst_fileio.moc"
