#include <gtest/gtest.h>

#include <vector>

#include "hw/ioapic.h"

using namespace janus;

namespace {

class IoApicTest : public ::testing::Test {
 protected:
  uint32_t reg(uint32_t index) {
    ioapic.write(IoApic::kRegSelect, 4, index);
    return uint32_t(ioapic.read(IoApic::kRegWindow, 4));
  }
  void set_reg(uint32_t index, uint32_t value) {
    ioapic.write(IoApic::kRegSelect, 4, index);
    ioapic.write(IoApic::kRegWindow, 4, value);
  }
  void program(unsigned pin, uint64_t entry) {
    set_reg(0x11 + 2 * pin, uint32_t(entry >> 32));
    set_reg(0x10 + 2 * pin, uint32_t(entry));
  }

  std::vector<ApicMessage> sent;
  IoApic ioapic{[this](const ApicMessage& m) { sent.push_back(m); }};
};

constexpr uint64_t kLevel = IoApic::kLevelTriggered;

TEST_F(IoApicTest, IdentificationRegisters) {
  EXPECT_EQ(reg(0x01), 0x00170011u) << "version 0x11, max redirection entry 23";
  EXPECT_EQ(reg(0x00), 0u);
  set_reg(0x00, 0x05000000);
  EXPECT_EQ(reg(0x00), 0x05000000u);
  EXPECT_EQ(reg(0x02), 0x05000000u) << "arbitration ID follows the APIC ID";
  set_reg(0x01, 0);
  EXPECT_EQ(reg(0x01), 0x00170011u) << "version is read-only";
  ioapic.write(IoApic::kRegSelect, 4, 0x10);
  EXPECT_EQ(ioapic.read(IoApic::kRegSelect, 4), 0x10u);
}

TEST_F(IoApicTest, EveryEntryStartsMasked) {
  for (unsigned pin = 0; pin < IoApic::kPins; ++pin) {
    EXPECT_EQ(reg(0x10 + 2 * pin), IoApic::kMasked) << pin;
    EXPECT_EQ(reg(0x11 + 2 * pin), 0u) << pin;
  }
  ioapic.set_pin(3, true);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(reg(0x40), 0u) << "past the last entry";
}

TEST_F(IoApicTest, EdgePinSendsOneMessagePerRisingEdge) {
  program(4, 0x31);
  EXPECT_EQ(reg(0x18), 0x31u);
  ioapic.set_pin(4, true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].vector, 0x31);
  EXPECT_EQ(sent[0].mode, ApicDeliveryMode::kFixed);
  EXPECT_FALSE(sent[0].level_triggered);
  EXPECT_FALSE(sent[0].logical_destination);
  EXPECT_EQ(sent[0].destination, 0);
  ioapic.set_pin(4, true);
  EXPECT_EQ(sent.size(), 1u);
  ioapic.set_pin(4, false);
  ioapic.set_pin(4, true);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(reg(0x18) & IoApic::kRemoteIrr, 0u);
}

TEST_F(IoApicTest, EdgeWhileMaskedIsLost) {
  program(4, IoApic::kMasked | 0x31);
  ioapic.set_pin(4, true);
  ioapic.set_pin(4, false);
  program(4, 0x31);
  EXPECT_TRUE(sent.empty());
}

TEST_F(IoApicTest, DestinationAndDeliveryModeFields) {
  program(7, (0xffull << 56) | (1ull << 11) | (4ull << 8) | 0x02);
  EXPECT_EQ(reg(0x1f), 0xff000000u);
  ioapic.set_pin(7, true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].destination, 0xff);
  EXPECT_TRUE(sent[0].logical_destination);
  EXPECT_EQ(sent[0].mode, ApicDeliveryMode::kNmi);
}

TEST_F(IoApicTest, LevelPinWaitsForEoiThenRedeliversWhileAsserted) {
  program(9, kLevel | IoApic::kActiveLow | 0x39);
  ioapic.set_pin(9, true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].level_triggered);
  EXPECT_NE(reg(0x22) & IoApic::kRemoteIrr, 0u);
  ioapic.set_pin(9, true);
  EXPECT_EQ(sent.size(), 1u) << "remote IRR holds the line until EOI";
  ioapic.end_of_interrupt(0x38);
  EXPECT_EQ(sent.size(), 1u) << "EOI for another vector";
  ioapic.end_of_interrupt(0x39);
  EXPECT_EQ(sent.size(), 2u) << "still asserted after EOI";
  ioapic.set_pin(9, false);
  ioapic.end_of_interrupt(0x39);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(reg(0x22) & IoApic::kRemoteIrr, 0u);
}

TEST_F(IoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
  program(10, kLevel | IoApic::kMasked | 0x3a);
  ioapic.set_pin(10, true);
  EXPECT_TRUE(sent.empty());
  EXPECT_TRUE(ioapic.pin_level(10));
  program(10, kLevel | 0x3a);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].vector, 0x3a);
}

TEST_F(IoApicTest, RemoteIrrAndDeliveryStatusAreReadOnly) {
  program(5, kLevel | IoApic::kRemoteIrr | IoApic::kDeliveryStatus | IoApic::kMasked | 0x35);
  EXPECT_EQ(reg(0x1a), uint32_t(kLevel | IoApic::kMasked | 0x35));
}

TEST_F(IoApicTest, SwitchingToEdgeClearsRemoteIrr) {
  program(5, kLevel | 0x35);
  ioapic.set_pin(5, true);
  EXPECT_NE(ioapic.redirection(5) & IoApic::kRemoteIrr, 0u);
  program(5, 0x35);
  EXPECT_EQ(ioapic.redirection(5) & IoApic::kRemoteIrr, 0u);
}

TEST_F(IoApicTest, GuestCannotReachOutOfRange) {
  ioapic.set_pin(24, true);
  ioapic.set_pin(1000, true);
  set_reg(0xff, 0xffffffff);
  EXPECT_EQ(reg(0xff), 0u);
  EXPECT_EQ(ioapic.read(0x800, 4), 0u);
  ioapic.write(0x800, 4, 1);
  EXPECT_TRUE(sent.empty());
}

TEST_F(IoApicTest, NarrowAccesses) {
  ioapic.write(IoApic::kRegSelect, 4, 0x00);
  ioapic.write(IoApic::kRegSelect, 1, 0x01);  // byte writes are not honoured
  EXPECT_EQ(ioapic.read(IoApic::kRegSelect, 4), 0x00u);
  ioapic.write(IoApic::kRegSelect, 4, 0x01);
  EXPECT_EQ(ioapic.read(IoApic::kRegWindow, 1), 0x11u);
  EXPECT_EQ(ioapic.read(IoApic::kRegWindow + 2, 1), 0x17u);
}

TEST_F(IoApicTest, ResetMasksEverythingAgain) {
  program(4, 0x31);
  set_reg(0, 0x03000000);
  ioapic.reset();
  EXPECT_EQ(reg(0x18), IoApic::kMasked);
  EXPECT_EQ(reg(0x00), 0u);
}

}  // namespace
