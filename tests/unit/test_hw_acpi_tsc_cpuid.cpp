// CPUID leaves 0x15/0x16: the TSC rate a guest reads without calibrating, evaluated the way
// Linux 6.1's native_calibrate_tsc() does (32-bit arithmetic), and its crystal = the LAPIC clock.
#include <gtest/gtest.h>

#include <cstdint>

#include "cpu/cpuid.h"
#include "hw/lapic.h"

using namespace janus;

namespace {

// Linux: crystal_khz = ecx / 1000; tsc_khz = crystal_khz * ebx / eax in unsigned int.
uint64_t linux_tsc_khz(const CpuidResult& r) {
  uint32_t crystal_khz = r.ecx / 1000;
  return uint32_t(crystal_khz * r.ebx) / r.eax;
}

}  // namespace

TEST(AcpiTscCpuid, DefaultTemplateSaysTwoGigahertz) {
  CpuidTable t = janus_cpuid_template();
  EXPECT_GE(t.query(0, 0).eax, 0x16u);
  CpuidResult l15 = t.query(0x15, 0);
  EXPECT_EQ(l15, (CpuidResult{1, 2, 1'000'000'000, 0}));
  EXPECT_EQ(linux_tsc_khz(l15), 2'000'000u);
  EXPECT_EQ(t.query(0x16, 0).eax, 2000u);  // base MHz: Linux's cpu_khz
  EXPECT_EQ(t.query(0x16, 0).ecx, 1000u);  // bus MHz
}

TEST(AcpiTscCpuid, CrystalIsTheLapicTimerClock) {
  // Linux sets lapic_timer_period = crystal Hz / HZ from leaf 0x15 and skips LAPIC calibration.
  EXPECT_EQ(janus_cpuid_template().query(0x15, 0).ecx, Lapic::kBusHz);
  EXPECT_EQ(kCpuidCrystalHz, Lapic::kBusHz);
}

TEST(AcpiTscCpuid, ExactRatiosWhenTheyExist) {
  EXPECT_EQ(cpuid_tsc_leaf(3'000'000'000), (CpuidResult{1, 3, 1'000'000'000, 0}));
  EXPECT_EQ(cpuid_tsc_leaf(2'500'000'000), (CpuidResult{2, 5, 1'000'000'000, 0}));
  EXPECT_EQ(cpuid_tsc_leaf(1'800'000'000), (CpuidResult{5, 9, 1'000'000'000, 0}));
  EXPECT_EQ(cpuid_tsc_leaf(2'893'000'000), (CpuidResult{1000, 2893, 1'000'000'000, 0}));
  EXPECT_EQ(cpuid_tsc_leaf(0), (CpuidResult{}));
}

TEST(AcpiTscCpuid, HostRatesKeepLinuxArithmeticIn32BitsAndClose) {
  for (uint64_t hz : {2'893'437'000ull, 3'192'614'000ull, 2'099'999'000ull, 4'700'001'000ull, 1'234'567'000ull}) {
    SCOPED_TRACE(hz);
    CpuidResult r = cpuid_tsc_leaf(hz);
    ASSERT_NE(r.eax, 0u);
    EXPECT_LE(uint64_t(r.ecx / 1000) * r.ebx, 0xffffffffull) << "Linux would overflow";
    double got = double(linux_tsc_khz(r)) * 1000, err = (got - double(hz)) / double(hz);
    EXPECT_LT(err < 0 ? -err : err, 2e-6);
  }
}

TEST(AcpiTscCpuid, TemplateFollowsTheRequestedRate) {
  CpuidTable t = janus_cpuid_template(3'000'000'000);
  EXPECT_EQ(linux_tsc_khz(t.query(0x15, 0)), 3'000'000u);
  EXPECT_EQ(t.query(0x16, 0).eax, 3000u);
}

TEST(AcpiTscCpuid, LeavesBetweenAreZeroNotAliases) {
  // With max leaf 0x16, absent leaves below it must read zero rather than leaf 1's values; leaf 7
  // holds only TSC_ADJUST and ARCH_CAPABILITIES (no subleaves beyond 0).
  CpuidTable t = janus_cpuid_template();
  EXPECT_EQ(t.query(7, 0), (CpuidResult{0, cpuid_bits::TSC_ADJUST, 0, cpuid_bits::ARCH_CAPABILITIES}));
  EXPECT_EQ(t.query(7, 1), CpuidResult{});
  EXPECT_EQ(t.query(4, 0), CpuidResult{});
  EXPECT_EQ(t.query(0xb, 0), CpuidResult{});
}

TEST(AcpiTscCpuid, CappingTheMaxBasicLeafHidesTheTscLeaves) {
  CpuidTable t = janus_cpuid_template();
  cap_max_basic_leaf(t, 0xc);
  EXPECT_EQ(t.query(0, 0).eax, 0xcu);
  EXPECT_EQ(t.find(0x15, 0), nullptr);
  EXPECT_EQ(t.find(0x16, 0), nullptr);
  EXPECT_EQ(t.query(0x15, 0), t.query(0xc, 0));
  EXPECT_EQ(t.query(1, 0), janus_cpuid_template().query(1, 0));
  EXPECT_EQ(t.query(0x80000002, 0), janus_cpuid_template().query(0x80000002, 0));
  cap_max_basic_leaf(t, 0x16);  // never raises
  EXPECT_EQ(t.query(0, 0).eax, 0xcu);
}
