// Multiboot v1 (the GNU Multiboot Specification 0.6.96): what kvm-unit-tests and many small test
// kernels expect from -kernel. The kernel starts in flat 32-bit protected mode, paging off, with
// EAX = 0x2BADB002 and EBX pointing at the Multiboot information block.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cpu/cpu_state.h"
#include "hw/guest_memory.h"

namespace janus {

struct MultibootOptions {
  std::string kernel_path;
  std::string cmdline;
  // Each entry is "path arg arg...": the file at path is loaded and the whole string is the
  // module's string in the info block (as QEMU's -initrd does for Multiboot kernels).
  std::vector<std::string> modules;
};

// Loads the kernel (a.out-kludge addresses or ELF32 program headers), its modules page-aligned
// after it, and the info block at layout::kMultibootInfo. Returns the CPU state at the entry.
// Throws std::runtime_error with a one-line message naming the file on any problem.
CpuState load_multiboot(GuestMemory& mem, const MultibootOptions& options);

// True when the first 8 KiB of image hold the Multiboot magic at a 4-byte-aligned offset. The
// checksum is checked by load_multiboot, so a damaged header gets its own error message.
bool is_multiboot(std::span<const uint8_t> image);

}  // namespace janus
