// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"

namespace sinkscope::tok {

namespace {

// Applies `fn` to every split that is not an added token yet; empty results are dropped.
template <typename Fn>
void splitEach(Splits& splits, Fn&& fn)
{
    Splits out;
    out.reserve(splits.size() * 2);
    std::vector<NormalizedText> pieces;
    for (Split& s : splits) {
        if (s.tokenId >= 0) {
            out.push_back(std::move(s));
            continue;
        }
        pieces.clear();
        fn(s.n, pieces);
        for (NormalizedText& p : pieces)
            if (!p.empty())
                out.push_back(Split{std::move(p), -1});
    }
    splits.swap(out);
}

SplitBehavior parseBehavior(const std::string& s, const std::string& component)
{
    if (s == "Removed")
        return SplitBehavior::Removed;
    if (s == "Isolated")
        return SplitBehavior::Isolated;
    if (s == "MergedWithPrevious")
        return SplitBehavior::MergedWithPrevious;
    if (s == "MergedWithNext")
        return SplitBehavior::MergedWithNext;
    if (s == "Contiguous")
        return SplitBehavior::Contiguous;
    malformed(component, "unknown split behavior '" + s + "'");
}

const Pattern& gpt2Pattern()
{
    static const Pattern p = Pattern::regex(
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
        "ByteLevel");
    return p;
}

class ByteLevelPre final : public PreTokenizer {
public:
    ByteLevelPre(bool prefix, bool regex) : m_prefix(prefix), m_regex(regex) {}
    bool isByteLevel() const override { return true; }
    void preTokenize(Splits& splits) const override
    {
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            if (m_prefix && (n.text.empty() || n.text[0] != U' '))
                n.prepend(U" ");
            if (m_regex)
                splitPiece(n, gpt2Pattern(), SplitBehavior::Isolated, false, out);
            else
                out.push_back(std::move(n));
        });
        // Every character becomes the printable stand-ins of its UTF-8 bytes, all of them aligned
        // with the character they came from.
        std::string bytes;
        for (Split& s : splits) {
            if (s.tokenId >= 0)
                continue;
            NormalizedText& n = s.n;
            bool ascii = true;
            for (char32_t c : n.text)
                if (c >= 0x80 || byteToChar(uint8_t(c)) != c) {
                    ascii = false;
                    break;
                }
            if (ascii)
                continue;
            std::u32string text;
            std::vector<Span> align;
            text.reserve(n.text.size() * 2);
            align.reserve(n.text.size() * 2);
            for (size_t i = 0; i < n.text.size(); ++i) {
                bytes.clear();
                appendUtf8(bytes, n.text[i]);
                for (char b : bytes) {
                    text.push_back(byteToChar(uint8_t(b)));
                    align.push_back(n.align[i]);
                }
            }
            n.text.swap(text);
            n.align.swap(align);
        }
    }

private:
    bool m_prefix, m_regex;
};

class SplitPre final : public PreTokenizer {
public:
    SplitPre(Pattern p, SplitBehavior b, bool invert) : m_pattern(std::move(p)), m_behavior(b), m_invert(invert) {}
    void preTokenize(Splits& splits) const override
    {
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            splitPiece(n, m_pattern, m_behavior, m_invert, out);
        });
    }

private:
    Pattern m_pattern;
    SplitBehavior m_behavior;
    bool m_invert;
};

class PredicatePre final : public PreTokenizer {
public:
    PredicatePre(std::function<bool(char32_t)> pred, SplitBehavior b) : m_pattern(Pattern::predicate(std::move(pred))), m_behavior(b) {}
    void preTokenize(Splits& splits) const override
    {
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            splitPiece(n, m_pattern, m_behavior, false, out);
        });
    }

private:
    Pattern m_pattern;
    SplitBehavior m_behavior;
};

enum class PrependScheme { Always, First, Never };

class MetaspacePre final : public PreTokenizer {
public:
    MetaspacePre(char32_t r, PrependScheme s, bool split) : m_replacement(r), m_scheme(s), m_split(split) {}
    void preTokenize(Splits& splits) const override
    {
        static const Pattern space = Pattern::literal(U" ");
        const std::u32string rep(1, m_replacement);
        const Pattern repPattern = Pattern::literal(rep);
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            replaceAll(n, space, rep);
            const bool startsWith = !n.text.empty() && n.text[0] == m_replacement;
            if (m_scheme == PrependScheme::Always && !startsWith)
                n.prepend(rep);
            else if (m_scheme == PrependScheme::First && !startsWith && n.originalStart == 0)
                n.prepend(rep);
            if (m_split)
                splitPiece(n, repPattern, SplitBehavior::MergedWithNext, false, out);
            else
                out.push_back(std::move(n));
        });
    }

private:
    char32_t m_replacement;
    PrependScheme m_scheme;
    bool m_split;
};

// `\w+|[^\w\s]+`, keeping the matches.
class WhitespacePre final : public PreTokenizer {
public:
    void preTokenize(Splits& splits) const override
    {
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            const std::u32string& t = n.text;
            size_t i = 0;
            while (i < t.size()) {
                if (isWordChar(t[i])) {
                    size_t j = i;
                    while (j < t.size() && isWordChar(t[j]))
                        ++j;
                    out.push_back(n.slice(i, j));
                    i = j;
                } else if (!isWhitespace(t[i])) {
                    size_t j = i;
                    while (j < t.size() && !isWordChar(t[j]) && !isWhitespace(t[j]))
                        ++j;
                    out.push_back(n.slice(i, j));
                    i = j;
                } else {
                    ++i;
                }
            }
        });
    }
};

class BertPre final : public PreTokenizer {
public:
    void preTokenize(Splits& splits) const override
    {
        static const Pattern ws = Pattern::predicate(isWhitespace);
        static const Pattern punct = Pattern::predicate(isPunctuation);
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            splitPiece(n, ws, SplitBehavior::Removed, false, out);
        });
        splitEach(splits, [&](NormalizedText& n, std::vector<NormalizedText>& out) {
            splitPiece(n, punct, SplitBehavior::Isolated, false, out);
        });
    }
};

class SequencePre final : public PreTokenizer {
public:
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    bool isByteLevel() const override
    {
        for (const auto& p : parts)
            if (p->isByteLevel())
                return true;
        return false;
    }
    void preTokenize(Splits& splits) const override
    {
        for (const auto& p : parts) {
            throwIfCancelled();
            p->preTokenize(splits);
        }
    }
};

} // namespace

std::unique_ptr<PreTokenizer> makePreTokenizer(json::Value v, const std::string& component)
{
    if (absent(v))
        return nullptr;
    json::Value o = requireObject(v, component);
    const std::string type = requireString(o, "type", component);
    const std::string c = component + " " + type;
    if (type == "Sequence") {
        return makeSequence<SequencePre>(o, "pretokenizers", c, makePreTokenizer);
    }
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelPre>(optBool(o, "add_prefix_space", c, true), optBool(o, "use_regex", c, true));
    if (type == "Split") {
        if (!o.contains("pattern"))
            malformed(c, "missing \"pattern\"");
        return std::make_unique<SplitPre>(readPattern(o.find("pattern"), c),
                                          parseBehavior(requireString(o, "behavior", c), c),
                                          optBool(o, "invert", c, false));
    }
    if (type == "Metaspace") {
        const char32_t rep = requireChar(o, "replacement", c);
        PrependScheme scheme = PrependScheme::Always;
        const std::string s = optString(o, "prepend_scheme", c, "always");
        if (s == "always")
            scheme = PrependScheme::Always;
        else if (s == "first")
            scheme = PrependScheme::First;
        else if (s == "never")
            scheme = PrependScheme::Never;
        else
            malformed(c, "unknown prepend_scheme '" + s + "'");
        if (!optBool(o, "add_prefix_space", c, true)) // older files spell "never" this way
            scheme = PrependScheme::Never;
        return std::make_unique<MetaspacePre>(rep, scheme, optBool(o, "split", c, true));
    }
    if (type == "BertPreTokenizer")
        return std::make_unique<BertPre>();
    if (type == "Whitespace")
        return std::make_unique<WhitespacePre>();
    if (type == "WhitespaceSplit")
        return std::make_unique<PredicatePre>(isWhitespace, SplitBehavior::Removed);
    if (type == "Punctuation")
        return std::make_unique<PredicatePre>(isPunctuation,
                                              parseBehavior(optString(o, "behavior", c, "Isolated"), c));
    if (type == "Digits")
        return std::make_unique<PredicatePre>(isNumeric, optBool(o, "individual_digits", c, false)
                                                             ? SplitBehavior::Isolated
                                                             : SplitBehavior::Contiguous);
    if (type == "CharDelimiterSplit") {
        const char32_t d = requireChar(o, "delimiter", c);
        return std::make_unique<PredicatePre>([d](char32_t x) { return x == d; }, SplitBehavior::Removed);
    }
    unsupported(c, "this pre-tokenizer type is not implemented");
}

} // namespace sinkscope::tok
