#include <gtest/gtest.h>

#include <vector>

#include "hw/clock.h"
#include "hw/lapic.h"

using namespace janus;

namespace {

constexpr uint64_t kTscHz = 2'000'000'000;  // 2 TSC ticks per nanosecond

class LapicTest : public ::testing::Test {
 protected:
  void w(uint32_t reg, uint32_t value) { apic.write(reg, 4, value); }
  uint32_t r(uint32_t reg) { return uint32_t(apic.read(reg, 4)); }
  void enable() { w(Lapic::kRegSvr, 0x1ff); }
  void advance(uint64_t ns) {
    clock.advance(ns);
    timers.run_expired(clock.now_ns());
  }
  // Takes the interrupt and ends it, as a handler would.
  int take_and_eoi() {
    int v = apic.acknowledge();
    w(Lapic::kRegEoi, 0);
    return v;
  }

  ManualClock clock;
  TimerQueue timers;
  Lapic apic{clock, timers, kTscHz};
};

TEST_F(LapicTest, ResetStateIsVirtualWireWithApicSoftwareDisabled) {
  Lapic other(clock, timers, kTscHz, 3);
  EXPECT_EQ(other.read(Lapic::kRegId, 4), 3u << 24);
  EXPECT_EQ(r(Lapic::kRegVersion), 0x00050014u);
  EXPECT_EQ(r(Lapic::kRegSvr), 0xffu);
  EXPECT_EQ(r(Lapic::kRegDfr), 0xffffffffu);
  EXPECT_EQ(r(Lapic::kRegLvtTimer), Lapic::kLvtMasked);
  EXPECT_EQ(r(Lapic::kRegLvtLint0), 0x700u);
  EXPECT_EQ(r(Lapic::kRegLvtLint1), Lapic::kLvtMasked);
  EXPECT_TRUE(apic.passes_extint());
  EXPECT_FALSE(apic.has_interrupt());
}

TEST_F(LapicTest, SoftwareDisabledApicDropsFixedInterrupts) {
  apic.accept(0x40, false);
  EXPECT_FALSE(apic.irr_bit(0x40));
  enable();
  apic.accept(0x40, false);
  EXPECT_TRUE(apic.irr_bit(0x40));
  EXPECT_EQ(r(Lapic::kRegIrr + 0x20), 1u << 0);  // vector 0x40 is bit 0 of the third word
  EXPECT_TRUE(apic.has_interrupt());
}

TEST_F(LapicTest, HighestVectorFirstAndInServiceClassBlocksLowerClasses) {
  enable();
  apic.accept(0x31, false);
  apic.accept(0x45, false);
  apic.accept(0x4a, false);
  EXPECT_EQ(apic.acknowledge(), 0x4a);
  EXPECT_EQ(r(Lapic::kRegPpr), 0x40u);
  EXPECT_FALSE(apic.has_interrupt()) << "0x45 is in the same priority class as 0x4a";
  EXPECT_EQ(r(Lapic::kRegIsr + 0x20), 1u << 0xa);
  w(Lapic::kRegEoi, 0);
  EXPECT_EQ(apic.acknowledge(), 0x45);
  w(Lapic::kRegEoi, 0);
  EXPECT_EQ(apic.acknowledge(), 0x31);
  w(Lapic::kRegEoi, 0);
  EXPECT_EQ(apic.acknowledge(), -1);
}

TEST_F(LapicTest, HigherClassNestsAndEoiEndsTheHighestInService) {
  enable();
  apic.accept(0x40, false);
  EXPECT_EQ(apic.acknowledge(), 0x40);
  apic.accept(0x80, false);
  EXPECT_TRUE(apic.has_interrupt());
  EXPECT_EQ(apic.acknowledge(), 0x80);
  w(Lapic::kRegEoi, 0);
  EXPECT_FALSE(apic.isr_bit(0x80));
  EXPECT_TRUE(apic.isr_bit(0x40));
}

TEST_F(LapicTest, TaskPriorityBlocksLowerClassesAndIsCr8) {
  enable();
  w(Lapic::kRegTpr, 0x50);
  EXPECT_EQ(apic.cr8(), 5u);
  apic.accept(0x45, false);
  EXPECT_FALSE(apic.has_interrupt());
  EXPECT_EQ(r(Lapic::kRegPpr), 0x50u);
  apic.accept(0x61, false);
  EXPECT_EQ(apic.acknowledge(), 0x61);
  w(Lapic::kRegEoi, 0);
  apic.set_cr8(0);
  EXPECT_EQ(r(Lapic::kRegTpr), 0u);
  EXPECT_EQ(apic.acknowledge(), 0x45);
  apic.set_cr8(0xf);
  EXPECT_EQ(r(Lapic::kRegTpr), 0xf0u);
}

TEST_F(LapicTest, EoiOfLevelTriggeredVectorNotifiesIoApic) {
  std::vector<uint8_t> eois;
  apic.set_level_eoi_hook([&](uint8_t v) { eois.push_back(v); });
  enable();
  apic.accept(0x50, true);
  apic.accept(0x60, false);
  EXPECT_TRUE(apic.tmr_bit(0x50));
  EXPECT_FALSE(apic.tmr_bit(0x60));
  EXPECT_EQ(take_and_eoi(), 0x60);
  EXPECT_TRUE(eois.empty());
  EXPECT_EQ(take_and_eoi(), 0x50);
  ASSERT_EQ(eois.size(), 1u);
  EXPECT_EQ(eois[0], 0x50);
}

TEST_F(LapicTest, IllegalVectorIsAnErrorNotAnInterrupt) {
  enable();
  w(Lapic::kRegLvtError, 0xfe);
  apic.accept(0x0e, false);
  EXPECT_FALSE(apic.irr_bit(0x0e));
  EXPECT_EQ(r(Lapic::kRegEsr), 0u) << "ESR shows errors only after a write latches them";
  w(Lapic::kRegEsr, 0);
  EXPECT_EQ(r(Lapic::kRegEsr), Lapic::kEsrReceiveIllegalVector);
  EXPECT_TRUE(apic.irr_bit(0xfe)) << "the error LVT delivers";
  w(Lapic::kRegEsr, 0);
  EXPECT_EQ(r(Lapic::kRegEsr), 0u);
}

TEST_F(LapicTest, ReservedRegisterAccessSetsIllegalRegisterError) {
  enable();
  EXPECT_EQ(r(0x2f0), 0u);  // LVT CMCI is absent with six LVT entries
  w(Lapic::kRegEsr, 0);
  EXPECT_EQ(r(Lapic::kRegEsr), Lapic::kEsrIllegalRegister);
}

TEST_F(LapicTest, OneShotTimerCountsDownFromClockAndFiresExactly) {
  enable();
  w(Lapic::kRegTimerDivide, 0x3);  // divide by 16
  w(Lapic::kRegLvtTimer, 0x40);
  w(Lapic::kRegTimerInitial, 1000);  // 16 us
  EXPECT_EQ(timers.next_deadline(), 16000u);
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 1000u);
  advance(8000);
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 500u);
  advance(7999);
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 1u);
  EXPECT_FALSE(apic.irr_bit(0x40));
  advance(1);
  EXPECT_TRUE(apic.irr_bit(0x40));
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 0u);
  EXPECT_EQ(r(Lapic::kRegTimerInitial), 1000u);
  EXPECT_EQ(timers.next_deadline(), kNever) << "a one-shot does not re-arm";
}

TEST_F(LapicTest, DivideConfigEncodings) {
  enable();
  w(Lapic::kRegLvtTimer, 0x40);
  const std::pair<uint32_t, uint64_t> cases[] = {{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16},
                                                 {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (auto [dcr, divisor] : cases) {
    w(Lapic::kRegTimerDivide, dcr);
    w(Lapic::kRegTimerInitial, 100);
    EXPECT_EQ(timers.next_deadline(), clock.now_ns() + 100 * divisor) << "DCR " << dcr;
    EXPECT_EQ(r(Lapic::kRegTimerDivide), dcr);
  }
}

TEST_F(LapicTest, PeriodicTimerReloadsOnItsOwnGrid) {
  enable();
  w(Lapic::kRegTimerDivide, 0xb);  // divide by 1
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 100000);  // 100 us
  advance(99999);
  EXPECT_FALSE(apic.irr_bit(0x41));
  advance(1);
  EXPECT_EQ(take_and_eoi(), 0x41);
  EXPECT_EQ(timers.next_deadline(), 200000u);
  advance(30000);
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 70000u);
  advance(70000);
  EXPECT_EQ(take_and_eoi(), 0x41);
  EXPECT_EQ(timers.next_deadline(), 300000u);
}

TEST_F(LapicTest, PeriodicTimerDeliversPeriodsTheLoopRanLatePast) {
  // The machine loop ran the timer 3.5 periods late (a descheduled vCPU thread): the guest
  // still gets all three expiries, one at a time, each a quarter period after it took the
  // previous (hw/irq.h LateTimerPeriods). Dropping two would put a tick-counting guest clock
  // (Linux's jiffies) 2 ms behind the TSC.
  enable();
  w(Lapic::kRegTimerDivide, 0xb);
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 1'000'000);  // 1 ms
  advance(3'500'000);
  EXPECT_EQ(timers.next_deadline(), 4'000'000u) << "still on the original grid";
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 500'000u);
  EXPECT_EQ(apic.timer_expiries_owed(), 2u);
  unsigned taken = 0;
  while (apic.has_interrupt()) {
    EXPECT_EQ(take_and_eoi(), 0x41);
    EXPECT_FALSE(apic.has_interrupt()) << "the guest runs before the next one";
    taken++;
    advance(250'000);
  }
  EXPECT_EQ(clock.now_ns(), 4'500'000u);
  EXPECT_EQ(taken, 4u) << "every period that ended, each on its own (the 4 ms one too)";
  EXPECT_EQ(apic.timer_expiries_owed(), 0u);
}

TEST_F(LapicTest, PeriodicExpiryWhileTheLastIsPendingMergesAsOnHardware) {
  // The guest kept interrupts disabled for three periods, with the loop on time: the later
  // expiries find the vector still in IRR and merge with it. That is the guest's doing, not
  // the emulator's, so nothing is made up.
  enable();
  w(Lapic::kRegTimerDivide, 0xb);
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 1'000'000);
  for (int i = 0; i < 3; i++) advance(1'000'000);
  EXPECT_EQ(apic.timer_expiries_owed(), 0u);
  EXPECT_EQ(take_and_eoi(), 0x41);
  advance(999'999);
  EXPECT_FALSE(apic.has_interrupt());
}

TEST_F(LapicTest, PeriodicCatchUpIsBoundedToOneSecond) {
  enable();
  w(Lapic::kRegTimerDivide, 0xb);
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 4'000'000);  // 4 ms: a 250 Hz tick
  advance(10'000'000'000ull);               // a 10 s host stall
  EXPECT_EQ(apic.timer_expiries_owed(), 250u);
  EXPECT_EQ(timers.next_deadline(), 10'004'000'000ull);
}

TEST_F(LapicTest, OwedPeriodicExpiriesEndWithTheTimerProgramming) {
  enable();
  w(Lapic::kRegTimerDivide, 0xb);
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 100000);
  advance(350000);
  EXPECT_EQ(apic.timer_expiries_owed(), 2u);
  w(Lapic::kRegLvtTimer, 0x41);  // Linux switching its tick to one-shot mode
  EXPECT_EQ(apic.timer_expiries_owed(), 0u);
  EXPECT_EQ(take_and_eoi(), 0x41);
  EXPECT_FALSE(apic.has_interrupt());

  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 100000);
  advance(350000);
  w(Lapic::kRegTimerInitial, 200000);  // a new count
  EXPECT_EQ(apic.timer_expiries_owed(), 0u);
  advance(350000);
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | Lapic::kLvtMasked | 0x41);
  EXPECT_EQ(apic.timer_expiries_owed(), 0u);
  advance(1'000'000);  // masked expiries are dropped, not owed
  EXPECT_EQ(apic.timer_expiries_owed(), 0u);
}

TEST_F(LapicTest, TinyPeriodicTimerIsRateLimited) {
  enable();
  w(Lapic::kRegTimerDivide, 0xb);
  w(Lapic::kRegLvtTimer, Lapic::kTimerPeriodic | 0x41);
  w(Lapic::kRegTimerInitial, 10);  // 10 ns
  EXPECT_EQ(timers.next_deadline(), Lapic::kMinPeriodicNs);
  advance(Lapic::kMinPeriodicNs);
  EXPECT_EQ(timers.next_deadline(), 2 * Lapic::kMinPeriodicNs);
}

TEST_F(LapicTest, MaskedTimerCountsWithoutInterrupting) {
  enable();
  w(Lapic::kRegTimerDivide, 0xb);
  w(Lapic::kRegLvtTimer, Lapic::kLvtMasked | 0x40);
  w(Lapic::kRegTimerInitial, 1000);
  advance(400);
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 600u);
  advance(600);
  EXPECT_FALSE(apic.irr_bit(0x40));
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 0u);
}

TEST_F(LapicTest, WritingZeroInitialCountStopsTheTimer) {
  enable();
  w(Lapic::kRegLvtTimer, 0x40);
  w(Lapic::kRegTimerInitial, 1000);
  w(Lapic::kRegTimerInitial, 0);
  advance(100000);
  EXPECT_FALSE(apic.irr_bit(0x40));
  EXPECT_EQ(timers.next_deadline(), kNever);
}

TEST_F(LapicTest, DivideChangeMidCountKeepsTheCurrentCount) {
  enable();
  w(Lapic::kRegTimerDivide, 0xb);  // 1
  w(Lapic::kRegLvtTimer, 0x40);
  w(Lapic::kRegTimerInitial, 1000);
  advance(400);
  w(Lapic::kRegTimerDivide, 0x1);  // 4
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 600u);
  EXPECT_EQ(timers.next_deadline(), 400u + 600 * 4);
  advance(400);
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 500u);
}

TEST_F(LapicTest, TscDeadlineFiresAtTheConvertedTime) {
  enable();
  w(Lapic::kRegLvtTimer, Lapic::kTimerTscDeadline | 0x42);
  apic.set_tsc_deadline(2001);  // 1000.5 ns at 2 GHz: the first whole ns is 1001
  EXPECT_EQ(apic.tsc_deadline(), 2001u);
  EXPECT_EQ(timers.next_deadline(), 1001u);
  advance(1000);
  EXPECT_FALSE(apic.irr_bit(0x42));
  EXPECT_LT(apic.tsc_now(), 2001u);
  advance(1);
  EXPECT_GE(apic.tsc_now(), 2001u);
  EXPECT_TRUE(apic.irr_bit(0x42));
  EXPECT_EQ(apic.tsc_deadline(), 0u) << "the MSR clears when the deadline fires";
  EXPECT_EQ(r(Lapic::kRegTimerCurrent), 0u);
}

TEST_F(LapicTest, TscDeadlineInThePastFiresAtOnce) {
  enable();
  clock.set(5000);
  w(Lapic::kRegLvtTimer, Lapic::kTimerTscDeadline | 0x42);
  apic.set_tsc_deadline(10);
  EXPECT_TRUE(apic.irr_bit(0x42));
}

TEST_F(LapicTest, TscDeadlineMsrOnlyWorksInTscDeadlineMode) {
  enable();
  w(Lapic::kRegLvtTimer, 0x42);
  apic.set_tsc_deadline(2000);
  EXPECT_EQ(apic.tsc_deadline(), 0u);
  EXPECT_EQ(timers.next_deadline(), kNever);
  w(Lapic::kRegLvtTimer, Lapic::kTimerTscDeadline | 0x42);
  w(Lapic::kRegTimerInitial, 500);  // ignored in TSC-deadline mode
  EXPECT_EQ(r(Lapic::kRegTimerInitial), 0u);
  apic.set_tsc_deadline(2000);
  w(Lapic::kRegLvtTimer, 0x42);  // leaving the mode disarms
  EXPECT_EQ(timers.next_deadline(), kNever);
}

TEST_F(LapicTest, SelfIpiThroughIcr) {
  enable();
  w(Lapic::kRegIcrLow, (1u << 18) | 0x55);  // shorthand: self
  EXPECT_TRUE(apic.irr_bit(0x55));
  EXPECT_EQ(r(Lapic::kRegIcrLow) & (1u << 12), 0u) << "delivery status reads idle";
  w(Lapic::kRegIcrHigh, 0u << 24);
  w(Lapic::kRegIcrLow, 0x66);  // physical destination 0: us
  EXPECT_TRUE(apic.irr_bit(0x66));
  w(Lapic::kRegIcrHigh, 5u << 24);
  w(Lapic::kRegIcrLow, 0x67);  // another CPU: nobody there
  EXPECT_FALSE(apic.irr_bit(0x67));
  w(Lapic::kRegIcrLow, (3u << 18) | 0x68);  // all but self
  EXPECT_FALSE(apic.irr_bit(0x68));
  w(Lapic::kRegIcrLow, (1u << 18) | (4u << 8));  // NMI to self
  EXPECT_TRUE(apic.nmi_pending());
  apic.acknowledge_nmi();
  EXPECT_FALSE(apic.nmi_pending());
}

TEST_F(LapicTest, SendingAnIllegalVectorIsAnError) {
  enable();
  w(Lapic::kRegIcrLow, (1u << 18) | 0x05);
  EXPECT_FALSE(apic.irr_bit(0x05));
  w(Lapic::kRegEsr, 0);
  EXPECT_EQ(r(Lapic::kRegEsr), Lapic::kEsrSendIllegalVector);
}

TEST_F(LapicTest, SoftwareDisableMasksEveryLvtAndKeepsThemMasked) {
  enable();
  w(Lapic::kRegLvtTimer, 0x40);
  w(Lapic::kRegSvr, 0xff);
  EXPECT_EQ(r(Lapic::kRegLvtTimer), Lapic::kLvtMasked | 0x40);
  EXPECT_FALSE(apic.passes_extint());
  w(Lapic::kRegLvtLint0, 0x700);
  EXPECT_EQ(r(Lapic::kRegLvtLint0), Lapic::kLvtMasked | 0x700);
  enable();
  w(Lapic::kRegLvtLint0, 0x700);
  EXPECT_TRUE(apic.passes_extint());
}

TEST_F(LapicTest, Lint0ExtIntPassThroughAndHardwareDisable) {
  enable();
  w(Lapic::kRegLvtLint0, Lapic::kLvtMasked | 0x700);
  EXPECT_FALSE(apic.passes_extint());
  apic.set_hardware_enabled(false);
  EXPECT_TRUE(apic.passes_extint()) << "without an APIC, LINT0 is the INTR pin";
  apic.accept(0x40, false);
  EXPECT_FALSE(apic.has_interrupt());
  apic.set_hardware_enabled(true);
  EXPECT_EQ(r(Lapic::kRegSvr), 0xffu) << "re-enabled in the power-up state";
}

TEST_F(LapicTest, Lint1ProgrammedAsNmi) {
  enable();
  w(Lapic::kRegLvtLint1, 0x400);
  apic.set_lint(1, true);
  EXPECT_TRUE(apic.nmi_pending());
}

TEST_F(LapicTest, Lint0ProgrammedFixedDeliversOnRisingEdge) {
  enable();
  w(Lapic::kRegLvtLint0, 0x35);
  apic.set_lint(0, true);
  EXPECT_TRUE(apic.irr_bit(0x35));
  EXPECT_FALSE(apic.passes_extint());
}

TEST_F(LapicTest, MessageDestinationMatching) {
  enable();
  ApicMessage m;
  m.vector = 0x70;
  m.destination = 1;
  EXPECT_FALSE(apic.receive(m)) << "physical ID 1 is not us";
  m.destination = 0xff;
  EXPECT_TRUE(apic.receive(m));
  w(Lapic::kRegLdr, 0x02000000);
  m.vector = 0x71;
  m.logical_destination = true;
  m.destination = 0x01;
  EXPECT_FALSE(apic.receive(m));
  m.destination = 0x03;
  EXPECT_TRUE(apic.receive(m));
  EXPECT_TRUE(apic.irr_bit(0x71));
  w(Lapic::kRegDfr, 0x0fffffff);  // cluster model: cluster 0, member bit 1
  EXPECT_EQ(r(Lapic::kRegDfr), 0x0fffffffu);
  m.destination = 0x12;
  EXPECT_FALSE(apic.receive(m));
  m.destination = 0x02;
  EXPECT_TRUE(apic.receive(m));
}

TEST_F(LapicTest, RegisterAccessWidths) {
  EXPECT_EQ(apic.read(Lapic::kRegVersion, 1), 0x14u);
  EXPECT_EQ(apic.read(Lapic::kRegVersion + 2, 1), 0x05u);
  EXPECT_EQ(apic.read(Lapic::kRegVersion + 4, 4), 0u);
  apic.write(Lapic::kRegTpr, 1, 0x30);  // narrow writes are dropped
  EXPECT_EQ(r(Lapic::kRegTpr), 0u);
  apic.write(Lapic::kRegTpr + 4, 4, 0x30);
  EXPECT_EQ(r(Lapic::kRegTpr), 0u);
  EXPECT_EQ(apic.read(0x5000, 4), 0u);  // out of the page
  w(Lapic::kRegVersion, 0);  // read-only
  EXPECT_EQ(r(Lapic::kRegVersion), Lapic::kVersion);
}

TEST_F(LapicTest, ChangeHookFiresOnNewInterruptAndEoi) {
  int calls = 0;
  apic.set_change_hook([&] { ++calls; });
  enable();
  int before = calls;
  apic.accept(0x40, false);
  EXPECT_GT(calls, before);
  before = calls;
  apic.acknowledge();
  w(Lapic::kRegEoi, 0);
  EXPECT_GT(calls, before);
}

TEST_F(LapicTest, ZeroTscFrequencyIsRejected) {
  EXPECT_THROW(Lapic(clock, timers, 0), std::invalid_argument);
}

}  // namespace
