// SPDX-License-Identifier: GPL-3.0-or-later
// The memory pre-flight of Model::run (docs/RELIABILITY.md): what the machine has is read from
// MemAvailable and the cgroup limit. This header only holds the test hook.
#pragma once

namespace sinkscope {

/// Test hook: the pre-flight assumes at most `bytes` are available (0: what the machine reports),
/// so a test can check the refusal without a machine that small.
void setHostMemoryLimitForTesting(double bytes);

} // namespace sinkscope
