// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers shared by the test suites: where the optional shared fixtures are, temp folders.
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace sinkscope::test {

/// Folder of the optional shared fixtures ("<shared>/fixtures"), or an empty string when absent.
/// Tests that need it QSKIP with the returned reason.
QString sharedFixturesDir();
/// Path of the stories260K fixture folder, or "" when absent.
QString stories260KDir();
/// Reason string for QSKIP when the shared fixtures are missing.
const char* noSharedReason();

/// Writes `bytes` to `path` (replacing it); aborts the test program when that fails.
void writeBytes(const QString& path, const QByteArray& bytes);
/// The whole file, or an empty array when it cannot be read.
QByteArray readBytes(const QString& path);
/// Every entry of a folder, hidden and system ones included, sorted by name.
QStringList entries(const QString& dir);

} // namespace sinkscope::test
