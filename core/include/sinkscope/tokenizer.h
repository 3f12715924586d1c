// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
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

/// Bounds on one encode. The model passes its position limit, so a prompt whose result would be
/// refused anyway is not tokenized to the end.
struct EncodeLimits {
    /// Stop the model stage once it has produced more than this many tokens (0: no limit); the
    /// encoding then holds the first tokens only and `*stoppedEarly` is set.
    int64_t stopAfter = 0;
    bool* stoppedEarly = nullptr;
    /// Checked between passes and words; when set, encode throws Error(Cancelled).
    const std::atomic<bool>* cancel = nullptr;
};

/// A Hugging Face tokenizer.json tokenizer, implemented in the core (no Python, no Rust).
class Tokenizer {
public:
    /// Loads tokenizer.json (and, when given and present, tokenizer_config.json for the BOS flags
    /// and the names of BOS/EOS). Throws Error(Io|Format|Unsupported) naming the component.
    static std::shared_ptr<const Tokenizer> fromFile(const std::string& tokenizerJsonPath,
                                                     const std::string& tokenizerConfigPath = {});
    /// Same as fromFile(), from the contents of the two files.
    static std::shared_ptr<const Tokenizer> fromJson(const std::string& tokenizerJson,
                                                     const std::string& tokenizerConfigJson = {});
    ~Tokenizer();

    /// Encodes UTF-8 text. Throws Error(InvalidArgument) for invalid UTF-8, and for BosPolicy::On
    /// when the tokenizer has no BOS token. Special tokens typed in the text become their ids.
    /// Text longer than limits::kPromptBytes (fileio.h) is refused up front with Error(InvalidArgument).
    Encoding encode(const std::string& utf8Text, BosPolicy bos = BosPolicy::Auto, const EncodeLimits& limits = {}) const;
    /// Builds tokens for explicit ids (no BOS added); offsets are [0,0]. Throws
    /// Error(InvalidArgument) for an id outside the vocabulary.
    Encoding fromIds(const std::vector<int32_t>& ids) const;
    /// Decodes ids to text with the tokenizer's decoder (as the reference's decode does).
    std::string decode(const std::vector<int32_t>& ids, bool skipSpecial = false) const;

    std::string piece(int32_t id) const;    ///< vocabulary string, "" when out of range
    std::string display(int32_t id) const;  ///< display text for one id (see Token::display)
    bool isSpecial(int32_t id) const; ///< an added token marked special
    /// tokenizer_config.json's bos_token when it names one (null there means none); otherwise the
    /// post-processor's leading special token; otherwise a conventional name in the vocabulary.
    std::optional<int32_t> bosId() const;
    /// Like bosId(), with eos_token and the post-processor's trailing special token.
    std::optional<int32_t> eosId() const;
    /// Id of a vocabulary or added-token string.
    std::optional<int32_t> tokenToId(const std::string& piece) const;
    int32_t vocabSize() const;              ///< largest id + 1 over vocab and added tokens

private:
    Tokenizer();
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace sinkscope
