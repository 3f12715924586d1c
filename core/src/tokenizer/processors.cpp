// SPDX-License-Identifier: GPL-3.0-or-later
// Post-processors (special tokens around the sequence, offset trimming) and decoders.
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"

namespace sinkscope::tok {

namespace {

struct SpecialPiece {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
};

void appendSpecial(std::vector<EncToken>& out, const SpecialPiece& p)
{
    for (size_t i = 0; i < p.ids.size(); ++i) {
        EncToken t;
        t.id = p.ids[i];
        t.value = p.tokens[i];
        t.special = true;
        t.addedByPostProcessor = true;
        out.push_back(std::move(t));
    }
}

// Moves token offsets off the spaces a byte-level token starts or ends with.
void trimOffsets(std::vector<EncToken>& tokens, bool addPrefixSpace)
{
    for (size_t i = 0; i < tokens.size(); ++i) {
        EncToken& t = tokens[i];
        if (t.addedByPostProcessor)
            continue;
        const std::u32string v = decodeUtf8Trusted(t.value);
        auto isSpace = [](char32_t c) { return c == 0x120 || isWhitespace(c); };
        size_t leading = 0;
        while (leading < v.size() && isSpace(v[leading]))
            ++leading;
        size_t trailing = 0;
        while (trailing < v.size() && isSpace(v[v.size() - 1 - trailing]))
            ++trailing;
        if (leading == 0 && trailing == 0)
            continue;
        if (leading > 0) {
            const bool isFirst = i == 0 || t.start == 0;
            if (isFirst && addPrefixSpace && leading == 1)
                leading = 0;
            t.start = std::min<int32_t>(t.start + int32_t(leading), t.end);
        }
        if (trailing > 0 && t.end >= int32_t(trailing))
            t.end = std::max<int32_t>(t.end - int32_t(trailing), t.start);
    }
}

class TemplateProcessor final : public PostProcessor {
public:
    struct Item {
        bool sequence;
        std::string special;
    };
    std::vector<Item> single;
    std::unordered_map<std::string, SpecialPiece> specials;

    void process(std::vector<EncToken>& tokens, bool addSpecial) const override
    {
        if (!addSpecial)
            return;
        std::vector<EncToken> out;
        out.reserve(tokens.size() + 4);
        for (const Item& item : single) {
            if (item.sequence)
                for (EncToken& t : tokens)
                    out.push_back(std::move(t));
            else
                appendSpecial(out, specials.at(item.special));
        }
        tokens.swap(out);
    }
};

class WrapProcessor final : public PostProcessor { // BertProcessing and RobertaProcessing
public:
    SpecialPiece cls, sep;
    bool trim = false;
    bool prefixSpace = false;
    void process(std::vector<EncToken>& tokens, bool addSpecial) const override
    {
        if (trim)
            trimOffsets(tokens, prefixSpace);
        if (!addSpecial)
            return;
        std::vector<EncToken> out;
        out.reserve(tokens.size() + 2);
        appendSpecial(out, cls);
        for (EncToken& t : tokens)
            out.push_back(std::move(t));
        appendSpecial(out, sep);
        tokens.swap(out);
    }
};

class ByteLevelProcessor final : public PostProcessor {
public:
    bool trim = true;
    bool prefixSpace = true;
    void process(std::vector<EncToken>& tokens, bool) const override
    {
        if (trim)
            trimOffsets(tokens, prefixSpace);
    }
};

class SequenceProcessor final : public PostProcessor {
public:
    std::vector<std::unique_ptr<PostProcessor>> parts;
    void process(std::vector<EncToken>& tokens, bool addSpecial) const override
    {
        for (const auto& p : parts)
            p->process(tokens, addSpecial);
    }
};

SpecialPiece readPair(json::Value o, const char* key, const std::string& c)
{
    const auto& a = requireArray(o, key, c);
    if (a.size() != 2 || !a[0].isString() || !a[1].isNumber() || a[1].number() < 0 || a[1].number() > 2147483647.0)
        malformed(c, std::string("\"") + key + "\" must be [token, id]");
    return SpecialPiece{{int32_t(a[1].number())}, {a[0].str()}};
}

} // namespace

std::unique_ptr<PostProcessor> makePostProcessor(json::Value v, const std::string& component)
{
    if (absent(v))
        return nullptr;
    json::Value o = requireObject(v, component);
    const std::string type = requireString(o, "type", component);
    const std::string c = component + " " + type;
    if (type == "TemplateProcessing") {
        auto p = std::make_unique<TemplateProcessor>();
        json::Value specials = requireObject(o.find("special_tokens"), c + " special_tokens");
        for (const auto [key, value] : specials.members()) {
            const std::string name(key);
            const std::string sc = c + " special token '" + name + "'";
            json::Value so = requireObject(value, sc);
            const auto& ids = requireArray(so, "ids", sc);
            const auto& toks = requireArray(so, "tokens", sc);
            if (ids.size() != toks.size())
                malformed(sc, "\"ids\" and \"tokens\" differ in length");
            SpecialPiece piece;
            for (size_t i = 0; i < ids.size(); ++i) {
                if (!ids[i].isNumber() || ids[i].number() < 0 || ids[i].number() > 2147483647.0 || !toks[i].isString())
                    malformed(sc, "ids must be non-negative integers and tokens strings");
                piece.ids.push_back(int32_t(ids[i].number()));
                piece.tokens.push_back(toks[i].str());
            }
            p->specials[name] = std::move(piece);
        }
        const std::vector<json::Value> single = requireArray(o, "single", c);
        for (size_t i = 0; i < single.size(); ++i) {
            json::Value item = requireObject(single[i], c + " single[" + std::to_string(i) + "]");
            if (item.contains("Sequence")) {
                p->single.push_back({true, {}});
            } else if (item.contains("SpecialToken")) {
                json::Value st = requireObject(item.find("SpecialToken"), c);
                const std::string id = requireString(st, "id", c);
                if (!p->specials.count(id))
                    malformed(c, "the template uses '" + id + "', which is not among its special_tokens");
                p->single.push_back({false, id});
            } else {
                malformed(c, "template items must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
        }
        return p;
    }
    if (type == "BertProcessing" || type == "RobertaProcessing") {
        auto p = std::make_unique<WrapProcessor>();
        p->cls = readPair(o, "cls", c);
        p->sep = readPair(o, "sep", c);
        if (type == "RobertaProcessing") {
            p->trim = optBool(o, "trim_offsets", c, true);
            p->prefixSpace = optBool(o, "add_prefix_space", c, true);
        }
        return p;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<ByteLevelProcessor>();
        p->trim = optBool(o, "trim_offsets", c, true);
        p->prefixSpace = optBool(o, "add_prefix_space", c, true);
        return p;
    }
    if (type == "Sequence") {
        return makeSequence<SequenceProcessor>(o, "processors", c, makePostProcessor);
    }
    unsupported(c, "this post-processor type is not implemented");
}

// ---- decoders -----------------------------------------------------------------------------------

namespace {

class ByteLevelDecoder final : public Decoder {
public:
    bool isByteLevel() const override { return true; }
    void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const override
    {
        std::string bytes;
        for (const std::string& t : tokens) {
            const std::u32string u = decodeUtf8Trusted(t);
            std::string mapped;
            bool all = true;
            for (char32_t c : u) {
                const int b = charToByte(c);
                if (b < 0) {
                    all = false;
                    break;
                }
                mapped.push_back(char(b));
            }
            bytes += all ? mapped : t;
        }
        tokens.assign(1, mode == DecodeMode::Text ? utf8Lossy(bytes) : bytes);
    }
};

class ByteFallbackDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const override
    {
        std::vector<std::string> out;
        std::string pending;
        auto flush = [&]() {
            if (pending.empty())
                return;
            if (mode == DecodeMode::Display) {
                out.push_back(pending);
            } else {
                const std::string lossy = utf8Lossy(pending);
                if (lossy.size() == pending.size() && lossy == pending)
                    out.push_back(pending);
                else
                    for (size_t i = 0; i < pending.size(); ++i)
                        out.emplace_back("\xEF\xBF\xBD");
            }
            pending.clear();
        };
        for (std::string& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                const auto hex = [](char ch) {
                    if (ch >= '0' && ch <= '9')
                        return ch - '0';
                    if (ch >= 'A' && ch <= 'F')
                        return ch - 'A' + 10;
                    if (ch >= 'a' && ch <= 'f')
                        return ch - 'a' + 10;
                    return -1;
                };
                const int hi = hex(t[3]), lo = hex(t[4]);
                if (hi >= 0 && lo >= 0)
                    byte = hi * 16 + lo;
            }
            if (byte >= 0) {
                pending.push_back(char(byte));
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens.swap(out);
    }
};

class FuseDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens, DecodeMode) const override
    {
        std::string all;
        for (const std::string& t : tokens)
            all += t;
        tokens.assign(1, all);
    }
};

class StripDecoder final : public Decoder {
public:
    char32_t content = U' ';
    size_t start = 0, stop = 0;
    void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const override
    {
        if (mode == DecodeMode::Display)
            return; // a token shown alone keeps its spaces
        for (std::string& t : tokens) {
            const std::u32string u = decodeUtf8Trusted(t);
            size_t a = 0;
            while (a < start && a < u.size() && u[a] == content)
                ++a;
            size_t b = u.size();
            size_t removed = 0;
            while (removed < stop && b > a && u[b - 1] == content) {
                --b;
                ++removed;
            }
            t = encodeUtf8(u.substr(a, b - a));
        }
    }
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(Pattern p, std::u32string c) : m_pattern(std::move(p)), m_content(std::move(c)) {}
    void decodeChain(std::vector<std::string>& tokens, DecodeMode) const override
    {
        for (std::string& t : tokens) {
            if (t.empty())
                continue;
            const std::u32string u = decodeUtf8Trusted(t);
            std::u32string out;
            for (const PatternMatch& m : m_pattern.findMatches(u)) {
                if (m.isMatch)
                    out += m_content;
                else
                    out.append(u, m.start, m.end - m.start);
            }
            t = encodeUtf8(out);
        }
    }

private:
    Pattern m_pattern;
    std::u32string m_content;
};

class MetaspaceDecoder final : public Decoder {
public:
    char32_t replacement = 0x2581;
    bool prepends = true;
    void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const override
    {
        for (size_t i = 0; i < tokens.size(); ++i) {
            const std::u32string u = decodeUtf8Trusted(tokens[i]);
            std::u32string out;
            for (char32_t c : u) {
                if (c == replacement) {
                    if (!(i == 0 && prepends && mode == DecodeMode::Text))
                        out.push_back(U' ');
                } else {
                    out.push_back(c);
                }
            }
            tokens[i] = encodeUtf8(out);
        }
    }
};

class WordPieceDecoder final : public Decoder {
public:
    std::string prefix = "##";
    bool cleanup = true;
    static void replaceAllStr(std::string& s, const std::string& from, const std::string& to)
    {
        size_t pos = 0;
        while ((pos = s.find(from, pos)) != std::string::npos) {
            s.replace(pos, from.size(), to);
            pos += to.size();
        }
    }
    void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const override
    {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i != 0 || mode == DecodeMode::Display) {
                if (!prefix.empty() && t.compare(0, prefix.size(), prefix) == 0)
                    t.erase(0, prefix.size());
                else
                    t = " " + t;
            }
            if (cleanup) {
                static const std::pair<const char*, const char*> rules[] = {
                    {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
                    {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
                for (const auto& [from, to] : rules)
                    replaceAllStr(t, from, to);
            }
        }
    }
};

class BpeDecoder final : public Decoder {
public:
    std::string suffix = "</w>";
    void decodeChain(std::vector<std::string>& tokens, DecodeMode) const override
    {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            const std::string repl = i + 1 == tokens.size() ? "" : " ";
            size_t pos = 0;
            while (!suffix.empty() && (pos = t.find(suffix, pos)) != std::string::npos) {
                t.replace(pos, suffix.size(), repl);
                pos += repl.size();
            }
        }
    }
};

class SequenceDecoder final : public Decoder {
public:
    std::vector<std::unique_ptr<Decoder>> parts;
    bool isByteLevel() const override
    {
        for (const auto& p : parts)
            if (p->isByteLevel())
                return true;
        return false;
    }
    void decodeChain(std::vector<std::string>& tokens, DecodeMode mode) const override
    {
        for (const auto& p : parts)
            p->decodeChain(tokens, mode);
    }
};

} // namespace

std::unique_ptr<Decoder> makeDecoder(json::Value v, const std::string& component)
{
    if (absent(v))
        return nullptr;
    json::Value o = requireObject(v, component);
    const std::string type = requireString(o, "type", component);
    const std::string c = component + " " + type;
    if (type == "Sequence") {
        return makeSequence<SequenceDecoder>(o, "decoders", c, makeDecoder);
    }
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback")
        return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse")
        return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        auto d = std::make_unique<StripDecoder>();
        d->content = requireChar(o, "content", c);
        d->start = size_t(requireInt(o, "start", c));
        d->stop = size_t(requireInt(o, "stop", c));
        return d;
    }
    if (type == "Replace") {
        if (!o.contains("pattern"))
            malformed(c, "missing \"pattern\"");
        return std::make_unique<ReplaceDecoder>(readPattern(o.find("pattern"), c),
                                                decodeUtf8Trusted(requireString(o, "content", c)));
    }
    if (type == "Metaspace") {
        auto d = std::make_unique<MetaspaceDecoder>();
        d->replacement = requireChar(o, "replacement", c);
        const std::string scheme = optString(o, "prepend_scheme", c, "always");
        d->prepends = scheme != "never" && optBool(o, "add_prefix_space", c, true);
        return d;
    }
    if (type == "WordPiece") {
        auto d = std::make_unique<WordPieceDecoder>();
        d->prefix = optString(o, "prefix", c, "##");
        d->cleanup = optBool(o, "cleanup", c, true);
        return d;
    }
    if (type == "BPEDecoder") {
        auto d = std::make_unique<BpeDecoder>();
        d->suffix = optString(o, "suffix", c, "</w>");
        return d;
    }
    unsupported(c, "this decoder type is not implemented");
}

} // namespace sinkscope::tok
