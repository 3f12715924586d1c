// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"

namespace sinkscope::tok {

namespace {

void applyUnicodeForm(NormalizedText& t, UnicodeForm form)
{
    std::vector<std::pair<char32_t, int>> changes;
    if (normalizationChanges(t.text, form, changes))
        t.transform(changes, 0);
}

class UnicodeNormalizer final : public Normalizer {
public:
    explicit UnicodeNormalizer(UnicodeForm f) : m_form(f) {}
    void normalize(NormalizedText& t) const override { applyUnicodeForm(t, m_form); }

private:
    UnicodeForm m_form;
};

class LowercaseNormalizer final : public Normalizer {
public:
    void normalize(NormalizedText& t) const override { t.lowercase(); }
};

class StripAccentsNormalizer final : public Normalizer {
public:
    void normalize(NormalizedText& t) const override
    {
        t.filter([](char32_t c) { return !isMark(c); });
    }
};

class StripNormalizer final : public Normalizer {
public:
    StripNormalizer(bool l, bool r) : m_left(l), m_right(r) {}
    void normalize(NormalizedText& t) const override { t.strip(m_left, m_right); }

private:
    bool m_left, m_right;
};

class PrependNormalizer final : public Normalizer {
public:
    explicit PrependNormalizer(std::u32string s) : m_prefix(std::move(s)) {}
    void normalize(NormalizedText& t) const override { t.prepend(m_prefix); }

private:
    std::u32string m_prefix;
};

class AppendNormalizer final : public Normalizer {
public:
    explicit AppendNormalizer(std::u32string s) : m_suffix(std::move(s)) {}
    void normalize(NormalizedText& t) const override { t.append(m_suffix); }

private:
    std::u32string m_suffix;
};

class ReplaceNormalizer final : public Normalizer {
public:
    ReplaceNormalizer(Pattern p, std::u32string content) : m_pattern(std::move(p)), m_content(std::move(content)) {}
    void normalize(NormalizedText& t) const override { replaceAll(t, m_pattern, m_content); }

private:
    Pattern m_pattern;
    std::u32string m_content;
};

class BertNormalizer final : public Normalizer {
public:
    BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
        : m_clean(clean), m_chinese(chinese), m_strip(strip), m_lower(lower)
    {
    }
    void normalize(NormalizedText& t) const override
    {
        if (m_clean) {
            t.filter([](char32_t c) {
                const bool control = c != '\t' && c != '\n' && c != '\r' && isOtherCategory(c);
                return !(c == 0 || c == 0xFFFD || control);
            });
            t.map([](char32_t c) {
                return (c == '\t' || c == '\n' || c == '\r' || isWhitespace(c)) ? char32_t(' ') : c;
            });
        }
        if (m_chinese) {
            bool any = false;
            for (char32_t c : t.text)
                if (isChineseChar(c)) {
                    any = true;
                    break;
                }
            if (any) {
                std::vector<std::pair<char32_t, int>> dest;
                dest.reserve(t.text.size() + 16);
                for (char32_t c : t.text) {
                    if (isChineseChar(c)) {
                        dest.emplace_back(U' ', 1);
                        dest.emplace_back(c, 0);
                        dest.emplace_back(U' ', 1);
                    } else {
                        dest.emplace_back(c, 0);
                    }
                }
                t.transform(dest, 0);
            }
        }
        if (m_strip) {
            applyUnicodeForm(t, UnicodeForm::NFD);
            t.filter([](char32_t c) { return !isMarkNonSpacing(c); });
        }
        if (m_lower)
            t.lowercase();
    }

private:
    bool m_clean, m_chinese, m_strip, m_lower;
};

class SequenceNormalizer final : public Normalizer {
public:
    std::vector<std::unique_ptr<Normalizer>> parts;
    void normalize(NormalizedText& t) const override
    {
        for (const auto& p : parts) {
            throwIfCancelled();
            p->normalize(t);
        }
    }
};

} // namespace

std::unique_ptr<Normalizer> makeNormalizer(json::Value v, const std::string& component)
{
    if (absent(v))
        return nullptr;
    json::Value o = requireObject(v, component);
    const std::string type = requireString(o, "type", component);
    const std::string c = component + " " + type;
    if (type == "Sequence") {
        return makeSequence<SequenceNormalizer>(o, "normalizers", c, makeNormalizer);
    }
    if (type == "NFC")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFC);
    if (type == "NFD")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFD);
    if (type == "NFKC")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKC);
    if (type == "NFKD")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKD);
    if (type == "Lowercase")
        return std::make_unique<LowercaseNormalizer>();
    if (type == "StripAccents")
        return std::make_unique<StripAccentsNormalizer>();
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(optBool(o, "strip_left", c, true), optBool(o, "strip_right", c, true));
    if (type == "Prepend")
        return std::make_unique<PrependNormalizer>(decodeUtf8Trusted(requireString(o, "prepend", c)));
    if (type == "Append")
        return std::make_unique<AppendNormalizer>(decodeUtf8Trusted(requireString(o, "append", c)));
    if (type == "Replace") {
        if (!o.contains("pattern"))
            malformed(c, "missing \"pattern\"");
        return std::make_unique<ReplaceNormalizer>(readPattern(o.find("pattern"), c),
                                                   decodeUtf8Trusted(requireString(o, "content", c)));
    }
    if (type == "BertNormalizer") {
        const bool lower = optBool(o, "lowercase", c, true);
        // strip_accents: null means "same as lowercase", as in BERT's original code.
        const bool strip = optBool(o, "strip_accents", c, lower);
        return std::make_unique<BertNormalizer>(optBool(o, "clean_text", c, true),
                                                optBool(o, "handle_chinese_chars", c, true), strip, lower);
    }
    unsupported(c, "this normalizer type is not implemented");
}

} // namespace sinkscope::tok
