#!/usr/bin/env bash
# Builds everything and boots the default guest: Debian's cloud kernel with the busybox
# initramfs, a shell on this terminal, on the best accelerator this host has (Ctrl-A x quits).
# Extra arguments go to janus (e.g. -accel tcg, -m 512).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
exec "$top/build/janus" -m 256 -nographic \
  -kernel "$top/build/guest/vmlinuz" -initrd "$top/build/guest/initramfs.cpio.gz" \
  -append "console=ttyS0 reboot=k" "$@"
