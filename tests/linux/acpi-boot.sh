#!/usr/bin/env bash
# Boots the Debian kernel with the test initramfs on Janus and checks the ACPI/TSC/power path:
#   power-off  janus.run="poweroff -f"          -> Janus exits 0 through ACPI S5
#   reboot-kbd janus.run="reboot -f" reboot=k   -> 8042 reset; with -no-reboot Janus exits 0
#   reboot-acpi janus.run="reboot -f"           -> the FADT reset register; -no-reboot exits 0
# and that the kernel log shows the tables, the IOAPIC from the MADT, the PM timer and a TSC
# rate learnt without PIT calibration (not on kvm_pvm, where CPUID stops below the TSC leaves).
# usage: acpi-boot.sh JANUS GUESTDIR ACCEL [CASE...]   (GUESTDIR from roms/prepare-guest.sh)
set -uo pipefail
janus=${1:?usage: acpi-boot.sh JANUS GUESTDIR ACCEL [CASE...]}
guest=${2:?guest directory}
accel=${3:?kvm or tcg}
shift 3
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(power-off reboot-kbd reboot-acpi)
timeout_s=${JANUS_LINUX_TIMEOUT:-600}
for f in vmlinuz initramfs.cpio.gz; do
  [ -s "$guest/$f" ] || { echo "acpi-boot: $guest/$f missing (run roms/prepare-guest.sh $guest)" >&2; exit 2; }
done
if [ "$accel" = kvm ] && [ ! -w /dev/kvm ]; then echo "acpi-boot: SKIP: /dev/kvm not usable" >&2; exit 77; fi

fail=0
check() {  # check LOG DESCRIPTION grep-args...
  local log=$1 what=$2; shift 2
  if grep -q "$@" "$log"; then echo "  ok: $what"; else echo "  FAIL: $what"; fail=1; fi
}
check_absent() {
  local log=$1 what=$2; shift 2
  if grep -q "$@" "$log"; then echo "  FAIL: $what"; fail=1; else echo "  ok: $what"; fi
}

for c in "${cases[@]}"; do
  case $c in
    power-off) run='poweroff -f'; extra='' ;;
    reboot-kbd) run='reboot -f'; extra='reboot=k' ;;
    reboot-acpi) run='reboot -f'; extra='' ;;
    *) echo "acpi-boot: unknown case $c" >&2; exit 2 ;;
  esac
  log=$(mktemp /tmp/janus-acpi-boot.XXXXXX.log)
  echo "== $accel $c (log $log)"
  timeout "$timeout_s" "$janus" -accel "$accel" -m 256 -nographic -no-reboot -kernel "$guest/vmlinuz" \
    -initrd "$guest/initramfs.cpio.gz" -append "console=ttyS0 $extra janus.run=\"echo janus-run-started; $run\"" \
    </dev/null >"$log" 2>&1
  status=$?
  if [ $status -eq 0 ]; then echo "  ok: exit status 0"; else echo "  FAIL: exit status $status"; fail=1; fi
  check "$log" "RSDP found at 0xE0000" -E 'ACPI: RSDP 0x00000000000E0000 [0-9A-F]+ \(v02 JANUS'
  check "$log" "FADT v6, MADT, DSDT loaded" -E 'ACPI: FACP .*\(v06 JANUS'
  check "$log" "IOAPIC from the MADT" -E 'IOAPIC\[0\]: apic_id 0, .*address 0xfec00000, GSI 0-23'
  check "$log" "IRQ0 -> GSI 2 override" -E 'INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2'
  check "$log" "SCI override: IRQ 9 level, active high" -E 'INT_SRC_OVR \(bus 0 bus_irq 9 global_irq 9 high level\)'
  check "$log" "PM timer port" -E 'ACPI: PM-Timer IO Port: 0x608'
  check "$log" "S5 supported" -E 'ACPI: PM: \(supports S0 S5\)'
  check "$log" "init ran the command" -F 'janus-run-started'
  check "$log" "TSC rate detected" -E 'tsc: Detected [0-9]+\.[0-9]{3} MHz processor'
  if [ "$accel" = kvm ] && [ -e /sys/module/kvm_pvm ]; then
    echo "  (kvm_pvm: CPUID stops at leaf 0xC here, so the kernel calibrates the TSC itself)"
  else
    check_absent "$log" "TSC rate from CPUID: no PIT calibration" -F 'Fast TSC calibration failed'
    check_absent "$log" "TSC rate from CPUID: no refined calibration" -F 'Refined TSC clocksource calibration'
  fi
  case $c in
    power-off) check "$log" "kernel entered S5" -F 'reboot: Power down' ;;
    reboot-*) check "$log" "kernel restarted the machine" -F 'reboot: Restarting system' ;;
  esac
done
exit $fail
