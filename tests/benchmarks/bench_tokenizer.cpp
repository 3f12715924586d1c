// SPDX-License-Identifier: GPL-3.0-or-later
// Tokenizer benchmark: loading real tokenizer.json files and encoding a 100 kB prompt.
//
//   bench_tokenizer [FIXTURES_DIR]
//
// FIXTURES_DIR is the shared fixtures folder (the one holding tokenizers/); it defaults to the
// SINKSCOPE_SHARED_DIR environment variable + "/fixtures", then to the folder configured at build
// time. Load times are the best of 3 fresh loads, encode times the best of 5 encodes. "load cpu"
// is the process CPU time of the best load: on a shared machine it moves less than the wall time.
#include "sinkscope/error.h"
#include "sinkscope/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A deterministic 100 kB prompt mixing prose, code, numbers, whitespace runs and a little
// non-Latin text, so every branch of the byte-level pre-tokenizer regex is exercised.
std::string makePrompt(size_t bytes)
{
    static const char* const words[] = {
        "the", "attention", "sink", "model", "first", "token", "heads", "layer", "value", "vector",
        "residual", "stream", "Transformer", "positional", "encoding", "softmax", "query", "key",
        "It's", "we'll", "don't", "(x)", "[i]", "{k: v}", "x += 1;", "return", "0.5", "1234567",
        "2024-05-17", "--", "...", "!?", "caf\xC3\xA9", "na\xC3\xAFve", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
        "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", "\xF0\x9F\x99\x82", "\t", "\n", "\n\n", "  "};
    const size_t n = sizeof words / sizeof words[0];
    std::string out;
    out.reserve(bytes + 64);
    uint32_t state = 12345;
    while (out.size() < bytes) {
        state = state * 1664525u + 1013904223u;
        out += words[(state >> 8) % n];
        out += ((state >> 4) & 7) == 0 ? "" : " ";
    }
    // Cut back to a character boundary.
    size_t cut = bytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
        --cut;
    out.resize(cut);
    return out;
}

std::string fixturesDir(int argc, char** argv)
{
    if (argc > 1)
        return argv[1];
    if (const char* env = std::getenv("SINKSCOPE_SHARED_DIR"))
        return std::string(env) + "/fixtures";
    return std::string(SINKSCOPE_BENCH_SHARED_DIR) + "/fixtures";
}

} // namespace

int main(int argc, char** argv)
{
    const std::string fixtures = fixturesDir(argc, argv);
    const std::string prompt = makePrompt(100000);
    std::printf("prompt: %zu bytes\n", prompt.size());
    std::printf("%-18s %8s %12s %12s %12s %10s %12s\n", "tokenizer", "vocab", "load ms", "load cpu ms", "encode ms",
                "tokens", "MB/s");
    int missing = 0;
    for (const char* name : {"llama3", "qwen3", "gemma3", "gpt2", "llama2", "bert-base-uncased"}) {
        const std::string path = fixtures + "/tokenizers/" + name + "/tokenizer.json";
        if (!std::ifstream(path).good()) {
            std::printf("%-18s (missing: %s)\n", name, path.c_str());
            ++missing;
            continue;
        }
        try {
            double bestLoad = 1e30;
            double bestLoadCpu = 1e30;
            std::shared_ptr<const sinkscope::Tokenizer> tok;
            for (int i = 0; i < 3; ++i) {
                const auto t0 = Clock::now();
                const std::clock_t c0 = std::clock();
                tok = sinkscope::Tokenizer::fromFile(path);
                bestLoadCpu = std::min(bestLoadCpu, 1000.0 * double(std::clock() - c0) / CLOCKS_PER_SEC);
                bestLoad = std::min(bestLoad, msSince(t0));
            }
            double bestEncode = 1e30;
            size_t tokens = 0;
            for (int i = 0; i < 5; ++i) {
                const auto t0 = Clock::now();
                const sinkscope::Encoding enc = tok->encode(prompt, sinkscope::BosPolicy::Auto);
                bestEncode = std::min(bestEncode, msSince(t0));
                tokens = enc.tokens.size();
            }
            std::printf("%-18s %8d %12.1f %12.1f %12.1f %10zu %12.2f\n", name, tok->vocabSize(), bestLoad, bestLoadCpu,
                        bestEncode, tokens, double(prompt.size()) / 1e6 / (bestEncode / 1000.0));
        } catch (const sinkscope::Error& e) {
            std::printf("%-18s error: %s\n", name, e.describe().c_str());
            return 1;
        }
    }
    return missing == 6 ? 2 : 0;
}
