// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QObject>

namespace sinkscope {

/// The one selection every view shares: which layer and head are shown, and which query/key
/// element is picked. Indices are 0-based; -1 means "none".
///
/// Bounds come from the current result (layers, heads, tokens). Every setter clamps:
/// layer and head into [0, n-1] (-1 only while the bound is 0), query and key into [-1, T-1]
/// where a negative value clears the pick. Each public change emits the specific …Changed
/// signals first and then one changed().
class Selection : public QObject
{
    Q_OBJECT
public:
    explicit Selection(QObject* parent = nullptr);

    int layer() const { return m_layer; }
    int head() const { return m_head; }
    int query() const { return m_query; }
    int key() const { return m_key; }

    int layers() const { return m_layers; }
    int heads() const { return m_heads; }
    int tokens() const { return m_tokens; }

    /// Sets the shape of the current result. Layer/head are kept when still inside (else clamped,
    /// 0 when they were none); query/key are kept when still inside, else cleared.
    void setBounds(int layers, int heads, int tokens);

public Q_SLOTS:
    void setLayer(int layer);
    void setHead(int head);
    void setLayerHead(int layer, int head);
    void setQuery(int query);
    void setKey(int key);
    /// Picks one cell of a map (row = query, column = key).
    void setCell(int query, int key);
    void clearCell();

    /// Next head; after the last head of a layer comes head 0 of the next layer.
    /// Stops (no change) at the last head of the last layer.
    void nextHead();
    /// Previous head; before head 0 comes the last head of the previous layer.
    /// Stops at head 0 of layer 0.
    void previousHead();
    /// Next / previous layer, keeping the head; clamped at the ends.
    void nextLayer();
    void previousLayer();
    /// Head 0 of layer 0 / the last head of the last layer.
    void firstHead();
    void lastHead();

Q_SIGNALS:
    void layerChanged(int layer);
    void headChanged(int head);
    void queryChanged(int query);
    void keyChanged(int key);
    void boundsChanged();
    /// Emitted once after any of the above.
    void changed();

private:
    struct State {
        int layer, head, query, key;
    };
    State clamped(State s) const;
    void apply(State s, bool boundsChanged = false);

    int m_layers = 0;
    int m_heads = 0;
    int m_tokens = 0;
    int m_layer = -1;
    int m_head = -1;
    int m_query = -1;
    int m_key = -1;
};

} // namespace sinkscope
