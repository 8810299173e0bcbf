// The page walker over real GuestMemory: entries read and updated in place, holes and ROM.
#include <gtest/gtest.h>

#include <vector>

#include "cpu/guest_virtual_memory.h"
#include "hw/guest_memory.h"
#include "hw/guest_memory_access.h"

using namespace janus;

TEST(GuestMemoryAccess, WalksTablesInGuestRamAndSetsAccessedBits) {
  GuestMemory ram(16 << 20);
  GuestMemoryAccess mem(ram);
  ram.store<uint64_t>(0x10000, 0x11000 | 3);
  ram.store<uint64_t>(0x11000, 0x12000 | 3);
  ram.store<uint64_t>(0x12000 + 8, 0x200000 | 0x83);  // 2 MiB page at 2 MiB
  PagingContext c;
  c.cr0 = cr0::PE | cr0::PG;
  c.cr4 = cr4::PAE;
  c.efer = efer::LMA | efer::LME;
  c.cr3 = 0x10000;
  Translation t = translate(mem, c, 0x212345, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x212345u);
  EXPECT_EQ(ram.load<uint64_t>(0x10000), 0x11000u | 0x23);
  EXPECT_EQ(ram.load<uint64_t>(0x12008), 0x200000u | 0x83 | 0x60);

  ram.store<uint32_t>(0x212345, 0xfeedf00d);
  CpuState s;
  s.cr0 = c.cr0;
  s.cr4 = c.cr4;
  s.efer = c.efer;
  s.cr3 = c.cr3;
  uint32_t v = 0;
  ASSERT_TRUE(read_linear(mem, s, 0x212345, &v, 4));
  EXPECT_EQ(v, 0xfeedf00du);
}

TEST(GuestMemoryAccess, OutsideRamFails) {
  GuestMemory ram(16 << 20);
  GuestMemoryAccess mem(ram);
  uint64_t v;
  uint32_t w;
  EXPECT_FALSE(mem.read_u64(0xa0000, v));  // VGA hole
  EXPECT_FALSE(mem.read_u32(16 << 20, w));
  EXPECT_FALSE(mem.read_u64((16 << 20) - 4, v));  // straddles the end of RAM
  EXPECT_FALSE(mem.write_u64(0xb8000, 1));
  EXPECT_TRUE(mem.read_u64((16 << 20) - 8, v));
  char buf[4];
  EXPECT_FALSE(mem.read_bytes((16 << 20) - 2, buf, 4));
  // A table in the hole is a memory error, not a crash.
  PagingContext c;
  c.cr0 = cr0::PE | cr0::PG;
  c.cr3 = 0xa0000;
  Translation t = translate(mem, c, 0x1000, AccessKind::kRead);
  EXPECT_FALSE(t.ok);
  EXPECT_TRUE(t.memory_error);
}

TEST(GuestMemoryAccess, WritesToRomAreDropped) {
  GuestMemory ram(16 << 20);
  std::vector<uint8_t> rom(0x10000, 0x11);
  ram.add_rom(0xffff0000, rom, "bios");
  GuestMemoryAccess mem(ram);
  uint64_t v = 0;
  ASSERT_TRUE(mem.read_u64(0xffff0000, v));
  EXPECT_EQ(v, 0x1111111111111111ull);
  EXPECT_TRUE(mem.write_u64(0xffff0000, 0));
  ASSERT_TRUE(mem.read_u64(0xffff0000, v));
  EXPECT_EQ(v, 0x1111111111111111ull);
  uint8_t b[3];
  ASSERT_TRUE(mem.read_bytes(0xfffffffd, b, 3));
  EXPECT_EQ(b[2], 0x11);
}
