// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <stdexcept>
#include <string>

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

/// The one exception type the core throws across its public API.
/// `what()` is a complete sentence for a user; `context()` names the file/tensor/key involved.
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
