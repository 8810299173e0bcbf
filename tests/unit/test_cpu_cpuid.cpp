#include <gtest/gtest.h>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"

using namespace janus;

TEST(Cpuid, VendorIsGenuineIntel) {
  CpuidResult r = janus_cpuid_template().query(0, 0);
  char v[13] = {};
  std::memcpy(v, &r.ebx, 4);
  std::memcpy(v + 4, &r.edx, 4);
  std::memcpy(v + 8, &r.ecx, 4);
  EXPECT_STREQ(v, "GenuineIntel");
}

TEST(Cpuid, OutOfRangeBasicLeafAnswersAsHighestBasicLeaf) {
  CpuidTable t = janus_cpuid_template();
  uint32_t max = t.query(0, 0).eax;
  EXPECT_EQ(t.query(max + 5, 0), t.query(max, 0));
  EXPECT_EQ(t.query(0x8000ffff, 0), t.query(max, 0));
}

TEST(Cpuid, LongModeAndBaselineFeatures) {
  CpuidTable t = janus_cpuid_template();
  EXPECT_TRUE(t.ext1_edx(cpuid_bits::LM));
  EXPECT_TRUE(t.leaf1_edx(cpuid_bits::SSE2));
  EXPECT_TRUE(t.leaf1_edx(cpuid_bits::FXSR));
  EXPECT_EQ(t.query(0x80000007, 0), (CpuidResult{0, 0, 0, cpuid_bits::INVARIANT_TSC}));  // and nothing else there
}

TEST(CpuState, ResetVector) {
  CpuState s = reset_cpu_state();
  EXPECT_EQ(s.seg[CS].base + s.rip, 0xfffffff0ull);
  EXPECT_FALSE(s.protected_mode());
  EXPECT_EQ(s.cpl(), 0u);
}
