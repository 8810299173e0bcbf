#!/usr/bin/env bash
# Integration: Debian's kernel + the busybox initramfs under janus. Two boots:
#  1. commands from the kernel command line (janus.run): uname -r, shell arithmetic, sha256sum of
#     a known input, /proc listing, CPU model; then `poweroff -f` must end janus with status 0.
#  2. an interactive shell driven through COM1 (terminal input -> UART -> getty-less sh),
#     ending with `poweroff -f`.
# usage: linux_shell.sh JANUS GUESTDIR ACCEL [EXTRA JANUS ARGS...]
set -uo pipefail
janus=${1:?usage: linux_shell.sh JANUS GUESTDIR ACCEL}
guest=${2:?guest directory}
accel=${3:?accelerator}
shift 3
timeout_s=${JANUS_LINUX_TIMEOUT:-120}
for f in vmlinuz initramfs.cpio.gz kernel-package; do
  [ -s "$guest/$f" ] || { echo "linux_shell: $guest/$f missing (run roms/prepare-guest.sh $guest)" >&2; exit 2; }
done
release=$(sed 's/^linux-image-//' "$guest/kernel-package")
expected_sha=$(printf 'janus' | sha256sum | cut -d' ' -f1)
fail=0
expect() {  # expect LOG WHAT FIXED-STRING
  if grep -qF -- "$3" "$1"; then echo "  ok: $2"; else echo "  FAIL: $2 (no '$3')"; fail=1; fi
}
log=$(mktemp /tmp/janus-linux.XXXXXX)
trap 'rm -f "$log" "$log.in"' EXIT

echo "== $accel: commands from the kernel command line"
# No double quotes inside: the kernel command line keeps janus.run="..." as one quoted value.
cmds='uname -r; echo sum=$((6*7+100)); printf janus | sha256sum; ls /proc | grep -c ^[0-9] | sed s/^/procs=/; ls /proc/meminfo; grep -m1 model.name /proc/cpuinfo'
start=$(date +%s.%N)
timeout "$timeout_s" "$janus" -accel "$accel" -m 256 -nographic -no-reboot "$@" \
  -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet janus.run=\"$cmds\"" </dev/null >"$log" 2>&1
status=$?
end=$(date +%s.%N)
printf '  boot + commands + power-off: %.1f s, exit status %d\n' "$(echo "$end - $start" | bc -l)" "$status"
[ "$status" -eq 0 ] && echo "  ok: poweroff -f ends janus with status 0" || { echo "  FAIL: exit status $status"; fail=1; }
expect "$log" "uname -r" "$release"
expect "$log" "shell arithmetic" "sum=142"
expect "$log" "sha256sum" "$expected_sha"
expect "$log" "/proc listing" "/proc/meminfo"
grep -q '^procs=[1-9]' "$log" && echo "  ok: processes in /proc" || { echo "  FAIL: no processes in /proc"; fail=1; }
expect "$log" "CPU model" "Janus Virtual CPU"
[ $fail -eq 0 ] || { echo "--- guest output ---"; tail -40 "$log"; }

echo "== $accel: interactive shell on COM1"
mkfifo "$log.in"
timeout "$timeout_s" "$janus" -accel "$accel" -m 256 -nographic -no-reboot "$@" \
  -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "console=ttyS0 quiet" \
  <"$log.in" >"$log" 2>&1 &
pid=$!
exec 3>"$log.in"
# Type only once the shell is there, as a person would.
for _ in $(seq 1 "$timeout_s"); do
  grep -q "interactive shell" "$log" && break
  sleep 1
done
sleep 1
printf 'echo typed-$((3*5))\n' >&3
sleep 2
printf 'poweroff -f\n' >&3
wait "$pid"
status=$?
exec 3>&-
[ "$status" -eq 0 ] && echo "  ok: poweroff -f from the shell ends janus with status 0" || { echo "  FAIL: exit status $status"; fail=1; }
expect "$log" "typed command ran" "typed-15"
[ $fail -eq 0 ] || { echo "--- guest output ---"; tail -30 "$log"; }
exit $fail
