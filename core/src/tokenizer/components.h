// SPDX-License-Identifier: GPL-3.0-or-later
// The five stages of a tokenizer.json pipeline (normalizer, pre-tokenizer, model, post-processor,
// decoder) as small polymorphic classes, each built from its JSON object.
#pragma once

#include "tokenizer/flatmap.h"
#include "json.h"
#include "tokenizer/normalizedtext.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sinkscope::tok {

// ---- JSON reading with clear errors ---------------------------------------------------------

/// Throws Error(Format) "Malformed tokenizer.json: <component>: <problem>".
[[noreturn]] void malformed(const std::string& component, const std::string& problem);
/// Throws Error(Unsupported) "Unsupported tokenizer.json: <component>: <problem>".
[[noreturn]] void unsupported(const std::string& component, const std::string& problem);
/// `v` itself when it is an object (a null `v` counts as missing).
json::Value requireObject(json::Value v, const std::string& component);
std::string requireString(json::Value o, const char* key, const std::string& component);
std::string optString(json::Value o, const char* key, const std::string& component, const std::string& fallback = {});
bool optBool(json::Value o, const char* key, const std::string& component, bool fallback);
int64_t requireInt(json::Value o, const char* key, const std::string& component);
std::vector<json::Value> requireArray(json::Value o, const char* key, const std::string& component);
/// A single character given as a JSON string (Metaspace replacement, Strip content).
char32_t requireChar(json::Value o, const char* key, const std::string& component);
/// A {"String": s} / {"Regex": r} pattern object.
Pattern readPattern(json::Value v, const std::string& component);
/// Null or absent -> true (the stage is not configured).
inline bool absent(json::Value v) { return !v || v.isNull(); }

/// Steps one tokenizer may chain in all its Sequence components together. Each step is a pass
/// over the whole prompt (a look-ahead regex costs seconds per pass on 100k characters), so a
/// hostile file could otherwise multiply the work without bound; real files use fewer than 10.
constexpr size_t kMaxSequenceSteps = 64;
/// Counts the Sequence steps of the tokenizer being loaded on this thread (reset by the loader).
size_t& sequenceStepsLoaded();

/// Seconds of regular-expression matching one encode may spend over all its Split/Replace passes
/// (a look-ahead pattern on a long word costs time growing with the square of its length); past
/// it the encode stops with Error(InvalidArgument). Real tokenizers need well under 1 s for the
/// 4 MiB prompt limit.
constexpr double kRegexSecondsPerEncode = 10.0;
/// Adds `seconds` of matching by `component`'s regex to the encode running on this thread and
/// throws Error(InvalidArgument) naming the component once the encode's budget is spent.
void chargeRegexTime(double seconds, const std::string& component);

/// Throws Error(Cancelled) when the cancel flag of the encode running on this thread is set.
/// Pipeline stages call it between passes, so a long tokenization stops when asked.
void throwIfCancelled();

/// Builds a "Sequence" component: each entry of the array `key` through `make` (a component's own
/// factory), skipping null entries, into `Seq::parts`. Entries are named "<component>[i]" in errors.
template <class Seq, class Make>
std::unique_ptr<Seq> makeSequence(json::Value o, const char* key, const std::string& component, Make make)
{
    auto seq = std::make_unique<Seq>();
    const auto& parts = requireArray(o, key, component);
    sequenceStepsLoaded() += parts.size();
    if (sequenceStepsLoaded() > kMaxSequenceSteps)
        unsupported(component, "the Sequence components chain more than " + std::to_string(kMaxSequenceSteps)
                                   + " steps; each is a pass over the whole prompt");
    for (size_t i = 0; i < parts.size(); ++i) {
        auto part = make(parts[i], component + "[" + std::to_string(i) + "]");
        if (part)
            seq->parts.push_back(std::move(part));
    }
    return seq;
}

// ---- the pipeline ----------------------------------------------------------------------------

/// A piece of the prompt on its way through the pipeline; `tokenId >= 0` once it has been matched
/// to an added token (then no later stage touches it).
struct Split {
    NormalizedText n;
    int32_t tokenId = -1;
};
using Splits = std::vector<Split>;

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(NormalizedText& text) const = 0;
};
std::unique_ptr<Normalizer> makeNormalizer(json::Value v, const std::string& component);

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    virtual void preTokenize(Splits& splits) const = 0;
    /// True for the ByteLevel pre-tokenizer (alone or in a sequence): pieces are byte characters.
    virtual bool isByteLevel() const { return false; }
};
std::unique_ptr<PreTokenizer> makePreTokenizer(json::Value v, const std::string& component);

/// A token produced by the model for one piece: [start, end) are character indices in the piece.
struct ModelToken {
    int32_t id;
    int32_t start;
    int32_t end;
};
using WordCache = std::unordered_map<std::string, std::vector<ModelToken>>;

class Model {
public:
    virtual ~Model() = default;
    virtual void tokenize(const NormalizedText& piece, std::vector<ModelToken>& out, WordCache& cache) const = 0;
    /// A lower bound on the number of tokens tokenize() gives for a piece of `chars` characters,
    /// so that a word whose tokens alone pass the caller's limit need not be tokenized at all.
    virtual size_t minTokens(size_t chars) const { return chars > 0 ? 1 : 0; }
    std::optional<int32_t> tokenToId(const std::string& piece) const;
    /// Vocabulary string of `id`, nullptr when the model has no such id.
    const std::string* idToToken(int32_t id) const;
    int32_t vocabEnd() const { return int32_t(m_idToPiece.size()); }
    /// Reads {"piece": id, ...}; fills the two maps and checks for duplicate ids.
    void readVocab(json::Value vocab, const std::string& component);

protected:
    StringIdMap m_vocab;
    std::vector<std::string> m_idToPiece;
    std::vector<bool> m_hasId;
};
std::unique_ptr<Model> makeModel(json::Value v, const std::string& component);

/// One token of an encoding under construction.
struct EncToken {
    int32_t id = 0;
    std::string value;
    int32_t start = 0;
    int32_t end = 0;
    bool special = false;
    bool addedByPostProcessor = false;
};

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    /// Adjusts offsets and, when `addSpecial`, wraps the sequence in its special tokens.
    virtual void process(std::vector<EncToken>& tokens, bool addSpecial) const = 0;
};
std::unique_ptr<PostProcessor> makePostProcessor(json::Value v, const std::string& component);

/// How decoders run: for text (as the reference) or for showing one token alone (keep raw bytes,
/// keep leading spaces).
enum class DecodeMode { Text, Display };

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const = 0;
    virtual bool isByteLevel() const { return false; }
};
std::unique_ptr<Decoder> makeDecoder(json::Value v, const std::string& component);

/// GPT-2's byte <-> printable character table.
char32_t byteToChar(uint8_t b);
/// -1 when `c` is not one of the 256 byte characters.
int charToByte(char32_t c);
/// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string utf8Lossy(const std::string& bytes);

} // namespace sinkscope::tok
