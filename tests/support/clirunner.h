// SPDX-License-Identifier: GPL-3.0-or-later
// Running sinkscope-cli as a real process from a test. The test target defines SINKSCOPE_CLI_PATH
// (see tests/app/CMakeLists.txt).
#pragma once

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QString>
#include <QStringList>

namespace sinkscope::test {

/// Exit code (-1 when the process crashed or timed out), stdout and stderr of one CLI run.
struct Outcome {
    int code = -1;
    QString out, err;
};

/// Runs `program` with `args` and waits up to `timeoutMs`.
inline Outcome runProgram(const QString& program, const QStringList& args, int timeoutMs = 120000)
{
    QProcess p;
    p.start(program, args);
    p.waitForFinished(timeoutMs);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

#ifdef SINKSCOPE_CLI_PATH
/// Runs sinkscope-cli with `args`.
inline Outcome cli(const QStringList& args, int timeoutMs = 120000)
{
    return runProgram(QStringLiteral(SINKSCOPE_CLI_PATH), args, timeoutMs);
}
#endif

/// The JSON object in a file (empty when the file is missing or not an object).
inline QJsonObject readJson(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

} // namespace sinkscope::test
