#include "hw/boot/e820.h"

#include <algorithm>

#include "hw/pc_layout.h"

namespace janus {

namespace {

// Where the BIOS's own code and tables live: reserved even when no firmware is loaded so the
// map is the same whether or not -bios was given.
constexpr uint64_t kBiosAreaStart = 0xf0000;

}  // namespace

std::vector<E820Entry> pc_e820_map(const GuestMemory& mem) {
  std::vector<E820Entry> map;
  auto add = [&](uint64_t start, uint64_t end, uint32_t type) {
    if (end > start) map.push_back({start, end - start, type});
  };
  const uint64_t low_end = mem.low_ram_end();
  // Conventional memory stops at the EBDA, which firmware owns.
  add(0, std::min(low_end, layout::kEbdaStart), e820_type::kUsable);
  add(layout::kEbdaStart, std::min(low_end, layout::kVgaHoleStart), e820_type::kReserved);
  add(kBiosAreaStart, layout::kBiosShadowEnd, e820_type::kReserved);
  add(layout::kHighMemStart, low_end, e820_type::kUsable);
  // GuestMemory puts whatever did not fit below the PCI hole at 4 GiB.
  const uint64_t high_bytes = mem.ram_size() - low_end;
  add(layout::k4GiB, layout::k4GiB + high_bytes, e820_type::kUsable);
  return map;
}

}  // namespace janus
