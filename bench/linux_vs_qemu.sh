#!/usr/bin/env bash
# Bench: Debian's kernel + the busybox initramfs under `janus -accel tcg` and
# `qemu-system-x86_64 -accel tcg -M pc`, alternately, RUNS times each; medians and ratios.
#  (a) boot: wall time from start until init prints "janus-init: userspace up" on COM1
#  (b) workload inside the guest, timed by the guest's own /proc/uptime (both emulators keep
#      guest time = host time): sha256sum of 32 MiB of zeros, gzip -9 of `seq 1 400000`,
#      an awk loop of 300000 iterations, sort -r of `seq 1 400000`.
# Ratios are qemu/janus: above 1 means janus is faster.
# Usage: bench/linux_vs_qemu.sh [JANUS] [GUESTDIR] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
janus=${1:-$here/../build/janus}
guest=${2:-$here/../build/guest}
runs=${3:-3}
for f in vmlinuz initramfs.cpio.gz; do [ -s "$guest/$f" ] || { echo "linux_vs_qemu: $guest/$f missing" >&2; exit 1; }; done
command -v qemu-system-x86_64 >/dev/null || { echo "linux_vs_qemu: qemu-system-x86_64 not installed" >&2; exit 1; }

workload="read t0 x </proc/uptime; head -c 33554432 /dev/zero | sha256sum; seq 1 400000 | gzip -9 | wc -c; awk 'BEGIN{s=0; for(i=0;i<300000;i++) s+=i%7; print s}'; seq 1 400000 | sort -r | head -1; read t1 x </proc/uptime; echo workload-uptime \$t0 \$t1"
append="console=ttyS0 quiet janus.run=\"$workload\""

# run_one NAME CMD... : prints "boot_seconds workload_seconds"
run_one() {
  local log start line now boot=""
  log=$(mktemp)
  start=$(date +%s.%N)
  "$@" </dev/null 2>&1 | while IFS= read -r line; do
    printf '%s\n' "$line" >>"$log"
    case $line in *"janus-init: userspace up"*) echo "boot $(echo "$(date +%s.%N) - $start" | bc -l)" >>"$log" ;; esac
  done
  boot=$(awk '$1 == "boot" {print $2; exit}' "$log")
  local w
  w=$(awk '$1 == "workload-uptime" {print $3 - $2; exit}' "$log")
  if [ -z "$boot" ] || [ -z "$w" ]; then echo "linux_vs_qemu: run failed: $*" >&2; tail -20 "$log" >&2; rm -f "$log"; exit 1; fi
  grep -q 83ee47245398adee79bd9c0a8bc57b821e92aba10f5f9ade8a5d1fae4d8c4302 "$log" || { echo "linux_vs_qemu: wrong sha256 in guest output" >&2; exit 1; }
  rm -f "$log"
  echo "$boot $w"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jb=(); jw=(); qb=(); qw=()
for ((i = 0; i < runs; i++)); do
  read -r b w < <(run_one "$janus" -accel tcg -m 256 -nographic -no-reboot -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$append")
  jb+=("$b"); jw+=("$w")
  read -r b w < <(run_one qemu-system-x86_64 -accel tcg -M pc -m 256 -display none -serial stdio -net none -no-reboot -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$append")
  qb+=("$b"); qw+=("$w")
done
JB=$(printf '%s\n' "${jb[@]}" | median); JW=$(printf '%s\n' "${jw[@]}" | median)
QB=$(printf '%s\n' "${qb[@]}" | median); QW=$(printf '%s\n' "${qw[@]}" | median)
printf 'linux boot to userspace: janus %.2f s, qemu %.2f s (median of %d): qemu/janus = %.2f\n' "$JB" "$QB" "$runs" "$(echo "$QB / $JB" | bc -l)"
printf 'guest workload:          janus %.2f s, qemu %.2f s (median of %d): qemu/janus = %.2f\n' "$JW" "$QW" "$runs" "$(echo "$QW / $JW" | bc -l)"
