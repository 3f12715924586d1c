// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers shared by the test suites: where the optional shared fixtures are, temp folders.
#pragma once

#include <QString>

namespace sinkscope::test {

/// Folder of the optional shared fixtures ("<shared>/fixtures"), or an empty string when absent.
/// Tests that need it QSKIP with the returned reason.
QString sharedFixturesDir();
/// Path of the stories260K fixture folder, or "" when absent.
QString stories260KDir();
/// Reason string for QSKIP when the shared fixtures are missing.
const char* noSharedReason();

} // namespace sinkscope::test
