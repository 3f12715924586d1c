// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

namespace sinkscope {

struct Token;

/// Text shown for a token in chips and on axes: its display text with spaces made visible
/// ("·"), tabs as "→", and the vocabulary piece when the display text is empty.
QString tokenLabel(const Token& token);
/// tokenLabel() shortened to at most `maxChars` characters ("…" marks the cut).
QString tokenLabelElided(const Token& token, int maxChars);
/// Multi-line description for tooltips: index, id, piece, offsets, special flag.
QString tokenDescription(const Token& token, int index, bool bosAdded);
/// Plain text to tooltip HTML: escaped (token pieces look like tags), line breaks kept.
QString toolTipHtml(const QString& plainText);
/// True for the element a tokenizer put in front of the prompt (special, at index 0).
bool isBosToken(const Token& token, int index);

} // namespace sinkscope
