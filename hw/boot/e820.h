// The PC memory map as firmware reports it through INT 15h/E820 (and as Linux's boot_params and
// the Multiboot mmap carry it): which guest physical ranges are RAM the OS may use.
#pragma once
#include <cstdint>
#include <vector>

#include "hw/guest_memory.h"

namespace janus {

namespace e820_type {
constexpr uint32_t kUsable = 1;
constexpr uint32_t kReserved = 2;
}

struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = 0;
  bool operator==(const E820Entry&) const = default;
};

// The map for mem, in address order: low RAM below the EBDA, the EBDA and the BIOS area
// 0xF0000-0xFFFFF reserved, RAM from 1 MiB to the PCI hole, and any RAM moved above 4 GiB.
std::vector<E820Entry> pc_e820_map(const GuestMemory& mem);

}  // namespace janus
