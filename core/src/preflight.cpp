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
    // A batched call (Model::runBatch) is refused as a whole and says so.
    const bool batched = e.batch > 1 || e.requests > 1;
    const std::string run = batched ? "This batched run" : "This run";
    const std::string shape = batched ? "its largest batch: " + std::to_string(e.batch) + " prompts x " + T
                                            + " tokens, attention " + gibText(e.attention) + " per layer, MLP "
                                            + gibText(e.mlp)
                                      : T + " tokens: attention " + gibText(e.attention) + " per layer; MLP "
                                            + gibText(e.mlp);
    const std::string captures = batched ? "captures of all " + std::to_string(e.requests) + " prompts " : "captures ";
    const std::string smaller = batched ? "Use a smaller batch size, shorter prompts, " : "Use a shorter prompt, ";
    if (m.onDevice) {
        const double working = e.attention + e.mlp;
        if (exceeds(working, m.deviceFreeBytes))
            return run + " needs about " + gibText(working) + " of memory on " + m.deviceName + " (" + shape
                   + ") but only " + gibText(m.deviceFreeBytes) + " of its " + gibText(m.deviceTotalBytes) + " is free. "
                   + smaller + "free the device, or run on the CPU.";
        if (exceeds(e.captures, m.hostBytes))
            return run + " keeps about " + gibText(e.captures) + " of captures in host memory ("
                   + (batched ? std::to_string(e.requests) + " prompts of up to " : std::string()) + T
                   + " tokens) but only " + gibText(m.hostBytes) + " is available (" + m.hostSource + "). " + smaller
                   + "capture less, or free memory.";
        return std::nullopt;
    }
    if (exceeds(e.total(), m.hostBytes))
        return run + " needs about " + gibText(e.total()) + " of memory (" + shape + "; " + captures
               + gibText(e.captures) + ") but only " + gibText(m.hostBytes) + " is available (" + m.hostSource + "). "
               + smaller + "capture less, or free memory.";
    return std::nullopt;
}

} // namespace sinkscope
