// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sinkscope {

/// Whether a beginning-of-sequence token is put in front of the prompt.
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
    std::string piece;   ///< the vocabulary string (e.g. "▁the", "Ġthe", "<0x0A>")
    std::string display; ///< human-readable text of this token alone (decoded bytes, "\n" shown as "↵")
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

/// A Hugging Face tokenizer.json tokenizer, implemented in the core (no Python, no Rust).
class Tokenizer {
public:
    /// Loads tokenizer.json (and, when given, tokenizer_config.json for BOS flags).
    /// Throws Error(Io|Format|Unsupported) with the offending component named.
    static std::shared_ptr<const Tokenizer> fromFile(const std::string& tokenizerJsonPath,
                                                     const std::string& tokenizerConfigPath = {});
    static std::shared_ptr<const Tokenizer> fromJson(const std::string& tokenizerJson,
                                                     const std::string& tokenizerConfigJson = {});
    ~Tokenizer();

    /// Encodes UTF-8 text. Throws Error(InvalidArgument) for invalid UTF-8.
    Encoding encode(const std::string& utf8Text, BosPolicy bos = BosPolicy::Auto) const;
    /// Builds tokens for explicit ids (no BOS added); offsets are [0,0].
    Encoding fromIds(const std::vector<int32_t>& ids) const;
    /// Decodes ids to text with the tokenizer's decoder.
    std::string decode(const std::vector<int32_t>& ids, bool skipSpecial = false) const;

    std::string piece(int32_t id) const;    ///< vocabulary string, "" when out of range
    std::string display(int32_t id) const;  ///< display text for one id
    bool isSpecial(int32_t id) const;
    std::optional<int32_t> bosId() const;
    std::optional<int32_t> eosId() const;
    std::optional<int32_t> tokenToId(const std::string& piece) const;
    int32_t vocabSize() const;              ///< largest id + 1 over vocab and added tokens

private:
    Tokenizer();
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace sinkscope
