// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/preflight.h"

#include <cstdio>

namespace sinkscope {

std::string gibText(double bytes)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

namespace {

constexpr double kUsableShare = 0.9; // leave room for what the estimate does not count

bool exceeds(double need, double available)
{
    return available > 0 && need > kUsableShare * available;
}

} // namespace

std::optional<std::string> preflightRefusal(const RunMemoryEstimate& e, int64_t tokens, const MemoryAvailable& m)
{
    const std::string T = std::to_string(tokens);
    if (m.onDevice) {
        const double working = e.attention + e.mlp;
        if (exceeds(working, m.deviceFreeBytes))
            return "This run needs about " + gibText(working) + " of memory on " + m.deviceName + " (" + T
                   + " tokens: attention " + gibText(e.attention) + " per layer; MLP " + gibText(e.mlp) + ") but only "
                   + gibText(m.deviceFreeBytes) + " of its " + gibText(m.deviceTotalBytes)
                   + " is free. Use a shorter prompt, free the device, or run on the CPU.";
        if (exceeds(e.captures, m.hostBytes))
            return "This run keeps about " + gibText(e.captures) + " of captures in host memory (" + T
                   + " tokens) but only " + gibText(m.hostBytes) + " is available (" + m.hostSource
                   + "). Use a shorter prompt, capture less, or free memory.";
        return std::nullopt;
    }
    if (exceeds(e.total(), m.hostBytes))
        return "This run needs about " + gibText(e.total()) + " of memory (" + T + " tokens: attention "
               + gibText(e.attention) + " per layer; MLP " + gibText(e.mlp) + "; captures " + gibText(e.captures)
               + ") but only " + gibText(m.hostBytes) + " is available (" + m.hostSource
               + "). Use a shorter prompt, capture less, or free memory.";
    return std::nullopt;
}

} // namespace sinkscope
