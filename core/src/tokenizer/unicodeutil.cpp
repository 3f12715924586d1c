// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenizer/unicodeutil.h"

#include "sinkscope/error.h"

#include <QChar>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

namespace sinkscope::tok {

static char32_t decodeAt(const unsigned char* p, int len)
{
    if (len == 1)
        return p[0];
    char32_t c = p[0] & (0x7F >> len);
    for (int i = 1; i < len; ++i)
        c = (c << 6) | (p[i] & 0x3F);
    return c;
}

std::u32string decodeUtf8(const std::string& utf8, const char* what)
{
    std::u32string out;
    out.reserve(utf8.size());
    const auto* p = reinterpret_cast<const unsigned char*>(utf8.data());
    const size_t n = utf8.size();
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            out.push_back(p[i]);
            ++i;
            continue;
        }
        const int len = utf8SequenceLength(p + i, n - i);
        if (len == 0) {
            char buf[96];
            std::snprintf(buf, sizeof buf, " is not valid UTF-8 (byte 0x%02X at byte offset %zu).",
                          unsigned(p[i]), i);
            throw Error(ErrorCode::InvalidArgument, std::string(what) + buf);
        }
        out.push_back(decodeAt(p + i, len));
        i += size_t(len);
    }
    return out;
}

std::u32string decodeUtf8Trusted(const std::string& utf8)
{
    std::u32string out;
    out.reserve(utf8.size());
    const auto* p = reinterpret_cast<const unsigned char*>(utf8.data());
    const size_t n = utf8.size();
    size_t i = 0;
    while (i < n) {
        int len = utf8SequenceLength(p + i, n - i);
        if (len == 0) { // cannot happen for text that came from QString; be safe anyway
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        out.push_back(decodeAt(p + i, len));
        i += size_t(len);
    }
    return out;
}

void appendUtf8(std::string& out, char32_t c)
{
    if (c < 0x80) {
        out.push_back(char(c));
    } else if (c < 0x800) {
        out.push_back(char(0xC0 | (c >> 6)));
        out.push_back(char(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(char(0xE0 | (c >> 12)));
        out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(char(0x80 | (c & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (c >> 18)));
        out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(char(0x80 | (c & 0x3F)));
    }
}

std::string encodeUtf8(const char32_t* text, size_t n)
{
    std::string out;
    out.reserve(n + n / 2);
    for (size_t i = 0; i < n; ++i)
        appendUtf8(out, text[i]);
    return out;
}

std::string encodeUtf8(const std::u32string& text)
{
    return encodeUtf8(text.data(), text.size());
}

QString toQString(const std::u32string& text)
{
    return QString::fromUcs4(text.data(), qsizetype(text.size()));
}

std::u32string fromQString(const QString& text)
{
    std::u32string out;
    out.reserve(size_t(text.size()));
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (c.isHighSurrogate() && i + 1 < text.size() && text.at(i + 1).isLowSurrogate()) {
            out.push_back(QChar::surrogateToUcs4(c, text.at(i + 1)));
            ++i;
        } else {
            out.push_back(c.unicode());
        }
    }
    return out;
}

bool isWhitespace(char32_t c)
{
    if (c < 0x80)
        return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

bool isPunctuation(char32_t c)
{
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
            || (c >= 0x7B && c <= 0x7E);
    switch (QChar::category(c)) {
    case QChar::Punctuation_Connector:
    case QChar::Punctuation_Dash:
    case QChar::Punctuation_Open:
    case QChar::Punctuation_Close:
    case QChar::Punctuation_InitialQuote:
    case QChar::Punctuation_FinalQuote:
    case QChar::Punctuation_Other:
        return true;
    default:
        return false;
    }
}

bool isNumeric(char32_t c)
{
    if (c < 0x80)
        return c >= '0' && c <= '9';
    switch (QChar::category(c)) {
    case QChar::Number_DecimalDigit:
    case QChar::Number_Letter:
    case QChar::Number_Other:
        return true;
    default:
        return false;
    }
}

bool isWordChar(char32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (c == 0x200C || c == 0x200D)
        return true;
    // Other_Alphabetic symbols (circled and squared Latin letters) count as alphabetic.
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169)
        || (c >= 0x1F170 && c <= 0x1F189))
        return true;
    switch (QChar::category(c)) {
    case QChar::Letter_Uppercase:
    case QChar::Letter_Lowercase:
    case QChar::Letter_Titlecase:
    case QChar::Letter_Modifier:
    case QChar::Letter_Other:
    case QChar::Number_Letter:
    case QChar::Number_DecimalDigit:
    case QChar::Mark_NonSpacing:
    case QChar::Mark_SpacingCombining:
    case QChar::Mark_Enclosing:
    case QChar::Punctuation_Connector:
        return true;
    default:
        return false;
    }
}

bool isOtherCategory(char32_t c)
{
    switch (QChar::category(c)) {
    case QChar::Other_Control:
    case QChar::Other_Format:
    case QChar::Other_Surrogate:
    case QChar::Other_PrivateUse:
        return true;
    default:
        return false;
    }
}

bool isMarkNonSpacing(char32_t c)
{
    return c >= 0x300 && QChar::category(c) == QChar::Mark_NonSpacing;
}

bool isMark(char32_t c)
{
    if (c < 0x300)
        return false;
    const QChar::Category cat = QChar::category(c);
    return cat == QChar::Mark_NonSpacing || cat == QChar::Mark_SpacingCombining || cat == QChar::Mark_Enclosing;
}

bool isChineseChar(char32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
        || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F)
        || (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF)
        || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string toLowerFull(char32_t c)
{
    if (c < 0x80)
        return std::u32string(1, (c >= 'A' && c <= 'Z') ? c + 32 : c);
    if (c == 0x130) // the one unconditional multi-character lower-case mapping
        return U"i\u0307";
    return std::u32string(1, QChar::toLower(c));
}

namespace {

const std::u32string& decomposition(char32_t c, bool compat)
{
    thread_local std::unordered_map<char32_t, std::u32string> canonical, compatibility;
    auto& cache = compat ? compatibility : canonical;
    auto it = cache.find(c);
    if (it != cache.end())
        return it->second;
    // A leading space keeps Qt from treating U+FEFF as a byte order mark and dropping it.
    const QString q = toQString(std::u32string{U' ', c})
                          .normalized(compat ? QString::NormalizationForm_KD : QString::NormalizationForm_D);
    return cache.emplace(c, fromQString(q).substr(1)).first->second;
}

// Primary composite of (a, b), or 0 when the pair does not compose.
char32_t composePair(char32_t a, char32_t b)
{
    thread_local std::unordered_map<uint64_t, char32_t> cache;
    const uint64_t key = (uint64_t(a) << 32) | b;
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second;
    // The leading space never composes; it keeps a U+FEFF from being dropped as a byte order mark.
    const std::u32string pair{U' ', a, b};
    const std::u32string composed = fromQString(toQString(pair).normalized(QString::NormalizationForm_C));
    const char32_t result = composed.size() == 2 ? composed[1] : 0;
    cache.emplace(key, result);
    return result;
}

} // namespace

bool normalizationChanges(const std::u32string& text, UnicodeForm form,
                          std::vector<std::pair<char32_t, int>>& changes)
{
    static const QString::NormalizationForm qtForm[] = {QString::NormalizationForm_C, QString::NormalizationForm_D,
                                                        QString::NormalizationForm_KC, QString::NormalizationForm_KD};
    bool ascii = true;
    for (char32_t c : text)
        if (c >= 0x80) {
            ascii = false;
            break;
        }
    if (ascii)
        return false;
    const QString q = toQString(text);
    if (q.normalized(qtForm[int(form)]) == q)
        return false; // normalizing a normalized text maps every character onto itself

    const bool compat = form == UnicodeForm::NFKC || form == UnicodeForm::NFKD;
    const bool compose = form == UnicodeForm::NFC || form == UnicodeForm::NFKC;

    // 1. Decompose character by character: the first output character replaces the source
    //    character, the others are insertions. This is the convention of the reference's
    //    alignment-tracking normalizer, so offsets come out the same.
    changes.clear();
    changes.reserve(text.size() + 8);
    for (char32_t c : text) {
        if (c < 0x80) {
            changes.emplace_back(c, 0);
            continue;
        }
        const std::u32string& d = decomposition(c, compat);
        if (d.empty()) {
            changes.emplace_back(c, 0);
            continue;
        }
        for (size_t k = 0; k < d.size(); ++k)
            changes.emplace_back(d[k], k == 0 ? 0 : 1);
    }
    // 2. Canonical ordering: stable sort of each run of non-starters; the change tags travel
    //    with their characters.
    auto ccc = [](char32_t c) { return c < 0x300 ? 0 : int(QChar::combiningClass(c)); };
    for (size_t i = 0; i < changes.size();) {
        if (ccc(changes[i].first) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < changes.size() && ccc(changes[j].first) != 0)
            ++j;
        if (j - i > 1)
            std::stable_sort(changes.begin() + long(i), changes.begin() + long(j),
                             [&](const auto& a, const auto& b) { return ccc(a.first) < ccc(b.first); });
        i = j;
    }
    if (!compose)
        return true;
    // 3. Canonical composition. An absorbed character folds its change into the starter's
    //    (one more removed source character for each one that was not an insertion).
    std::vector<std::pair<char32_t, int>> out;
    out.reserve(changes.size());
    long starter = -1;
    for (const auto& item : changes) {
        const int cc = ccc(item.first);
        if (starter >= 0) {
            const bool adjacent = size_t(starter) + 1 == out.size();
            bool blocked = true;
            if (adjacent) {
                blocked = false;
            } else {
                const int prev = ccc(out.back().first);
                blocked = !(prev != 0 && prev < cc);
            }
            if (!blocked) {
                const char32_t composite = composePair(out[size_t(starter)].first, item.first);
                if (composite != 0) {
                    out[size_t(starter)].first = composite;
                    out[size_t(starter)].second += item.second - 1;
                    continue;
                }
            }
        }
        if (cc == 0)
            starter = long(out.size());
        out.push_back(item);
    }
    changes.swap(out);
    return true;
}

} // namespace sinkscope::tok
