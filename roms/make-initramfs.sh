#!/usr/bin/env bash
# Builds OUT/initramfs.cpio.gz from Debian's busybox-static: one static busybox and our init.
set -euo pipefail
out=${1:?usage: make-initramfs.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
target="$out/initramfs.cpio.gz"
[ -s "$target" ] && [ "$target" -nt "$here/initramfs-init.sh" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq busybox-static >/dev/null 2>&1) || {
  echo "make-initramfs: apt-get download busybox-static failed" >&2; exit 1; }
dpkg-deb -x "$work"/busybox-static_*.deb "$work/pkg"
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc}
cp "$work/pkg/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/initramfs-init.sh" "$root/init"
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 > "$target.tmp"
mv "$target.tmp" "$target"
echo "make-initramfs: $target" >&2
