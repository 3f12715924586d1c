// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzz entry points for the core's parsers. The same functions run under libFuzzer (fuzz_main.cpp,
// clang builds with SINKSCOPE_BUILD_FUZZERS) and in the test suite (tst_fuzzreplay.cpp), so a
// crashing input found by either reproduces in the other.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sinkscope::fuzz {

/// What one input did: the parser accepted it, refused it with an Error, or accepted it while
/// breaking a promise of its contract (a bug; libFuzzer aborts on it).
enum class Outcome { Accepted, Rejected, InvariantBroken };

/// The bytes are a whole safetensors file: header length, header, data.
Outcome safetensorsHeader(const uint8_t* data, std::size_t size);
/// The bytes are the text of a config.json.
Outcome modelConfig(const uint8_t* data, std::size_t size);
/// The bytes are the text of a tokenizer.json; an accepted tokenizer also encodes and decodes a
/// fixed set of prompts.
Outcome tokenizerJson(const uint8_t* data, std::size_t size);
/// The first byte picks one of the committed tokenizers (tests/fuzz/tokenizers) and the BOS
/// policy; the rest is the prompt given to the encoder.
Outcome tokenizerEncode(const uint8_t* data, std::size_t size);

} // namespace sinkscope::fuzz
