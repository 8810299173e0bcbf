#!/usr/bin/env bash
# Installs the Debian 12 packages Janus builds with, runs its guests from, and benchmarks against.
# Safe to run again: installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config nasm git
  llvm-19-dev libcapstone-dev libsdl2-dev zlib1g-dev libgtest-dev
  cpio gzip xz-utils zstd apt-utils bc
  busybox-static seabios qemu-system-x86
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
