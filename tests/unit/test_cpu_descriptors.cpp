// Descriptor decoding and encoding with exact bit patterns.
#include <gtest/gtest.h>

#include <stdexcept>

#include "cpu/descriptors.h"

using namespace janus;

TEST(SegmentDescriptor, Flat32BitCode) {
  SegmentDescriptor d{0x00cf9b000000ffffull};
  EXPECT_EQ(d.base(), 0u);
  EXPECT_EQ(d.limit(), 0xffffffffu);
  EXPECT_EQ(d.attr(), 0xc09b);
  EXPECT_TRUE(d.is_code());
  EXPECT_TRUE(d.readable());
  EXPECT_FALSE(d.conforming());
  EXPECT_TRUE(d.db());
  EXPECT_FALSE(d.l());
  Segment s = d.to_segment(0x08);
  EXPECT_EQ(s, (Segment{0x08, 0, 0xffffffff, 0xc09b, false}));
  EXPECT_TRUE(s.g() && s.db() && s.present() && s.s());
  EXPECT_EQ(s.type(), 0xbu);
}

TEST(SegmentDescriptor, LongModeCode) {
  SegmentDescriptor d{0x00af9b000000ffffull};
  EXPECT_EQ(d.attr(), 0xa09b);
  EXPECT_TRUE(d.l());
  EXPECT_FALSE(d.db());
  EXPECT_TRUE(d.to_segment(0x10).l());
}

TEST(SegmentDescriptor, ByteGranularDataWithScatteredBase) {
  // base 0x12345678, limit 0x5abcd (byte granular), writable data DPL 3, AVL set.
  SegmentDescriptor d{0x1215f334'5678abcdull};
  EXPECT_EQ(d.base(), 0x12345678u);
  EXPECT_EQ(d.limit(), 0x5abcdu);
  EXPECT_EQ(d.attr(), 0x10f3);
  EXPECT_EQ(d.dpl(), 3u);
  EXPECT_TRUE(d.is_data());
  EXPECT_TRUE(d.writable());
  EXPECT_FALSE(d.expand_down());
  EXPECT_EQ(make_descriptor(0x12345678, 0x5abcd, 0x10f3), d.raw);
}

TEST(SegmentDescriptor, TssDescriptor) {
  // 32-bit available TSS at 0x12345678, limit 0x67.
  SegmentDescriptor d{0x12008934'56780067ull};
  EXPECT_FALSE(d.s());
  EXPECT_EQ(d.type(), sys_type::kTssAvail);
  EXPECT_TRUE(d.present());
  EXPECT_EQ(d.base(), 0x12345678u);
  EXPECT_EQ(d.limit(), 0x67u);
  EXPECT_EQ(d.attr(), 0x89);
  EXPECT_FALSE(d.is_code());
  EXPECT_FALSE(d.is_data());
  // In long mode the second quadword supplies base bits 32..63.
  EXPECT_EQ(d.system_base(0x00000000'ffff8000ull), 0xffff8000'12345678ull);
  EXPECT_EQ(make_descriptor(0x12345678, 0x67, 0x89), d.raw);
}

TEST(MakeDescriptor, EncodesFlatSegmentsAndForcesGranularity) {
  EXPECT_EQ(make_descriptor(0, 0xffffffff, 0xc09b), 0x00cf9b000000ffffull);
  EXPECT_EQ(make_descriptor(0, 0xffffffff, 0x409b), 0x00cf9b000000ffffull);  // G added
  EXPECT_EQ(make_descriptor(0, 0xfffff, 0x209b), 0x002f9b000000ffffull);  // 1 MiB, byte granular
  EXPECT_EQ(make_descriptor(0, 0xfffff, 0xa09b), 0x00a09b00000000ffull);  // same limit in pages
  EXPECT_EQ(make_descriptor(0, 0xfff, 0x8093), 0x00809300'00000000ull);  // G with limit field 0
  EXPECT_THROW(make_descriptor(0, 0x100000, 0x93), std::invalid_argument);
  EXPECT_THROW(make_descriptor(0, 0x1000, 0x8093), std::invalid_argument);
}

TEST(MakeDescriptor, RoundTrips) {
  struct Case { uint64_t base; uint32_t limit; uint16_t attr; } cases[] = {
      {0, 0xffffffff, 0xc09b}, {0, 0xffffffff, 0xa09b}, {0xdeadbeef, 0xffff, 0x93},
      {0xfee00000, 0x1fff, 0x80f3}, {0x1000, 0x67, 0x8b}, {0x80000000, 0xfffff, 0x4093}};
  for (const Case& c : cases) {
    SegmentDescriptor d{make_descriptor(c.base, c.limit, c.attr)};
    EXPECT_EQ(d.base(), c.base);
    EXPECT_EQ(d.limit(), c.limit);
    EXPECT_EQ(d.attr(), c.attr);
  }
}

TEST(GateDescriptor, LongModeInterruptGate) {
  // Offset 0xffffffff81234567, selector 0x10, IST 1, present DPL 0 interrupt gate.
  GateDescriptor g{0x81238e01'00104567ull, 0x00000000'ffffffffull};
  EXPECT_EQ(g.offset(true), 0xffffffff81234567ull);
  EXPECT_EQ(g.offset(false), 0x81234567u);
  EXPECT_EQ(g.selector(), 0x10);
  EXPECT_EQ(g.type(), sys_type::kIntGate);
  EXPECT_EQ(g.ist(), 1u);
  EXPECT_EQ(g.dpl(), 0u);
  EXPECT_TRUE(g.present());
}

TEST(GateDescriptor, LegacyTrapAndCallGates) {
  GateDescriptor trap{0x0000ef00'0008abcdull, 0xdeadbeef};  // DPL 3 trap gate, offset 0xabcd
  EXPECT_EQ(trap.offset(false), 0xabcdu);
  EXPECT_EQ(trap.type(), sys_type::kTrapGate);
  EXPECT_EQ(trap.dpl(), 3u);
  GateDescriptor call{0x1234ec05'001b5678ull};  // 32-bit call gate, 5 parameters
  EXPECT_EQ(call.offset(false), 0x12345678u);
  EXPECT_EQ(call.param_count(), 5u);
  EXPECT_EQ(call.selector(), 0x1b);
}

TEST(RealModeSegment, BaseIsSelectorTimes16) {
  Segment s = real_mode_segment(0xf000);
  EXPECT_EQ(s.base, 0xf0000u);
  EXPECT_EQ(s.limit, 0xffffu);
  EXPECT_EQ(s.attr, 0x93);
  EXPECT_EQ(s.selector, 0xf000);
  EXPECT_EQ(real_mode_segment(0x1234, 0xf3).base, 0x12340u);
  EXPECT_EQ(real_mode_segment(0x1234, 0xf3).attr, 0xf3);
}
