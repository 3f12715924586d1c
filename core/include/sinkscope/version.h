// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace sinkscope {

/// The program's version ("0.1.0"), from the project() call of the top-level CMakeLists.txt.
const char* appVersion();

} // namespace sinkscope
