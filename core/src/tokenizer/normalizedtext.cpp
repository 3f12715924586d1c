// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenizer/normalizedtext.h"

#include "sinkscope/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"

#include <algorithm>
#include <chrono>

namespace sinkscope::tok {

NormalizedText NormalizedText::fromOriginal(const std::u32string& text)
{
    NormalizedText n;
    n.text = text;
    n.align.resize(text.size());
    for (size_t i = 0; i < text.size(); ++i)
        n.align[i] = {int32_t(i), int32_t(i + 1)};
    return n;
}

NormalizedText NormalizedText::slice(size_t a, size_t b) const
{
    NormalizedText n;
    n.text = text.substr(a, b - a);
    n.align.assign(align.begin() + long(a), align.begin() + long(b));
    n.originalStart = b > a ? align[a].first : originalStart;
    return n;
}

void NormalizedText::transformRange(size_t rangeStart, size_t rangeEnd,
                                    const std::vector<std::pair<char32_t, int>>& dest, size_t initialOffset)
{
    std::u32string newText;
    std::vector<Span> newAlign;
    newText.reserve(dest.size());
    newAlign.reserve(dest.size());
    size_t offset = rangeStart + initialOffset;
    for (const auto& [c, change] : dest) {
        Span a{0, 0};
        if (change > 0) {
            // An inserted character shares the alignment of the character before it.
            if (offset >= 1 && offset - 1 < align.size())
                a = align[offset - 1];
        } else {
            if (offset < align.size())
                a = align[offset];
            else if (!align.empty())
                a = align.back();
            offset += 1 + size_t(-change);
        }
        newText.push_back(c);
        newAlign.push_back(a);
    }
    text.replace(rangeStart, rangeEnd - rangeStart, newText);
    align.erase(align.begin() + long(rangeStart), align.begin() + long(rangeEnd));
    align.insert(align.begin() + long(rangeStart), newAlign.begin(), newAlign.end());
}

void NormalizedText::prepend(const std::u32string& s)
{
    if (text.empty() || s.empty())
        return;
    std::vector<std::pair<char32_t, int>> dest;
    for (size_t i = 0; i < s.size(); ++i)
        dest.emplace_back(s[i], i == 0 ? 0 : 1);
    dest.emplace_back(text[0], 1);
    transformRange(0, 1, dest, 0);
}

void NormalizedText::append(const std::u32string& s)
{
    if (text.empty() || s.empty())
        return;
    std::vector<std::pair<char32_t, int>> dest;
    dest.emplace_back(text.back(), 0);
    for (char32_t c : s)
        dest.emplace_back(c, 1);
    transformRange(text.size() - 1, text.size(), dest, 0);
}

void NormalizedText::filter(const std::function<bool(char32_t)>& keep)
{
    size_t w = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (keep(text[i])) {
            text[w] = text[i];
            align[w] = align[i];
            ++w;
        }
    }
    text.resize(w);
    align.resize(w);
}

void NormalizedText::map(const std::function<char32_t(char32_t)>& fn)
{
    for (char32_t& c : text)
        c = fn(c);
}

void NormalizedText::lowercase()
{
    std::u32string out;
    std::vector<Span> outAlign;
    out.reserve(text.size());
    outAlign.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const std::u32string lower = toLowerFull(text[i]);
        for (char32_t c : lower) {
            out.push_back(c);
            outAlign.push_back(align[i]);
        }
    }
    text.swap(out);
    align.swap(outAlign);
}

void NormalizedText::strip(bool left, bool right)
{
    size_t a = 0;
    size_t b = text.size();
    if (left)
        while (a < b && isWhitespace(text[a]))
            ++a;
    if (right)
        while (b > a && isWhitespace(text[b - 1]))
            --b;
    if (a == 0 && b == text.size())
        return;
    text = text.substr(a, b - a);
    align = std::vector<Span>(align.begin() + long(a), align.begin() + long(b));
}

Pattern Pattern::literal(std::u32string s)
{
    Pattern p;
    p.m_kind = Kind::Literal;
    p.m_literal = std::move(s);
    return p;
}

Pattern Pattern::regex(const QString& pattern, const char* component)
{
    Pattern p;
    p.m_kind = Kind::Regex;
    // \s, \w, \d and case folding must be Unicode-aware, as in the reference's regex engine.
    p.m_regex = std::make_shared<QRegularExpression>(pattern, QRegularExpression::UseUnicodePropertiesOption);
    if (!p.m_regex->isValid())
        throw Error(ErrorCode::Format,
                    std::string("Malformed tokenizer.json: ") + component + ": the regular expression '"
                        + pattern.toStdString() + "' does not compile (" + p.m_regex->errorString().toStdString()
                        + " at offset " + std::to_string(p.m_regex->patternErrorOffset()) + ").");
    p.m_regex->optimize();
    p.m_component = component;
    return p;
}

Pattern Pattern::predicate(std::function<bool(char32_t)> pred)
{
    Pattern p;
    p.m_kind = Kind::Predicate;
    p.m_pred = std::move(pred);
    return p;
}

std::vector<PatternMatch> Pattern::findMatches(const std::u32string& text) const
{
    std::vector<PatternMatch> out;
    const size_t n = text.size();
    if (n == 0) {
        out.push_back({0, 0, false});
        return out;
    }
    size_t prev = 0;
    auto addMatch = [&](size_t s, size_t e) {
        if (prev != s)
            out.push_back({prev, s, false});
        out.push_back({s, e, true});
        prev = e;
    };
    switch (m_kind) {
    case Kind::Literal: {
        if (m_literal.empty()) {
            out.push_back({0, n, false});
            return out;
        }
        size_t pos = 0;
        while ((pos = text.find(m_literal, pos)) != std::u32string::npos) {
            addMatch(pos, pos + m_literal.size());
            pos += m_literal.size();
        }
        break;
    }
    case Kind::Predicate:
        for (size_t i = 0; i < n; ++i)
            if (m_pred(text[i]))
                addMatch(i, i + 1);
        break;
    case Kind::Regex: {
        const QString q = toQString(text);
        // UTF-16 index -> code point index (identity unless there are astral characters).
        std::vector<size_t> cpIndex;
        if (size_t(q.size()) != n) {
            cpIndex.resize(size_t(q.size()) + 1);
            size_t cp = 0;
            for (qsizetype i = 0; i < q.size(); ++i) {
                cpIndex[size_t(i)] = cp;
                if (!(q.at(i).isHighSurrogate() && i + 1 < q.size() && q.at(i + 1).isLowSurrogate()))
                    ++cp;
            }
            cpIndex[size_t(q.size())] = cp;
        }
        auto toCp = [&](qsizetype i) { return cpIndex.empty() ? size_t(i) : cpIndex[size_t(i)]; };
        // The pass charges its time to the encode's regex budget every 256 matches and at its end,
        // and stops when the encode is cancelled.
        using Clock = std::chrono::steady_clock;
        Clock::time_point last = Clock::now();
        auto charge = [&] {
            const Clock::time_point now = Clock::now();
            chargeRegexTime(std::chrono::duration<double>(now - last).count(), m_component);
            last = now;
        };
        auto it = m_regex->globalMatch(q);
        qsizetype lastEnd = 0;
        size_t count = 0;
        while (it.hasNext()) {
            const QRegularExpressionMatch m = it.next();
            addMatch(toCp(m.capturedStart()), toCp(m.capturedEnd()));
            lastEnd = m.capturedEnd();
            if ((++count & 255) == 0) {
                throwIfCancelled();
                charge();
            }
        }
        // globalMatch ends silently when the regex engine gives up (its backtracking limit), which
        // would tokenize the rest as if nothing matched: ask once more from where it ended.
        if (!m_regex->match(q, lastEnd).isValid())
            throw Error(ErrorCode::InvalidArgument,
                        "Tokenizing stopped: the regular expression of " + m_component
                            + " gave up on this prompt after character " + std::to_string(toCp(lastEnd))
                            + " of a piece (the regex engine's backtracking limit). Shorten the prompt, break up its "
                              "long words, or use another tokenizer.");
        charge();
        break;
    }
    }
    if (prev != n)
        out.push_back({prev, n, false});
    return out;
}

void splitPiece(const NormalizedText& piece, const Pattern& pattern, SplitBehavior behavior, bool invert,
                std::vector<NormalizedText>& out)
{
    std::vector<PatternMatch> matches = pattern.findMatches(piece.text);
    if (invert)
        for (auto& m : matches)
            m.isMatch = !m.isMatch;

    struct Cut {
        size_t start, end;
        bool remove;
    };
    std::vector<Cut> cuts;
    cuts.reserve(matches.size());
    switch (behavior) {
    case SplitBehavior::Isolated:
        for (const auto& m : matches)
            cuts.push_back({m.start, m.end, false});
        break;
    case SplitBehavior::Removed:
        for (const auto& m : matches)
            cuts.push_back({m.start, m.end, m.isMatch});
        break;
    case SplitBehavior::Contiguous: {
        bool previous = false;
        for (const auto& m : matches) {
            if (m.isMatch == previous && !cuts.empty())
                cuts.back().end = m.end;
            else
                cuts.push_back({m.start, m.end, false});
            previous = m.isMatch;
        }
        break;
    }
    case SplitBehavior::MergedWithPrevious: {
        bool previous = false;
        for (const auto& m : matches) {
            if (m.isMatch && !previous && !cuts.empty())
                cuts.back().end = m.end;
            else
                cuts.push_back({m.start, m.end, false});
            previous = m.isMatch;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool previous = false;
        for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
            if (it->isMatch && !previous && !cuts.empty())
                cuts.back().start = it->start;
            else
                cuts.push_back({it->start, it->end, false});
            previous = it->isMatch;
        }
        std::reverse(cuts.begin(), cuts.end());
        break;
    }
    }
    for (const Cut& c : cuts)
        if (!c.remove && c.end > c.start)
            out.push_back(piece.slice(c.start, c.end));
}

void replaceAll(NormalizedText& piece, const Pattern& pattern, const std::u32string& content)
{
    // One pass instead of one splice per match (prompts can hold tens of thousands of spaces).
    // Inserted characters take the alignment of the last character they replace, as a
    // transformRange() with "removed = match length" would give them.
    const std::vector<PatternMatch> matches = pattern.findMatches(piece.text);
    bool any = false;
    for (const auto& m : matches)
        any = any || m.isMatch;
    if (!any)
        return;
    std::u32string text;
    std::vector<Span> align;
    text.reserve(piece.text.size() + piece.text.size() / 4);
    align.reserve(text.capacity());
    for (const auto& m : matches) {
        if (!m.isMatch) {
            text.append(piece.text, m.start, m.end - m.start);
            align.insert(align.end(), piece.align.begin() + long(m.start), piece.align.begin() + long(m.end));
            continue;
        }
        Span a{0, 0};
        if (m.end >= 1)
            a = piece.align[m.end - 1];
        for (char32_t c : content) {
            text.push_back(c);
            align.push_back(a);
        }
    }
    piece.text.swap(text);
    piece.align.swap(align);
}

} // namespace sinkscope::tok
