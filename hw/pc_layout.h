// Every fixed address of the Janus PC, with the reason it is there. One place to look.
#pragma once
#include <cstdint>

namespace janus::layout {

// --- Guest physical memory ---
constexpr uint64_t kRealModeIvt = 0x0;               // interrupt vector table, 1 KiB
constexpr uint64_t kBiosDataArea = 0x400;            // BDA: firmware and DOS-era data
constexpr uint64_t kEbdaStart = 0x9fc00;             // extended BIOS data area: top 1 KiB of low RAM, reserved in e820
constexpr uint64_t kVgaHoleStart = 0xa0000;          // legacy VGA window: MMIO, not RAM
constexpr uint64_t kVgaHoleEnd = 0xc0000;
constexpr uint64_t kBiosShadowStart = 0xe0000;       // last 128 KiB of the firmware image appear here
constexpr uint64_t kBiosShadowEnd = 0x100000;
constexpr uint64_t kHighMemStart = 0x100000;         // 1 MiB: where protected-mode kernels load
constexpr uint64_t kPciHoleStart = 0xc0000000;       // RAM above this moves to 4 GiB (room for MMIO)
constexpr uint64_t k4GiB = 0x100000000ull;
constexpr uint64_t kMinRamBytes = 8ull << 20;        // smaller guests cannot hold a kernel and its tables
constexpr uint64_t kMaxRamBytes = 64ull << 30;

// --- Direct Linux boot (64-bit entry, as Firecracker does) ---
constexpr uint64_t kBootGdt = 0x500;                 // flat GDT used at the 64-bit kernel entry
constexpr uint64_t kBootIdt = 0x520;                 // empty IDT (the kernel installs its own)
constexpr uint64_t kZeroPage = 0x7000;               // struct boot_params
constexpr uint64_t kBootStackTop = 0x8ff0;           // initial RSP for the kernel and Multiboot images
constexpr uint64_t kPml4 = 0x9000;                   // identity page tables for the first 4 GiB
constexpr uint64_t kPdpt = 0xa000;                   // its PDPT
constexpr uint64_t kPdBase = 0xb000;                 // four page directories of 2 MiB pages, 0xb000..0xefff
constexpr uint64_t kCmdline = 0x20000;               // kernel command line, up to kCmdlineMax bytes
constexpr uint64_t kCmdlineMax = 0x10000;
constexpr uint64_t kMultibootInfo = 0x30000;         // Multiboot info block, memory map, module list, strings
constexpr uint64_t kMultibootInfoEnd = 0x40000;      // end of that area: kernels may not load over it

// --- ACPI tables (hw/acpi), built by Janus for -kernel boots ---
// In the BIOS area so that both the legacy RSDP scan (16-byte steps over 0xE0000-0xFFFFF) and
// boot_params.acpi_rsdp_addr find them. The RSDP comes first, then the other tables; the whole
// window is reported to Linux as reserved in e820. With -bios, firmware owns this area instead.
constexpr uint64_t kAcpiTablesBase = 0xe0000;
constexpr uint64_t kAcpiTablesSize = 0x10000;        // 64 KiB window, 0xE0000-0xEFFFF (tables use ~1 KiB)

// --- MMIO ---
constexpr uint64_t kIoApicBase = 0xfec00000;
constexpr uint64_t kLapicBase = 0xfee00000;
constexpr uint64_t kBootTimerBase = 0xc0000000;      // Firecracker's boot-timer address: guest writes 123 here
constexpr uint64_t kBootTimerMagic = 123;
// Where the OS may place PCI memory BARs (the DSDT's \_SB.PCI0._CRS): the PCI hole above its
// first MiB, which holds Janus's own MMIO (the boot timer), up to the IOAPIC. RAM never reaches
// into the hole, whatever -m says.
constexpr uint64_t kPciMmioWindowStart = kPciHoleStart + 0x100000;
constexpr uint64_t kPciMmioWindowEnd = kIoApicBase;  // exclusive

// --- Port I/O ---
constexpr uint16_t kPortPicMaster = 0x20;
constexpr uint16_t kPortPit = 0x40;
constexpr uint16_t kPortI8042Data = 0x60;
constexpr uint16_t kPortPortB = 0x61;                // PIT channel 2 gate / speaker (NMI status)
constexpr uint16_t kPortI8042Cmd = 0x64;
constexpr uint16_t kPortCmos = 0x70;
constexpr uint16_t kPortPost = 0x80;                 // POST code / I/O delay port
constexpr uint16_t kPortPicSlave = 0xa0;
constexpr uint16_t kPortPicElcr = 0x4d0;
constexpr uint16_t kPortCom1 = 0x3f8;
constexpr uint16_t kPortDebugExitDefault = 0x501;    // QEMU's default isa-debug-exit port
// ACPI power management block (hw/acpi_pm.h), described to the guest by the FADT:
constexpr uint16_t kPortAcpiPm = 0x600;              // 16 ports: PM1a event, PM1a control, PM timer, reset
constexpr uint16_t kPortAcpiPm1aEvt = kPortAcpiPm + 0x0;   // PM1_STS (2 bytes) then PM1_EN (2 bytes)
constexpr uint16_t kPortAcpiPm1aCnt = kPortAcpiPm + 0x4;   // PM1_CNT (2 bytes): SCI_EN, SLP_TYP, SLP_EN
constexpr uint16_t kPortAcpiPmTmr = kPortAcpiPm + 0x8;     // 32-bit PM timer at 3.579545 MHz
constexpr uint16_t kPortAcpiReset = kPortAcpiPm + 0xc;     // FADT RESET_REG (1 byte)
constexpr uint16_t kAcpiPmPortCount = 0x10;
// PCI configuration mechanism #1 (hw/pci/pci_config_ports.h): CONFIG_ADDRESS then CONFIG_DATA.
constexpr uint16_t kPortPciConfig = 0xcf8;
constexpr uint16_t kPortPciConfigAddress = kPortPciConfig + 0x0;
constexpr uint16_t kPortPciConfigData = kPortPciConfig + 0x4;
constexpr uint16_t kPciConfigPortCount = 8;

// --- PCI bus 0 (device numbers; every function is .0), as in QEMU's -M pc ---
constexpr unsigned kPciDeviceHostBridge = 0;         // 00:00.0 Intel 440FX host bridge
constexpr unsigned kPciDeviceIsaBridge = 1;          // 00:01.0 Intel PIIX3 PCI-to-ISA bridge

// --- Interrupt lines (GSI numbers; ISA IRQs 0-15 map 1:1 except IRQ0 -> IOAPIC pin 2) ---
constexpr unsigned kIrqPit = 0;
constexpr unsigned kIrqKeyboard = 1;
constexpr unsigned kIrqCom1 = 4;
constexpr unsigned kIrqRtc = 8;
constexpr unsigned kIrqSci = 9;                      // ACPI SCI: level-triggered, active high (MADT override)
constexpr unsigned kIrqMouse = 12;
constexpr unsigned kIoApicPins = 24;

}  // namespace janus::layout
