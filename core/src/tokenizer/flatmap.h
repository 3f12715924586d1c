// SPDX-License-Identifier: GPL-3.0-or-later
// Open-addressing hash maps for the two hot lookups of a tokenizer: piece -> id (loading a
// 150k-entry vocabulary and 300k merges does over a million of these) and (left id, right id) ->
// merge. Node-based std::unordered_map spends most of its time in cache misses here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sinkscope::tok {

inline uint64_t hashBytes(std::string_view s)
{
    uint64_t h = 1469598103934665603ull; // FNV-1a, then a final mix
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/// String -> id. Later insertions of the same key replace the id.
class StringIdMap {
public:
    void reserve(size_t n)
    {
        size_t cap = 16;
        while (cap < n * 2)
            cap <<= 1;
        rehash(cap);
        m_keys.reserve(n);
        m_ids.reserve(n);
    }

    void insert(std::string key, int32_t id)
    {
        if ((m_keys.size() + 1) * 2 > m_slots.size())
            rehash(m_slots.empty() ? 16 : m_slots.size() * 2);
        const uint64_t h = hashBytes(key);
        const uint32_t tag = uint32_t(h >> 32);
        size_t i = size_t(h) & (m_slots.size() - 1);
        while (m_slots[i].index != 0) {
            const uint32_t k = m_slots[i].index - 1;
            if (m_slots[i].tag == tag && m_keys[k] == key) {
                m_ids[k] = id;
                return;
            }
            i = (i + 1) & (m_slots.size() - 1);
        }
        m_slots[i] = {uint32_t(m_keys.size() + 1), tag};
        m_keys.push_back(std::move(key));
        m_ids.push_back(id);
    }

    /// -1 when absent.
    int32_t find(std::string_view key) const
    {
        if (m_slots.empty())
            return -1;
        const uint64_t h = hashBytes(key);
        const uint32_t tag = uint32_t(h >> 32);
        size_t i = size_t(h) & (m_slots.size() - 1);
        while (m_slots[i].index != 0) {
            // The tag check keeps almost every probe away from the key strings (a cache miss each).
            if (m_slots[i].tag == tag) {
                const uint32_t k = m_slots[i].index - 1;
                if (m_keys[k] == key)
                    return m_ids[k];
            }
            i = (i + 1) & (m_slots.size() - 1);
        }
        return -1;
    }

    size_t size() const { return m_keys.size(); }
    const std::string& keyAt(size_t i) const { return m_keys[i]; }
    int32_t idAt(size_t i) const { return m_ids[i]; }

private:
    void rehash(size_t cap)
    {
        m_slots.assign(cap, Slot{0, 0});
        for (size_t k = 0; k < m_keys.size(); ++k) {
            const uint64_t h = hashBytes(m_keys[k]);
            size_t i = size_t(h) & (cap - 1);
            while (m_slots[i].index != 0)
                i = (i + 1) & (cap - 1);
            m_slots[i] = {uint32_t(k + 1), uint32_t(h >> 32)};
        }
    }

    struct Slot {
        uint32_t index; // 0 = empty, else key index + 1
        uint32_t tag;   // high hash bits
    };
    std::vector<Slot> m_slots;
    std::vector<std::string> m_keys;
    std::vector<int32_t> m_ids;
};

/// (left, right) id pair -> (rank, merged id).
class MergeMap {
public:
    struct Entry {
        uint64_t key;
        uint32_t rank;
        int32_t merged; // -1 marks an empty slot
    };

    void reserve(size_t n)
    {
        size_t cap = 16;
        while (cap < n * 2)
            cap <<= 1;
        rehash(cap);
    }

    void insert(uint64_t key, uint32_t rank, int32_t merged)
    {
        if ((m_count + 1) * 2 > m_slots.size())
            rehash(m_slots.empty() ? 16 : m_slots.size() * 2);
        size_t i = size_t(mix64(key)) & (m_slots.size() - 1);
        while (m_slots[i].merged >= 0) {
            if (m_slots[i].key == key) {
                m_slots[i].rank = rank;
                m_slots[i].merged = merged;
                return;
            }
            i = (i + 1) & (m_slots.size() - 1);
        }
        m_slots[i] = {key, rank, merged};
        ++m_count;
    }

    const Entry* find(uint64_t key) const
    {
        if (m_slots.empty())
            return nullptr;
        size_t i = size_t(mix64(key)) & (m_slots.size() - 1);
        while (m_slots[i].merged >= 0) {
            if (m_slots[i].key == key)
                return &m_slots[i];
            i = (i + 1) & (m_slots.size() - 1);
        }
        return nullptr;
    }

private:
    void rehash(size_t cap)
    {
        std::vector<Entry> old;
        old.swap(m_slots);
        m_slots.assign(cap, Entry{0, 0, -1});
        m_count = 0;
        for (const Entry& e : old)
            if (e.merged >= 0)
                insert(e.key, e.rank, e.merged);
    }

    std::vector<Entry> m_slots;
    size_t m_count = 0;
};

} // namespace sinkscope::tok
