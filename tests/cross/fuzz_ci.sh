#!/bin/sh
# CI fuzz run of cross-check mode: janus-fuzz with a fixed seed compares KVM and the software CPU
# and fails on any divergence (status 3) that no listed host-KVM erratum explains
# (accel/cross/host_errata.h; those are counted and reported). Two runs (docs/cross-check.md):
#  1. CPL0 modes (long-mode kernel, protected mode, real mode): KVM single-steps every instruction
#     (on this host, kvm_pvm, in its kernel's emulator); at least 100k instructions.
#  2. CPL3 modes: 64-bit user code runs natively under kvm_pvm, one run to the case's end marker
#     and on through its final HLT (#GP into the kernel), compared there; compatibility-mode user
#     code is emulated by the host and single-stepped. At least 100k instructions.
# Exit 77 (ctest: skipped) when /dev/kvm is unusable.
# usage: fuzz_ci.sh JANUS_FUZZ [extra janus-fuzz flags]
set -u
fuzz="$1"; shift
"$fuzz" --seed 20240601 --cases 14000 --modes 64-cpl0,32-cpl0,16-cpl0 --cpl0-max-insns 12 \
  --min-instructions 100000 --keep-going --quiet "$@" || exit $?
exec "$fuzz" --seed 20240601 --cases 4500 --modes 64-cpl3,32-cpl3,16-cpl3 --run-past-end \
  --min-instructions 100000 --keep-going --quiet "$@"
