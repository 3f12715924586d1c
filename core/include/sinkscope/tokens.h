// SPDX-License-Identifier: GPL-3.0-or-later
// The value types of an encoded prompt (tokens, encoding, BOS policy). Results, views and the CLI
// use them without depending on the tokenizer itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sinkscope {

/// Whether a beginning-of-sequence token is put in front of the prompt.
///
/// Auto reproduces the reference encoder (Hugging Face tokenizers, add_special_tokens = true):
/// the post-processor's special tokens are added, even when that doubles a BOS the user typed.
/// When tokenizer_config.json has `add_bos_token`, it decides instead (true: a BOS is added if the
/// post-processor does not add one; false: the post-processor's leading BOS is dropped). Llama 3's
/// files have a ByteLevel post-processor and no add_bos_token, so Auto adds no BOS there; use On.
/// On and Off only touch the BOS: other specials of the template (BERT's trailing [SEP]) stay.
enum class BosPolicy {
    Auto, ///< what the tokenizer files say (post-processor template / tokenizer_config add_bos_token)
    On,   ///< exactly one BOS first, added if the text did not already start with it
    Off   ///< no BOS added (one typed in the prompt stays)
};

/// Parses "auto" | "on" | "off". Throws Error(InvalidArgument).
BosPolicy parseBosPolicy(const std::string& text);
const char* bosPolicyName(BosPolicy policy);

/// One token of an encoded prompt.
struct Token {
    int32_t id = 0;
    std::string piece;   ///< the token string as the reference reports it: the vocabulary string
                         ///< ("▁the", "Ġthe", "<0x0A>"); for an added token with lstrip/rstrip, the
                         ///< matched text including the stripped spaces
    std::string display; ///< this token alone, decoded: spaces kept, "\n" as "↵", "\t" as "→",
                         ///< "\r" as "␍", bytes that are not complete UTF-8 as "<0xE2>"
    int64_t start = 0;   ///< [start, end) in Unicode code points of the prompt; [0,0] for added specials
    int64_t end = 0;
    bool special = false; ///< a special/control token (BOS, [SEP], ...)
};

/// The result of encoding a prompt.
struct Encoding {
    std::vector<Token> tokens;
    bool bosAdded = false; ///< true when the encoder (not the user's text) put a BOS in front
    std::vector<int32_t> ids() const;
};

} // namespace sinkscope
