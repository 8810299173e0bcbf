#!/usr/bin/env bash
# run-guest-test.sh JANUS BACKEND IMAGE ASM
#
# Runs one guest test image and checks it against the expectations written in its source:
#   ; boot: bios | multiboot      -> -bios IMAGE | -kernel IMAGE
#   ; expect: <line>              -> the exact COM1 output, one line each, in order
#   ; expect-exit: <status>       -> the exit status ((V << 1) | 1 for isa-debug-exit value V)
#   ; qemu-differs: <reason>      -> BACKEND=qemu is skipped, loudly, with the reason
#   ; expect-qemu: <line>         -> replaces the preceding expect line for BACKEND=qemu only:
#                                    a known QEMU TCG deviation from real hardware (the test
#                                    says why); Janus is held to the hardware line.
#   ; kvm-host-limit: <reason>    -> the test needs something the paravirtual KVM (kvm_pvm, which
#                                    emulates guest CPL0 in the host kernel) cannot do: with
#                                    BACKEND=kvm on such a host it is skipped, loudly. On a host
#                                    with VT-x/AMD-V it runs. GUEST_TEST_IGNORE_HOST_LIMITS=1 runs
#                                    it anyway (to see whether the limitation still holds).
# BACKEND: kvm | tcg (runs JANUS -accel BACKEND), jit (-accel tcg with the LLVM tier compiling
# every block quickly before its second run and optimised after 3 compiled runs, on the vCPU
# thread, each function verified; the run must report compiled blocks) or qemu (qemu-system-x86_64 -accel tcg -M pc, the reference the
# expectations were validated against).
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/kvm for kvm, a kvm-host-limit test on a kvm_pvm
# host, no QEMU for qemu).
set -u

if [ $# -ne 4 ]; then
  echo "usage: $0 JANUS BACKEND IMAGE ASM" >&2
  exit 1
fi
janus=$1 backend=$2 image=$3 asm=$4
name=$(basename "$asm" .asm)
run_timeout=${GUEST_TEST_TIMEOUT:-60}

fail() { echo "FAIL: guest.$name.$backend: $*"; exit 1; }
skip() {
  echo "################################################################"
  echo "### $* -- SKIPPING $name"
  echo "################################################################"
  exit 77
}

[ -r "$asm" ] || fail "cannot read $asm"
[ -r "$image" ] || fail "cannot read image $image (build target janus_guest_images)"

boot=$(sed -n 's/^; boot:[[:space:]]*\([a-z]*\).*/\1/p' "$asm" | head -n 1)
expect_exit=$(sed -n 's/^; expect-exit:[[:space:]]*\([0-9]*\).*/\1/p' "$asm" | head -n 1)
case "$boot" in
  bios) boot_flag=-bios ;;
  multiboot) boot_flag=-kernel ;;
  *) fail "$asm: missing or unknown '; boot:' line (bios or multiboot)" ;;
esac
[ -n "$expect_exit" ] || fail "$asm: missing '; expect-exit:' line"
grep -q '^; expect:' "$asm" || fail "$asm: no '; expect:' lines"

common=(-m 64 -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 "$boot_flag" "$image")
case "$backend" in
  kvm)
    if [ ! -e /dev/kvm ]; then
      skip "KVM NOT AVAILABLE: /dev/kvm does not exist"
    fi
    if ! reason=$( { exec 3<>/dev/kvm; } 2>&1 ); then
      skip "KVM NOT AVAILABLE: cannot open /dev/kvm: ${reason:-permission denied}"
    fi
    host_limit=$(sed -n 's/^; kvm-host-limit:[[:space:]]*//p' "$asm" | head -n 1)
    if [ -n "$host_limit" ] && [ -e /sys/module/kvm_pvm ] && [ "${GUEST_TEST_IGNORE_HOST_LIMITS:-0}" != 1 ]; then
      echo "################################################################"
      echo "### KVM HOST LIMITATION: $host_limit -- SKIPPING $name (runs under tcg and qemu)"
      echo "################################################################"
      exit 77
    fi
    cmd=("$janus" -accel kvm -nographic "${common[@]}") ;;
  tcg)
    cmd=("$janus" -accel tcg -nographic "${common[@]}") ;;
  jit)
    export JANUS_JIT_THRESHOLD=1 JANUS_JIT_TIERUP=3 JANUS_JIT_SYNC=1 JANUS_JIT_VERIFY=1
    cmd=("$janus" -accel tcg -nographic -stats "${common[@]}") ;;
  baseline)  # every block compiled by the baseline compiler after one run, never optimised
    export JANUS_JIT_THRESHOLD=1 JANUS_JIT_TIERUP=4000000000 JANUS_JIT_SYNC=1
    cmd=("$janus" -accel tcg -nographic -stats "${common[@]}") ;;
  qemu)
    qemu=$(command -v qemu-system-x86_64) || skip "QEMU NOT INSTALLED: no qemu-system-x86_64 in PATH"
    qemu_differs=$(sed -n 's/^; qemu-differs:[[:space:]]*//p' "$asm" | head -n 1)
    [ -z "$qemu_differs" ] || skip "QEMU REFERENCE NOT USED: $qemu_differs -- SKIPPING $name under qemu"
    # Not -nographic: QEMU runs SeaBIOS to load a -kernel, and under -nographic SeaBIOS
    # mirrors its screen (banner, iPXE prompt) on COM1. COM1 on stdio is all we need.
    cmd=("$qemu" -accel tcg -M pc -display none -serial stdio -net none "${common[@]}") ;;
  *) fail "unknown backend '$backend' (kvm, tcg, jit, baseline or qemu)" ;;
esac
if [ "$backend" != qemu ] && [ ! -x "$janus" ]; then
  fail "janus binary $janus is missing or not executable"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/guest-$name-$backend.XXXXXX")
trap 'rm -rf "$work"' EXIT

awk -v qemu="$([ "$backend" = qemu ] && echo 1 || echo 0)" '
  function text(prefix) { s = substr($0, length(prefix) + 1); sub(/^ /, "", s); return s }
  /^; expect:/      { if (have) print line; line = text("; expect:"); have = 1; next }
  /^; expect-qemu:/ { if (qemu) line = text("; expect-qemu:"); next }
  END               { if (have) print line }' "$asm" > "$work/expected"
timeout "$run_timeout" "${cmd[@]}" < /dev/null > "$work/com1.raw" 2> "$work/stderr"
status=$?
sed 's/\r$//' "$work/com1.raw" > "$work/com1"

ok=1
if ! cmp -s "$work/expected" "$work/com1"; then
  ok=0
  echo "COM1 output differs from the '; expect:' lines of $asm:"
  diff -u --label expected --label "COM1 ($backend)" "$work/expected" "$work/com1"
fi
if [ "$status" != "$expect_exit" ]; then
  ok=0
  echo "exit status differs"
fi
if [ "$backend" = jit ] || [ "$backend" = baseline ]; then
  compiled=$(sed -n 's/.* \([0-9]*\) compiled (.*/\1/p' "$work/stderr" | head -n 1)
  if [ -z "$compiled" ] || [ "$compiled" -eq 0 ]; then
    ok=0
    echo "the compiled tier compiled no block (janus -stats: ${compiled:-no stats line})"
  fi
  baseline=$(sed -n 's/.* compiled (\([0-9]*\) by the baseline compiler.*/\1/p' "$work/stderr" | head -n 1)
  if [ "$backend" = baseline ] && [ "${baseline:-0}" != "$compiled" ]; then
    ok=0
    echo "blocks compiled by something else than the baseline compiler (janus -stats: $compiled compiled, ${baseline:-?} by it)"
  fi
fi
if [ $ok = 1 ]; then
  echo "PASS: guest.$name.$backend (exit status $status)"
  exit 0
fi
echo "expected exit status: $expect_exit"
echo "actual exit status:   $status$([ "$status" = 124 ] && echo " (timed out after ${run_timeout}s)")"
echo "command: ${cmd[*]}"
echo "--- stderr ---"
cat "$work/stderr"
echo "--- end of stderr ---"
exit 1
