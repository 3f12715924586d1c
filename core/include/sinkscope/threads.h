// SPDX-License-Identifier: GPL-3.0-or-later
// How many CPU threads the forward pass uses. libtorch keeps its intra-op thread count per
// thread (OpenMP's nthreads ICV), so it is set on the thread that runs the model: the CLI's main
// thread, the GUI's engine thread, a benchmark's main thread.
#pragma once

#include <string>

namespace sinkscope {

/// Physical cores this process may run on: distinct (package, core) pairs among the CPUs of its
/// affinity mask (Linux sysfs topology), capped by a cgroup CPU quota; at least 1.
/// (libtorch's own default counts cores with cpuinfo, which on some virtual machines reports one
/// core for two and halves the speed.)
int physicalCoreCount();

/// Sets the intra-op threads of libtorch and of the BLAS library for the calling thread.
/// `n` = 0 means physicalCoreCount(). Throws Error(InvalidArgument) for n < 0 or n > 4096.
/// Returns the count now in effect.
int setComputeThreads(int n);

/// Applies the default (physicalCoreCount()) unless setComputeThreads already ran on the calling
/// thread. Model::load and Model::run call it, so every caller gets the right default.
void ensureComputeThreads();

/// Intra-op threads in effect on the calling thread (what run.json records as "threads").
int computeThreads();

/// One line for diagnostics, e.g. "threads: 2 intra-op (OpenMP), 2 physical cores, BLAS: OpenBLAS
/// openmp, inter-op 1".
std::string threadingSummary();

/// Parses a --threads value: a whole number 0..4096 ("0" = physical cores). Throws
/// Error(InvalidArgument) with a message naming the option otherwise.
int parseThreadCount(const std::string& text);

} // namespace sinkscope
