// The PC memory map for small guests and for guests whose RAM spills above 4 GiB.
#include <gtest/gtest.h>

#include "hw/boot/e820.h"
#include "hw/guest_memory.h"

using namespace janus;

namespace {
constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;
}

TEST(E820, Map128MiB) {
  GuestMemory mem(128 * MiB);
  std::vector<E820Entry> expected = {
      {0, 0x9fc00, 1},
      {0x9fc00, 0x400, 2},
      {0xf0000, 0x10000, 2},
      {0x100000, 128 * MiB - 0x100000, 1},
  };
  EXPECT_EQ(pc_e820_map(mem), expected);
}

TEST(E820, Map5GiBPutsRamAbovePciHoleAt4GiB) {
  GuestMemory mem(5 * GiB);  // reserved, not touched: costs no host memory
  std::vector<E820Entry> expected = {
      {0, 0x9fc00, 1},
      {0x9fc00, 0x400, 2},
      {0xf0000, 0x10000, 2},
      {0x100000, 0xc0000000 - 0x100000, 1},
      {4 * GiB, 2 * GiB, 1},
  };
  EXPECT_EQ(pc_e820_map(mem), expected);
}

TEST(E820, UsableRangesAreGuestRam) {
  // Whatever e820 calls usable must be RAM the guest can really write.
  for (uint64_t size : {8 * MiB, 3 * GiB, 3 * GiB + 4096}) {
    GuestMemory mem(size);
    uint64_t usable = 0;
    for (const auto& e : pc_e820_map(mem)) {
      if (e.type != 1) continue;
      usable += e.size;
      for (uint64_t a : {e.addr, e.addr + e.size - 1}) {
        const MemoryRegion* r = mem.find(a);
        ASSERT_NE(r, nullptr) << std::hex << a;
        EXPECT_FALSE(r->readonly);
      }
    }
    // All of RAM except the EBDA, the VGA hole and 0xC0000-0xFFFFF is usable.
    EXPECT_EQ(usable, size - (0x100000 - 0x9fc00)) << size;
  }
}
