#include <gtest/gtest.h>

#include <ctime>
#include <vector>

#include "hw/cmos_rtc.h"
#include "hw/io_bus.h"
#include "hw/pc_layout.h"

using namespace janus;

namespace {

struct RecordingIrqSink : IrqSink {
  std::vector<std::pair<unsigned, bool>> events;
  bool level[32] = {};
  void set_irq(unsigned gsi, bool l) override {
    events.push_back({gsi, l});
    level[gsi] = l;
  }
};

constexpr uint64_t kSec = 1'000'000'000;

std::time_t utc(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return timegm(&tm);
}

struct RtcTest : ::testing::Test {
  ManualClock clock;
  TimerQueue timers;
  RecordingIrqSink irqs;
  // Friday 2024-03-15 13:45:58 UTC.
  CmosRtc rtc{clock, timers, IrqLine(&irqs, layout::kIrqRtc), utc(2024, 3, 15, 13, 45, 58)};
  IoBus pio{"pio"};

  void SetUp() override { pio.map(layout::kPortCmos, CmosRtc::kPortCount, rtc, "rtc"); }
  uint8_t rd(uint8_t index) {
    pio.write(layout::kPortCmos, 1, index);
    return uint8_t(pio.read(layout::kPortCmos + 1, 1));
  }
  void wr(uint8_t index, uint8_t v) {
    pio.write(layout::kPortCmos, 1, index);
    pio.write(layout::kPortCmos + 1, 1, v);
  }
  // Moves time forward and runs whatever timers fell due, as the vCPU loop does.
  void advance_to(uint64_t ns) {
    while (timers.next_deadline() <= ns) {
      clock.set(timers.next_deadline());
      timers.run_expired(clock.now_ns());
    }
    clock.set(ns);
    timers.run_expired(ns);
  }
  bool irq() const { return irqs.level[layout::kIrqRtc]; }
};

TEST_F(RtcTest, BcdTimeAtStart) {
  EXPECT_EQ(rd(0x00), 0x58);
  EXPECT_EQ(rd(0x02), 0x45);
  EXPECT_EQ(rd(0x04), 0x13);
  EXPECT_EQ(rd(0x06), 0x06);  // Friday (Sunday is 1)
  EXPECT_EQ(rd(0x07), 0x15);
  EXPECT_EQ(rd(0x08), 0x03);
  EXPECT_EQ(rd(0x09), 0x24);
  EXPECT_EQ(rd(0x32), 0x20);
  EXPECT_EQ(rd(0x0a), 0x26);
  EXPECT_EQ(rd(0x0b), 0x02);
  EXPECT_EQ(rd(0x0d), 0x80);
}

TEST_F(RtcTest, TimeAdvancesWithTheClock) {
  clock.set(kSec - 1);
  EXPECT_EQ(rd(0x00), 0x58);
  clock.set(2 * kSec);
  EXPECT_EQ(rd(0x00), 0x00);
  EXPECT_EQ(rd(0x02), 0x46);
  clock.set(2 * kSec + (10 * 3600 + 14 * 60) * kSec);  // +10:14 -> 00:00:00 next day
  EXPECT_EQ(rd(0x04), 0x00);
  EXPECT_EQ(rd(0x02), 0x00);
  EXPECT_EQ(rd(0x07), 0x16);
  EXPECT_EQ(rd(0x06), 0x07);  // Saturday
  EXPECT_EQ(rtc.current_time(), utc(2024, 3, 16, 0, 0, 0));
}

TEST_F(RtcTest, BinaryMode) {
  wr(0x0b, 0x06);  // binary, 24 h
  EXPECT_EQ(rd(0x00), 58);
  EXPECT_EQ(rd(0x02), 45);
  EXPECT_EQ(rd(0x04), 13);
  EXPECT_EQ(rd(0x07), 15);
  EXPECT_EQ(rd(0x09), 24);
  EXPECT_EQ(rd(0x32), 20);
}

TEST_F(RtcTest, TwelveHourMode) {
  wr(0x0b, 0x00);  // BCD, 12 h
  EXPECT_EQ(rd(0x04), 0x81);  // 1 PM
  wr(0x0b, 0x04);  // binary, 12 h
  EXPECT_EQ(rd(0x04), 0x81);
  clock.set(2 * kSec + (10 * 3600 + 14 * 60) * kSec);  // midnight
  EXPECT_EQ(rd(0x04), 12);    // 12 AM
  clock.set(2 * kSec + (22 * 3600 + 14 * 60) * kSec);  // noon
  EXPECT_EQ(rd(0x04), 0x80 | 12);
  wr(0x0b, 0x00);
  clock.set(2 * kSec + (23 * 3600 + 44 * 60) * kSec);  // 13:30 the next day
  EXPECT_EQ(rd(0x04), 0x81);
}

TEST_F(RtcTest, UpdateInProgressWindow) {
  const uint64_t window_start = kSec - CmosRtc::kUpdateInProgressNs;
  clock.set(window_start - 1);
  EXPECT_EQ(rd(0x0a) & 0x80, 0);
  clock.set(window_start);
  EXPECT_EQ(rd(0x0a) & 0x80, 0x80);
  EXPECT_EQ(rd(0x00), 0x58);  // still the old second
  clock.set(kSec - 1);
  EXPECT_EQ(rd(0x0a) & 0x80, 0x80);
  clock.set(kSec);
  EXPECT_EQ(rd(0x0a) & 0x80, 0);
  EXPECT_EQ(rd(0x00), 0x59);
  wr(0x0b, 0x82);  // SET: no updates, no UIP
  clock.set(2 * kSec - 1);
  EXPECT_EQ(rd(0x0a) & 0x80, 0);
}

TEST_F(RtcTest, NoTimersWithoutEnabledInterrupts) {
  EXPECT_EQ(timers.next_deadline(), kNever);
  wr(0x0b, 0x42);  // PIE
  EXPECT_NE(timers.next_deadline(), kNever);
  wr(0x0b, 0x02);
  EXPECT_EQ(timers.next_deadline(), kNever);
}

TEST_F(RtcTest, PeriodicInterruptAt1024Hz) {
  wr(0x0b, 0x42);  // PIE, rate 6 from register A = 1024 Hz
  // 976562.5 ns period: the first tick is due at 976563 ns.
  EXPECT_EQ(timers.next_deadline(), 976563u);
  advance_to(976562);
  EXPECT_FALSE(irq());
  advance_to(976563);
  EXPECT_TRUE(irq());
  EXPECT_EQ(rd(0x0c), 0xc0);  // IRQF | PF
  EXPECT_FALSE(irq());
  EXPECT_EQ(rd(0x0c), 0x00);  // read clears
  // A guest that acknowledges every interrupt gets exactly 1024 per second.
  int interrupts = 1;
  while (timers.next_deadline() <= kSec) {
    advance_to(timers.next_deadline());
    if (irq()) {
      ++interrupts;
      rd(0x0c);
    }
  }
  EXPECT_EQ(interrupts, 1024);
}

TEST_F(RtcTest, PeriodicRateSelect) {
  wr(0x0a, 0x2f);  // rate 15: 2 Hz
  wr(0x0b, 0x42);
  EXPECT_EQ(timers.next_deadline(), kSec / 2);
  wr(0x0a, 0x23);  // rate 3: 8192 Hz
  EXPECT_EQ(timers.next_deadline(), 122071u);  // ceil(1e9 / 8192)
  wr(0x0a, 0x20);  // rate 0: off
  EXPECT_EQ(timers.next_deadline(), kNever);
}

TEST_F(RtcTest, UnacknowledgedInterruptStopsTheTimer) {
  wr(0x0b, 0x42);
  advance_to(kSec / 100);
  EXPECT_TRUE(irq());
  EXPECT_EQ(timers.next_deadline(), kNever);  // nothing can change until C is read
  rd(0x0c);
  EXPECT_NE(timers.next_deadline(), kNever);
}

TEST_F(RtcTest, FlagsAreSetWithoutInterruptsAndClearedByReadingC) {
  clock.set(kSec + 5);
  EXPECT_FALSE(irq());
  EXPECT_EQ(rd(0x0c), 0x50);  // PF and UF, no IRQF
  EXPECT_EQ(rd(0x0c), 0x00);
  wr(0x0b, 0x12);  // enabling UIE with UF clear does not interrupt yet
  EXPECT_FALSE(irq());
}

TEST_F(RtcTest, UpdateEndedInterrupt) {
  wr(0x0b, 0x12);  // UIE
  EXPECT_EQ(timers.next_deadline(), kSec);
  advance_to(kSec - 1);
  EXPECT_FALSE(irq());
  advance_to(kSec);
  EXPECT_TRUE(irq());
  EXPECT_EQ(rd(0x0c) & 0x90, 0x90);
  EXPECT_EQ(timers.next_deadline(), 2 * kSec);
}

TEST_F(RtcTest, AlarmInterrupt) {
  wr(0x01, 0x10);  // 13:46:10
  wr(0x03, 0x46);
  wr(0x05, 0x13);
  wr(0x0b, 0x22);  // AIE
  EXPECT_EQ(timers.next_deadline(), 12 * kSec);
  advance_to(12 * kSec - 1);
  EXPECT_FALSE(irq());
  advance_to(12 * kSec);
  EXPECT_TRUE(irq());
  EXPECT_EQ(rd(0x0c) & 0xa0, 0xa0);
  // Don't-care hours and minutes: every minute at second 10.
  wr(0x03, 0xc0);
  wr(0x05, 0xff);
  EXPECT_EQ(timers.next_deadline(), 72 * kSec);
}

TEST_F(RtcTest, SetBitFreezesAndLoadsTime) {
  wr(0x0b, 0x82);  // SET, BCD 24 h
  wr(0x00, 0x30);
  wr(0x02, 0x15);
  wr(0x04, 0x08);
  wr(0x07, 0x01);
  wr(0x08, 0x01);
  wr(0x09, 0x99);
  wr(0x32, 0x19);
  clock.set(5 * kSec);  // frozen while SET
  EXPECT_EQ(rd(0x00), 0x30);
  wr(0x0b, 0x02);
  EXPECT_EQ(rtc.current_time(), utc(1999, 1, 1, 8, 15, 30));
  EXPECT_EQ(rd(0x06), 0x06);  // 1999-01-01 was a Friday
  clock.set(6 * kSec);        // the next divider second boundary
  EXPECT_EQ(rd(0x00), 0x31);
}

TEST_F(RtcTest, SetClearsUpdateEndedEnable) {
  wr(0x0b, 0x92);
  EXPECT_EQ(rd(0x0b), 0x82);
}

TEST_F(RtcTest, WritingATimeFieldWhileRunning) {
  clock.set(kSec / 2);
  wr(0x02, 0x10);  // minutes := 10
  EXPECT_EQ(rd(0x02), 0x10);
  EXPECT_EQ(rd(0x04), 0x13);
  clock.set(kSec);  // the second still ticks on the same boundary
  EXPECT_EQ(rd(0x00), 0x59);
}

TEST_F(RtcTest, GarbageTimeFromGuestIsSurvivable) {
  wr(0x0b, 0x82);
  for (uint8_t i : {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32}) wr(i, 0xff);
  wr(0x0b, 0x02);
  clock.set(3 * kSec);
  for (uint8_t i = 0; i < 0x0e; ++i) rd(i);  // no crash, whatever the values
  // And a valid time written afterwards is taken as is.
  wr(0x0b, 0x86);  // SET, binary
  wr(0x00, 1);
  wr(0x02, 2);
  wr(0x04, 3);
  wr(0x07, 4);
  wr(0x08, 5);
  wr(0x09, 6);
  wr(0x32, 20);
  wr(0x0b, 0x06);
  EXPECT_EQ(rtc.current_time(), utc(2006, 5, 4, 3, 2, 1));
}

TEST_F(RtcTest, NmiMaskBitOfIndexWrite) {
  EXPECT_FALSE(rtc.nmi_masked());
  pio.write(layout::kPortCmos, 1, 0x8f);
  EXPECT_TRUE(rtc.nmi_masked());
  wr(0x0f, 0x0a);  // index 0x0f without bit 7 unmasks
  EXPECT_FALSE(rtc.nmi_masked());
  pio.write(layout::kPortCmos, 1, 0x8f);
  EXPECT_EQ(pio.read(layout::kPortCmos + 1, 1), 0x0au);  // the index itself is 0x0f
}

TEST_F(RtcTest, MemorySizeRegisters) {
  auto word = [&](uint8_t i) { return rd(i) | (rd(i + 1) << 8); };
  rtc.set_memory_size(8ull << 20);
  EXPECT_EQ(word(0x15), 640);
  EXPECT_EQ(word(0x17), 7 * 1024);
  EXPECT_EQ(word(0x30), 7 * 1024);
  EXPECT_EQ(word(0x34), 0);

  rtc.set_memory_size(256ull << 20);
  EXPECT_EQ(word(0x17), 0xffff);  // capped
  EXPECT_EQ(word(0x34), (256 - 16) * 16);
  EXPECT_EQ(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16), 0);

  rtc.set_memory_size(6ull << 30);  // 3 GiB below the PCI hole, 3 GiB above 4 GiB
  EXPECT_EQ(word(0x34), int((layout::kPciHoleStart - (16 << 20)) / 65536));
  EXPECT_EQ(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16), int(((6ull << 30) - layout::kPciHoleStart) / 65536));

  unsigned sum = 0;
  for (uint8_t i = 0x10; i <= 0x2d; ++i) sum += rd(i);
  EXPECT_EQ((rd(0x2e) << 8) | rd(0x2f), int(sum));
}

TEST_F(RtcTest, ResetClearsEnablesAndFlags) {
  wr(0x0b, 0x72);
  advance_to(kSec);
  EXPECT_TRUE(irq());
  rtc.reset();
  EXPECT_FALSE(irq());
  EXPECT_EQ(rd(0x0b), 0x02);
  EXPECT_EQ(timers.next_deadline(), kNever);
  EXPECT_EQ(rd(0x00), 0x59);  // time survives
}

TEST(RtcHostTime, DefaultsToHostUtc) {
  ManualClock clock;
  TimerQueue timers;
  CmosRtc rtc(clock, timers, IrqLine());
  const std::time_t host = std::time(nullptr);
  EXPECT_LE(std::llabs(int64_t(rtc.current_time()) - int64_t(host)), 2);
}

TEST(RtcLifetime, DestructionCancelsTimers) {
  ManualClock clock;
  TimerQueue timers;
  {
    CmosRtc rtc(clock, timers, IrqLine(), 0);
    rtc.write(0, 1, 0x0b);
    rtc.write(1, 1, 0x52);
    EXPECT_NE(timers.next_deadline(), kNever);
  }
  EXPECT_EQ(timers.next_deadline(), kNever);
}

}  // namespace
