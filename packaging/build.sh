#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs dependencies, configures, builds, then
#   packaging/build.sh run   [app args...]  launches the GUI
#   packaging/build.sh test  [ctest args...] runs the whole test suite
#   packaging/build.sh build                 only builds
# Environment: BUILD_DIR (default: build), CMAKE_ARGS (extra configure arguments).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
action="${1:-build}"
shift || true

"$here/install-deps.sh"

jobs="$(nproc 2>/dev/null || echo 2)"
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi
cmake --build "$build" --parallel "$jobs"

case "$action" in
  run)
    exec "$build/app/sinkscope" "$@"
    ;;
  test)
    cd "$build"
    exec ctest --output-on-failure --parallel "$jobs" "$@"
    ;;
  build)
    ;;
  *)
    echo "usage: packaging/build.sh run|test|build" >&2
    exit 2
    ;;
esac
