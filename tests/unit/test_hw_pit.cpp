#include <gtest/gtest.h>

#include <vector>

#include "hw/clock.h"
#include "hw/io_bus.h"
#include "hw/pit8254.h"

using namespace janus;

namespace {

// Records what the PIT does to its interrupt line.
struct LineRecorder final : IrqSink {
  void set_irq(unsigned gsi, bool level) override { events.push_back({gsi, level}); }
  unsigned rising_edges() const {
    unsigned n = 0;
    bool prev = false;
    for (auto [gsi, level] : events) {
      if (level && !prev) ++n;
      prev = level;
    }
    return n;
  }
  bool level() const { return !events.empty() && events.back().second; }
  std::vector<std::pair<unsigned, bool>> events;
};

class PitTest : public ::testing::Test {
 protected:
  PitTest() {
    bus.map(0x40, Pit8254::kPortCount, pit, "pit");
    bus.map(0x61, 1, port_b, "port-b");
  }
  void out(uint16_t port, uint8_t v) { bus.write(port, 1, v); }
  uint8_t in(uint16_t port) { return uint8_t(bus.read(port, 1)); }
  void set_count16(uint16_t port, uint16_t count) {
    out(port, uint8_t(count));
    out(port, uint8_t(count >> 8));
  }
  uint16_t read16(uint16_t port) {
    uint8_t lo = in(port);
    return uint16_t(lo | (in(port) << 8));
  }
  // Advances the clock to an absolute time and runs the timers that expired.
  void run_to(uint64_t ns) {
    clock.set(ns);
    timers.run_expired(ns);
  }

  ManualClock clock;
  TimerQueue timers;
  LineRecorder line;
  Pit8254 pit{clock, timers, IrqLine(&line, 0)};
  PortB port_b{pit};
  IoBus bus{"pio"};
};

TEST_F(PitTest, TickConversionRoundsUpToTheFirstNanosecond) {
  EXPECT_EQ(Pit8254::ticks_to_ns(1193), 999848u);
  EXPECT_EQ(Pit8254::ns_to_ticks(999847), 1192u);
  EXPECT_EQ(Pit8254::ns_to_ticks(999848), 1193u);
  EXPECT_EQ(Pit8254::ns_to_ticks(1'000'000'000), Pit8254::kHz);
}

TEST_F(PitTest, Mode2RateGeneratorPulsesIrq0EveryPeriod) {
  out(0x43, 0x34);  // channel 0, LSB then MSB, mode 2, binary: Linux's periodic tick
  set_count16(0x40, 1193);
  EXPECT_EQ(timers.next_deadline(), 999848u);
  run_to(999847);
  EXPECT_EQ(line.rising_edges(), 0u);
  run_to(999848);
  EXPECT_EQ(line.rising_edges(), 1u);
  EXPECT_FALSE(line.level()) << "a pulse, so the next edge is seen";
  EXPECT_EQ(timers.next_deadline(), 1999695u);
  run_to(1999695);
  EXPECT_EQ(line.rising_edges(), 2u);
  for (auto [gsi, level] : line.events) EXPECT_EQ(gsi, 0u);
}

TEST_F(PitTest, Mode2CounterAndOutputAgreeWithTheIrqTime) {
  out(0x43, 0x34);
  set_count16(0x40, 1193);
  run_to(999847);  // 1192 ticks
  EXPECT_EQ(pit.current_count(0), 1u);
  EXPECT_FALSE(pit.output(0)) << "mode 2 drives OUT low while the count is 1";
  clock.set(999848);
  EXPECT_EQ(pit.current_count(0), 1193u);
  EXPECT_TRUE(pit.output(0));
}

TEST_F(PitTest, Mode3SquareWaveWithCountZeroIs18Hz) {
  out(0x43, 0x36);  // the BIOS setting: mode 3, count 0 = 65536
  set_count16(0x40, 0);
  EXPECT_EQ(timers.next_deadline(), 54925402u);
  clock.set(Pit8254::ticks_to_ns(100));
  EXPECT_TRUE(pit.output(0));
  EXPECT_EQ(pit.current_count(0), 65536u - 200);
  clock.set(Pit8254::ticks_to_ns(32768));
  EXPECT_FALSE(pit.output(0)) << "second half of the period";
  run_to(54925402);
  EXPECT_EQ(line.rising_edges(), 1u);
  EXPECT_TRUE(pit.output(0));
}

TEST_F(PitTest, LateTimerRunIsOneEdgeOnABareWire) {
  out(0x43, 0x34);
  set_count16(0x40, 1193);
  run_to(5'500'000);
  EXPECT_EQ(line.rising_edges(), 1u);
  EXPECT_EQ(timers.next_deadline(), Pit8254::ticks_to_ns(6 * 1193));
}

TEST_F(PitTest, TinyPeriodIsRateLimited) {
  out(0x43, 0x34);
  set_count16(0x40, 2);
  EXPECT_EQ(timers.next_deadline(), 1677u);
  run_to(1677);
  EXPECT_EQ(line.rising_edges(), 1u);
  EXPECT_EQ(timers.next_deadline(), 1677u + Pit8254::kMinIrqIntervalNs);
}

TEST_F(PitTest, CounterLatchFreezesTheValueUntilRead) {
  out(0x43, 0x34);
  set_count16(0x40, 1000);
  clock.set(Pit8254::ticks_to_ns(300));
  out(0x43, 0x00);  // latch channel 0
  clock.set(Pit8254::ticks_to_ns(500));
  out(0x43, 0x00);  // a second latch before reading is ignored
  EXPECT_EQ(read16(0x40), 700u);
  EXPECT_EQ(read16(0x40), 500u) << "unlatched reads follow the clock";
}

TEST_F(PitTest, ReadBackReturnsStatusThenCount) {
  out(0x43, 0x34);
  EXPECT_EQ(pit.current_count(0), 0u);
  out(0x43, 0xe2);  // read-back status only, channel 0
  EXPECT_EQ(in(0x40), 0x40 | 0x80 | 0x34) << "null count until a count is written";
  set_count16(0x40, 1000);
  clock.set(Pit8254::ticks_to_ns(10));
  out(0x43, 0xc2);  // read-back count and status, channel 0
  EXPECT_EQ(in(0x40), 0x80 | 0x34);
  EXPECT_EQ(read16(0x40), 990u);
}

TEST_F(PitTest, Mode0RaisesIrq0AtTerminalCountAndHoldsIt) {
  out(0x43, 0x30);
  EXPECT_FALSE(pit.output(0));
  set_count16(0x40, 100);
  EXPECT_EQ(timers.next_deadline(), 83810u);
  run_to(83809);
  EXPECT_FALSE(line.level());
  run_to(83810);
  EXPECT_TRUE(line.level());
  EXPECT_TRUE(pit.output(0));
  EXPECT_EQ(timers.next_deadline(), kNever) << "mode 0 fires once";
  clock.set(Pit8254::ticks_to_ns(150));
  EXPECT_EQ(pit.current_count(0), 65536u - 50) << "the count wraps and keeps going";
  out(0x43, 0x30);  // reprogramming drops OUT
  EXPECT_FALSE(line.level());
}

TEST_F(PitTest, ByteAccessModes) {
  out(0x43, 0x10);  // LSB only, mode 0
  out(0x40, 0x50);
  EXPECT_EQ(pit.current_count(0), 0x50u);
  EXPECT_EQ(in(0x40), 0x50);
  out(0x43, 0x20);  // MSB only
  out(0x40, 0x12);
  EXPECT_EQ(pit.current_count(0), 0x1200u);
  EXPECT_EQ(in(0x40), 0x12);
}

TEST_F(PitTest, BcdCounting) {
  out(0x43, 0x35);  // mode 2, BCD
  set_count16(0x40, 0x1000);
  clock.set(Pit8254::ticks_to_ns(1));
  EXPECT_EQ(read16(0x40), 0x0999u);
  out(0x43, 0x35);
  set_count16(0x40, 0);  // 10000 in BCD
  EXPECT_EQ(timers.next_deadline(), clock.now_ns() + Pit8254::ticks_to_ns(10000));
}

TEST_F(PitTest, Mode4StrobesOnce) {
  out(0x43, 0x38);
  set_count16(0x40, 100);
  run_to(Pit8254::ticks_to_ns(100));
  EXPECT_FALSE(pit.output(0)) << "one clock low at terminal count";
  EXPECT_EQ(line.rising_edges(), 0u);
  run_to(Pit8254::ticks_to_ns(101));
  EXPECT_EQ(line.rising_edges(), 1u);
  EXPECT_EQ(timers.next_deadline(), kNever);
}

TEST_F(PitTest, Channel2GatedThroughPortBLikeLinuxCalibration) {
  out(0x61, (in(0x61) & ~0x02) | 0x01);  // gate high, speaker off
  EXPECT_TRUE(pit.gate(2));
  out(0x43, 0xb0);  // channel 2, LSB/MSB, mode 0
  out(0x42, 0xff);
  out(0x42, 0xff);
  EXPECT_EQ(in(0x61) & 0x20, 0) << "OUT2 low while counting";
  clock.set(Pit8254::ticks_to_ns(0x100));
  EXPECT_EQ(read16(0x42), 0xffffu - 0x100);
  clock.set(Pit8254::ticks_to_ns(0xffff));
  EXPECT_EQ(in(0x61) & 0x20, 0x20);
  EXPECT_TRUE(line.events.empty()) << "channel 2 has no interrupt";
}

TEST_F(PitTest, Channel2WaitsForGateInMode0) {
  out(0x43, 0xb0);
  set_count16(0x42, 100);
  clock.set(Pit8254::ticks_to_ns(500));
  EXPECT_EQ(pit.current_count(2), 100u) << "gate 2 is low after reset";
  out(0x61, 0x01);
  clock.set(Pit8254::ticks_to_ns(540));
  EXPECT_EQ(pit.current_count(2), 60u);
  out(0x61, 0x00);  // a low gate pauses mode 0
  clock.set(Pit8254::ticks_to_ns(600));
  EXPECT_EQ(pit.current_count(2), 60u);
}

TEST_F(PitTest, Mode1IsTriggeredByGateRisingEdge) {
  out(0x43, 0xb2);  // channel 2, mode 1
  set_count16(0x42, 50);
  EXPECT_TRUE(pit.output(2));
  clock.set(1000);
  out(0x61, 0x01);
  EXPECT_FALSE(pit.output(2));
  clock.set(1000 + Pit8254::ticks_to_ns(50));
  EXPECT_TRUE(pit.output(2));
}

TEST_F(PitTest, Mode2GateLowHoldsOutputHighAndReloads) {
  out(0x61, 0x01);
  out(0x43, 0xb4);  // channel 2, mode 2
  set_count16(0x42, 100);
  clock.set(Pit8254::ticks_to_ns(99));
  EXPECT_FALSE(pit.output(2));
  out(0x61, 0x00);
  EXPECT_TRUE(pit.output(2));
  EXPECT_EQ(pit.current_count(2), 100u);
}

TEST_F(PitTest, PortBRefreshBitTogglesOnEveryRead) {
  uint8_t a = in(0x61), b = in(0x61), c = in(0x61);
  EXPECT_NE(a & 0x10, b & 0x10);
  EXPECT_EQ(a & 0x10, c & 0x10);
  out(0x61, 0x03);
  EXPECT_TRUE(port_b.speaker_enabled());
  EXPECT_EQ(in(0x61) & 0x03, 0x03);
}

TEST_F(PitTest, NewControlWordCancelsTheTick) {
  out(0x43, 0x34);
  set_count16(0x40, 1193);
  out(0x43, 0x34);
  EXPECT_EQ(timers.next_deadline(), kNever);
  run_to(10'000'000);
  EXPECT_EQ(line.rising_edges(), 0u);
}

TEST_F(PitTest, ControlPortReadsOpenBus) { EXPECT_EQ(in(0x43), 0xff); }

}  // namespace

namespace {

// An interrupt controller that delivers timer periods one by one (as IrqChip does): records
// what the PIT reports.
struct PeriodRecorder final : IrqSink {
  void set_irq(unsigned gsi, bool level) override { edges += level; }
  void timer_periods(unsigned gsi, uint64_t periods, uint64_t period_ns) override {
    reports.push_back({periods, period_ns});
  }
  void drop_timer_periods(unsigned gsi) override { ++drops; }
  unsigned edges = 0, drops = 0;
  std::vector<std::pair<uint64_t, uint64_t>> reports;
};

}  // namespace

TEST(PitPeriods, ALateRunReportsEveryPeriodItRanPast) {
  ManualClock clock;
  TimerQueue timers;
  PeriodRecorder irq0;
  Pit8254 pit(clock, timers, IrqLine(&irq0, 0));
  pit.write(3, 1, 0x34);  // mode 2, 1193 counts: a 1 kHz tick
  pit.write(0, 1, 1193 & 0xff);
  pit.write(0, 1, 1193 >> 8);
  clock.set(5'500'000);  // the loop ran five boundaries late
  timers.run_expired(clock.now_ns());
  using Report = std::pair<uint64_t, uint64_t>;
  const uint64_t period = Pit8254::ticks_to_ns(1193);
  EXPECT_EQ(irq0.reports, (std::vector<Report>{{5, period}}));
  EXPECT_EQ(timers.next_deadline(), Pit8254::ticks_to_ns(6 * 1193));
  clock.set(timers.next_deadline());  // on time again: one period
  timers.run_expired(clock.now_ns());
  EXPECT_EQ(irq0.reports.back(), (Report{1, period}));
  unsigned drops = irq0.drops;
  pit.write(0, 1, 1193 & 0xff);  // a new count: waiting periods are stale
  pit.write(0, 1, 1193 >> 8);
  EXPECT_GT(irq0.drops, drops);
}

TEST(PitPeriods, RateLimitedTicksAreNotMadeUp) {
  ManualClock clock;
  TimerQueue timers;
  PeriodRecorder irq0;
  Pit8254 pit(clock, timers, IrqLine(&irq0, 0));
  pit.write(3, 1, 0x34);
  pit.write(0, 1, 2);  // 1.7 us: far above the IRQ0 rate limit
  pit.write(0, 1, 0);
  clock.set(1'000'000);
  timers.run_expired(clock.now_ns());
  EXPECT_TRUE(irq0.reports.empty());
  EXPECT_EQ(irq0.edges, 1u);
}
