#!/bin/sh
# CI fuzz run of cross-check mode: janus-fuzz with a fixed seed compares at least 100k
# instructions between KVM and the software CPU and fails on any divergence (status 3) that no
# listed host-KVM erratum explains (accel/cross/host_errata.h; those are counted and reported).
# On this host (kvm_pvm) KVM single-steps only CPL0/real-mode code, so the CI run uses the
# CPL0 modes (see docs/cross-check.md). Exit 77 (ctest: skipped) when /dev/kvm is unusable.
# usage: fuzz_ci.sh JANUS_FUZZ [extra janus-fuzz flags]
set -u
fuzz="$1"; shift
exec "$fuzz" --seed 20240601 --cases 14000 --modes 64-cpl0,32-cpl0,16-cpl0 --cpl0-max-insns 12 \
  --min-instructions 100000 --keep-going --quiet "$@"
