#!/usr/bin/env bash
# Installs missing Debian packages, builds Janus into build/, and prepares the guest assets
# (kernel, initramfs, SeaBIOS) in build/guest/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$top/build" -j"$(nproc)"
"$top/roms/prepare-guest.sh" "$top/build/guest"
