// SPDX-License-Identifier: GPL-3.0-or-later
// A piece of the prompt as the tokenizer pipeline rewrites it, with, for every character of the
// rewritten text, the [start, end) range of prompt code points it came from. The rules for how a
// rewrite moves those ranges follow the reference implementation exactly, because token offsets
// are derived from them.
#pragma once

#include <QRegularExpression>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sinkscope::tok {

using Span = std::pair<int32_t, int32_t>;

struct NormalizedText {
    std::u32string text;
    std::vector<Span> align; ///< one per character of `text`
    int32_t originalStart = 0; ///< where this piece starts in the prompt (at the time it was cut)

    static NormalizedText fromOriginal(const std::u32string& text);
    bool empty() const { return text.empty(); }
    size_t size() const { return text.size(); }
    /// The sub-piece [a, b) of the current text.
    NormalizedText slice(size_t a, size_t b) const;
    /// Prompt range covered by characters [a, b) of the current text (b > a).
    Span originalRange(size_t a, size_t b) const { return {align[a].first, align[b - 1].second}; }

    /// Replaces characters [rangeStart, rangeEnd) by `dest`. Each entry's change is 0 (replaces the
    /// next character of the range), +1 (inserted) or -n (replaces the next one and drops n more);
    /// `initialOffset` characters at the start of the range are dropped first.
    void transformRange(size_t rangeStart, size_t rangeEnd, const std::vector<std::pair<char32_t, int>>& dest,
                        size_t initialOffset);
    void transform(const std::vector<std::pair<char32_t, int>>& dest, size_t initialOffset)
    {
        transformRange(0, text.size(), dest, initialOffset);
    }
    void prepend(const std::u32string& s);
    void append(const std::u32string& s);
    /// Keeps only the characters for which `keep` is true.
    void filter(const std::function<bool(char32_t)>& keep);
    /// Maps characters one to one.
    void map(const std::function<char32_t(char32_t)>& fn);
    void lowercase();
    void strip(bool left, bool right);
};

/// What a split does with the matched delimiters.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PatternMatch {
    size_t start;
    size_t end;
    bool isMatch;
};

/// A split/replace pattern: a literal string, a regular expression (PCRE2 with Unicode
/// properties) or a character predicate.
class Pattern {
public:
    static Pattern literal(std::u32string s);
    static Pattern regex(const QString& pattern, const char* component); // throws Error(Format)
    static Pattern predicate(std::function<bool(char32_t)> pred);

    /// Covers the whole text with contiguous (range, isMatch) pieces, as the reference does.
    std::vector<PatternMatch> findMatches(const std::u32string& text) const;

private:
    enum class Kind { Literal, Regex, Predicate } m_kind = Kind::Literal;
    std::u32string m_literal;
    std::shared_ptr<QRegularExpression> m_regex;
    std::string m_component; ///< who owns the regex, for messages ("pre_tokenizer Split")
    std::function<bool(char32_t)> m_pred;
};

/// Splits `piece` on `pattern` with the given behaviour (matches inverted when `invert`),
/// dropping empty results.
void splitPiece(const NormalizedText& piece, const Pattern& pattern, SplitBehavior behavior, bool invert,
                std::vector<NormalizedText>& out);
/// Replaces every match of `pattern` by `content`.
void replaceAll(NormalizedText& piece, const Pattern& pattern, const std::u32string& content);

} // namespace sinkscope::tok
