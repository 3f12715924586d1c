// SPDX-License-Identifier: GPL-3.0-or-later
#include "selection.h"

#include <algorithm>

namespace sinkscope {

namespace {
int clampIndex(int value, int count)
{
    if (count <= 0)
        return -1;
    return std::clamp(value, 0, count - 1);
}

int clampPick(int value, int count)
{
    if (count <= 0 || value < 0)
        return -1;
    return std::min(value, count - 1);
}
} // namespace

Selection::Selection(QObject* parent)
    : QObject(parent)
{
}

Selection::State Selection::clamped(State s) const
{
    return {clampIndex(s.layer, m_layers), clampIndex(s.head, m_heads), clampPick(s.query, m_tokens),
            clampPick(s.key, m_tokens)};
}

void Selection::apply(State s, bool boundsChanged)
{
    s = clamped(s);
    const bool layerDiff = s.layer != m_layer;
    const bool headDiff = s.head != m_head;
    const bool queryDiff = s.query != m_query;
    const bool keyDiff = s.key != m_key;
    m_layer = s.layer;
    m_head = s.head;
    m_query = s.query;
    m_key = s.key;
    // All members are updated before the first signal so that a slot reading the selection
    // never sees a half-applied change.
    if (boundsChanged)
        Q_EMIT this->boundsChanged();
    if (layerDiff)
        Q_EMIT layerChanged(m_layer);
    if (headDiff)
        Q_EMIT headChanged(m_head);
    if (queryDiff)
        Q_EMIT queryChanged(m_query);
    if (keyDiff)
        Q_EMIT keyChanged(m_key);
    if (boundsChanged || layerDiff || headDiff || queryDiff || keyDiff)
        Q_EMIT changed();
}

void Selection::setBounds(int layers, int heads, int tokens)
{
    layers = std::max(layers, 0);
    heads = std::max(heads, 0);
    tokens = std::max(tokens, 0);
    const bool diff = layers != m_layers || heads != m_heads || tokens != m_tokens;
    m_layers = layers;
    m_heads = heads;
    m_tokens = tokens;
    // A pick outside the new prompt would point at an unrelated element: clear it, don't clamp.
    const int query = m_query < tokens ? m_query : -1;
    const int key = m_key < tokens ? m_key : -1;
    apply({std::max(m_layer, 0), std::max(m_head, 0), query, key}, diff);
}

void Selection::setLayer(int layer)
{
    apply({layer, m_head, m_query, m_key});
}

void Selection::setHead(int head)
{
    apply({m_layer, head, m_query, m_key});
}

void Selection::setLayerHead(int layer, int head)
{
    apply({layer, head, m_query, m_key});
}

void Selection::setQuery(int query)
{
    apply({m_layer, m_head, query, m_key});
}

void Selection::setKey(int key)
{
    apply({m_layer, m_head, m_query, key});
}

void Selection::setCell(int query, int key)
{
    apply({m_layer, m_head, query, key});
}

void Selection::clearCell()
{
    apply({m_layer, m_head, -1, -1});
}

void Selection::nextHead()
{
    if (m_layers <= 0 || m_heads <= 0)
        return;
    if (m_head + 1 < m_heads)
        apply({m_layer, m_head + 1, m_query, m_key});
    else if (m_layer + 1 < m_layers)
        apply({m_layer + 1, 0, m_query, m_key});
}

void Selection::previousHead()
{
    if (m_layers <= 0 || m_heads <= 0)
        return;
    if (m_head > 0)
        apply({m_layer, m_head - 1, m_query, m_key});
    else if (m_layer > 0)
        apply({m_layer - 1, m_heads - 1, m_query, m_key});
}

void Selection::nextLayer()
{
    apply({m_layer + 1, m_head, m_query, m_key});
}

void Selection::previousLayer()
{
    apply({std::max(m_layer - 1, 0), m_head, m_query, m_key});
}

void Selection::firstHead()
{
    apply({0, 0, m_query, m_key});
}

void Selection::lastHead()
{
    apply({m_layers - 1, m_heads - 1, m_query, m_key});
}

} // namespace sinkscope
