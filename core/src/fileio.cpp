// SPDX-License-Identifier: GPL-3.0-or-later
// Checked reads, atomic writes and all-or-nothing result folders (see fileio.h).
#include "sinkscope/fileio.h"

#include "sinkscope/error.h"

#include <QDir>
#include <QFileInfo>
#include <QSaveFile>
#include <QTemporaryDir>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sinkscope {

namespace {

std::string g_publishFault;

std::string sizeText(uint64_t bytes)
{
    char buf[64];
    if (bytes >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1ull << 30));
    else if (bytes >= (1ull << 20))
        std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1ull << 20));
    else
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    return buf;
}

// "The tokenizer file PATH" / "The file PATH".
std::string named(const FileKind& kind, const std::string& path)
{
    return std::string("The ") + kind.what + " " + path;
}

[[noreturn]] void statFailed(const std::string& subject, const std::string& path, int err)
{
    switch (err) {
    case ENOENT:
        throw Error(ErrorCode::Io, subject + " does not exist.", path);
    case ELOOP:
        throw Error(ErrorCode::Io, subject + " exists but is a symbolic link loop, not a regular file.", path);
    case ENOTDIR:
        throw Error(ErrorCode::Io, subject + " cannot exist: a part of its path is a file, not a folder.", path);
    case ENAMETOOLONG:
        throw Error(ErrorCode::Io, subject + " has a name that is too long for the file system.", path);
    default:
        throw Error(ErrorCode::Io, subject + " cannot be opened: " + std::strerror(err) + ".", path);
    }
}

struct stat statOrThrow(const std::string& subject, const std::string& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        statFailed(subject, path, errno);
    return st;
}

void checkKind(const std::string& subject, const std::string& path, const struct stat& st, const FileKind& kind)
{
    if (!S_ISREG(st.st_mode))
        throw Error(ErrorCode::Io, subject + " exists but is " + fileTypeName(unsigned(st.st_mode)) + ", not a regular file.",
                    path);
    if (uint64_t(st.st_size) > kind.maxBytes)
        throw Error(ErrorCode::Io,
                    subject + " is " + sizeText(uint64_t(st.st_size)) + "; a " + kind.what + " may have at most "
                        + sizeText(kind.maxBytes) + ".",
                    path);
}

bool folderIsEmpty(const QString& dir)
{
    return QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot).isEmpty();
}

std::string listEntries(const QString& dir)
{
    const QStringList names = QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                                                  QDir::Name);
    std::string out;
    for (int i = 0; i < names.size() && i < 4; ++i)
        out += (i ? ", " : "") + names[i].toStdString();
    if (names.size() > 4)
        out += ", ... (" + std::to_string(names.size()) + " entries)";
    return out;
}

// Atomically exchanges two paths (Linux renameat2 RENAME_EXCHANGE). False when the system cannot.
bool exchangePaths(const std::string& a, const std::string& b)
{
#if defined(__linux__) && defined(RENAME_EXCHANGE)
    return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
#else
    (void)a;
    (void)b;
    errno = ENOSYS;
    return false;
#endif
}

} // namespace

std::string fileTypeName(unsigned mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISREG(mode))
        return "a regular file";
    return "a special file";
}

uint64_t checkRegularFile(const std::string& path, const FileKind& kind)
{
    if (path.empty())
        throw Error(ErrorCode::Io, std::string("No path was given for the ") + kind.what + " (the path is empty).");
    const std::string subject = named(kind, path);
    const struct stat st = statOrThrow(subject, path);
    checkKind(subject, path, st, kind);
    return uint64_t(st.st_size);
}

void checkFolder(const std::string& path, const std::string& what)
{
    if (path.empty())
        throw Error(ErrorCode::Io, "No " + what + " was given (the path is empty).");
    const std::string subject = "The " + what + " " + path;
    const struct stat st = statOrThrow(subject, path);
    if (!S_ISDIR(st.st_mode))
        throw Error(ErrorCode::Io, subject + " exists but is " + fileTypeName(unsigned(st.st_mode)) + ", not a folder.",
                    path);
}

bool pathExists(const std::string& path)
{
    struct stat st {};
    return !path.empty() && (::lstat(path.c_str(), &st) == 0);
}

int openRegularFile(const std::string& path, const FileKind& kind)
{
    checkRegularFile(path, kind);
    const std::string subject = named(kind, path);
    // O_NONBLOCK: if the path was swapped for a FIFO after the stat, open() returns at once and
    // the fstat below refuses it; on a regular file the flag has no effect.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        statFailed(subject, path, errno);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(ErrorCode::Io, "Could not read " + path + ": " + std::strerror(err) + ".", path);
    }
    try {
        checkKind(subject, path, st, kind);
    } catch (...) {
        ::close(fd);
        throw;
    }
    return fd;
}

std::string readFile(const std::string& path, const FileKind& kind)
{
    const int fd = openRegularFile(path, kind);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    ::fstat(fd, &st);
    const std::string subject = named(kind, path);

    std::string out;
    out.reserve(size_t(st.st_size));
    char buf[1 << 16];
    for (;;) {
        const ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            throw Error(ErrorCode::Io, "Could not read " + path + ": " + std::strerror(errno) + ".", path);
        }
        if (got == 0)
            break;
        if (out.size() + size_t(got) > kind.maxBytes)
            throw Error(ErrorCode::Io,
                        subject + " grew past " + sizeText(kind.maxBytes) + " while it was read; a " + kind.what
                            + " may have at most " + sizeText(kind.maxBytes) + ".",
                        path);
        out.append(buf, size_t(got));
    }
    return out;
}

// ---- atomic writes --------------------------------------------------------------------------

struct AtomicFileWriter::Impl {
    std::string path;
    QSaveFile file;
    explicit Impl(const std::string& p) : path(p), file(QString::fromStdString(p)) {}
    [[noreturn]] void fail(const std::string& why)
    {
        file.cancelWriting();
        throw Error(ErrorCode::Io, "Could not write " + path + ": " + why + ".", path);
    }
};

AtomicFileWriter::AtomicFileWriter(const std::string& path) : d(std::make_unique<Impl>(path))
{
    // QSaveFile writes beside the target and renames over it on commit, so a crash or a full
    // disk leaves the previous file (or nothing), never a truncated one.
    if (!d->file.open(QIODevice::WriteOnly))
        throw Error(ErrorCode::Io, "Could not write " + path + ": " + d->file.errorString().toStdString() + ".", path);
}

AtomicFileWriter::~AtomicFileWriter() = default; // QSaveFile removes an uncommitted temporary file

void AtomicFileWriter::write(const char* p, std::size_t left)
{
    while (left > 0) {
        const qint64 chunk = static_cast<qint64>(std::min<std::size_t>(left, std::size_t(1) << 30));
        const qint64 written = d->file.write(p, chunk);
        if (written <= 0)
            d->fail(d->file.errorString().toStdString());
        p += written;
        left -= static_cast<std::size_t>(written);
    }
}

void AtomicFileWriter::commit()
{
    // QSaveFile::commit() does not report a failed flush of its write buffer (seen with Qt 6.4):
    // a short final write (a full disk) would be renamed over the target. Flush and check first;
    // an uncommitted QSaveFile removes its temporary file.
    if (!d->file.flush())
        d->fail(d->file.errorString().toStdString());
    if (!d->file.commit())
        throw Error(ErrorCode::Io, "Could not write " + d->path + ": " + d->file.errorString().toStdString() + ".",
                    d->path);
}

void writeFileAtomically(const std::string& path, const std::string& bytes)
{
    AtomicFileWriter w(path);
    w.write(bytes.data(), bytes.size());
    w.commit();
}

// ---- staged result folders ------------------------------------------------------------------

void checkOutputFolder(const std::string& target, ExistingOutput policy)
{
    if (target.empty())
        throw Error(ErrorCode::Io, "No output folder was given (the path is empty).");
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return; // created by the publish
        if (errno == ENOTDIR)
            throw Error(ErrorCode::Io, "Cannot create the output folder.", target);
        statFailed("The output folder " + target, target, errno);
    }
    if (!S_ISDIR(st.st_mode))
        throw Error(ErrorCode::Io,
                    "The output folder " + target + " exists but is " + fileTypeName(unsigned(st.st_mode))
                        + ", not a folder.",
                    target);
    if (policy == ExistingOutput::Refuse && !folderIsEmpty(QString::fromStdString(target)))
        throw Error(ErrorCode::Io,
                    "The output folder " + target + " already holds files (" + listEntries(QString::fromStdString(target))
                        + "); choose a new or empty folder, or give --force to replace the folder as a whole.",
                    target);
}

struct StagedFolder::Impl {
    std::string target;
    ExistingOutput policy;
    std::unique_ptr<QTemporaryDir> staging;
    bool published = false;
};

StagedFolder::StagedFolder(const std::string& target, ExistingOutput policy) : d(std::make_unique<Impl>())
{
    checkOutputFolder(target, policy);
    d->target = QDir::cleanPath(QFileInfo(QString::fromStdString(target)).absoluteFilePath()).toStdString();
    d->policy = policy;
    const QFileInfo info(QString::fromStdString(d->target));
    // The staging folder sits beside the target (same file system, so the publish is a rename)
    // and is hidden, so a half-written result never looks like one.
    if (!QDir().mkpath(info.absolutePath()))
        throw Error(ErrorCode::Io, "Cannot create the output folder.", target);
    d->staging = std::make_unique<QTemporaryDir>(
        QDir(info.absolutePath()).filePath(QStringLiteral(".") + info.fileName() + QStringLiteral(".staging-XXXXXX")));
    if (!d->staging->isValid())
        throw Error(ErrorCode::Io, "Cannot write into the output folder.", target);
}

StagedFolder::~StagedFolder() = default; // QTemporaryDir removes an unpublished staging folder

std::string StagedFolder::path(const std::string& name) const
{
    return QDir(d->staging->path()).filePath(QString::fromStdString(name)).toStdString();
}

void StagedFolder::write(const std::string& name, const std::string& bytes)
{
    if (g_publishFault == "stage")
        throw Error(ErrorCode::Io, "Could not write " + path(name) + ": injected fault.", path(name));
    writeFileAtomically(path(name), bytes);
}

void StagedFolder::publish()
{
    const std::string staged = d->staging->path().toStdString();
    // QTemporaryDir creates its folder 0700; a result folder gets the usual permissions.
    ::chmod(staged.c_str(), 0777 & ~[] {
        const mode_t m = ::umask(0);
        ::umask(m);
        return m;
    }());
    auto swapFailed = [&](int err) {
        throw Error(ErrorCode::Io,
                    "Cannot move the result into the output folder " + d->target + ": " + std::strerror(err)
                        + ". The folder is unchanged.",
                    d->target);
    };
    if (g_publishFault == "swap")
        swapFailed(EIO);
    // rename() onto an absent path or an empty folder is one atomic step; onto a non-empty folder
    // it fails (ENOTEMPTY), which is the refusal the policy wants even if the folder filled up
    // after the first check.
    if (::rename(staged.c_str(), d->target.c_str()) == 0) {
        d->staging->setAutoRemove(false);
        d->published = true;
        return;
    }
    const int err = errno;
    if ((err != ENOTEMPTY && err != EEXIST) || d->policy == ExistingOutput::Refuse) {
        if (err == ENOTEMPTY || err == EEXIST)
            checkOutputFolder(d->target, ExistingOutput::Refuse); // throws with the listing
        swapFailed(err);
    }
    // Replace: exchange the two folders in one step, then remove the old result (now in the
    // staging path, which QTemporaryDir deletes).
    if (exchangePaths(staged, d->target)) {
        d->published = true;
        if (g_publishFault == "cleanup")
            d->staging->setAutoRemove(false); // the old folder stays behind, hidden; the result is whole
        return;
    }
    // No atomic exchange: move the old folder aside, move the new one in, then drop the old one.
    // Between the two renames the target is briefly absent, never mixed.
    const std::string aside = staged + ".old";
    if (::rename(d->target.c_str(), aside.c_str()) != 0)
        swapFailed(errno);
    if (::rename(staged.c_str(), d->target.c_str()) != 0) {
        const int e2 = errno;
        ::rename(aside.c_str(), d->target.c_str());
        swapFailed(e2);
    }
    d->staging->setAutoRemove(false);
    d->published = true;
    QDir(QString::fromStdString(aside)).removeRecursively();
}

void setPublishFaultForTesting(const std::string& step)
{
    g_publishFault = step;
}

} // namespace sinkscope
