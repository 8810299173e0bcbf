#include <gtest/gtest.h>

#include "hw/io_bus.h"
#include "hw/pic8259.h"

using namespace janus;

namespace {

// A PIC pair on a port bus, initialised the way Linux and SeaBIOS do it.
class PicTest : public ::testing::Test {
 protected:
  PicTest() {
    bus.map(0x20, 2, pic.master_ports(), "pic-master");
    bus.map(0xa0, 2, pic.slave_ports(), "pic-slave");
    bus.map(0x4d0, 2, pic.elcr_ports(), "elcr");
    pic.set_output_hook([this](bool level) { hook_levels.push_back(level); });
  }

  void out(uint16_t port, uint8_t v) { bus.write(port, 1, v); }
  uint8_t in(uint16_t port) { return uint8_t(bus.read(port, 1)); }

  void init(uint8_t master_base, uint8_t slave_base, uint8_t icw4 = 0x01) {
    out(0x20, 0x11);  // ICW1: edge, cascade, ICW4 follows
    out(0x21, master_base);
    out(0x21, 0x04);  // slave on IRQ2
    out(0x21, icw4);
    out(0xa0, 0x11);
    out(0xa1, slave_base);
    out(0xa1, 0x02);  // slave identity 2
    out(0xa1, icw4);
    out(0x21, 0x00);  // unmask everything
    out(0xa1, 0x00);
  }

  void eoi_master() { out(0x20, 0x20); }
  void eoi_slave() { out(0xa0, 0x20); }
  void pulse(unsigned irq) {
    pic.set_irq(irq, true);
    pic.set_irq(irq, false);
  }

  Pic8259 pic;
  IoBus bus{"pio"};
  std::vector<bool> hook_levels;
};

TEST_F(PicTest, EdgeIrqDeliversVectorFromIcw2AndGoesInService) {
  init(0x20, 0x28);
  EXPECT_FALSE(pic.output());
  pulse(0);
  EXPECT_TRUE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x20);
  EXPECT_FALSE(pic.output());
  EXPECT_EQ(pic.isr(false), 0x01);
  EXPECT_EQ(pic.irr(false), 0x00);
  eoi_master();
  EXPECT_EQ(pic.isr(false), 0x00);
}

TEST_F(PicTest, OutputHookSeesEveryChangeOfIntr) {
  init(0x20, 0x28);
  pulse(4);
  pic.acknowledge();
  ASSERT_EQ(hook_levels.size(), 2u);
  EXPECT_TRUE(hook_levels[0]);
  EXPECT_FALSE(hook_levels[1]);
}

TEST_F(PicTest, LowerIrqNumberWinsAndInServiceBlocksLowerPriority) {
  init(0x20, 0x28);
  pulse(3);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_FALSE(pic.output()) << "IRQ3 must wait while IRQ1 is in service";
  eoi_master();
  EXPECT_TRUE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST_F(PicTest, HigherPriorityNestsInsideLowerInService) {
  init(0x20, 0x28);
  pulse(5);
  EXPECT_EQ(pic.acknowledge(), 0x25);
  pulse(1);
  EXPECT_TRUE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(pic.isr(false), 0x22);
  eoi_master();  // non-specific EOI ends the highest priority (IRQ1) first
  EXPECT_EQ(pic.isr(false), 0x20);
}

TEST_F(PicTest, SlaveIrqCascadesThroughIrq2) {
  init(0x20, 0x28);
  pulse(10);
  EXPECT_TRUE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x2a);
  EXPECT_EQ(pic.isr(false), 0x04);
  EXPECT_EQ(pic.isr(true), 0x04);
  eoi_slave();
  eoi_master();
  EXPECT_EQ(pic.isr(false), 0);
  EXPECT_EQ(pic.isr(true), 0);
}

TEST_F(PicTest, SlaveIrqOutranksMasterIrq3ButNotIrq1) {
  init(0x20, 0x28);
  pulse(3);
  pulse(12);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  eoi_master();
  EXPECT_EQ(pic.acknowledge(), 0x2c);  // IRQ2 (cascade) ranks above IRQ3
  eoi_slave();
  eoi_master();
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST_F(PicTest, MaskHoldsRequestUntilUnmasked) {
  init(0x20, 0x28);
  out(0x21, 0x01);
  EXPECT_EQ(in(0x21), 0x01);
  pulse(0);
  EXPECT_FALSE(pic.output());
  EXPECT_EQ(pic.irr(false), 0x01);
  out(0x21, 0x00);
  EXPECT_TRUE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x20);
}

TEST_F(PicTest, MaskingCascadeBlocksSlave) {
  init(0x20, 0x28);
  out(0x21, 0x04);
  pulse(8);
  EXPECT_FALSE(pic.output());
  out(0x21, 0x00);
  EXPECT_EQ(pic.acknowledge(), 0x28);
}

TEST_F(PicTest, SpuriousIrq7WhenNothingPending) {
  init(0x08, 0x70);  // the BIOS layout
  EXPECT_EQ(pic.acknowledge(), 0x0f);
  EXPECT_EQ(pic.isr(false), 0) << "a spurious IRQ7 must not set ISR";
}

TEST_F(PicTest, LevelRequestWithdrawnBeforeInterruptAcknowledgeIsSpurious) {
  init(0x20, 0x28);
  out(0x4d0, 0x20);  // IRQ5 level triggered
  pic.set_irq(5, true);
  EXPECT_TRUE(pic.output());
  pic.set_irq(5, false);
  EXPECT_FALSE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x27);
  EXPECT_EQ(pic.isr(false), 0);
}

TEST_F(PicTest, LevelTriggeredRequestRepeatsAfterEoiWhileLineHigh) {
  init(0x20, 0x28);
  out(0x4d1, 0x08);  // IRQ11 level triggered
  EXPECT_EQ(pic.elcr(true), 0x08);
  pic.set_irq(11, true);
  EXPECT_EQ(pic.acknowledge(), 0x2b);
  EXPECT_FALSE(pic.output());
  eoi_slave();
  eoi_master();
  EXPECT_TRUE(pic.output()) << "line still high";
  EXPECT_EQ(pic.acknowledge(), 0x2b);
  pic.set_irq(11, false);
  eoi_slave();
  eoi_master();
  EXPECT_FALSE(pic.output());
}

TEST_F(PicTest, EdgeLineHeldHighDoesNotRepeat) {
  init(0x20, 0x28);
  pic.set_irq(4, true);
  EXPECT_EQ(pic.acknowledge(), 0x24);
  eoi_master();
  EXPECT_FALSE(pic.output());
  pic.set_irq(4, true);  // still high: no new edge
  EXPECT_FALSE(pic.output());
  pic.set_irq(4, false);
  pic.set_irq(4, true);
  EXPECT_TRUE(pic.output());
}

TEST_F(PicTest, ElcrOnlyAcceptsPiixWritableBits) {
  out(0x4d0, 0xff);
  out(0x4d1, 0xff);
  EXPECT_EQ(in(0x4d0), 0xf8);
  EXPECT_EQ(in(0x4d1), 0xde);
  EXPECT_EQ(bus.read(0x4d0, 2), 0xdef8u);
}

TEST_F(PicTest, AutoEoiLeavesNothingInService) {
  init(0x20, 0x28, 0x03);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(pic.isr(false), 0);
  pulse(3);
  EXPECT_TRUE(pic.output());
}

TEST_F(PicTest, SpecificEoiClearsOnlyThatLevel) {
  init(0x20, 0x28);
  pulse(5);
  pic.acknowledge();
  pulse(3);
  pic.acknowledge();
  EXPECT_EQ(pic.isr(false), 0x28);
  out(0x20, 0x65);  // specific EOI for IRQ5
  EXPECT_EQ(pic.isr(false), 0x08);
}

TEST_F(PicTest, RotateOnNonSpecificEoiMakesServicedIrqLowest) {
  init(0x20, 0x28);
  pulse(0);
  EXPECT_EQ(pic.acknowledge(), 0x20);
  out(0x20, 0xa0);  // rotate on non-specific EOI
  pulse(0);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21) << "IRQ0 is now the lowest priority";
  out(0x20, 0xa0);
  EXPECT_EQ(pic.acknowledge(), 0x20);
}

TEST_F(PicTest, SetPriorityCommand) {
  init(0x20, 0x28);
  out(0x20, 0xc4);  // IRQ4 lowest, so IRQ5 highest
  pulse(6);
  pulse(3);
  pulse(5);
  EXPECT_EQ(pic.acknowledge(), 0x25);
  eoi_master();
  EXPECT_EQ(pic.acknowledge(), 0x26);
  eoi_master();
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST_F(PicTest, Ocw3SelectsIrrOrIsrForReads) {
  init(0x20, 0x28);
  pulse(6);
  pulse(3);
  out(0x20, 0x0a);
  EXPECT_EQ(in(0x20), 0x48);
  pic.acknowledge();
  EXPECT_EQ(in(0x20), 0x40);
  out(0x20, 0x0b);
  EXPECT_EQ(in(0x20), 0x08);
}

TEST_F(PicTest, PollCommandActsAsAcknowledge) {
  init(0x20, 0x28);
  pulse(6);
  out(0x20, 0x0c);
  EXPECT_EQ(in(0x20), 0x86);
  EXPECT_EQ(pic.isr(false), 0x40);
  out(0x20, 0x0c);
  EXPECT_EQ(in(0x20), 0x00);  // nothing left
}

TEST_F(PicTest, SpecialMaskModeLetsLowerPriorityThrough) {
  init(0x20, 0x28);
  pulse(1);
  pic.acknowledge();  // IRQ1 in service
  pulse(3);
  EXPECT_FALSE(pic.output());
  out(0x21, 0x02);  // mask IRQ1
  out(0x20, 0x68);  // set special mask mode
  EXPECT_TRUE(pic.output());
  EXPECT_EQ(pic.acknowledge(), 0x23);
  out(0x20, 0x48);  // reset special mask mode
  pulse(4);
  EXPECT_FALSE(pic.output());
}

TEST_F(PicTest, Icw1ResetsMaskAndServiceState) {
  init(0x20, 0x28);
  out(0x21, 0xf0);
  pulse(1);
  pic.acknowledge();
  out(0x20, 0x11);
  EXPECT_EQ(pic.isr(false), 0);
  EXPECT_EQ(pic.imr(false), 0);
  out(0x21, 0x40);
  out(0x21, 0x04);
  out(0x21, 0x01);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x41);
}

TEST_F(PicTest, WideningAccessCoversBothPorts) {
  init(0x20, 0x28);
  out(0x21, 0x5a);
  out(0x20, 0x0a);
  pulse(1);
  EXPECT_EQ(bus.read(0x20, 2), 0x5a02u);
}

}  // namespace
