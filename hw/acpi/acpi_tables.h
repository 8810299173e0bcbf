// The ACPI tables Janus builds for -kernel guests (ACPI 6.0 layouts, ACPI spec chapter 5): an
// RSDP (revision 2) pointing at an RSDT and an XSDT, which list the FADT and the MADT; the FADT
// points at the FACS and the DSDT. They describe this machine: the PM block of hw/acpi_pm.h
// (SCI on IRQ 9, PM timer, reset register, S5 via \_S5_), one CPU with its LAPIC, the IOAPIC
// at GSI 0 with the PC's interrupt source overrides, the 8042, the CMOS century byte, and the
// PCI root bridge (hw/pci) in the DSDT.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hw/guest_memory.h"

namespace janus {

struct AcpiTableImage {
  uint64_t base = 0;            // guest physical address of bytes[0]; the RSDP is there
  std::vector<uint8_t> bytes;   // every table, at its final offset
  struct Placed {
    std::string signature;      // "RSD PTR ", "FACS", "DSDT", "FACP", "APIC", "XSDT", "RSDT"
    uint64_t address;
    uint32_t length;
  };
  std::vector<Placed> tables;   // in image order
  uint64_t rsdp_address() const { return base; }
  const Placed* find(const std::string& signature) const;
};

// Builds the tables to live at guest address base (16-byte aligned, below 4 GiB).
AcpiTableImage build_acpi_tables(uint64_t base);

// The DSDT's AML body (after the 36-byte header): Name(\_S5_, Package(){SLP_TYPa, SLP_TYPb, 0, 0}),
// then the PCI root bridge \_SB.PCI0 (hw/acpi/pci_root_aml.h).
std::vector<uint8_t> dsdt_aml();

// Builds the tables for layout::kAcpiTablesBase and copies them there when that range is guest
// RAM; returns the RSDP address, or nothing when firmware ROM (-bios) covers the BIOS area.
std::optional<uint64_t> install_acpi_tables(GuestMemory& mem);

// The sum of bytes, mod 256 (an ACPI table with a correct checksum sums to 0).
uint8_t acpi_byte_sum(const uint8_t* data, size_t length);

}  // namespace janus
