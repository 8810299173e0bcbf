// Tools' view of guest memory by linear address, the linear RIP and the mode names.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cpu/descriptors.h"
#include "cpu/guest_virtual_memory.h"

using namespace janus;

namespace {

class TestMemory : public PhysicalMemoryAccess {
 public:
  std::vector<uint8_t> bytes = std::vector<uint8_t>(1 << 20, 0);
  int writes = 0;
  bool in(uint64_t gpa, size_t n) const { return gpa <= bytes.size() && n <= bytes.size() - gpa; }
  bool read_u32(uint64_t gpa, uint32_t& v) override { return in(gpa, 4) && (std::memcpy(&v, &bytes[gpa], 4), true); }
  bool read_u64(uint64_t gpa, uint64_t& v) override { return in(gpa, 8) && (std::memcpy(&v, &bytes[gpa], 8), true); }
  bool write_u32(uint64_t gpa, uint32_t v) override { ++writes; return in(gpa, 4) && (std::memcpy(&bytes[gpa], &v, 4), true); }
  bool write_u64(uint64_t gpa, uint64_t v) override { ++writes; return in(gpa, 8) && (std::memcpy(&bytes[gpa], &v, 8), true); }
  void set64(uint64_t gpa, uint64_t v) { std::memcpy(&bytes[gpa], &v, 8); }
};

// Long-mode state with PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 mapping linear
// 0x7000 -> 0x9000 and 0x8000 -> 0x5000 (out of order, so a flat copy would be wrong).
CpuState long_mode_with_tables(TestMemory& m) {
  m.set64(0x1000, 0x2000 | 7);
  m.set64(0x2000, 0x3000 | 7);
  m.set64(0x3000, 0x4000 | 7);
  m.set64(0x4000 + 7 * 8, 0x9000 | 5);  // user, read-only
  m.set64(0x4000 + 8 * 8, 0x5000 | 5);
  CpuState s = reset_cpu_state();
  s.cr0 = cr0::PE | cr0::PG | cr0::WP;
  s.cr4 = cr4::PAE | cr4::SMAP | cr4::SMEP;
  s.efer = efer::LME | efer::LMA;
  s.cr3 = 0x1000;
  s.seg[CS] = SegmentDescriptor{0x00af9b000000ffffull}.to_segment(0x08);
  return s;
}

}  // namespace

TEST(ReadLinear, CrossesAPageBoundaryIntoADifferentPhysicalPage) {
  TestMemory m;
  std::memcpy(&m.bytes[0x9ffd], "abc", 3);
  std::memcpy(&m.bytes[0x5000], "defg", 4);
  CpuState s = long_mode_with_tables(m);
  char out[8] = {};
  ASSERT_TRUE(read_linear(m, s, 0x7ffd, out, 7));
  EXPECT_STREQ(out, "abcdefg");
  EXPECT_EQ(m.writes, 0) << "tools must not set accessed bits";
  // SMAP with AC=0 does not hide user pages from a tool.
  EXPECT_EQ(s.rflags & rflags::AC, 0u);
}

TEST(ReadLinear, FailsOnUnmappedPageOrNonCanonicalAddress) {
  TestMemory m;
  CpuState s = long_mode_with_tables(m);
  char out[4];
  EXPECT_FALSE(read_linear(m, s, 0x8ffe, out, 4));  // 0x9000 is not mapped
  EXPECT_TRUE(read_linear(m, s, 0x8ffc, out, 4));
  EXPECT_FALSE(read_linear(m, s, 0x0000800000000000ull, out, 1));
}

TEST(ReadLinear, PagingOffReadsPhysicalMemory) {
  TestMemory m;
  std::memcpy(&m.bytes[0xffff0], "\xea\x5b\xe0", 3);
  CpuState s = reset_cpu_state();
  uint8_t out[3];
  ASSERT_TRUE(read_linear(m, s, 0xffff0, out, 3));
  EXPECT_EQ(out[0], 0xea);
  EXPECT_EQ(out[2], 0xe0);
  EXPECT_FALSE(read_linear(m, s, 0xfffff, out, 3));  // runs past the end of memory
}

TEST(LinearRip, PerMode) {
  CpuState s = reset_cpu_state();
  EXPECT_EQ(linear_rip(s), 0xffff0000u + 0xfff0u);  // reset: CS base 0xffff0000
  s.seg[CS] = real_mode_segment(0x1234);
  s.rip = 0x12345678;  // only IP counts in real mode
  EXPECT_EQ(linear_rip(s), 0x12340u + 0x5678u);
  s.cr0 |= cr0::PE;
  s.rflags |= rflags::VM;
  EXPECT_EQ(linear_rip(s), 0x12340u + 0x5678u);
  s.rflags &= ~rflags::VM;
  s.seg[CS] = SegmentDescriptor{make_descriptor(0x10000, 0xffffffff, 0xc09b)}.to_segment(8);
  s.rip = 0x1234;
  EXPECT_EQ(linear_rip(s), 0x11234u);
  s.rip = 0xffff0000;  // 32-bit wrap-around
  EXPECT_EQ(linear_rip(s), 0x0u);
  s.efer = efer::LME | efer::LMA;
  s.seg[CS] = SegmentDescriptor{0x00af9b000000ffffull}.to_segment(8);
  s.seg[CS].base = 0x5000;  // ignored in 64-bit code
  s.rip = 0xffffffff81000000ull;
  EXPECT_EQ(linear_rip(s), 0xffffffff81000000ull);
}

TEST(DescribeMode, EveryMode) {
  CpuState s = reset_cpu_state();
  EXPECT_EQ(describe_mode(s), "real mode");
  s.cr0 |= cr0::PE;
  EXPECT_EQ(describe_mode(s), "protected mode (16-bit code)");
  s.seg[CS] = SegmentDescriptor{0x00cf9b000000ffffull}.to_segment(8);
  EXPECT_EQ(describe_mode(s), "protected mode (32-bit code)");
  s.rflags |= rflags::VM;
  EXPECT_EQ(describe_mode(s), "virtual-8086 mode");
  s.rflags &= ~rflags::VM;
  s.cr0 |= cr0::PG;
  s.cr4 |= cr4::PAE;
  s.efer = efer::LME | efer::LMA;
  EXPECT_EQ(describe_mode(s), "long mode (compatibility, 32-bit code)");
  s.seg[CS] = SegmentDescriptor{0x008f9b000000ffffull}.to_segment(8);
  EXPECT_EQ(describe_mode(s), "long mode (compatibility, 16-bit code)");
  s.seg[CS] = SegmentDescriptor{0x00af9b000000ffffull}.to_segment(8);
  EXPECT_EQ(describe_mode(s), "long mode (64-bit code)");
}
