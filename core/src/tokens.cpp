// SPDX-License-Identifier: GPL-3.0-or-later
// Small value types shared by every part of the core (no tokenizer logic here).
#include "sinkscope/error.h"
#include "sinkscope/tokens.h"

namespace sinkscope {

std::vector<int32_t> Encoding::ids() const
{
    std::vector<int32_t> out;
    out.reserve(tokens.size());
    for (const Token& t : tokens)
        out.push_back(t.id);
    return out;
}

BosPolicy parseBosPolicy(const std::string& text)
{
    if (text == "auto")
        return BosPolicy::Auto;
    if (text == "on")
        return BosPolicy::On;
    if (text == "off")
        return BosPolicy::Off;
    throw Error(ErrorCode::InvalidArgument, "BOS policy must be auto, on or off, not '" + text + "'.");
}

const char* bosPolicyName(BosPolicy policy)
{
    switch (policy) {
    case BosPolicy::Auto: return "auto";
    case BosPolicy::On: return "on";
    case BosPolicy::Off: return "off";
    }
    return "auto";
}

} // namespace sinkscope
