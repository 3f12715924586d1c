// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenstrip.h"

#include "currentresult.h"
#include "selection.h"
#include "tokenlabels.h"

#include <QEvent>
#include <QHelpEvent>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollArea>
#include <QScrollBar>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>

namespace sinkscope {

namespace {
constexpr int kMargin = 4;
constexpr int kSpacing = 4;
constexpr int kPadding = 5;
constexpr int kMinChipWidth = 18;
constexpr int kMaxLabelChars = 24;
const QColor kQueryColor(0x1f, 0x6f, 0xeb);
const QColor kKeyColor(0x1a, 0x7f, 0x37);
const QColor kWaiverColor(0xe6, 0x39, 0x46);
} // namespace

/// Paints the chips and turns mouse events into hover tooltips and clicks.
class TokenChipArea : public QWidget
{
public:
    explicit TokenChipArea(TokenStrip* strip)
        : QWidget(strip)
        , m_strip(strip)
    {
        setMouseTracking(true);
        setAttribute(Qt::WA_Hover);
    }

    void relayout()
    {
        m_rects.clear();
        const QFontMetrics fm(font());
        const QFontMetrics small(captionFont());
        const int chipHeight = fm.height() + 2 * kPadding;
        int x = kMargin;
        const int n = m_strip->count();
        m_rects.reserve(size_t(n));
        for (int i = 0; i < n; ++i) {
            const int textW = fm.horizontalAdvance(m_strip->chipText(i)) + 2 * kPadding;
            const int capW = small.horizontalAdvance(m_strip->chipCaption(i)) + 4;
            const int w = std::max({textW, capW, kMinChipWidth});
            m_rects.emplace_back(x, kMargin, w, chipHeight);
            x += w + kSpacing;
        }
        const int height = kMargin + chipHeight + 2 + small.height() + kMargin;
        setFixedSize(std::max(x + kMargin - kSpacing, 1), height);
        update();
    }

    QRect chipRect(int index) const
    {
        return index >= 0 && size_t(index) < m_rects.size() ? m_rects[size_t(index)] : QRect();
    }

    int chipAt(const QPoint& pos) const
    {
        // Chips are ordered left to right: binary search on the x coordinate.
        auto it = std::upper_bound(m_rects.begin(), m_rects.end(), pos.x(),
                                   [](int x, const QRect& r) { return x < r.left(); });
        if (it == m_rects.begin())
            return -1;
        --it;
        const QRect hit = it->adjusted(0, 0, 0, QFontMetrics(captionFont()).height() + 2);
        return hit.contains(pos) ? int(it - m_rects.begin()) : -1;
    }

protected:
    bool event(QEvent* event) override
    {
        if (event->type() == QEvent::ToolTip) {
            auto* help = static_cast<QHelpEvent*>(event);
            const int index = chipAt(help->pos());
            if (index >= 0)
                QToolTip::showText(help->globalPos(), toolTipHtml(m_strip->chipToolTip(index)), this,
                                   chipRect(index));
            else
                QToolTip::hideText();
            return true;
        }
        if (event->type() == QEvent::HoverMove || event->type() == QEvent::HoverLeave) {
            const int hovered = event->type() == QEvent::HoverMove
                ? chipAt(static_cast<QHoverEvent*>(event)->position().toPoint())
                : -1;
            if (hovered != m_hovered) {
                m_hovered = hovered;
                update();
            }
        }
        return QWidget::event(event);
    }

    void mousePressEvent(QMouseEvent* event) override
    {
        if (event->button() != Qt::LeftButton)
            return QWidget::mousePressEvent(event);
        const int index = chipAt(event->position().toPoint());
        if (index < 0)
            return;
        if (m_strip->m_selection) {
            if (event->modifiers() & Qt::ShiftModifier)
                m_strip->m_selection->setKey(index);
            else
                m_strip->m_selection->setQuery(index);
        }
        Q_EMIT m_strip->tokenClicked(index);
    }

    void paintEvent(QPaintEvent* event) override
    {
        QPainter p(this);
        p.setRenderHint(QPainter::Antialiasing);
        const QFontMetrics small(captionFont());
        const int query = m_strip->m_selection ? m_strip->m_selection->query() : -1;
        const int key = m_strip->m_selection ? m_strip->m_selection->key() : -1;
        const QRect dirty = event->rect();
        for (size_t i = 0; i < m_rects.size(); ++i) {
            const QRect r = m_rects[i];
            if (r.right() < dirty.left() - kSpacing || r.left() > dirty.right() + kSpacing)
                continue;
            const int index = int(i);
            const auto kind = m_strip->chipKind(index);
            QColor fill = TokenStrip::fillColor(kind);
            if (index == m_hovered)
                fill = fill.darker(108);
            QPen pen(TokenStrip::borderColor(kind), kind == TokenStrip::ChipKind::Normal ? 1.0 : 1.6);
            if (index == query)
                pen = QPen(kQueryColor, 2.4);
            else if (index == key)
                pen = QPen(kKeyColor, 2.4, Qt::DashLine);
            p.setPen(pen);
            p.setBrush(fill);
            p.drawRoundedRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4);
            if (m_strip->isWaiver(index))
                p.fillRect(QRect(r.left() + 2, r.bottom() - 2, r.width() - 4, 3), kWaiverColor);

            // Chips are always light, whatever the palette: keep their text dark.
            p.setPen(QColor(0x20, 0x20, 0x20));
            p.setFont(font());
            p.drawText(r, Qt::AlignCenter, m_strip->chipText(index));

            const bool bos = kind == TokenStrip::ChipKind::Bos;
            QFont cf = captionFont();
            cf.setBold(bos);
            p.setFont(cf);
            p.setPen(bos ? TokenStrip::borderColor(kind) : palette().color(QPalette::PlaceholderText));
            p.drawText(QRect(r.left() - kSpacing / 2, r.bottom() + 2, r.width() + kSpacing, small.height()),
                       Qt::AlignHCenter | Qt::AlignTop, m_strip->chipCaption(index));
        }
    }

private:
    QFont captionFont() const
    {
        QFont f = font();
        f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.8));
        return f;
    }

    TokenStrip* m_strip;
    std::vector<QRect> m_rects;
    int m_hovered = -1;
};

TokenStrip::TokenStrip(CurrentResult* current, Selection* selection, QWidget* parent)
    : QWidget(parent)
    , m_current(current)
    , m_selection(selection)
{
    m_header = new QLabel(this);
    m_header->setTextFormat(Qt::PlainText);
    m_area = new TokenChipArea(this);
    m_scroll = new QScrollArea(this);
    m_scroll->setWidget(m_area);
    m_scroll->setWidgetResizable(false);
    m_scroll->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_scroll->setFrameShape(QFrame::NoFrame);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(m_header);
    layout->addWidget(m_scroll);

    if (m_selection)
        connect(m_selection, &Selection::changed, this, &TokenStrip::onSelectionChanged);
    if (m_current) {
        connect(m_current, &CurrentResult::resultChanged, this, [this] {
            m_waiverScores.clear();
            setResult(m_current->result());
        });
        connect(m_current, &CurrentResult::metricsAvailable, this, [this] {
            m_waiverHead[0] = -2;
            updateWaivers();
        });
    }
    rebuild();
}

TokenStrip::~TokenStrip() = default;

void TokenStrip::setResult(std::shared_ptr<const RunResult> result)
{
    if (!result) {
        clear();
        return;
    }
    setEncoding(result->encoding);
}

void TokenStrip::setEncoding(const Encoding& encoding)
{
    m_encoding = encoding;
    rebuild();
}

void TokenStrip::clear()
{
    m_encoding = Encoding();
    rebuild();
}

int TokenStrip::count() const
{
    return int(m_encoding.tokens.size());
}

TokenStrip::ChipKind TokenStrip::chipKind(int index) const
{
    if (index < 0 || index >= count())
        return ChipKind::Normal;
    const Token& t = m_encoding.tokens[size_t(index)];
    if (isBosToken(t, index))
        return ChipKind::Bos;
    return t.special ? ChipKind::Special : ChipKind::Normal;
}

QString TokenStrip::chipText(int index) const
{
    if (index < 0 || index >= count())
        return {};
    return tokenLabelElided(m_encoding.tokens[size_t(index)], kMaxLabelChars);
}

QString TokenStrip::chipCaption(int index) const
{
    if (index < 0 || index >= count())
        return {};
    return chipKind(index) == ChipKind::Bos ? QStringLiteral("BOS") : QString::number(index);
}

QString TokenStrip::chipToolTip(int index) const
{
    if (index < 0 || index >= count())
        return {};
    QString text = tokenDescription(m_encoding.tokens[size_t(index)], index, m_encoding.bosAdded);
    if (isWaiver(index))
        text += tr("\nwaiver element of L%1 H%2 (score %3)")
                    .arg(m_waiverHead[0])
                    .arg(m_waiverHead[1])
                    .arg(double(m_waiverScores[size_t(index)]), 0, 'f', 3);
    return text;
}

bool TokenStrip::isWaiver(int index) const
{
    return index >= 0 && size_t(index) < m_waiverScores.size() && m_waiverScores[size_t(index)] >= m_waiverThreshold;
}

void TokenStrip::updateWaivers()
{
    const auto m = m_current ? m_current->metrics() : nullptr;
    const int l = m_selection ? m_selection->layer() : -1;
    const int h = m_selection ? m_selection->head() : -1;
    if (l == m_waiverHead[0] && h == m_waiverHead[1])
        return;
    m_waiverHead[0] = l;
    m_waiverHead[1] = h;
    m_waiverScores.clear();
    if (m && !m->waiverScores.empty() && l >= 0 && h >= 0 && l < m->layers && h < m->heads
        && m->tokens == int64_t(m_encoding.tokens.size())) {
        const float* row = m->waiverScores.data.data() + (int64_t(l) * m->heads + h) * m->tokens;
        m_waiverScores.assign(row, row + m->tokens);
        m_waiverThreshold = float(m->options.waiverThreshold);
    }
    m_area->update();
}

QString TokenStrip::statusText() const
{
    const int n = count();
    if (n == 0)
        return tr("No tokens yet.");
    QString text = n == 1 ? tr("1 token") : tr("%1 tokens").arg(n);
    const bool bosFirst = chipKind(0) == ChipKind::Bos;
    if (m_encoding.bosAdded)
        text += tr(" · BOS added by the tokenizer");
    else if (bosFirst)
        text += tr(" · BOS from the input");
    else
        text += tr(" · no BOS");
    return text;
}

QWidget* TokenStrip::chipArea() const
{
    return m_area;
}

QRect TokenStrip::chipRect(int index) const
{
    return m_area->chipRect(index);
}

int TokenStrip::chipAt(const QPoint& pos) const
{
    return m_area->chipAt(pos);
}

QColor TokenStrip::fillColor(ChipKind kind)
{
    switch (kind) {
    case ChipKind::Normal: return QColor(0xee, 0xf1, 0xf5);
    case ChipKind::Special: return QColor(0xfd, 0xe8, 0xc8);
    case ChipKind::Bos: return QColor(0xfb, 0xd5, 0xa5);
    }
    return {};
}

QColor TokenStrip::borderColor(ChipKind kind)
{
    switch (kind) {
    case ChipKind::Normal: return QColor(0xaa, 0xb3, 0xbf);
    case ChipKind::Special:
    case ChipKind::Bos: return QColor(0xc2, 0x5e, 0x00);
    }
    return {};
}

void TokenStrip::rebuild()
{
    m_header->setText(statusText());
    m_area->relayout();
    // Room for the chips plus a horizontal scroll bar, so a long prompt never hides a row.
    m_scroll->setFixedHeight(m_area->height() + m_scroll->horizontalScrollBar()->sizeHint().height());
}

void TokenStrip::onSelectionChanged()
{
    updateWaivers();
    m_area->update();
    if (m_selection && m_selection->query() >= 0) {
        const QRect r = chipRect(m_selection->query());
        if (r.isValid())
            m_scroll->ensureVisible(r.center().x(), r.center().y(), r.width() / 2 + 8, 0);
    }
}

} // namespace sinkscope
