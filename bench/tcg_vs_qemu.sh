#!/usr/bin/env bash
# Bench: the software CPUs side by side. bench/guest/tcg_mix.asm (a Multiboot guest: integer
# mixing, a 4 MiB array, REP MOVS and a copy loop, quicksort, a bytecode interpreter, recursive
# calls; a few seconds under QEMU TCG) runs under `janus -accel tcg` and
# `qemu-system-x86_64 -accel tcg`, alternately, RUNS times each. Every run must print the same
# checksums (and so must `janus -accel kvm`, i.e. the real CPU, when /dev/kvm works). Prints
# the medians of wall and CPU (user + sys) time, the ratio qemu/janus (> 1: janus is faster),
# raw and corrected for each emulator's fixed start-up cost (bench/guest/exit_now.asm, a guest
# that exits at once; QEMU's includes SeaBIOS loading the -kernel), and janus's guest
# instructions per second (instruction count from janus -stats).
# Usage: bench/tcg_vs_qemu.sh [JANUS_BINARY] [RUNS]
# Environment: ITERATIONS=n assembles the guest with n rounds (default: the guest's own, 20);
#              BENCH_TIMEOUT=s per run (default 1200); BENCH_KVM=0 skips the KVM check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
janus=${1:-$here/../build/janus}
runs=${2:-5}
timeout_s=${BENCH_TIMEOUT:-1200}
qemu=$(command -v qemu-system-x86_64) || { echo "tcg_vs_qemu: qemu-system-x86_64 not found" >&2; exit 1; }
[ -x "$janus" ] || { echo "tcg_vs_qemu: janus binary $janus is missing" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

lib=(-I"$here/guest/" -I"$here/../tests/guest/lib/")
nasm -f bin "${lib[@]}" ${ITERATIONS:+-DITERATIONS=$ITERATIONS} -o "$work/mix.bin" "$here/guest/tcg_mix.asm"
nasm -f bin "${lib[@]}" -o "$work/start.bin" "$here/guest/exit_now.asm"

devices=(-m 64 -device isa-debug-exit,iobase=0xf4,iosize=4)
janus_tcg=("$janus" -accel tcg -nographic -stats "${devices[@]}")
# Not -nographic: SeaBIOS would mirror its screen on COM1.
qemu_tcg=("$qemu" -accel tcg -M pc -display none -serial stdio -net none -no-reboot "${devices[@]}")

# run NAME IMAGE COMMAND...: one run; appends "wall cpu" to $work/NAME.times, keeps COM1
# output in $work/NAME.out and stderr in $work/NAME.err. Exit status 33 is success.
run() {
  local name=$1 image=$2 status=0
  shift 2
  local TIMEFORMAT='%R %U %S'
  { time timeout "$timeout_s" "$@" -kernel "$image" </dev/null >"$work/$name.out" 2>"$work/$name.err"; } \
    2>"$work/time" || status=$?
  if [ "$status" -ne 33 ]; then
    echo "tcg_vs_qemu: $name failed with status $status (33 = pass, 35 = guest self-check failed, 124 = timeout)" >&2
    cat "$work/$name.out" "$work/$name.err" >&2
    exit 1
  fi
  awk '{printf "%s %.3f\n", $1, $2 + $3}' "$work/time" >>"$work/$name.times"
}
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1.times" | median; }
calc() { echo "$*" | bc -l; }

# The reference output: QEMU's, checked against every later run.
check_output() {
  local name=$1
  if ! diff <(tr -d '\r' <"$work/reference.out") <(tr -d '\r' <"$work/$name.out") >"$work/diff"; then
    echo "tcg_vs_qemu: $name printed different checksums than QEMU:" >&2
    cat "$work/diff" >&2
    exit 1
  fi
}

echo "tcg_vs_qemu: start-up cost: $runs runs each of exit_now" >&2
for ((i = 0; i < runs; i++)); do
  run janus_start "$work/start.bin" "${janus_tcg[@]}"
  run qemu_start "$work/start.bin" "${qemu_tcg[@]}"
done

echo "tcg_vs_qemu: tcg_mix: $runs runs each, alternating" >&2
for ((i = 0; i < runs; i++)); do
  run qemu "$work/mix.bin" "${qemu_tcg[@]}"
  [ -e "$work/reference.out" ] || cp "$work/qemu.out" "$work/reference.out"
  check_output qemu
  run janus "$work/mix.bin" "${janus_tcg[@]}"
  check_output janus
  n=$(sed -n 's/^janus: stats: tcg \([0-9]*\) instructions.*/\1/p' "$work/janus.err")
  [ -n "$n" ] || { echo "tcg_vs_qemu: janus -stats printed no 'janus: stats: tcg N instructions' line" >&2; exit 1; }
  echo "$n" >>"$work/janus.insns"
  echo "  run $((i + 1)): qemu $(tail -n 1 "$work/qemu.times")  janus $(tail -n 1 "$work/janus.times")  (wall cpu, s)" >&2
done
[ "$(sort -u "$work/janus.insns" | wc -l)" -eq 1 ] || { echo "tcg_vs_qemu: janus instruction counts differ between runs" >&2; exit 1; }
insns=$(head -n 1 "$work/janus.insns")

kvm_note="kvm check skipped (BENCH_KVM=0)"
if [ "${BENCH_KVM:-1}" != 0 ]; then
  if { exec 3<>/dev/kvm; } 2>/dev/null; then
    exec 3>&-
    run kvm "$work/mix.bin" "$janus" -accel kvm -nographic "${devices[@]}"
    check_output kvm
    kvm_note="janus -accel kvm (guest at CPL3 on the real CPU) prints the same checksums"
  else
    kvm_note="kvm check skipped: cannot open /dev/kvm"
  fi
fi

jw=$(col janus 1) jc=$(col janus 2) qw=$(col qemu 1) qc=$(col qemu 2)
jsw=$(col janus_start 1) jsc=$(col janus_start 2) qsw=$(col qemu_start 1) qsc=$(col qemu_start 2)
echo
echo "tcg_vs_qemu: $(grep 'tcg_mix: checksum' "$work/reference.out" | tr -d '\r') on janus and QEMU; $kvm_note"
printf 'medians of %d runs     wall s    cpu s\n' "$runs"
printf '  janus -accel tcg    %7.3f  %7.3f\n' "$jw" "$jc"
printf '  qemu  -accel tcg    %7.3f  %7.3f\n' "$qw" "$qc"
printf '  janus start-up      %7.3f  %7.3f   (exit_now)\n' "$jsw" "$jsc"
printf '  qemu  start-up      %7.3f  %7.3f   (exit_now: SeaBIOS, -kernel load)\n' "$qsw" "$qsc"
printf 'qemu/janus (> 1: janus faster)\n'
printf '  raw                 %7.3f  %7.3f\n' "$(calc "$qw / $jw")" "$(calc "$qc / $jc")"
printf '  start-up corrected  %7.3f  %7.3f\n' "$(calc "($qw - $qsw) / ($jw - $jsw)")" "$(calc "($qc - $qsc) / ($jc - $jsc)")"
printf 'janus: %s guest instructions: %.1f M/s (wall), %.1f M/s (cpu), start-up corrected\n' \
  "$insns" "$(calc "$insns / ($jw - $jsw) / 1000000")" "$(calc "$insns / ($jc - $jsc) / 1000000")"
printf 'qemu, the same instruction count: %.1f M/s (wall), %.1f M/s (cpu), start-up corrected\n' \
  "$(calc "$insns / ($qw - $qsw) / 1000000")" "$(calc "$insns / ($qc - $qsc) / 1000000")"
