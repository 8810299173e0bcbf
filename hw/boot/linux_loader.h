// Direct Linux boot (Linux x86 boot protocol, Documentation/arch/x86/boot.rst): loads a bzImage,
// its initrd and command line, and enters the kernel's 64-bit entry point with identity-mapped
// page tables, the way Firecracker does. No firmware and no real-mode setup code run.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "cpu/cpu_state.h"
#include "hw/guest_memory.h"

namespace janus {

struct LinuxBootOptions {
  std::string kernel_path;
  std::string initrd_path;  // empty: no initrd
  std::string cmdline;
  // Guest address of the ACPI RSDP that Janus installed (hw/acpi), 0 for none. When set, the
  // kernel gets it in boot_params.acpi_rsdp_addr and the table window is reserved in e820.
  uint64_t acpi_rsdp = 0;
};

// Loads the kernel at 1 MiB, the initrd as high as the kernel allows, and builds boot_params
// (layout::kZeroPage), page tables, GDT and IDT. Returns the CPU state at the 64-bit entry.
// Throws std::runtime_error with a one-line message naming the file on any problem.
CpuState load_linux(GuestMemory& mem, const LinuxBootOptions& options);

// True when image carries the bzImage setup header (boot flag 0xAA55 and "HdrS").
bool looks_like_bzimage(std::span<const uint8_t> image);

}  // namespace janus
