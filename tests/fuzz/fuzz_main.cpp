// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer driver; SINKSCOPE_FUZZ_ENTRY names the entry point of fuzztargets.h to drive.
#include "fuzztargets.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (sinkscope::fuzz::SINKSCOPE_FUZZ_ENTRY(data, size) == sinkscope::fuzz::Outcome::InvariantBroken)
        std::abort(); // an accepted input broke the parser's contract: report it as a crash
    return 0;
}
