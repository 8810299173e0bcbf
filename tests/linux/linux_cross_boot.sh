#!/usr/bin/env bash
# Cross-check of the Linux boot: Debian's kernel + the busybox initramfs (as linux_shell.sh boots
# them) under -accel cross, KVM leading and the software CPU following instruction by
# instruction, for the first INSTRUCTIONS instructions (-cross-limit); any divergence fails.
# The default count keeps the run near 20 s on a host whose KVM runs guest kernel code in its
# instruction emulator (kvm_pvm: 45-65k lockstep instructions/s since the leader's state is read
# from kvm_run, docs/cross-check.md "Reading the leader's state"; ctest passes 1000000).
# usage: linux_cross_boot.sh JANUS GUESTDIR [INSTRUCTIONS]
# Exit: 0 agree, 1 divergence or failure, 2 guest files missing, 77 skip (no usable /dev/kvm).
set -uo pipefail
janus=${1:?usage: linux_cross_boot.sh JANUS GUESTDIR [INSTRUCTIONS]}
guest=${2:?guest directory}
limit=${3:-${JANUS_CROSS_BOOT_INSTRUCTIONS:-1000000}}
timeout_s=${JANUS_LINUX_TIMEOUT:-150}

skip() {
  echo "################################################################"
  echo "### $* -- SKIPPING linux.cross_boot"
  echo "################################################################"
  exit 77
}
[ -e /dev/kvm ] || skip "KVM NOT AVAILABLE: /dev/kvm does not exist (cross-check needs KVM as the oracle)"
if ! reason=$( { exec 3<>/dev/kvm; } 2>&1 ); then
  skip "KVM NOT AVAILABLE: cannot open /dev/kvm: ${reason:-permission denied}"
fi
for f in vmlinuz initramfs.cpio.gz; do
  [ -s "$guest/$f" ] || { echo "linux_cross_boot: $guest/$f missing (run roms/prepare-guest.sh $guest)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/janus-cross-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "== -accel cross: the first $limit instructions of the Linux boot"
start=$(date +%s.%N)
timeout "$timeout_s" "$janus" -accel cross -cross-limit "$limit" -cross-report "$work/report.json" \
  -m 256 -nographic -no-reboot -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet" </dev/null >"$work/out" 2>"$work/err"
status=$?
end=$(date +%s.%N)
printf '  %.1f s, exit status %d\n' "$(echo "$end - $start" | bc -l)" "$status"
summary=$(grep -m1 '^cross-check: [0-9]* instructions compared' "$work/err")
compared=$(echo "$summary" | sed -n 's/^cross-check: \([0-9]*\) instructions.*/\1/p')
if [ "$status" -eq 0 ] && [ -n "$compared" ] && [ "$compared" -ge "$limit" ]; then
  echo "  ok: $summary"
  exit 0
fi
case "$status" in
  3) echo "  FAIL: the backends diverged (report below; JSON: -cross-report)" ;;
  124) echo "  FAIL: not done within ${timeout_s} s (JANUS_LINUX_TIMEOUT)" ;;
  *) echo "  FAIL: exit status $status${summary:+, $summary}" ;;
esac
echo "--- janus stderr ---"
head -80 "$work/err"
echo "--- guest output (last lines) ---"
tail -10 "$work/out"
exit 1
