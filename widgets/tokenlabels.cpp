// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenlabels.h"

#include "sinkscope/tokenizer.h"

namespace sinkscope {

QString tokenLabel(const Token& token)
{
    QString text = QString::fromStdString(token.display);
    if (text.isEmpty())
        text = QString::fromStdString(token.piece);
    // A leading space is part of most tokens; without a visible mark " the" and "the" look alike.
    text.replace(QLatin1Char(' '), QChar(0x00B7));
    text.replace(QLatin1Char('\t'), QChar(0x2192));
    text.replace(QLatin1Char('\n'), QChar(0x21B5));
    text.replace(QLatin1Char('\r'), QStringLiteral("\\r"));
    if (text.isEmpty())
        text = QStringLiteral("∅");
    return text;
}

QString tokenLabelElided(const Token& token, int maxChars)
{
    const QString text = tokenLabel(token);
    if (maxChars < 2 || text.size() <= maxChars)
        return text;
    return text.left(maxChars - 1) + QChar(0x2026);
}

bool isBosToken(const Token& token, int index)
{
    return index == 0 && token.special;
}

QString tokenDescription(const Token& token, int index, bool bosAdded)
{
    QString kind;
    if (isBosToken(token, index))
        kind = bosAdded ? QStringLiteral("BOS, added by the tokenizer") : QStringLiteral("BOS (in the input)");
    else if (token.special)
        kind = QStringLiteral("special token");
    const QString offsets = (token.start == 0 && token.end == 0)
        ? QStringLiteral("none (not from the text)")
        : QStringLiteral("[%1, %2)").arg(token.start).arg(token.end);
    QString out = QStringLiteral("#%1 '%2'\nid %3\npiece %4\noffsets %5")
                      .arg(QString::number(index), tokenLabel(token), QString::number(token.id),
                           QString::fromStdString(token.piece), offsets);
    if (!kind.isEmpty())
        out += QLatin1Char('\n') + kind;
    return out;
}

QString toolTipHtml(const QString& plainText)
{
    // Pieces such as "<s>" or "</s>" would be taken for markup by the tooltip's rich-text guess.
    QString html = plainText.toHtmlEscaped();
    html.replace(QLatin1Char('\n'), QStringLiteral("<br>"));
    return QStringLiteral("<qt><span style=\"white-space:pre\">") + html + QStringLiteral("</span></qt>");
}

} // namespace sinkscope
