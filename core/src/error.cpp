// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/error.h"

namespace sinkscope {

const char* errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::Io: return "io";
    case ErrorCode::Format: return "format";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::InvalidArgument: return "invalid-argument";
    case ErrorCode::OutOfMemory: return "out-of-memory";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Internal: return "internal";
    }
    return "internal";
}

Error::Error(ErrorCode code, const std::string& message, std::string context)
    : std::runtime_error(message), m_code(code), m_context(std::move(context))
{
}

std::string Error::describe() const
{
    // Most messages already name their file, key or tensor; repeating it reads like a stutter.
    if (m_context.empty() || std::string(what()).find(m_context) != std::string::npos)
        return what();
    return std::string(what()) + " (" + m_context + ")";
}

} // namespace sinkscope
