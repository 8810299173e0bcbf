#include <gtest/gtest.h>

#include <vector>

#include "hw/boot_timer.h"
#include "hw/io_bus.h"
#include "hw/pc_layout.h"

using namespace janus;

namespace {

TEST(BootTimer, MagicByteReportsTheClock) {
  ManualClock clock;
  std::vector<uint64_t> reports;
  BootTimer timer(clock, [&](uint64_t ns) { reports.push_back(ns); });
  IoBus mmio("mmio");
  mmio.map(layout::kBootTimerBase, BootTimer::kMapLength, timer, "boot-timer");

  clock.set(1'234'567'890);
  mmio.write(layout::kBootTimerBase, 1, 122);                          // not the magic
  mmio.write(layout::kBootTimerBase + 1, 1, layout::kBootTimerMagic);  // not offset 0
  mmio.write(layout::kBootTimerBase, 4, layout::kBootTimerMagic);      // not a byte
  EXPECT_TRUE(reports.empty());
  mmio.write(layout::kBootTimerBase, 1, layout::kBootTimerMagic);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], 1'234'567'890u);

  clock.advance(5'000);
  mmio.write(layout::kBootTimerBase, 1, layout::kBootTimerMagic);  // later writes report again
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1], 1'234'572'890u);
}

}  // namespace
