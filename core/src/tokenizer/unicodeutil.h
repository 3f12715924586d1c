// SPDX-License-Identifier: GPL-3.0-or-later
// Unicode helpers for the tokenizer: UTF-8 conversion, the character classes the Hugging Face
// components test (Rust's char predicates, not Qt's), and Unicode normalization expressed as the
// per-character "change" stream that NormalizedText::transform consumes.
#pragma once

#include "sinkscope/text.h"

#include <QString>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sinkscope::tok {

/// Decodes UTF-8 into code points. Throws Error(InvalidArgument) naming the first bad byte.
std::u32string decodeUtf8(const std::string& utf8, const char* what = "The prompt");
/// Decodes UTF-8 that is known to be valid (vocabulary strings from JSON).
std::u32string decodeUtf8Trusted(const std::string& utf8);
/// Encodes code points as UTF-8.
std::string encodeUtf8(const std::u32string& text);
std::string encodeUtf8(const char32_t* text, size_t n);
void appendUtf8(std::string& out, char32_t c);
/// The one UTF-8 validator of the project (sinkscope/text.h).
using sinkscope::utf8SequenceLength;

QString toQString(const std::u32string& text);
std::u32string fromQString(const QString& text);

/// Rust's char::is_whitespace (the Unicode White_Space property).
bool isWhitespace(char32_t c);
/// char::is_ascii_punctuation || Unicode general category P*.
bool isPunctuation(char32_t c);
/// Unicode general category N* (Rust's char::is_numeric).
bool isNumeric(char32_t c);
/// Regex `\w` as Rust's regex crate defines it (alphabetic, marks, decimal digits, connector
/// punctuation, join controls).
bool isWordChar(char32_t c);
/// General categories Cc, Cf, Co, Cs. Unassigned code points are not included: the reference
/// keeps them (BertNormalizer's clean_text does not drop U+0378, for example).
bool isOtherCategory(char32_t c);
/// General category Mn (what BertNormalizer strips).
bool isMarkNonSpacing(char32_t c);
/// General categories Mn, Mc and Me: the StripAccents normalizer removes every combining mark,
/// spacing and enclosing ones included (U+093F, U+20DD, ...).
bool isMark(char32_t c);
/// The CJK ideograph blocks BERT puts spaces around.
bool isChineseChar(char32_t c);
/// Full lower-case mapping of one character (may be more than one code point).
std::u32string toLowerFull(char32_t c);

enum class UnicodeForm { NFC, NFD, NFKC, NFKD };

/// The transformation that normalizes `text` to `form`, as (character, change) pairs in the
/// convention of NormalizedText::transform: 0 = replaces the next source character, +1 = inserted,
/// -n = replaces the next source character and drops n more. Returns false when the text is
/// already normalized (no change needed).
bool normalizationChanges(const std::u32string& text, UnicodeForm form,
                          std::vector<std::pair<char32_t, int>>& changes);

} // namespace sinkscope::tok
