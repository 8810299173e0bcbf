#!/usr/bin/env bash
# Bench: a CPL3 compute loop (integer mixing over an L1-sized table, 1.5e9 iterations) run
# natively and as a guest under `janus -accel kvm`, alternately, RUNS times each. Prints the
# medians and native/janus (1.00 = no overhead; whole-process wall time, VM setup included).
# Usage: bench/kvm_cpl3.sh [JANUS_BINARY] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
janus=${1:-$here/../build/janus}
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nasm -f elf64 -I"$here/guest/" -o "$work/native.o" "$here/guest/native_compute.asm"
ld -o "$work/native" "$work/native.o"
sum=$("$work/native")
nasm -f bin -DEXPECTED=0x"$sum" -I"$here/guest/" -o "$work/guest.bin" "$here/guest/cpl3_compute.asm"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$work/native.times"; : >"$work/janus.times"
for ((i = 0; i < runs; i++)); do
  t0=$(now); "$work/native" >/dev/null; t1=$(now)
  echo "$t1 - $t0" | bc -l >>"$work/native.times"
  t0=$(now)
  status=0
  "$janus" -accel kvm -m 64 -nographic -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$work/guest.bin" </dev/null || status=$?
  t1=$(now)
  [ "$status" -eq 33 ] || { echo "kvm_cpl3: guest run failed (status $status; 35 = wrong checksum)" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l >>"$work/janus.times"
done
n=$(median <"$work/native.times"); j=$(median <"$work/janus.times")
printf 'kvm_cpl3: native %.3f s, janus -accel kvm %.3f s (median of %d), native/janus = %.3f\n' \
  "$n" "$j" "$runs" "$(echo "$n / $j" | bc -l)"
