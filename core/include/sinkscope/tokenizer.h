// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/tokens.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sinkscope {

/// Bounds on one encode. The model passes its position limit, so a prompt whose result would be
/// refused anyway is not tokenized to the end.
struct EncodeLimits {
    /// Stop the model stage once it has produced more than this many tokens (0: no limit); the
    /// encoding then holds the first tokens only and `*stoppedEarly` is set.
    int64_t stopAfter = 0;
    bool* stoppedEarly = nullptr;
    /// The caller refuses an encoding longer than `stopAfter` (rather than cutting it): then a word
    /// certain to pass the limit on its own is not tokenized, and the encoding may end before it
    /// (`*stoppedEarly` set). Leave false when the first `stopAfter` tokens are used.
    bool refuseBeyond = false;
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

/// Test hook: the regex time one encode may spend (0: the built-in 10 s), so a test can check the
/// refusal of a pathological tokenizer.json without waiting for it.
void setRegexTimeBudgetForTesting(double seconds);

} // namespace sinkscope
