#include <gtest/gtest.h>

#include <random>

#include "hw/clock.h"
#include "hw/io_bus.h"
#include "hw/irq_chip.h"
#include "hw/pc_layout.h"
#include "hw/pit8254.h"

using namespace janus;

namespace {

constexpr uint64_t kTscHz = 1'000'000'000;

// The interrupt half of a PC: PIT on GSI 0, everything reached through the buses as a guest would.
class IrqChipTest : public ::testing::Test {
 protected:
  IrqChipTest() {
    chip.attach(pio, mmio);
    pio.map(layout::kPortPit, Pit8254::kPortCount, pit, "pit");
    chip.set_interrupt_raised_hook([this] { ++raised; });
  }

  void out(uint16_t port, uint8_t v) { pio.write(port, 1, v); }
  void lapic_write(uint32_t reg, uint32_t v) { mmio.write(layout::kLapicBase + reg, 4, v); }
  uint32_t lapic_read(uint32_t reg) { return uint32_t(mmio.read(layout::kLapicBase + reg, 4)); }
  void ioapic_route(unsigned pin, uint64_t entry) {
    mmio.write(layout::kIoApicBase + IoApic::kRegSelect, 4, 0x11 + 2 * pin);
    mmio.write(layout::kIoApicBase + IoApic::kRegWindow, 4, uint32_t(entry >> 32));
    mmio.write(layout::kIoApicBase + IoApic::kRegSelect, 4, 0x10 + 2 * pin);
    mmio.write(layout::kIoApicBase + IoApic::kRegWindow, 4, uint32_t(entry));
  }
  void init_pic() {  // as Linux: vectors 0x20 / 0x28
    out(0x20, 0x11); out(0x21, 0x20); out(0x21, 0x04); out(0x21, 0x01);
    out(0xa0, 0x11); out(0xa1, 0x28); out(0xa1, 0x02); out(0xa1, 0x01);
    out(0x21, 0x00); out(0xa1, 0x00);
  }
  void start_pit_hz1000() {
    out(0x43, 0x34);
    out(0x40, 1193 & 0xff);
    out(0x40, 1193 >> 8);
  }
  void enable_lapic() { lapic_write(Lapic::kRegSvr, 0x1ff); }
  void run_to(uint64_t ns) {
    clock.set(ns);
    timers.run_expired(ns);
  }

  ManualClock clock;
  TimerQueue timers;
  IrqChip chip{clock, timers, kTscHz};
  Pit8254 pit{clock, timers, IrqLine(&chip, layout::kIrqPit)};
  IoBus pio{"pio"}, mmio{"mmio"};
  int raised = 0;
};

TEST_F(IrqChipTest, AttachMapsEveryControllerWhereThePcHasIt) {
  EXPECT_NE(pio.find(0x20), nullptr);
  EXPECT_NE(pio.find(0xa1), nullptr);
  EXPECT_NE(pio.find(0x4d1), nullptr);
  EXPECT_NE(mmio.find(0xfec00010), nullptr);
  EXPECT_EQ(lapic_read(Lapic::kRegVersion), Lapic::kVersion);
  mmio.write(0xfec00000, 4, 1);
  EXPECT_EQ(mmio.read(0xfec00010, 4), IoApic::kVersion);
}

TEST_F(IrqChipTest, PitTickReachesTheCpuThroughThePicAndVirtualWire) {
  init_pic();
  start_pit_hz1000();
  EXPECT_FALSE(chip.interrupt_pending());
  run_to(999848);
  EXPECT_TRUE(chip.interrupt_pending());
  EXPECT_GT(raised, 0) << "the machine loop is told to wake the CPU";
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
  EXPECT_FALSE(chip.interrupt_pending());
  out(0x20, 0x20);  // EOI
  run_to(1999695);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
}

TEST_F(IrqChipTest, PitTickReachesTheLapicThroughIoApicPin2) {
  enable_lapic();
  lapic_write(Lapic::kRegLvtLint0, Lapic::kLvtMasked | 0x700);  // APIC mode: no virtual wire
  init_pic();
  ioapic_route(2, 0x30);  // the MADT override: ISA IRQ0 is IOAPIC pin 2
  ioapic_route(0, 0x3f);  // pin 0 must stay silent
  start_pit_hz1000();
  run_to(999848);
  EXPECT_TRUE(chip.interrupt_pending());
  EXPECT_TRUE(chip.pic().output()) << "the PIC saw it too, but LINT0 is masked";
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x30);
  EXPECT_FALSE(chip.interrupt_pending());
  EXPECT_TRUE(chip.lapic().isr_bit(0x30));
  lapic_write(Lapic::kRegEoi, 0);
  EXPECT_FALSE(chip.lapic().isr_bit(0x30));
  EXPECT_FALSE(chip.lapic().irr_bit(0x3f));
}

// The machine loop ran the PIT 3.5 periods late (its thread was descheduled): the CPU still
// gets three IRQ0s, one at a time, each a quarter period after it took the previous (hw/irq.h
// LateTimerPeriods). A guest counting ticks as time (Linux's jiffies early in boot) would
// otherwise fall behind the TSC.
TEST_F(IrqChipTest, PitPeriodsTheLoopRanLatePastReachTheLapicOneByOne) {
  enable_lapic();
  lapic_write(Lapic::kRegLvtLint0, Lapic::kLvtMasked | 0x700);
  init_pic();
  ioapic_route(2, 0x30);
  start_pit_hz1000();
  const uint64_t period = Pit8254::ticks_to_ns(1193);
  run_to(3'500'000);
  EXPECT_EQ(chip.timer_periods_waiting(0), 2u);
  unsigned taken = 0;
  while (chip.interrupt_pending()) {
    EXPECT_EQ(chip.acknowledge_interrupt(), 0x30);
    lapic_write(Lapic::kRegEoi, 0);
    EXPECT_FALSE(chip.interrupt_pending()) << "the guest runs before the next one";
    taken++;
    run_to(clock.now_ns() + period / 4);
  }
  EXPECT_EQ(taken, clock.now_ns() / period) << "every period that ended, each on its own";
  EXPECT_EQ(taken, 4u);
}

TEST_F(IrqChipTest, LatePitPeriodsReachThePicOneByOne) {
  init_pic();
  start_pit_hz1000();
  const uint64_t period = Pit8254::ticks_to_ns(1193);
  run_to(3'500'000);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
  out(0x20, 0x20);
  run_to(clock.now_ns() + period / 4 - 1);
  EXPECT_FALSE(chip.interrupt_pending()) << "a quarter period between them";
  unsigned taken = 1;
  for (;;) {
    run_to(clock.now_ns() + period / 4);
    if (!chip.interrupt_pending()) break;
    EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
    out(0x20, 0x20);
    taken++;
  }
  EXPECT_EQ(taken, clock.now_ns() / period) << "every period that ended, each on its own";
}

TEST_F(IrqChipTest, PitPeriodWhileTheLastIsPendingMergesAsOnHardware) {
  init_pic();
  start_pit_hz1000();
  for (uint64_t t = 1'000'000; t <= 3'000'000; t += 1'000'000) run_to(t);  // interrupts disabled
  EXPECT_EQ(chip.timer_periods_waiting(0), 0u);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
  out(0x20, 0x20);
  run_to(3'900'000);
  EXPECT_FALSE(chip.interrupt_pending());
}

TEST_F(IrqChipTest, MaskedPitPeriodsAreDroppedNotOwed) {
  init_pic();
  out(0x21, 0x01);  // IRQ0 masked on the PIC; the IOAPIC pins are masked since reset
  start_pit_hz1000();
  run_to(3'500'000);
  EXPECT_EQ(chip.timer_periods_waiting(0), 0u);
  out(0x21, 0x00);  // unmasked: the one edge latched in IRR, as on hardware
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
  out(0x20, 0x20);
  EXPECT_FALSE(chip.interrupt_pending());
}

TEST_F(IrqChipTest, PitBacklogIsBoundedAndDroppedWhenReprogrammed) {
  init_pic();
  start_pit_hz1000();
  run_to(10'000'000'000ull);  // a 10 s host stall: at most one second of ticks is made up
  EXPECT_EQ(chip.timer_periods_waiting(0), 1000u);
  start_pit_hz1000();  // a new count: the old periods no longer mean anything
  EXPECT_EQ(chip.timer_periods_waiting(0), 0u);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x20);
  out(0x20, 0x20);
  EXPECT_FALSE(chip.interrupt_pending());
}

TEST_F(IrqChipTest, LevelTriggeredGsiRedeliversAfterEoiUntilLowered) {
  enable_lapic();
  lapic_write(Lapic::kRegLvtLint0, Lapic::kLvtMasked | 0x700);  // the PIC sees IRQ11 too
  ioapic_route(11, IoApic::kLevelTriggered | IoApic::kActiveLow | 0x51);
  chip.set_irq(11, true);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x51);
  EXPECT_NE(chip.ioapic().redirection(11) & IoApic::kRemoteIrr, 0u);
  lapic_write(Lapic::kRegEoi, 0);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x51) << "still asserted: delivered again";
  chip.set_irq(11, false);
  lapic_write(Lapic::kRegEoi, 0);
  EXPECT_EQ(chip.ioapic().redirection(11) & IoApic::kRemoteIrr, 0u);
  EXPECT_FALSE(chip.interrupt_pending());
}

TEST_F(IrqChipTest, GsiAbove15ReachesOnlyTheIoApic) {
  enable_lapic();
  init_pic();
  ioapic_route(20, 0x70);
  chip.set_irq(20, true);
  EXPECT_FALSE(chip.pic().output());
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x70);
}

TEST_F(IrqChipTest, IsaIrqDrivesBothPicAndSamePinOnIoApic) {
  enable_lapic();
  init_pic();
  ioapic_route(4, 0x44);
  chip.set_irq(layout::kIrqCom1, true);
  EXPECT_TRUE(chip.pic().output());
  EXPECT_TRUE(chip.lapic().irr_bit(0x44));
  // The LAPIC's own vectors are taken before the PIC's ExtINT.
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x44);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x24);
}

TEST_F(IrqChipTest, Cr8BlocksApicVectorsButNotTheVirtualWire) {
  enable_lapic();
  init_pic();
  chip.set_cr8(0xf);
  EXPECT_EQ(lapic_read(Lapic::kRegTpr), 0xf0u);
  chip.lapic().accept(0x80, false);
  EXPECT_FALSE(chip.interrupt_pending());
  chip.set_irq(1, true);
  EXPECT_TRUE(chip.interrupt_pending());
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x21);
  chip.set_cr8(0);
  EXPECT_EQ(chip.cr8(), 0u);
  EXPECT_EQ(chip.acknowledge_interrupt(), 0x80);
}

TEST_F(IrqChipTest, NothingPendingAcknowledgesMinusOne) {
  EXPECT_FALSE(chip.interrupt_pending());
  EXPECT_EQ(chip.acknowledge_interrupt(), -1);
}

TEST_F(IrqChipTest, TscDeadlineTimerThroughTheInterruptSource) {
  enable_lapic();
  lapic_write(Lapic::kRegLvtTimer, Lapic::kTimerTscDeadline | 0xec);
  chip.set_tsc_deadline(5000);
  EXPECT_EQ(chip.tsc_deadline(), 5000u);
  EXPECT_EQ(timers.next_deadline(), 5000u);
  run_to(5000);
  EXPECT_TRUE(chip.interrupt_pending());
  EXPECT_EQ(chip.acknowledge_interrupt(), 0xec);
  EXPECT_EQ(chip.tsc_deadline(), 0u);
}

TEST_F(IrqChipTest, IoApicNmiReachesTheCpu) {
  enable_lapic();
  ioapic_route(5, 4u << 8);
  chip.set_irq(5, true);
  EXPECT_TRUE(chip.nmi_pending());
  chip.acknowledge_nmi();
  EXPECT_FALSE(chip.nmi_pending());
}

TEST_F(IrqChipTest, DevicesCannotDriveTheCascadeOrMissingLines) {
  EXPECT_THROW(chip.set_irq(2, true), std::invalid_argument);
  EXPECT_THROW(chip.set_irq(24, true), std::invalid_argument);
}

TEST_F(IrqChipTest, ResetRestoresPowerOnState) {
  enable_lapic();
  init_pic();
  chip.set_irq(3, true);
  chip.reset();
  EXPECT_FALSE(chip.interrupt_pending());
  EXPECT_EQ(lapic_read(Lapic::kRegSvr), 0xffu);
  EXPECT_EQ(chip.pic().imr(false), 0);
}

// A guest may write anything anywhere: nothing it does to these registers may throw or crash,
// and whatever the CPU is offered must be a real vector.
TEST_F(IrqChipTest, RandomGuestAccessesNeverBreakTheChip) {
  std::mt19937_64 rng(12345);
  const uint64_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43};
  const unsigned sizes[] = {1, 2, 4, 8};
  int delivered = 0;
  for (int i = 0; i < 200000; ++i) {
    uint64_t value = rng();
    unsigned size = sizes[rng() % 4];
    switch (rng() % 5) {
      case 0: pio.write(ports[rng() % 10], size, value); break;
      case 1: pio.read(ports[rng() % 10], size); break;
      case 2: mmio.write(layout::kLapicBase + (rng() % 0x1000), size, value); break;
      case 3: mmio.write(layout::kIoApicBase + (rng() % 2) * 0x10, 4, value & 0xff); break;
      case 4: mmio.write(layout::kIoApicBase + (rng() % 0x20), size, value); break;
    }
    if (rng() % 8 == 0) mmio.read(layout::kLapicBase + (rng() % 0x1000), size);
    if (rng() % 16 == 0) {
      unsigned gsi = unsigned(rng() % 24);
      chip.set_irq(gsi == 2 ? 3 : gsi, rng() & 1);  // 2 is the cascade, a wiring error
    }
    if (rng() % 32 == 0) chip.set_cr8(rng());
    if (rng() % 64 == 0) chip.set_tsc_deadline(clock.now_ns() + rng() % 100000);
    if (rng() % 4 == 0) run_to(clock.now_ns() + rng() % 20000);
    if (chip.interrupt_pending()) {
      int vector = chip.acknowledge_interrupt();
      EXPECT_GE(vector, 0);
      EXPECT_LT(vector, 256);
      ++delivered;
    }
  }
  EXPECT_GT(delivered, 100) << "the stress must actually produce interrupts";
}

}  // namespace
