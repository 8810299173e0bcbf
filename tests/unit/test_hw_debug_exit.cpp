#include <gtest/gtest.h>

#include <vector>

#include "hw/debug_exit.h"
#include "hw/io_bus.h"
#include "hw/pc_layout.h"
#include "hw/post_port.h"

using namespace janus;

namespace {

TEST(DebugExit, WriteEndsTheMachineWithShiftedStatus) {
  std::vector<int> statuses;
  DebugExit dev([&](int status) { statuses.push_back(status); });
  IoBus pio("pio");
  pio.map(layout::kPortDebugExitDefault, 1, dev, "isa-debug-exit");
  pio.write(layout::kPortDebugExitDefault, 1, 0x31);
  pio.write(layout::kPortDebugExitDefault, 1, 0x00);
  pio.write(layout::kPortDebugExitDefault, 1, 0xff);
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_EQ(statuses[0], (0x31 << 1) | 1);  // 99
  EXPECT_EQ(statuses[1], 1);                // even a 0 write is a failure status
  EXPECT_EQ(statuses[2], (0xff << 1) | 1);
  EXPECT_EQ(pio.read(layout::kPortDebugExitDefault, 1), 0xffu);
}

TEST(DebugExit, WiderMappingTakesTheWholeValue) {
  int status = -1;
  DebugExit dev([&](int s) { status = s; });
  IoBus pio("pio");
  pio.map(0xf4, 4, dev, "isa-debug-exit");
  pio.write(0xf4, 2, 0x1234);
  EXPECT_EQ(status, (0x1234 << 1) | 1);
  EXPECT_EQ(pio.read(0xf4, 4), 0xffffffffu);
}

TEST(PostPort, RemembersTheLastCode) {
  PostPort post;
  IoBus pio("pio");
  pio.map(layout::kPortPost, 1, post, "post");
  EXPECT_EQ(post.last_code(), 0);
  pio.write(layout::kPortPost, 1, 0x12);
  pio.write(layout::kPortPost, 1, 0xa5);
  EXPECT_EQ(post.last_code(), 0xa5);
  EXPECT_EQ(pio.read(layout::kPortPost, 1), 0xa5u);
}

}  // namespace
