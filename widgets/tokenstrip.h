// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/runresult.h"

#include <QPointer>
#include <QWidget>

#include <memory>
#include <vector>

class QLabel;
class QScrollArea;

namespace sinkscope {

class CurrentResult;
class Selection;
class TokenChipArea;

/// One horizontally scrolling row of chips, one per token of the prompt, in model order.
/// Special tokens are drawn in a different colour and the first-position BOS is captioned "BOS";
/// the header says whether the tokenizer added the BOS. Hovering a chip shows its id, piece and
/// offsets; clicking it makes it the selected query element, Shift+click the selected key. The
/// chips of the selection's query (solid frame) and key (dashed frame) are outlined. Waiver
/// elements of the selected head (waiver score >= the analysis' threshold) get a red bar under
/// the chip and say so in the tooltip.
class TokenStrip : public QWidget
{
    Q_OBJECT
public:
    enum class ChipKind { Normal, Special, Bos };

    /// Follows `current` (may be nullptr: then only setResult/setEncoding fill the strip).
    TokenStrip(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~TokenStrip() override;

    /// Shows the tokens of a result (nullptr clears the strip). The selection's bounds are
    /// CurrentResult's business, not the strip's.
    void setResult(std::shared_ptr<const RunResult> result);
    /// Shows an encoding that has not been run yet (e.g. while the prompt is edited).
    void setEncoding(const Encoding& encoding);
    void clear();

    int count() const;
    const Encoding& encoding() const { return m_encoding; }
    ChipKind chipKind(int index) const;
    /// Text drawn on the chip.
    QString chipText(int index) const;
    /// Caption under the chip: the index, or "BOS" for a leading BOS.
    QString chipCaption(int index) const;
    /// Plain-text tooltip of a chip (index, text, id, piece, offsets, kind).
    QString chipToolTip(int index) const;
    /// The header line ("7 tokens · BOS added by the tokenizer").
    QString statusText() const;
    /// Whether element `index` is a waiver element of the selected head.
    bool isWaiver(int index) const;

    /// The widget the chips are painted on (inside a scroll area); chip geometry is in its
    /// coordinates.
    QWidget* chipArea() const;
    QRect chipRect(int index) const;
    /// Index of the chip at `pos` (chipArea() coordinates), or -1.
    int chipAt(const QPoint& pos) const;

    static QColor fillColor(ChipKind kind);
    static QColor borderColor(ChipKind kind);

Q_SIGNALS:
    /// A chip was clicked (the selection's query has already been set to it).
    void tokenClicked(int index);

private:
    void rebuild();
    void onSelectionChanged();
    void updateWaivers();

    friend class TokenChipArea;
    QPointer<CurrentResult> m_current;
    QPointer<Selection> m_selection;
    Encoding m_encoding;
    std::vector<float> m_waiverScores; ///< [T] of the selected head (empty: none)
    float m_waiverThreshold = 0.5f;
    int m_waiverHead[2] = {-1, -1};
    QLabel* m_header = nullptr;
    QScrollArea* m_scroll = nullptr;
    TokenChipArea* m_area = nullptr;
};

} // namespace sinkscope
