// The ACPI PM block: timer rate against a ManualClock, PM1 status/enable and the SCI line,
// S5 power-off through SLP_EN, and the reset register.
#include <gtest/gtest.h>

#include <vector>

#include "hw/acpi_pm.h"
#include "hw/clock.h"

using namespace janus;

namespace {

struct SciRecorder final : IrqSink {
  void set_irq(unsigned gsi, bool level) override { events.push_back({gsi, level}); }
  bool level() const { return !events.empty() && events.back().second; }
  std::vector<std::pair<unsigned, bool>> events;
};

class AcpiPmTest : public ::testing::Test {
 protected:
  uint16_t in16(uint64_t off) { return uint16_t(pm.read(off, 2)); }
  void out16(uint64_t off, uint16_t v) { pm.write(off, 2, v); }

  ManualClock clock;
  TimerQueue timers;
  SciRecorder sci;
  int power_offs = 0, resets = 0;
  AcpiPm pm{clock, timers, IrqLine(&sci, 9), [this] { power_offs++; }, [this] { resets++; }};
};

constexpr uint16_t kSlpEn = 1u << 13;
uint16_t slp_typ(unsigned t) { return uint16_t(t << 10); }

}  // namespace

TEST_F(AcpiPmTest, TimerRunsAt3579545HzFromTheClock) {
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), 0u);
  clock.advance(1'000'000'000);
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), 3'579'545u);
  clock.advance(1'000'000);  // 1 ms more: 3579.545 ticks
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), 3'579'545u + 3'579u);
  clock.set(279);  // one tick is 279.37 ns
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), 0u);
  clock.set(280);
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), 1u);
}

TEST_F(AcpiPmTest, TimerIs32BitsAndReadableInPieces) {
  clock.set(1'000'000'000ull * 1000);  // 3579545000 ticks = 0xd55b85a8
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), 0xd55b85a8u);
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 2), 0x85a8u);
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer + 2, 2), 0xd55bu);
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer + 3, 1), 0xd5u);
  clock.set(1'000'000'000ull * 1200);  // 4295454000 ticks: wrapped past 2^32
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), uint32_t(4'295'454'000ull));
  pm.write(AcpiPm::kRegTimer, 4, 0);  // read-only
  EXPECT_EQ(pm.read(AcpiPm::kRegTimer, 4), uint32_t(4'295'454'000ull));
}

TEST_F(AcpiPmTest, AlwaysInAcpiMode) {
  EXPECT_EQ(in16(AcpiPm::kRegControl) & AcpiPm::kSciEnable, AcpiPm::kSciEnable);
  out16(AcpiPm::kRegControl, 0);
  EXPECT_EQ(in16(AcpiPm::kRegControl) & AcpiPm::kSciEnable, AcpiPm::kSciEnable);
}

TEST_F(AcpiPmTest, SleepEnableWithS5PowersOff) {
  out16(AcpiPm::kRegControl, slp_typ(AcpiPm::kSleepTypeS5));
  EXPECT_EQ(power_offs, 0) << "SLP_TYP alone does nothing";
  EXPECT_EQ(in16(AcpiPm::kRegControl), slp_typ(AcpiPm::kSleepTypeS5) | 1);
  out16(AcpiPm::kRegControl, slp_typ(AcpiPm::kSleepTypeS5) | kSlpEn | 1);
  EXPECT_EQ(power_offs, 1);
  EXPECT_EQ(in16(AcpiPm::kRegControl) & kSlpEn, 0) << "SLP_EN is write-only";
  EXPECT_EQ(resets, 0);
}

TEST_F(AcpiPmTest, SleepEnableWithAnotherTypeDoesNothing) {
  for (unsigned t = 0; t < 8; t++)
    if (t != AcpiPm::kSleepTypeS5) out16(AcpiPm::kRegControl, slp_typ(t) | kSlpEn);
  EXPECT_EQ(power_offs, 0);
}

TEST_F(AcpiPmTest, ByteWriteOfTheHighControlByteWorks) {
  pm.write(AcpiPm::kRegControl + 1, 1, (slp_typ(AcpiPm::kSleepTypeS5) | kSlpEn) >> 8);
  EXPECT_EQ(power_offs, 1);
}

TEST_F(AcpiPmTest, ResetRegisterResetsOnlyWithTheResetValue) {
  pm.write(AcpiPm::kRegReset, 1, 0x01);
  EXPECT_EQ(resets, 0);
  pm.write(AcpiPm::kRegReset, 1, AcpiPm::kResetValue);
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(power_offs, 0);
}

TEST_F(AcpiPmTest, PowerButtonRaisesSciOnlyWhenEnabledAndClearsByWritingOne) {
  pm.press_power_button();
  EXPECT_EQ(in16(AcpiPm::kRegStatus) & AcpiPm::kPowerButtonBit, AcpiPm::kPowerButtonBit);
  EXPECT_FALSE(sci.level());
  out16(AcpiPm::kRegEnable, AcpiPm::kPowerButtonBit);
  EXPECT_EQ(in16(AcpiPm::kRegEnable), AcpiPm::kPowerButtonBit);
  EXPECT_TRUE(sci.level());
  EXPECT_EQ(sci.events.back().first, 9u);
  out16(AcpiPm::kRegStatus, 0);  // writing 0 leaves status alone
  EXPECT_TRUE(sci.level());
  out16(AcpiPm::kRegStatus, AcpiPm::kPowerButtonBit);
  EXPECT_EQ(in16(AcpiPm::kRegStatus) & AcpiPm::kPowerButtonBit, 0);
  EXPECT_FALSE(sci.level());
}

TEST_F(AcpiPmTest, TimerStatusWhenBit31TogglesAndItsSci) {
  // Bit 31 first toggles at tick 2^31, i.e. after 599.93 s.
  const uint64_t toggle_ns = (((1ull << 31) * 1'000'000'000ull) + AcpiPm::kTimerHz - 1) / AcpiPm::kTimerHz;
  out16(AcpiPm::kRegEnable, AcpiPm::kTimerBit);
  ASSERT_EQ(timers.next_deadline(), toggle_ns) << "TMR_EN arms the toggle";
  clock.set(toggle_ns - 1);
  timers.run_expired(clock.now_ns());
  EXPECT_EQ(in16(AcpiPm::kRegStatus) & AcpiPm::kTimerBit, 0);
  EXPECT_FALSE(sci.level());
  clock.set(toggle_ns);
  timers.run_expired(clock.now_ns());
  EXPECT_EQ(in16(AcpiPm::kRegStatus) & AcpiPm::kTimerBit, AcpiPm::kTimerBit);
  EXPECT_TRUE(sci.level()) << "the event fired without a guest access";
  out16(AcpiPm::kRegStatus, AcpiPm::kTimerBit);
  EXPECT_EQ(in16(AcpiPm::kRegStatus) & AcpiPm::kTimerBit, 0);
  EXPECT_FALSE(sci.level());
  const uint64_t second_ns = (((2ull << 31) * 1'000'000'000ull) + AcpiPm::kTimerHz - 1) / AcpiPm::kTimerHz;
  EXPECT_EQ(timers.next_deadline(), second_ns);
  out16(AcpiPm::kRegEnable, 0);
  EXPECT_EQ(timers.next_deadline(), kNever);
}

TEST_F(AcpiPmTest, UnusedBytesReadZero) {
  EXPECT_EQ(pm.read(0x6, 2), 0u);
  EXPECT_EQ(pm.read(0xd, 2), 0u);
  EXPECT_EQ(pm.read(AcpiPm::kRegReset, 1), 0u);
}
