// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sinkscope {

/// Serialises a float32 array as .npy (format 1.0, '<f4', C order) into memory.
std::string encodeNpy(const float* data, const std::vector<int64_t>& shape);
/// Writes a float32 .npy file atomically. Throws Error(Io).
void writeNpy(const std::string& path, const float* data, const std::vector<int64_t>& shape);


} // namespace sinkscope
