#!/usr/bin/env bash
# Copies SeaBIOS and its VGA BIOS from Debian's seabios package into OUT/.
set -euo pipefail
out=${1:?usage: fetch-seabios.sh OUTDIR}
mkdir -p "$out"
[ -s "$out/bios-256k.bin" ] && [ -s "$out/vgabios-stdvga.bin" ] && exit 0
src=/usr/share/seabios
for f in bios-256k.bin vgabios-stdvga.bin; do
  [ -s "$src/$f" ] || { echo "fetch-seabios: $src/$f missing (apt-get install seabios)" >&2; exit 1; }
  cp "$src/$f" "$out/$f"
done
