#include <gtest/gtest.h>

#include <vector>

#include "hw/i8042.h"
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
  int rising_edges(unsigned gsi) const {
    int n = 0;
    for (auto [g, l] : events) n += (g == gsi && l);
    return n;
  }
};

constexpr uint8_t kOutputFull = 0x01, kAuxData = 0x20;

struct I8042Test : ::testing::Test {
  RecordingIrqSink irqs;
  int resets = 0;
  I8042 kbc{IrqLine(&irqs, layout::kIrqKeyboard), IrqLine(&irqs, layout::kIrqMouse), [this] { ++resets; }};
  IoBus pio{"pio"};

  void SetUp() override {
    pio.map(layout::kPortI8042Data, 1, kbc.data_port(), "i8042 data");
    pio.map(layout::kPortI8042Cmd, 1, kbc.command_port(), "i8042 cmd");
  }
  uint8_t status() { return uint8_t(pio.read(layout::kPortI8042Cmd, 1)); }
  uint8_t data() { return uint8_t(pio.read(layout::kPortI8042Data, 1)); }
  void command(uint8_t c) { pio.write(layout::kPortI8042Cmd, 1, c); }
  void send(uint8_t d) { pio.write(layout::kPortI8042Data, 1, d); }
  // Everything currently readable, as a polling driver would drain it.
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> out;
    for (int i = 0; i < 200 && (status() & kOutputFull); ++i) out.push_back(data());
    return out;
  }
  void set_command_byte(uint8_t v) {
    command(0x60);
    send(v);
  }
  bool irq1() const { return irqs.level[layout::kIrqKeyboard]; }
  bool irq12() const { return irqs.level[layout::kIrqMouse]; }
};

using Bytes = std::vector<uint8_t>;

TEST_F(I8042Test, SelfTestAndInterfaceTests) {
  command(0xaa);
  EXPECT_EQ(status() & kOutputFull, kOutputFull);
  EXPECT_EQ(status() & 0x08, 0x08);  // last write went to the command port
  EXPECT_EQ(drain(), Bytes{0x55});
  EXPECT_EQ(status() & 0x04, 0x04);  // system flag after self-test
  command(0xab);
  EXPECT_EQ(drain(), Bytes{0x00});
  command(0xa9);
  EXPECT_EQ(drain(), Bytes{0x00});
  EXPECT_EQ(status() & kOutputFull, 0);
}

TEST_F(I8042Test, CommandByteReadWrite) {
  command(0x20);
  EXPECT_EQ(drain(), Bytes{I8042::kCommandByteAtReset});
  set_command_byte(0x34);
  EXPECT_EQ(status() & 0x08, 0x00);  // last write was data
  EXPECT_EQ(kbc.command_byte(), 0x34);
  command(0x20);
  EXPECT_EQ(drain(), Bytes{0x34});
  command(0xae);  // enable keyboard clears bit 4
  command(0xa8);  // enable aux clears bit 5
  EXPECT_EQ(kbc.command_byte(), 0x04);
  command(0xad);
  command(0xa7);
  EXPECT_EQ(kbc.command_byte(), 0x34);
}

TEST_F(I8042Test, PulseResetLineCallsOnReset) {
  command(0xff);  // pulses nothing (all bits 1)
  EXPECT_EQ(resets, 0);
  command(0xfe);
  EXPECT_EQ(resets, 1);
  command(0xf0);  // bit 0 low as well
  EXPECT_EQ(resets, 2);
}

TEST_F(I8042Test, OutputPortA20AndResetBit) {
  std::vector<bool> a20_changes;
  kbc.set_a20_listener([&](bool on) { a20_changes.push_back(on); });
  command(0xd1);
  send(0xdd);  // A20 off, reset line high
  EXPECT_FALSE(kbc.a20_enabled());
  command(0xd1);
  send(0xdf);  // A20 on
  EXPECT_TRUE(kbc.a20_enabled());
  EXPECT_EQ(a20_changes, (std::vector<bool>{false, true}));
  EXPECT_EQ(resets, 0);
  command(0xd0);
  EXPECT_EQ(drain().at(0) & 0x03, 0x03);
  command(0xd1);
  send(0xde);  // bit 0 low: CPU reset
  EXPECT_EQ(resets, 1);
}

TEST_F(I8042Test, KeyboardResetRepliesAckAndSelfTestPassed) {
  send(0xff);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xaa}));
}

TEST_F(I8042Test, KeyboardCommands) {
  set_command_byte(0x07);  // no translation so the raw replies are visible
  send(0xf2);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xab, 0x83}));
  send(0xee);
  EXPECT_EQ(drain(), Bytes{0xee});
  send(0xed);
  send(0x05);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xfa}));
  EXPECT_EQ(kbc.keyboard().leds(), 0x05);
  send(0xf0);
  send(0x00);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xfa, 0x02}));
  send(0xf3);
  send(0x20);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xfa}));
  send(0xf5);
  EXPECT_EQ(drain(), Bytes{0xfa});
  const uint8_t a_make[] = {0x1c};
  kbc.key_event(a_make);
  EXPECT_TRUE(drain().empty());  // scanning disabled
  send(0xf4);
  EXPECT_EQ(drain(), Bytes{0xfa});
  kbc.key_event(a_make);
  EXPECT_EQ(drain(), Bytes{0x1c});
  send(0x42);  // not a keyboard command
  EXPECT_EQ(drain(), Bytes{0xfe});
}

TEST_F(I8042Test, TranslationTurnsSet2IntoSet1) {
  set_command_byte(0x45);  // translate on
  const uint8_t a_make[] = {0x1c};
  const uint8_t a_break[] = {0xf0, 0x1c};
  const uint8_t up_make[] = {0xe0, 0x75};
  const uint8_t up_break[] = {0xe0, 0xf0, 0x75};
  const uint8_t f7_break[] = {0xf0, 0x83};
  kbc.key_event(a_make);
  EXPECT_EQ(drain(), Bytes{0x1e});
  kbc.key_event(a_break);
  EXPECT_EQ(drain(), Bytes{0x9e});
  kbc.key_event(up_make);
  kbc.key_event(up_break);
  EXPECT_EQ(drain(), (Bytes{0xe0, 0x48, 0xe0, 0xc8}));
  kbc.key_event(f7_break);
  EXPECT_EQ(drain(), Bytes{0xc1});
  // Replies pass through the translator too: ACK unchanged, "set 2" reads as 0x41.
  send(0xf0);
  send(0x00);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xfa, 0x41}));
  // Without translation the same key arrives as set 2.
  set_command_byte(0x05);
  kbc.key_event(a_break);
  EXPECT_EQ(drain(), (Bytes{0xf0, 0x1c}));
}

TEST_F(I8042Test, Set1SelectedInTheKeyboard) {
  set_command_byte(0x05);
  send(0xf0);
  send(0x01);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xfa}));
  const uint8_t enter_break[] = {0xf0, 0x5a};
  kbc.key_event(enter_break);
  EXPECT_EQ(drain(), Bytes{0x9c});
}

TEST_F(I8042Test, KeyboardIrqFollowsOutputBufferAndCommandByte) {
  set_command_byte(0x44);  // IRQ1 off
  const uint8_t a_make[] = {0x1c};
  kbc.key_event(a_make);
  EXPECT_EQ(status() & kOutputFull, kOutputFull);
  EXPECT_FALSE(irq1());
  data();
  set_command_byte(0x45);
  const uint8_t two_keys[] = {0xe0, 0x75};
  int edges_before = irqs.rising_edges(layout::kIrqKeyboard);
  kbc.key_event(two_keys);
  EXPECT_TRUE(irq1());
  EXPECT_EQ(data(), 0xe0);
  // The next byte refills the buffer at once, after a falling edge, so an edge-triggered PIC
  // sees a second interrupt.
  EXPECT_TRUE(irq1());
  EXPECT_EQ(data(), 0x48);
  EXPECT_FALSE(irq1());
  EXPECT_EQ(irqs.rising_edges(layout::kIrqKeyboard) - edges_before, 2);
  EXPECT_FALSE(irq12());
}

TEST_F(I8042Test, DisabledKeyboardHoldsItsBytes) {
  command(0xad);
  const uint8_t a_make[] = {0x1c};
  kbc.key_event(a_make);
  EXPECT_EQ(status() & kOutputFull, 0);
  command(0xae);
  EXPECT_EQ(drain(), Bytes{0x1e});
}

TEST_F(I8042Test, D2AndD3InjectBytesAsKeyboardOrAux) {
  command(0xd2);
  send(0x12);
  EXPECT_EQ(status() & (kOutputFull | kAuxData), kOutputFull);
  EXPECT_TRUE(irq1());
  EXPECT_EQ(data(), 0x12);
  command(0xd3);
  send(0x5a);  // Linux's aux loopback probe
  EXPECT_EQ(status() & (kOutputFull | kAuxData), kOutputFull | kAuxData);
  EXPECT_TRUE(irq12());
  EXPECT_FALSE(irq1());
  EXPECT_EQ(data(), 0x5a);
  EXPECT_FALSE(irq12());
}

TEST_F(I8042Test, MouseCommandsAndPackets) {
  auto mouse = [&](uint8_t b) {
    command(0xd4);
    send(b);
  };
  mouse(0xff);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xaa, 0x00}));
  mouse(0xf2);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0x00}));
  mouse(0xf3);
  mouse(40);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0xfa}));
  mouse(0xe9);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0x00, 0x02, 40}));
  kbc.mouse_event(5, 5, 1);
  EXPECT_TRUE(drain().empty());  // reporting disabled after reset
  mouse(0xf4);
  EXPECT_EQ(drain(), Bytes{0xfa});
  kbc.mouse_event(5, -3, 1);  // right 5, up 3, left button
  EXPECT_TRUE(irq12());
  EXPECT_EQ(status() & kAuxData, kAuxData);
  EXPECT_EQ(drain(), (Bytes{0x09, 0x05, 0x03}));
  kbc.mouse_event(-2, 4, 2);  // left 2, down 4, right button
  EXPECT_EQ(drain(), (Bytes{0x08 | 0x02 | 0x10 | 0x20, 0xfe, 0xfc}));
  kbc.mouse_event(300, 0, 0);  // beyond 9 bits: two packets
  EXPECT_EQ(drain(), (Bytes{0x08, 0xff, 0x00, 0x08, 45, 0x00}));
  mouse(0xe9);
  EXPECT_EQ(drain(), (Bytes{0xfa, 0x20, 0x02, 40}));
  mouse(0xf5);
  EXPECT_EQ(drain(), Bytes{0xfa});
}

TEST_F(I8042Test, AuxDisabledOrIrqOffHoldsOrSilencesMouse) {
  command(0xd4);
  send(0xf4);
  drain();
  set_command_byte(0x45);  // IRQ12 off
  kbc.mouse_event(1, 0, 0);
  EXPECT_EQ(status() & kAuxData, kAuxData);
  EXPECT_FALSE(irq12());
  drain();
  command(0xa7);
  kbc.mouse_event(1, 0, 0);
  EXPECT_EQ(status() & kOutputFull, 0);
  command(0xa8);
  EXPECT_EQ(drain().size(), 3u);
}

TEST_F(I8042Test, HostFloodIsBounded) {
  const uint8_t a_make[] = {0x1c};
  for (int i = 0; i < 1000; ++i) kbc.key_event(a_make);
  auto bytes = drain();
  EXPECT_LT(bytes.size(), 100u);
  EXPECT_EQ(bytes.back(), 0xff);  // overrun code (0x00 in set 2, translated)
}

TEST(Set2ToSet1, KnownKeysAndPassThrough) {
  EXPECT_EQ(set2_to_set1(0x1c), 0x1e);  // A
  EXPECT_EQ(set2_to_set1(0x76), 0x01);  // Esc
  EXPECT_EQ(set2_to_set1(0x29), 0x39);  // Space
  EXPECT_EQ(set2_to_set1(0x07), 0x58);  // F12
  EXPECT_EQ(set2_to_set1(0x83), 0x41);  // F7
  EXPECT_EQ(set2_to_set1(0xe0), 0xe0);
  EXPECT_EQ(set2_to_set1(0xfa), 0xfa);
  // Every key of the table maps to a distinct set-1 code (no copy-paste duplicates).
  std::vector<int> seen(256, 0);
  for (int c = 0; c < 0x80; ++c)
    if (uint8_t s = set2_to_set1(uint8_t(c)); s != 0 && c != 0x02) ++seen[s];
  for (int s = 0; s < 256; ++s) EXPECT_LE(seen[s], 1) << "set-1 code " << s;
}

}  // namespace
