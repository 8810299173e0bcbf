#!/bin/busybox sh
# Janus test initramfs: mounts the pseudo filesystems, tells the boot timer that userspace is
# up, then either runs the command given as janus.run="..." on the kernel command line and
# powers off, or gives an interactive shell on the console (power off when it exits).
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
# Firecracker-style boot timer: one byte of 123 at MMIO 0xc0000000 (ignored by other VMMs).
devmem 0xc0000000 8 123 2>/dev/null
echo "janus-init: userspace up"

cmd=$(sed -n 's/.*janus\.run="\([^"]*\)".*/\1/p' /proc/cmdline)
[ -n "$cmd" ] || cmd=$(sed -n 's/.*janus\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$cmd" ]; then
  sh -c "$cmd"
  echo "janus-init: command exited with status $?"
else
  echo "janus-init: interactive shell (exit or poweroff -f to stop)"
  setsid cttyhack sh
fi
poweroff -f
