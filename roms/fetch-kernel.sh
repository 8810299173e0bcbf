#!/usr/bin/env bash
# Puts Debian's cloud kernel (the real package behind linux-image-cloud-amd64) at OUT/vmlinuz.
# The package is downloaded and unpacked into the build tree, not installed on the host.
set -euo pipefail
out=${1:?usage: fetch-kernel.sh OUTDIR}
mkdir -p "$out"
[ -s "$out/vmlinuz" ] && exit 0

pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq "$pkg" >/dev/null 2>&1) || {
  echo "fetch-kernel: apt-get download $pkg failed" >&2; exit 1; }
dpkg-deb -x "$work"/*.deb "$work/root"
cp "$work"/root/boot/vmlinuz-* "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$pkg" > "$out/kernel-package"
echo "fetch-kernel: $pkg -> $out/vmlinuz" >&2
