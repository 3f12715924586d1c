// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sinkscope {

/// Category of a failure reported by the core. Stable: the GUI and CLI key messages off it.
enum class ErrorCode {
    Io,              ///< a file could not be opened, read, mapped or written
    Format,          ///< a file is malformed (bad header, bad JSON, inconsistent sizes)
    Unsupported,     ///< well-formed but not something we support (dtype, model_type, rope kind)
    InvalidArgument, ///< a request that cannot be served (empty prompt, layer out of range, ...)
    OutOfMemory,     ///< host or device allocation failed
    Cancelled,       ///< the user cancelled the request
    Internal         ///< a bug or an unexpected library error
};

/// Returns a short lower-case name for an error code ("io", "format", ...).
const char* errorCodeName(ErrorCode code);

/// `text` made safe to print on a terminal or in a message bar: control characters (C0, DEL,
/// C1; a NUL included, so nothing truncates the text), the Unicode line and paragraph separators
/// and the bidirectional overrides become visible escapes ("\n", "\t", "\x1b", "\u202e"), and
/// bytes that are not UTF-8 become "\xff". Everything else, backslashes included, is unchanged,
/// so escaping twice changes nothing. Every string that reaches a user goes through it.
std::string escapeForDisplay(const std::string& text);

/// A shape for messages: "[2, 3]"; more than 8 dimensions are abbreviated to the first 4 and the
/// last 2, "[1, 1, 1, 1, ..., 1, 1] (100000 dimensions)", so a hostile header cannot make a
/// 300 KB line.
std::string formatShape(const std::vector<int64_t>& shape);

/// The one exception type the core throws across its public API.
/// `what()` is a complete sentence for a user; `context()` names the file/tensor/key involved.
/// Both are passed through escapeForDisplay, so text from a file can never inject control
/// characters or terminal escape sequences into what is printed.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message, std::string context = {});
    ErrorCode code() const noexcept { return m_code; }
    const std::string& context() const noexcept { return m_context; }
    /// "message (context)", or just the message when there is no context or the message names it.
    std::string describe() const;

private:
    ErrorCode m_code;
    std::string m_context;
};

} // namespace sinkscope
