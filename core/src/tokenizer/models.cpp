// SPDX-License-Identifier: GPL-3.0-or-later
// Tokenizer models: BPE (byte-level and SentencePiece-style), WordPiece and WordLevel.
#include "tokenizer/components.h"
#include "tokenizer/unicodeutil.h"

#include <algorithm>
#include <cstdio>
#include <queue>

namespace sinkscope::tok {

std::optional<int32_t> Model::tokenToId(const std::string& piece) const
{
    const int32_t id = m_vocab.find(piece);
    if (id < 0)
        return std::nullopt;
    return id;
}

const std::string* Model::idToToken(int32_t id) const
{
    if (id < 0 || size_t(id) >= m_idToPiece.size() || !m_hasId[size_t(id)])
        return nullptr;
    return &m_idToPiece[size_t(id)];
}

void Model::readVocab(json::Value vocab, const std::string& component)
{
    const char* notObject = "\"vocab\" must be an object mapping pieces to ids";
    std::vector<std::pair<std::string, int32_t>> entries;
    if (!vocab.isObject())
        malformed(component, notObject);
    entries.reserve(vocab.size());
    for (const auto [key, v] : vocab.members()) {
        // integer() is nullopt for anything but a whole number in int64's range, so the range
        // check below never meets an undefined conversion.
        const std::optional<int64_t> id = v.integer();
        if (!id || *id < 0 || *id > 16 * 1024 * 1024)
            malformed(component, "vocabulary entry '" + std::string(key) + "' must map to a non-negative integer id");
        entries.emplace_back(std::string(key), int32_t(*id));
    }
    int32_t maxId = -1;
    for (const auto& e : entries)
        maxId = std::max(maxId, e.second);
    m_idToPiece.assign(size_t(maxId + 1), std::string());
    m_hasId.assign(size_t(maxId + 1), false);
    m_vocab.reserve(entries.size());
    for (auto& [key, id] : entries) {
        if (!m_hasId[size_t(id)]) {
            m_idToPiece[size_t(id)] = key;
            m_hasId[size_t(id)] = true;
        }
        m_vocab.insert(std::move(key), id);
    }
}

namespace {

std::string byteToken(uint8_t b)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(b));
    return buf;
}

class BpeModel final : public Model {
public:
    BpeModel(json::Value o, const std::string& c)
    {
        json::Value vocab = o.find("vocab");
        if (!vocab)
            malformed(c, "missing \"vocab\"");
        readVocab(vocab, c);
        m_prefix = optString(o, "continuing_subword_prefix", c);
        m_suffix = optString(o, "end_of_word_suffix", c);
        m_fuseUnk = optBool(o, "fuse_unk", c, false);
        m_byteFallback = optBool(o, "byte_fallback", c, false);
        m_ignoreMerges = optBool(o, "ignore_merges", c, false);
        const std::string unk = optString(o, "unk_token", c);
        if (!unk.empty()) {
            auto id = tokenToId(unk);
            m_unkId = id ? *id : -2; // -2: named but missing; an error only if it is ever needed
            m_unkName = unk;
        }
        // No token covers more characters than its piece has (a prefix or suffix only adds some).
        for (size_t k = 0; k < m_vocab.size(); ++k) {
            const std::string& piece = m_vocab.keyAt(k);
            m_maxPieceChars = std::max<size_t>(m_maxPieceChars, size_t(std::count_if(piece.begin(), piece.end(), [](char ch) {
                                                                   return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
                                                               })));
        }
        if (m_prefix.empty() && m_suffix.empty()) {
            for (size_t k = 0; k < m_vocab.size(); ++k) {
                const std::string& piece = m_vocab.keyAt(k);
                if (piece.empty() || piece.size() > 4)
                    continue;
                const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
                if (size_t(utf8SequenceLength(p, piece.size())) == piece.size())
                    m_charIds.emplace(decodeUtf8Trusted(piece)[0], m_vocab.idAt(k));
            }
        }
        if (m_byteFallback)
            for (int b = 0; b < 256; ++b) {
                auto id = tokenToId(byteToken(uint8_t(b)));
                m_byteIds[size_t(b)] = id ? *id : -1;
            }
        readMerges(o, c);
    }

    size_t minTokens(size_t chars) const override
    {
        // Every token covers at most m_maxPieceChars characters, except a fused run of unknown
        // characters, which may cover any number.
        if (chars == 0)
            return 0;
        if (m_fuseUnk)
            return 1;
        const size_t most = std::max<size_t>(m_maxPieceChars, 1);
        return (chars + most - 1) / most;
    }

    void tokenize(const NormalizedText& piece, std::vector<ModelToken>& out, WordCache& cache) const override
    {
        if (piece.text.empty())
            return;
        const std::string word = encodeUtf8(piece.text);
        if (m_ignoreMerges) {
            const int32_t id = m_vocab.find(word);
            if (id >= 0) {
                out.push_back({id, 0, int32_t(piece.text.size())});
                return;
            }
        }
        auto hit = cache.find(word);
        if (hit != cache.end()) {
            out.insert(out.end(), hit->second.begin(), hit->second.end());
            return;
        }
        std::vector<ModelToken> result;
        mergeWord(piece.text, result);
        out.insert(out.end(), result.begin(), result.end());
        if (word.size() < 256)
            cache.emplace(word, std::move(result));
    }

private:
    struct Symbol {
        int32_t id;
        int32_t prev;
        int32_t next;
        int32_t start;
        int32_t end;
        bool alive;
    };
    struct Candidate {
        uint32_t rank;
        int32_t pos;
        int32_t newId;
        bool operator<(const Candidate& o) const
        {
            // std::priority_queue is a max-heap: invert to pop the lowest rank, then leftmost.
            if (rank != o.rank)
                return rank > o.rank;
            return pos > o.pos;
        }
    };

    static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

    int32_t unkId() const
    {
        if (m_unkId == -2)
            malformed("model BPE", "unk_token '" + m_unkName + "' is not in the vocabulary");
        return m_unkId;
    }

    void readMerges(json::Value o, const std::string& c)
    {
        json::Value mv = o.find("merges");
        if (absent(mv))
            return;
        const size_t prefixLen = m_prefix.size();
        // Views into the document and one reused buffer: no allocation per merge but the map's.
        std::string merged;
        auto addMerge = [&](size_t i, std::string_view a, std::string_view b) {
            const int32_t ia = m_vocab.find(a);
            const int32_t ib = m_vocab.find(b);
            if (ia < 0 || ib < 0)
                malformed(c, "merge " + std::to_string(i) + " uses '" + std::string(ia >= 0 ? b : a)
                                 + "', which is not in the vocabulary");
            merged.assign(a);
            if (prefixLen > 0 && b.compare(0, prefixLen, m_prefix) == 0)
                merged.append(b.substr(prefixLen));
            else
                merged.append(b);
            const int32_t in = m_vocab.find(merged);
            if (in < 0)
                malformed(c, "merge " + std::to_string(i) + " produces '" + merged + "', which is not in the vocabulary");
            m_merges.insert(key(ia, ib), uint32_t(i), in);
        };
        auto splitMerge = [&](size_t i, std::string_view s) {
            const size_t sp = s.find(' ');
            if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
                malformed(c, "merge " + std::to_string(i) + " ('" + std::string(s)
                                 + "') is not two pieces separated by one space");
            addMerge(i, s.substr(0, sp), s.substr(sp + 1));
        };
        auto badShape = [&](size_t i) {
            malformed(c, "merge " + std::to_string(i) + " must be \"a b\" or [\"a\", \"b\"]");
        };
        if (!mv.isArray())
            malformed(c, "\"merges\" must be an array");
        m_merges.reserve(mv.size());
        size_t i = 0;
        for (const json::Value m : mv.elements()) {
            if (m.isString()) {
                splitMerge(i, m.string());
            } else {
                std::string_view pair[2];
                size_t n = 0;
                for (const json::Value part : m.elements()) {
                    if (n == 2 || !part.isString())
                        badShape(i);
                    pair[n++] = part.string();
                }
                if (n != 2)
                    badShape(i);
                addMerge(i, pair[0], pair[1]);
            }
            ++i;
        }
    }

    int32_t lookupChar(const std::u32string& w, size_t i) const
    {
        if (!m_charIds.empty() || (m_prefix.empty() && m_suffix.empty())) {
            auto it = m_charIds.find(w[i]);
            return it == m_charIds.end() ? -1 : it->second;
        }
        std::string s;
        if (i > 0)
            s += m_prefix;
        appendUtf8(s, w[i]);
        if (i + 1 == w.size())
            s += m_suffix;
        return m_vocab.find(s);
    }

    void mergeWord(const std::u32string& w, std::vector<ModelToken>& out) const
    {
        std::vector<Symbol> sym;
        sym.reserve(w.size() + 4);
        auto add = [&](int32_t id, int32_t s, int32_t e) {
            const int32_t n = int32_t(sym.size());
            if (n > 0)
                sym.back().next = n;
            sym.push_back({id, n - 1, -1, s, e, true});
        };
        int32_t unkStart = -1, unkEnd = -1;
        auto flushUnk = [&]() {
            if (unkStart >= 0)
                add(unkId(), unkStart, unkEnd);
            unkStart = -1;
        };
        std::string bytes;
        for (size_t i = 0; i < w.size(); ++i) {
            const int32_t id = lookupChar(w, i);
            if (id >= 0) {
                flushUnk();
                add(id, int32_t(i), int32_t(i + 1));
                continue;
            }
            if (m_byteFallback) {
                bytes.clear();
                if (i > 0)
                    bytes += m_prefix;
                appendUtf8(bytes, w[i]);
                if (i + 1 == w.size())
                    bytes += m_suffix;
                bool all = true;
                for (char b : bytes)
                    if (m_byteIds[uint8_t(b)] < 0) {
                        all = false;
                        break;
                    }
                if (all) {
                    // The reference does not flush a pending unknown here; neither do we.
                    for (char b : bytes)
                        add(m_byteIds[uint8_t(b)], int32_t(i), int32_t(i + 1));
                    continue;
                }
            }
            if (m_unkId != -1) {
                if (unkStart >= 0 && m_fuseUnk) {
                    unkEnd = int32_t(i + 1);
                } else {
                    flushUnk();
                    unkStart = int32_t(i);
                    unkEnd = int32_t(i + 1);
                }
            }
        }
        flushUnk();

        std::priority_queue<Candidate> queue;
        for (size_t i = 0; i + 1 < sym.size(); ++i) {
            if (const MergeMap::Entry* e = m_merges.find(key(sym[i].id, sym[i + 1].id)))
                queue.push({e->rank, int32_t(i), e->merged});
        }
        while (!queue.empty()) {
            const Candidate top = queue.top();
            queue.pop();
            Symbol& left = sym[size_t(top.pos)];
            if (!left.alive || left.next < 0)
                continue;
            const Symbol right = sym[size_t(left.next)];
            const MergeMap::Entry* current = m_merges.find(key(left.id, right.id));
            if (current == nullptr || current->merged != top.newId)
                continue; // stale entry
            left.id = top.newId;
            left.end = right.end;
            sym[size_t(left.next)].alive = false;
            left.next = right.next;
            if (right.next >= 0)
                sym[size_t(right.next)].prev = top.pos;
            if (left.prev >= 0) {
                if (const MergeMap::Entry* p = m_merges.find(key(sym[size_t(left.prev)].id, left.id)))
                    queue.push({p->rank, left.prev, p->merged});
            }
            if (left.next >= 0) {
                if (const MergeMap::Entry* n = m_merges.find(key(left.id, sym[size_t(left.next)].id)))
                    queue.push({n->rank, top.pos, n->merged});
            }
        }
        for (const Symbol& s : sym)
            if (s.alive)
                out.push_back({s.id, s.start, s.end});
    }

    std::string m_prefix, m_suffix, m_unkName;
    bool m_fuseUnk = false, m_byteFallback = false, m_ignoreMerges = false;
    size_t m_maxPieceChars = 0; // code points of the longest vocabulary piece
    int32_t m_unkId = -1;
    std::unordered_map<char32_t, int32_t> m_charIds;
    int32_t m_byteIds[256] = {};
    MergeMap m_merges;
};

class WordPieceModel final : public Model {
public:
    WordPieceModel(json::Value o, const std::string& c)
    {
        json::Value vocab = o.find("vocab");
        if (!vocab)
            malformed(c, "missing \"vocab\"");
        readVocab(vocab, c);
        m_unkName = optString(o, "unk_token", c, "[UNK]");
        m_prefix = optString(o, "continuing_subword_prefix", c, "##");
        if (!absent(o.find("max_input_chars_per_word")))
            m_maxChars = size_t(requireInt(o, "max_input_chars_per_word", c));
        auto id = tokenToId(m_unkName);
        m_unkId = id ? *id : -1;
        // No candidate longer than the longest vocabulary entry can match, so the greedy search
        // never builds one: the work per word is O(n * longest) instead of O(n^3) (4,000
        // characters under a huge max_input_chars_per_word took 43 s). Results are unchanged.
        for (int32_t i = 0; i < vocabEnd(); ++i)
            if (const std::string* s = idToToken(i))
                m_longest = std::max(m_longest, size_t(std::count_if(s->begin(), s->end(), [](char ch) {
                                         return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; // code points
                                     })));
    }

    void tokenize(const NormalizedText& piece, std::vector<ModelToken>& out, WordCache&) const override
    {
        const std::u32string& w = piece.text;
        const int32_t n = int32_t(w.size());
        if (n == 0)
            return;
        if (size_t(n) > m_maxChars) {
            out.push_back({unk(), 0, n});
            return;
        }
        const size_t first = out.size();
        int32_t start = 0;
        while (start < n) {
            if ((start & 1023) == 0)
                throwIfCancelled();
            int32_t end = int32_t(std::min<size_t>(size_t(n), size_t(start) + m_longest));
            int32_t found = -1;
            while (start < end) {
                std::string s = start > 0 ? m_prefix : std::string();
                s += encodeUtf8(w.data() + start, size_t(end - start));
                found = m_vocab.find(s);
                if (found >= 0)
                    break;
                --end;
            }
            if (found < 0) {
                out.resize(first);
                out.push_back({unk(), 0, n});
                return;
            }
            out.push_back({found, start, end});
            start = end;
        }
    }

private:
    int32_t unk() const
    {
        if (m_unkId < 0)
            malformed("model WordPiece", "unk_token '" + m_unkName + "' is not in the vocabulary");
        return m_unkId;
    }
    std::string m_unkName, m_prefix;
    size_t m_maxChars = 100;
    size_t m_longest = 0; // code points of the longest vocabulary entry
    int32_t m_unkId = -1;
};

class WordLevelModel final : public Model {
public:
    WordLevelModel(json::Value o, const std::string& c)
    {
        json::Value vocab = o.find("vocab");
        if (!vocab)
            malformed(c, "missing \"vocab\"");
        readVocab(vocab, c);
        m_unkName = optString(o, "unk_token", c, "<unk>");
        auto id = tokenToId(m_unkName);
        m_unkId = id ? *id : -1;
    }
    void tokenize(const NormalizedText& piece, std::vector<ModelToken>& out, WordCache&) const override
    {
        if (piece.text.empty())
            return;
        const int32_t id = m_vocab.find(encodeUtf8(piece.text));
        if (id >= 0) {
            out.push_back({id, 0, int32_t(piece.text.size())});
            return;
        }
        if (m_unkId < 0)
            malformed("model WordLevel", "unk_token '" + m_unkName + "' is not in the vocabulary");
        out.push_back({m_unkId, 0, int32_t(piece.text.size())});
    }

private:
    std::string m_unkName;
    int32_t m_unkId = -1;
};

} // namespace

std::unique_ptr<Model> makeModel(json::Value v, const std::string& component)
{
    json::Value o = requireObject(v, component);
    std::string type = optString(o, "type", component);
    if (type.empty()) {
        // Older files leave the model untyped; the fields tell which one it is.
        if (o.contains("merges"))
            type = "BPE";
        else if (o.contains("max_input_chars_per_word"))
            type = "WordPiece";
        else
            malformed(component, "missing \"type\"");
    }
    const std::string c = component + " " + type;
    if (type == "BPE")
        return std::make_unique<BpeModel>(o, c);
    if (type == "WordPiece")
        return std::make_unique<WordPieceModel>(o, c);
    if (type == "WordLevel")
        return std::make_unique<WordLevelModel>(o, c);
    unsupported(c, "this model type is not implemented");
}

} // namespace sinkscope::tok
