// SPDX-License-Identifier: GPL-3.0-or-later
// Reading .npy files back in the tests (the core only writes them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sinkscope::test {

/// A float32 array read back from .npy.
struct NpyArray {
    std::vector<int64_t> shape; ///< C order
    std::vector<float> data;
};

/// Reads a '<f4' C-order .npy (format 1.x, 2.x, 3.x). Throws Error(Io|Format|Unsupported).
NpyArray readNpy(const std::string& path);

} // namespace sinkscope::test
