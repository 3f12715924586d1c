// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/threads.h"

#include "sinkscope/error.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <sched.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <utility>

namespace sinkscope {

namespace {

constexpr int kMaxThreads = 4096;

thread_local bool t_configured = false;

bool readInt(const std::string& path, long& value)
{
    std::ifstream in(path);
    return bool(in >> value);
}

/// cgroup v2 "cpu.max" ("max 100000" or "200000 100000"): the quota in whole CPUs, 0 when none.
int cgroupCpuLimit()
{
    std::ifstream in("/sys/fs/cgroup/cpu.max");
    std::string quota;
    long period = 0;
    if (!(in >> quota >> period) || quota == "max" || period <= 0)
        return 0;
    const long q = std::strtol(quota.c_str(), nullptr, 10);
    return q > 0 ? int(std::ceil(double(q) / double(period))) : 0;
}

// The BLAS behind libtorch's matmuls. OpenBLAS built for pthreads keeps a pool of its own next to
// libtorch's OpenMP pool (two pools of "all cores" each on the same cores), so its count is set
// too. Looked up at run time: which libblas.so.3 is installed is the system's choice.
using SetThreadsFn = void (*)(int);
using GetParallelFn = int (*)();

SetThreadsFn openblasSetThreads()
{
    return reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}

std::string blasText()
{
    const auto parallel = reinterpret_cast<GetParallelFn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    if (!parallel)
        return "not OpenBLAS";
    switch (parallel()) {
    case 0: return "OpenBLAS sequential";
    case 1: return "OpenBLAS pthreads";
    case 2: return "OpenBLAS openmp";
    default: return "OpenBLAS";
    }
}

} // namespace

int physicalCoreCount()
{
    cpu_set_t mask;
    CPU_ZERO(&mask);
    int cores = 0;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
        std::set<std::pair<long, long>> seen;
        int unknown = 0;
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (!CPU_ISSET(cpu, &mask))
                continue;
            const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
            long package = 0, core = 0;
            if (readInt(dir + "physical_package_id", package) && readInt(dir + "core_id", core))
                seen.insert({package, core});
            else
                ++unknown; // no topology: count the CPU as a core of its own
        }
        cores = int(seen.size()) + unknown;
    }
    if (cores <= 0)
        cores = at::get_num_threads();
    const int quota = cgroupCpuLimit();
    if (quota > 0 && quota < cores)
        cores = quota;
    return cores < 1 ? 1 : cores;
}

int setComputeThreads(int n)
{
    if (n < 0 || n > kMaxThreads)
        throw Error(ErrorCode::InvalidArgument,
                    "The thread count must be 0 (one per physical core) to " + std::to_string(kMaxThreads) + ", not "
                        + std::to_string(n) + ".");
    const int threads = n == 0 ? physicalCoreCount() : n;
    at::set_num_threads(threads); // OpenMP backend: omp_set_num_threads on this thread
    if (const SetThreadsFn f = openblasSetThreads())
        f(threads);
    t_configured = true;
    return at::get_num_threads();
}

void ensureComputeThreads()
{
    if (!t_configured)
        setComputeThreads(0);
}

int computeThreads()
{
    return at::get_num_threads();
}

std::string threadingSummary()
{
    const int cores = physicalCoreCount();
#if AT_PARALLEL_OPENMP
    const char* backend = "OpenMP";
#else
    const char* backend = "native";
#endif
    return "threads: " + std::to_string(computeThreads()) + " intra-op (" + backend + "), "
           + std::to_string(cores) + (cores == 1 ? " physical core" : " physical cores") + ", BLAS: " + blasText()
           + ", inter-op " + std::to_string(at::get_num_interop_threads());
}

int parseThreadCount(const std::string& text)
{
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || v < 0 || v > kMaxThreads || text[0] == '+' || text[0] == ' ')
        throw Error(ErrorCode::InvalidArgument, "--threads must be a whole number from 0 (one per physical core) to "
                                                    + std::to_string(kMaxThreads) + ", not '" + text + "'.");
    return int(v);
}

} // namespace sinkscope
