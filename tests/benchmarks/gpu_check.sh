#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GPU check, prepared for a machine with an NVIDIA GPU and a CUDA build of PyTorch for Python
# (pip's torch wheels ship libtorch with CMake files). It
#   1. configures and builds SinkScope against that Python torch's libtorch,
#   2. runs the family tests (CPU reference comparison) and bench_forward on CUDA,
#   3. runs the eager-PyTorch peer on CUDA on the same checkpoint,
# and writes everything to ${OUT:-gpu-check}/ (build log, test log, benchmark tables).
#
# usage: tests/benchmarks/gpu_check.sh [python]      (python defaults to python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${1:-python3}"
out="${OUT:-$root/gpu-check}"
build="${BUILD_DIR:-$root/build-cuda}"
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1

nvidia-smi || { echo "error: nvidia-smi failed: no GPU here"; exit 1; }
prefix="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
"$py" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'

# Official wheels are built with the pre-C++11 ABI; Qt is not, so the build may refuse to link.
# Say so plainly instead of guessing: the log shows which case this machine is.
abi="$("$py" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
echo "torch C++11 ABI: $abi"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DSINKSCOPE_BUILD_BENCHMARKS=ON -DSINKSCOPE_BUILD_GUI=OFF 2>&1 | tee "$out/configure.log"
cmake --build "$build" --parallel "$(nproc)" 2>&1 | tail -n 50 | tee "$out/build.log"

# Family tests on CUDA (SINKSCOPE_TEST_DEVICE: the models load on the GPU, the double-precision
# reference runs on the CPU), then the core suites as built.
(cd "$build" && SINKSCOPE_TEST_DEVICE=cuda ctest -R 'tst_families' --output-on-failure) 2>&1 | tee "$out/tests_cuda.log"
(cd "$build" && ctest -R 'tst_families|tst_capture|tst_engine' --output-on-failure) 2>&1 | tee "$out/tests_cpu.log"

# bench_forward on CUDA (all four modes), then ours vs eager PyTorch, both on CUDA.
"$build/tests/benchmarks/bench_forward" --device cuda --gpt2-only --lengths 128,512,2048 --reps 5 \
  2>&1 | tee "$out/bench_forward_cuda.txt"
"$py" "$root/tests/benchmarks/peer_compare.py" --bench "$build/tests/benchmarks/bench_forward" \
  --lengths 128,512,2048 --device cuda 2>&1 | tee "$out/peer_cuda.txt"
echo "done: results in $out"
