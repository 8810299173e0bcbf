#!/usr/bin/env bash
# Prepares every guest asset in OUT (default build/guest): kernel, initramfs, SeaBIOS ROMs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../build/guest}
"$here/fetch-kernel.sh" "$out"
"$here/make-initramfs.sh" "$out"
"$here/fetch-seabios.sh" "$out"
