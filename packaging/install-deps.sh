#!/usr/bin/env bash
# Installs SinkScope's build and run dependencies on Debian 12 (bookworm).
# Non-interactive and idempotent: packages already present are left alone and nothing is fetched.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  qt6-base-dev qt6-svg-dev libqt6svg6 qt6-qpa-plugins
  libqcustomplot-dev
  libtorch-dev libopenblas0-openmp
  libeigen3-dev
  libsimdjson-dev
  fonts-dejavu-core
  help2man
  desktop-file-utils appstream poppler-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
