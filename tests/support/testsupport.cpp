// SPDX-License-Identifier: GPL-3.0-or-later
#include "testsupport.h"

#include <QDir>
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

} // namespace sinkscope::test
