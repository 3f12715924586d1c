// SPDX-License-Identifier: GPL-3.0-or-later
// The tokenizer.json pipeline: added tokens -> normalizer -> pre-tokenizer -> model ->
// post-processor, then the BOS policy on top. Each step mirrors the reference implementation
// (Hugging Face tokenizers) closely enough that ids and offsets agree exactly.
#include "sinkscope/tokenizer.h"

#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"


#include <unordered_map>
#include <unordered_set>
#include <cstdio>

namespace sinkscope {

using namespace tok;

namespace {

struct AddedToken {
    int32_t id = 0;
    std::string content;
    bool special = false;
    bool lstrip = false;
    bool rstrip = false;
    bool singleWord = false;
    bool normalized = true;
};

// Leftmost-longest multi-pattern matcher over code points.
class TokenTrie {
public:
    struct Match {
        size_t start, end;
        int32_t token; // index into the added-token table
    };

    void insert(const std::u32string& s, int32_t token)
    {
        if (s.empty())
            return;
        if (m_nodes.empty())
            m_nodes.emplace_back();
        int32_t node = 0;
        for (char32_t c : s) {
            auto it = m_nodes[size_t(node)].next.find(c);
            if (it == m_nodes[size_t(node)].next.end()) {
                const int32_t created = int32_t(m_nodes.size());
                m_nodes[size_t(node)].next.emplace(c, created);
                m_nodes.emplace_back();
                node = created;
            } else {
                node = it->second;
            }
        }
        if (m_nodes[size_t(node)].token < 0)
            m_nodes[size_t(node)].token = token;
    }

    bool empty() const { return m_nodes.empty(); }

    std::vector<Match> find(const std::u32string& text) const
    {
        std::vector<Match> out;
        if (m_nodes.empty())
            return out;
        const auto& root = m_nodes[0].next;
        size_t i = 0;
        while (i < text.size()) {
            auto first = root.find(text[i]);
            if (first == root.end()) {
                ++i;
                continue;
            }
            int32_t node = first->second;
            size_t bestEnd = 0;
            int32_t bestToken = -1;
            size_t j = i + 1;
            while (true) {
                if (m_nodes[size_t(node)].token >= 0) {
                    bestEnd = j;
                    bestToken = m_nodes[size_t(node)].token;
                }
                if (j >= text.size())
                    break;
                auto it = m_nodes[size_t(node)].next.find(text[j]);
                if (it == m_nodes[size_t(node)].next.end())
                    break;
                node = it->second;
                ++j;
            }
            if (bestToken >= 0) {
                out.push_back({i, bestEnd, bestToken});
                i = bestEnd;
            } else {
                ++i;
            }
        }
        return out;
    }

private:
    struct Node {
        std::unordered_map<char32_t, int32_t> next;
        int32_t token = -1;
    };
    std::vector<Node> m_nodes;
};

// Renders decoded bytes for a person: whitespace made visible, broken UTF-8 as <0xNN>.
std::string visibleText(const std::string& bytes)
{
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const size_t n = bytes.size();
    size_t i = 0;
    char buf[8];
    while (i < n) {
        const int len = utf8SequenceLength(p + i, n - i);
        if (len == 0) {
            std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(p[i]));
            out += buf;
            ++i;
            continue;
        }
        if (len == 1) {
            const unsigned char c = p[i];
            if (c == '\n')
                out += "\xE2\x86\xB5"; // ↵
            else if (c == '\t')
                out += "\xE2\x86\x92"; // →
            else if (c == '\r')
                out += "\xE2\x90\x8D"; // ␍
            else if (c < 0x20 || c == 0x7F) {
                std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(c));
                out += buf;
            } else {
                out.push_back(char(c));
            }
        } else {
            out.append(bytes, i, size_t(len));
        }
        i += size_t(len);
    }
    return out;
}

} // namespace

struct Tokenizer::Impl {
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> preTokenizer;
    std::unique_ptr<Model> model;
    std::unique_ptr<PostProcessor> postProcessor;
    std::unique_ptr<Decoder> decoder;

    std::vector<AddedToken> added;
    std::unordered_map<int32_t, size_t> addedById;
    std::unordered_map<std::string, size_t> addedByContent;
    TokenTrie rawTrie;        // added tokens matched before normalization
    TokenTrie normalizedTrie; // added tokens matched in the normalized text

    std::optional<int32_t> bos, eos;
    std::optional<bool> configAddBos; // tokenizer_config.json add_bos_token, when present
    int32_t vocabEnd = 0;

    void load(const std::string& json, const std::string& configJson);
    void loadConfig(const std::string& configJson, std::optional<int32_t>& leadingSpecial,
                    std::optional<int32_t>& trailingSpecial);
    std::vector<EncToken> run(const std::u32string& text, const EncodeLimits& limits) const;
    void applyBos(std::vector<EncToken>& enc, BosPolicy policy) const;
    const AddedToken* addedFor(int32_t id) const
    {
        auto it = addedById.find(id);
        return it == addedById.end() ? nullptr : &added[it->second];
    }
    std::string pieceOf(int32_t id) const
    {
        if (const AddedToken* a = addedFor(id))
            return a->content;
        const std::string* s = model->idToToken(id);
        return s ? *s : std::string();
    }
    std::optional<int32_t> idOf(const std::string& piece) const
    {
        auto it = addedByContent.find(piece);
        if (it != addedByContent.end())
            return added[it->second].id;
        return model->tokenToId(piece);
    }
    std::string displayOf(int32_t id, const std::string& value) const;
    Token makeToken(const EncToken& t) const;
};

void Tokenizer::Impl::load(const std::string& json, const std::string& configJson)
{
    sequenceStepsLoaded() = 0;
    const json::Document doc = json::parse(json, {"Malformed tokenizer.json: not valid JSON (", ").", {}});
    const json::Value root = doc.root();
    if (!root.isObject())
        throw Error(ErrorCode::Format, "Malformed tokenizer.json: the top level must be a JSON object.");
    if (!root.contains("model"))
        malformed("model", "missing");

    normalizer = makeNormalizer(root.find("normalizer"), "normalizer");
    preTokenizer = makePreTokenizer(root.find("pre_tokenizer"), "pre_tokenizer");
    model = makeModel(root.find("model"), "model");
    postProcessor = makePostProcessor(root.find("post_processor"), "post_processor");
    decoder = makeDecoder(root.find("decoder"), "decoder");
    vocabEnd = model->vocabEnd();

    json::Value addedValue = root.find("added_tokens");
    if (!absent(addedValue)) {
        if (!addedValue.isArray())
            malformed("added_tokens", "must be an array");
        const std::vector<json::Value> arr = addedValue.array();
        for (size_t i = 0; i < arr.size(); ++i) {
            const std::string c = "added_tokens[" + std::to_string(i) + "]";
            json::Value o = requireObject(arr[i], c);
            AddedToken t;
            t.id = int32_t(requireInt(o, "id", c));
            t.content = requireString(o, "content", c);
            if (t.content.empty())
                malformed(c, "\"content\" is empty");
            t.special = optBool(o, "special", c, false);
            t.lstrip = optBool(o, "lstrip", c, false);
            t.rstrip = optBool(o, "rstrip", c, false);
            t.singleWord = optBool(o, "single_word", c, false);
            t.normalized = optBool(o, "normalized", c, !t.special);
            if (addedById.count(t.id))
                malformed(c, "id " + std::to_string(t.id) + " is used by two added tokens");
            addedById.emplace(t.id, added.size());
            addedByContent.emplace(t.content, added.size());
            vocabEnd = std::max(vocabEnd, t.id + 1);
            added.push_back(std::move(t));
        }
    }
    // Special tokens are offered to the matcher before ordinary added tokens, as in the reference.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < added.size(); ++i) {
            const AddedToken& t = added[i];
            if (t.special != (pass == 0))
                continue;
            if (!t.normalized) {
                rawTrie.insert(decodeUtf8Trusted(t.content), int32_t(i));
            } else {
                NormalizedText n = NormalizedText::fromOriginal(decodeUtf8Trusted(t.content));
                if (normalizer)
                    normalizer->normalize(n);
                normalizedTrie.insert(n.text, int32_t(i));
            }
        }
    }

    // BOS/EOS: the config names them; otherwise the post-processor's leading/trailing special.
    std::optional<int32_t> leading, trailing;
    if (postProcessor) {
        std::vector<EncToken> probe(1);
        probe[0].id = -1;
        postProcessor->process(probe, true);
        // Every id the post-processor adds must name a token: the encoder would otherwise produce
        // ids that fromIds() and the views cannot show (found by fuzzing).
        for (const EncToken& t : probe)
            if (t.addedByPostProcessor && !addedFor(t.id) && !model->idToToken(t.id))
                malformed("post_processor", "special token id " + std::to_string(t.id)
                                                + " is neither in the vocabulary nor an added token");
        size_t k = 0;
        while (k < probe.size() && probe[k].addedByPostProcessor)
            ++k;
        if (k > 0)
            leading = probe[0].id;
        if (k < probe.size() && k + 1 < probe.size() && probe.back().addedByPostProcessor)
            trailing = probe.back().id;
    }
    loadConfig(configJson, leading, trailing);
}

void Tokenizer::Impl::loadConfig(const std::string& configJson, std::optional<int32_t>& leading,
                                 std::optional<int32_t>& trailing)
{
    bool bosNamed = false, eosNamed = false;
    if (!configJson.empty()) {
        const json::Document doc =
            json::parse(configJson, {"Malformed tokenizer_config.json: not valid JSON (", ").", {}});
        const json::Value o = doc.root();
        if (!o.isObject())
            throw Error(ErrorCode::Format, "Malformed tokenizer_config.json: the top level must be a JSON object.");
        json::Value addBos = o.find("add_bos_token");
        if (addBos && addBos.isBool())
            configAddBos = addBos.boolean();
        else if (!absent(addBos))
            throw Error(ErrorCode::Format, "Malformed tokenizer_config.json: \"add_bos_token\" must be true or false.");
        auto tokenName = [&](const char* key, bool& named) -> std::optional<int32_t> {
            json::Value v = o.find(key);
            if (!v)
                return std::nullopt;
            named = true;
            std::string name;
            if (v.isString())
                name = v.str();
            else if (json::Value content = v.find("content"); content.isString())
                name = content.str();
            if (name.empty())
                return std::nullopt;
            return idOf(name);
        };
        bos = tokenName("bos_token", bosNamed);
        eos = tokenName("eos_token", eosNamed);
    }
    if (!bosNamed) {
        bos = leading;
        if (!bos)
            for (const char* name : {"<|begin_of_text|>", "<s>", "<bos>", "[CLS]", "<|endoftext|>"})
                if ((bos = idOf(name)))
                    break;
    }
    if (!eosNamed) {
        eos = trailing;
        if (!eos)
            for (const char* name : {"<|end_of_text|>", "</s>", "<eos>", "[SEP]", "<|endoftext|>"})
                if ((eos = idOf(name)))
                    break;
    }
}

std::vector<EncToken> Tokenizer::Impl::run(const std::u32string& text, const EncodeLimits& limits) const
{
    Splits splits;
    // 1. Added tokens that match the raw text.
    auto extract = [&](const NormalizedText& n, const TokenTrie& trie, Splits& out) {
        size_t startOffset = 0;
        auto push = [&](size_t a, size_t b, int32_t id) {
            if (b > a)
                out.push_back(Split{n.slice(a, b), id});
        };
        for (const TokenTrie::Match& m : trie.find(n.text)) {
            const AddedToken& t = added[size_t(m.token)];
            size_t start = m.start, stop = m.end;
            if (t.singleWord) {
                const bool startOk = start == 0 || !isWordChar(n.text[start - 1]);
                const bool stopOk = stop == n.text.size() || !isWordChar(n.text[stop]);
                if (!startOk || !stopOk)
                    continue;
            }
            if (t.lstrip) {
                size_t s = start;
                while (s > 0 && isWhitespace(n.text[s - 1]))
                    --s;
                start = std::max(s, startOffset);
            }
            if (t.rstrip)
                while (stop < n.text.size() && isWhitespace(n.text[stop]))
                    ++stop;
            push(startOffset, start, -1);
            push(start, stop, t.id);
            startOffset = stop;
        }
        push(startOffset, n.text.size(), -1);
    };
    throwIfCancelled();
    const NormalizedText root = NormalizedText::fromOriginal(text);
    if (rawTrie.empty()) {
        if (!root.empty())
            splits.push_back(Split{root, -1});
    } else {
        extract(root, rawTrie, splits);
    }
    // 2. Normalize what is left, then match the normalized added tokens.
    if (normalizer || !normalizedTrie.empty()) {
        Splits next;
        next.reserve(splits.size());
        for (Split& s : splits) {
            if (s.tokenId >= 0) {
                next.push_back(std::move(s));
                continue;
            }
            if (normalizer)
                normalizer->normalize(s.n);
            if (normalizedTrie.empty()) {
                if (!s.n.empty())
                    next.push_back(std::move(s));
            } else {
                extract(s.n, normalizedTrie, next);
            }
        }
        splits.swap(next);
    }
    // 3. Pre-tokenize.
    throwIfCancelled();
    if (preTokenizer)
        preTokenizer->preTokenize(splits);
    throwIfCancelled();
    // 4. The model.
    std::vector<EncToken> enc;
    enc.reserve(text.size() / 2 + 4);
    WordCache cache;
    std::vector<ModelToken> mtoks;
    for (const Split& s : splits) {
        if (s.n.empty())
            continue;
        if (limits.stopAfter > 0 && int64_t(enc.size()) > limits.stopAfter) {
            if (limits.stoppedEarly)
                *limits.stoppedEarly = true;
            break; // the result would be refused (or cut) anyway: do not tokenize the rest
        }
        if ((enc.size() & 255) == 0)
            throwIfCancelled();
        if (s.tokenId >= 0) {
            EncToken t;
            t.id = s.tokenId;
            t.value = encodeUtf8(s.n.text);
            const Span r = s.n.originalRange(0, s.n.size());
            t.start = r.first;
            t.end = r.second;
            enc.push_back(std::move(t));
            continue;
        }
        // A word whose tokens alone would pass a limit the caller refuses beyond (a 4 MiB word
        // without a pre-tokenizer) is not tokenized at all: the result is refused either way.
        if (limits.stopAfter > 0 && limits.refuseBeyond
            && int64_t(model->minTokens(s.n.size())) > limits.stopAfter - int64_t(enc.size())) {
            if (limits.stoppedEarly)
                *limits.stoppedEarly = true;
            break;
        }
        mtoks.clear();
        model->tokenize(s.n, mtoks, cache);
        for (const ModelToken& m : mtoks) {
            EncToken t;
            t.id = m.id;
            const std::string* v = model->idToToken(m.id);
            t.value = v ? *v : std::string();
            const Span r = s.n.originalRange(size_t(m.start), size_t(m.end));
            t.start = r.first;
            t.end = r.second;
            enc.push_back(std::move(t));
        }
    }
    // A piece is tokenized whole, so the last one may overshoot: keep one token past the limit
    // (enough to tell "longer") and drop the rest before any further work on them.
    if (limits.stopAfter > 0 && int64_t(enc.size()) > limits.stopAfter) {
        if (limits.stoppedEarly)
            *limits.stoppedEarly = true;
        enc.resize(size_t(limits.stopAfter) + 1);
    }
    for (EncToken& t : enc)
        if (const AddedToken* a = addedFor(t.id))
            t.special = a->special;
    // 5. Post-processing (special tokens of the template, offset trimming).
    if (postProcessor)
        postProcessor->process(enc, true);
    return enc;
}

void Tokenizer::Impl::applyBos(std::vector<EncToken>& enc, BosPolicy policy) const
{
    auto leadingPostBos = [&](const EncToken& t) { return t.addedByPostProcessor && bos && t.id == *bos; };
    auto removeAddedBos = [&]() {
        size_t k = 0;
        while (k < enc.size() && enc[k].addedByPostProcessor) {
            if (leadingPostBos(enc[k]))
                enc.erase(enc.begin() + long(k));
            else
                ++k;
        }
    };
    auto insertBos = [&]() {
        EncToken t;
        t.id = *bos;
        t.value = pieceOf(*bos);
        t.special = true;
        t.addedByPostProcessor = true;
        enc.insert(enc.begin(), std::move(t));
    };
    switch (policy) {
    case BosPolicy::Auto:
        if (configAddBos && bos) {
            if (*configAddBos && !(!enc.empty() && leadingPostBos(enc[0])))
                insertBos();
            else if (!*configAddBos)
                removeAddedBos();
        }
        break;
    case BosPolicy::On: {
        if (!bos)
            throw Error(ErrorCode::InvalidArgument,
                        "This tokenizer has no BOS token, so a BOS cannot be added; use the BOS policy auto or off.");
        removeAddedBos();
        size_t k = 0;
        while (k < enc.size() && enc[k].addedByPostProcessor)
            ++k;
        const bool typed = k < enc.size() && enc[k].id == *bos;
        if (!typed)
            insertBos();
        break;
    }
    case BosPolicy::Off:
        removeAddedBos();
        break;
    }
}

std::string Tokenizer::Impl::displayOf(int32_t id, const std::string& value) const
{
    if (addedFor(id))
        return visibleText(value);
    if (!decoder)
        return visibleText(value);
    std::vector<std::string> parts{value};
    decoder->decodeChain(parts, DecodeMode::Display);
    std::string bytes;
    for (const std::string& p : parts)
        bytes += p;
    return visibleText(bytes);
}

Token Tokenizer::Impl::makeToken(const EncToken& t) const
{
    Token out;
    out.id = t.id;
    out.piece = t.value;
    out.display = displayOf(t.id, t.value);
    out.start = t.start;
    out.end = t.end;
    const AddedToken* a = addedFor(t.id);
    out.special = t.addedByPostProcessor || (a && a->special);
    return out;
}

Tokenizer::Tokenizer() : d(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::fromJson(const std::string& tokenizerJson,
                                                     const std::string& tokenizerConfigJson)
{
    std::shared_ptr<Tokenizer> t(new Tokenizer());
    t->d->load(tokenizerJson, tokenizerConfigJson);
    return t;
}

std::shared_ptr<const Tokenizer> Tokenizer::fromFile(const std::string& tokenizerJsonPath,
                                                     const std::string& tokenizerConfigPath)
{
    const std::string json = readFile(tokenizerJsonPath, files::kTokenizer);
    std::string config;
    // An absent configuration is optional; a present one goes through the checked open (a FIFO
    // or a folder there is an error, not a hang or a silent skip).
    if (pathExists(tokenizerConfigPath))
        config = readFile(tokenizerConfigPath, files::kTokenizerConfig);
    try {
        return fromJson(json, config);
    } catch (const Error& e) {
        const bool aboutConfig = std::string(e.what()).find("tokenizer_config.json") != std::string::npos;
        throw Error(e.code(), e.what(), aboutConfig ? tokenizerConfigPath : tokenizerJsonPath);
    }
}

namespace tok {

namespace {
thread_local const std::atomic<bool>* t_cancel = nullptr;
thread_local size_t t_sequenceSteps = 0;
thread_local double t_regexSeconds = 0; // regex time spent by the encode running on this thread
double g_regexBudgetForTesting = 0;
} // namespace

void chargeRegexTime(double seconds, const std::string& component)
{
    t_regexSeconds += seconds;
    const double budget = g_regexBudgetForTesting > 0 ? g_regexBudgetForTesting : kRegexSecondsPerEncode;
    if (t_regexSeconds <= budget)
        return;
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", budget);
    throw Error(ErrorCode::InvalidArgument,
                "Tokenizing stopped: the regular expressions of " + component + " have run for more than "
                    + std::string(limit) + " s on this prompt (a look-ahead pattern costs time growing with the square "
                    "of a long word). Shorten the prompt, break up its long words, or use another tokenizer.");
}

size_t& sequenceStepsLoaded()
{
    return t_sequenceSteps;
}

void throwIfCancelled()
{
    if (t_cancel && t_cancel->load(std::memory_order_relaxed))
        throw Error(ErrorCode::Cancelled, "The run was cancelled.");
}

} // namespace tok

Encoding Tokenizer::encode(const std::string& utf8Text, BosPolicy bos, const EncodeLimits& limits) const
{
    if (utf8Text.size() > limits::kPromptBytes)
        throw Error(ErrorCode::InvalidArgument,
                    "The prompt is " + std::to_string(utf8Text.size()) + " bytes; a prompt may have at most "
                        + std::to_string(limits::kPromptBytes) + " bytes (" + std::to_string(limits::kPromptBytes >> 20)
                        + " MiB).");
    // The pipeline's stages check the flag between passes (tok::throwIfCancelled), and the regex
    // passes charge their time to this encode (tok::chargeRegexTime).
    struct EncodeScope {
        const std::atomic<bool>* saved = tok::t_cancel;
        double savedRegexSeconds = tok::t_regexSeconds;
        explicit EncodeScope(const std::atomic<bool>* c)
        {
            tok::t_cancel = c;
            tok::t_regexSeconds = 0;
        }
        ~EncodeScope()
        {
            tok::t_cancel = saved;
            tok::t_regexSeconds = savedRegexSeconds;
        }
    } scope(limits.cancel);
    const std::u32string text = decodeUtf8(utf8Text);
    std::vector<EncToken> enc = d->run(text, limits);
    d->applyBos(enc, bos);
    Encoding out;
    out.tokens.reserve(enc.size());
    for (const EncToken& t : enc)
        out.tokens.push_back(d->makeToken(t));
    out.bosAdded = !enc.empty() && enc[0].addedByPostProcessor && d->bos && enc[0].id == *d->bos;
    return out;
}

Encoding Tokenizer::fromIds(const std::vector<int32_t>& ids) const
{
    Encoding out;
    out.tokens.reserve(ids.size());
    for (int32_t id : ids) {
        if (id < 0 || id >= d->vocabEnd || (!d->addedFor(id) && !d->model->idToToken(id)))
            throw Error(ErrorCode::InvalidArgument, "Token id " + std::to_string(id)
                                                        + " is not in the vocabulary (ids run from 0 to "
                                                        + std::to_string(d->vocabEnd - 1) + ").");
        EncToken t;
        t.id = id;
        t.value = d->pieceOf(id);
        out.tokens.push_back(d->makeToken(t));
    }
    return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skipSpecial) const
{
    std::vector<std::string> parts;
    parts.reserve(ids.size());
    for (int32_t id : ids) {
        if (const AddedToken* a = d->addedFor(id)) {
            if (skipSpecial && a->special)
                continue;
            parts.push_back(a->content);
        } else if (const std::string* s = d->model->idToToken(id)) {
            parts.push_back(*s);
        }
    }
    if (!d->decoder) {
        std::string out;
        for (size_t i = 0; i < parts.size(); ++i) {
            if (i)
                out.push_back(' ');
            out += parts[i];
        }
        return out;
    }
    d->decoder->decodeChain(parts, DecodeMode::Text);
    std::string out;
    for (const std::string& p : parts)
        out += p;
    return out;
}

std::string Tokenizer::piece(int32_t id) const
{
    return d->pieceOf(id);
}

std::string Tokenizer::display(int32_t id) const
{
    return d->displayOf(id, d->pieceOf(id));
}

bool Tokenizer::isSpecial(int32_t id) const
{
    const auto* a = d->addedFor(id);
    return a && a->special;
}

std::optional<int32_t> Tokenizer::bosId() const
{
    return d->bos;
}

std::optional<int32_t> Tokenizer::eosId() const
{
    return d->eos;
}

std::optional<int32_t> Tokenizer::tokenToId(const std::string& piece) const
{
    return d->idOf(piece);
}

int32_t Tokenizer::vocabSize() const
{
    return d->vocabEnd;
}

void setRegexTimeBudgetForTesting(double seconds)
{
    tok::g_regexBudgetForTesting = seconds;
}

} // namespace sinkscope
