// SPDX-License-Identifier: GPL-3.0-or-later
#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace sinkscope::test {

QString sharedFixturesDir()
{
    const QByteArray env = qgetenv("SINKSCOPE_SHARED_DIR");
    if (env.isEmpty())
        return {};
    const QString dir = QDir(QString::fromLocal8Bit(env)).filePath(QStringLiteral("fixtures"));
    return QFileInfo(dir).isDir() ? dir : QString();
}

QString stories260KDir()
{
    const QString shared = sharedFixturesDir();
    if (shared.isEmpty())
        return {};
    const QString dir = QDir(shared).filePath(QStringLiteral("stories260K"));
    return QFileInfo(QDir(dir).filePath(QStringLiteral("model.safetensors"))).isFile() ? dir : QString();
}

const char* noSharedReason()
{
    return "shared fixtures (../shared/fixtures) are not present in this checkout";
}

void writeBytes(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(path));
}

QByteArray readBytes(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStringList entries(const QString& dir)
{
    return QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDir::Name);
}

} // namespace sinkscope::test
