// PCI configuration mechanism #1 and bus 0 of the PC: CONFIG_ADDRESS decoding and its enable
// bit, the byte lanes of CONFIG_DATA, all ones from absent functions and buses, and the
// read-only, read/write and write-1-to-clear registers of the two bridges; the PIIX3's reset
// control register at 0xCF9.
#include <gtest/gtest.h>

#include "hw/io_bus.h"
#include "hw/pc_layout.h"
#include "hw/pci/i440fx_host_bridge.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_config_ports.h"
#include "hw/pci/piix3_isa_bridge.h"
#include "hw/pci/piix3_reset_control.h"

using namespace janus;

namespace {

constexpr uint16_t kAddr = layout::kPortPciConfigAddress;
constexpr uint16_t kData = layout::kPortPciConfigData;

uint32_t config_address(unsigned bus, unsigned device, unsigned function, unsigned offset) {
  return PciConfigPorts::kEnable | bus << 16 | device << 11 | function << 8 | (offset & 0xfc);
}

class PciTest : public ::testing::Test {
 protected:
  PciTest() {
    bus.attach(layout::kPciDeviceHostBridge, 0, host);
    bus.attach(layout::kPciDeviceIsaBridge, 0, isa);
    pio.map(layout::kPortPciConfig, layout::kPciConfigPortCount, ports, "pci-config");
  }
  // A configuration read/write the way an OS does it: select the dword, access its lanes.
  uint32_t cfg_read(unsigned dev, unsigned fn, unsigned offset, unsigned size, unsigned bus_number = 0) {
    pio.write(kAddr, 4, config_address(bus_number, dev, fn, offset));
    return uint32_t(pio.read(kData + (offset & 3), size));
  }
  void cfg_write(unsigned dev, unsigned fn, unsigned offset, unsigned size, uint32_t value) {
    pio.write(kAddr, 4, config_address(0, dev, fn, offset));
    pio.write(kData + (offset & 3), size, value);
  }

  I440fxHostBridge host;
  Piix3IsaBridge isa;
  PciBus bus;
  PciConfigPorts ports{bus};
  IoBus pio{"pio"};
};

}  // namespace

TEST_F(PciTest, ConfigAddressKeepsEnableBusDeviceFunctionRegister) {
  pio.write(kAddr, 4, 0x80000000);
  EXPECT_EQ(pio.read(kAddr, 4), 0x80000000u);  // Linux's mechanism #1 probe reads this back
  pio.write(kAddr, 4, 0xffffffff);
  EXPECT_EQ(pio.read(kAddr, 4), 0x80fffffcu);  // reserved bits 30-24 and type bits 1-0 read 0
  EXPECT_EQ(ports.address(), 0x80fffffcu);
  pio.write(kAddr, 4, 0x12345678);
  EXPECT_EQ(pio.read(kAddr, 4), 0x00345678u);
}

TEST_F(PciTest, OnlyDwordAccessesReachConfigAddress) {
  pio.write(kAddr, 4, config_address(0, 0, 0, 0));
  pio.write(kAddr, 1, 0x00);      // byte and word writes are other I/O cycles
  pio.write(kAddr + 2, 2, 0x0000);
  pio.write(kAddr + 3, 1, 0x01);  // Linux's mechanism #2 probe writes 0xCFB
  EXPECT_EQ(pio.read(kAddr, 4), config_address(0, 0, 0, 0));
  EXPECT_EQ(pio.read(kAddr, 1), 0xffu);
  EXPECT_EQ(pio.read(kAddr, 2), 0xffffu);
  EXPECT_EQ(pio.read(kAddr + 1, 1), 0xffu);
}

TEST_F(PciTest, HostBridgeIdentity) {
  EXPECT_EQ(cfg_read(0, 0, 0x00, 4), 0x12378086u);
  EXPECT_EQ(cfg_read(0, 0, 0x08, 4), 0x06000002u);  // class 06 00 00, revision 02
  EXPECT_EQ(cfg_read(0, 0, 0x0e, 1), 0x00u);        // header type 0, single function
  EXPECT_EQ(cfg_read(0, 0, 0x0a, 2), 0x0600u);      // what Linux's mechanism #1 sanity check reads
}

TEST_F(PciTest, IsaBridgeIdentity) {
  EXPECT_EQ(cfg_read(1, 0, 0x00, 4), 0x70008086u);
  EXPECT_EQ(cfg_read(1, 0, 0x08, 4), 0x06010000u);
  EXPECT_EQ(cfg_read(1, 0, 0x0c, 4), 0x00800000u);  // header type 0x80: multi-function
}

TEST_F(PciTest, ByteLanesOfConfigData) {
  // The dword at 0x00 is 0x12378086: each data port is one byte lane of it.
  pio.write(kAddr, 4, config_address(0, 0, 0, 0));
  EXPECT_EQ(pio.read(kData + 0, 1), 0x86u);
  EXPECT_EQ(pio.read(kData + 1, 1), 0x80u);
  EXPECT_EQ(pio.read(kData + 2, 1), 0x37u);
  EXPECT_EQ(pio.read(kData + 3, 1), 0x12u);
  EXPECT_EQ(pio.read(kData + 0, 2), 0x8086u);
  EXPECT_EQ(pio.read(kData + 2, 2), 0x1237u);
  EXPECT_EQ(pio.read(kData + 1, 2), 0x3780u);
  // CONFIG_ADDRESS bits 1-0 do not select a byte: the port does.
  pio.write(kAddr, 4, config_address(0, 0, 0, 0) | 2);
  EXPECT_EQ(pio.read(kData, 2), 0x8086u);
  // Lanes past 0xCFF are not part of the window.
  pio.write(kAddr, 4, config_address(0, 0, 0, 0));
  EXPECT_EQ(pio.read(kData + 2, 4), 0xffff1237u);
  EXPECT_EQ(cfg_read(0, 0, 0x0b, 1), 0x06u);
  EXPECT_EQ(cfg_read(0, 0, 0x02, 2), 0x1237u);
}

TEST_F(PciTest, ByteLaneWritesReachTheirRegister) {
  cfg_write(0, 0, 0x3c, 1, 0x0b);  // interrupt line (lane 0 of dword 0x3c)
  EXPECT_EQ(cfg_read(0, 0, 0x3c, 4), 0x0000000bu);
  cfg_write(0, 0, 0x3c, 4, 0xffffffff);  // only the interrupt line is writable in that dword
  EXPECT_EQ(cfg_read(0, 0, 0x3c, 4), 0x000000ffu);
  EXPECT_EQ(cfg_read(1, 0, 0x3c, 1), 0x00u);  // a different function's register
}

TEST_F(PciTest, AbsentDevicesFunctionsAndBusesReadAllOnes) {
  EXPECT_EQ(cfg_read(2, 0, 0x00, 4), 0xffffffffu);
  EXPECT_EQ(cfg_read(31, 0, 0x00, 2), 0xffffu);
  EXPECT_EQ(cfg_read(1, 1, 0x00, 4), 0xffffffffu);  // PIIX3 IDE function: not there
  EXPECT_EQ(cfg_read(0, 7, 0x00, 4), 0xffffffffu);
  EXPECT_EQ(cfg_read(0, 0, 0x00, 4, 1), 0xffffffffu);  // bus 1: no bridge leads there
  EXPECT_EQ(cfg_read(0, 0, 0x00, 1, 0xff), 0xffu);
  cfg_write(2, 0, 0x04, 2, 0x0007);  // writes to nothing vanish
  EXPECT_EQ(cfg_read(2, 0, 0x04, 2), 0xffffu);
}

TEST_F(PciTest, EnableBitClearMeansNoConfigurationCycle) {
  pio.write(kAddr, 4, config_address(0, 0, 0, 0) & ~PciConfigPorts::kEnable);
  EXPECT_EQ(pio.read(kData, 4), 0xffffffffu);
  EXPECT_EQ(pio.read(kData + 3, 1), 0xffu);
  pio.write(kAddr, 4, config_address(0, 0, 0, 0x3c) & ~PciConfigPorts::kEnable);
  pio.write(kData, 1, 0x05);
  EXPECT_EQ(cfg_read(0, 0, 0x3c, 1), 0x00u);  // the write went nowhere
}

TEST_F(PciTest, IdentityAndClassAreReadOnly) {
  for (unsigned dev : {0u, 1u}) {
    SCOPED_TRACE(dev);
    uint32_t id = cfg_read(dev, 0, 0x00, 4), cls = cfg_read(dev, 0, 0x08, 4), hdr = cfg_read(dev, 0, 0x0c, 4);
    cfg_write(dev, 0, 0x00, 4, 0);
    cfg_write(dev, 0, 0x08, 4, 0xffffffff);
    cfg_write(dev, 0, 0x0c, 4, 0xffffffff);
    cfg_write(dev, 0, 0x0e, 1, 0x00);
    EXPECT_EQ(cfg_read(dev, 0, 0x00, 4), id);
    EXPECT_EQ(cfg_read(dev, 0, 0x08, 4), cls);
    EXPECT_EQ(cfg_read(dev, 0, 0x0c, 4), hdr);
  }
}

TEST_F(PciTest, BarsAreAbsent) {
  for (unsigned dev : {0u, 1u})
    for (unsigned bar = 0x10; bar < 0x28; bar += 4) {
      cfg_write(dev, 0, bar, 4, 0xffffffff);  // the sizing write: no bits stick, so no BAR
      EXPECT_EQ(cfg_read(dev, 0, bar, 4), 0u) << dev << " " << bar;
    }
}

TEST_F(PciTest, CommandRegisterHasFixedEnablesAndWritableErrorBits) {
  EXPECT_EQ(cfg_read(0, 0, 0x04, 2), 0x0006u);  // memory and bus master always on
  EXPECT_EQ(cfg_read(1, 0, 0x04, 2), 0x0007u);  // the ISA bridge also forwards I/O
  cfg_write(0, 0, 0x04, 2, 0xffff);
  EXPECT_EQ(cfg_read(0, 0, 0x04, 2), 0x0146u);  // + parity error response, SERR# enable
  cfg_write(0, 0, 0x04, 2, 0x0000);
  EXPECT_EQ(cfg_read(0, 0, 0x04, 2), 0x0006u);
  cfg_write(1, 0, 0x04, 2, 0xffff);
  EXPECT_EQ(cfg_read(1, 0, 0x04, 2), 0x010fu);  // + special cycles, SERR# enable
  cfg_write(1, 0, 0x05, 1, 0x00);               // the high byte alone
  EXPECT_EQ(cfg_read(1, 0, 0x04, 2), 0x000fu);
}

TEST_F(PciTest, StatusErrorBitsAreWriteOneToClear) {
  EXPECT_EQ(cfg_read(0, 0, 0x06, 2), 0x0280u);  // DEVSEL medium, fast back-to-back capable
  EXPECT_EQ(cfg_read(1, 0, 0x06, 2), 0x0200u);
  cfg_write(0, 0, 0x06, 2, 0xffff);             // clearing errors that are not set changes nothing
  EXPECT_EQ(cfg_read(0, 0, 0x06, 2), 0x0280u);
  // A dword write to command/status writes the command and clears status bits, as drivers do.
  cfg_write(0, 0, 0x04, 4, 0xf9000100);
  EXPECT_EQ(cfg_read(0, 0, 0x04, 4), 0x02800106u);
}

TEST(PciConfigSpace, WriteOneToClearBitsClearOnlyWhereWrittenOne) {
  PciConfigSpace config(0x1234, 0x5678, 1, 0xff0000, 0);
  config.define(pci::kStatus, 2, 0xf900 | pci::kStatusDevselMedium, 0, pci::kStatusErrorBits);
  config.write(pci::kStatus, 2, 0x2000);  // received master abort only
  EXPECT_EQ(config.read(pci::kStatus, 2), 0xd900u | pci::kStatusDevselMedium);
  config.write(pci::kStatus + 1, 1, 0x81);  // detected parity error and master data parity error
  EXPECT_EQ(config.read(pci::kStatus, 2), 0x5800u | pci::kStatusDevselMedium);
  EXPECT_EQ(config.read(pci::kVendorId, 4), 0x56781234u);
  EXPECT_EQ(config.read(0x40, 4), 0u);  // undefined registers read 0
  EXPECT_THROW(config.read(0xfe, 4), std::out_of_range);
}

TEST(PciBus, SlotsAreTakenOnce) {
  PciBus bus;
  I440fxHostBridge host;
  bus.attach(0, 0, host);
  EXPECT_THROW(bus.attach(0, 0, host), std::invalid_argument);
  EXPECT_THROW(bus.attach(32, 0, host), std::invalid_argument);
  EXPECT_THROW(bus.attach(0, 8, host), std::invalid_argument);
  EXPECT_EQ(bus.find(0, 0, 0), &host);
  EXPECT_EQ(bus.find(1, 0, 0), nullptr);
}

// Port 0xCF9 (byte): the PIIX3's reset control register, inside CONFIG_ADDRESS's dword. Linux's
// reboot=pci reads it, writes 0x02 (hard reset type), then 0x06 (reset the CPU).
TEST(PciResetControl, ByteAccessesAtCf9ResetTheMachine) {
  PciBus bus;
  int resets = 0;
  Piix3ResetControl rcr([&resets] { ++resets; });
  PciConfigPorts ports{bus, &rcr};
  IoBus pio{"pio"};
  pio.map(layout::kPortPciConfig, layout::kPciConfigPortCount, ports, "pci-config");
  constexpr uint16_t kRcr = layout::kPortPciConfigAddress + PciConfigPorts::kResetControlOffset;
  static_assert(kRcr == 0xcf9);
  EXPECT_EQ(pio.read(kRcr, 1), 0u);
  pio.write(kRcr, 1, 0x02);  // reset type only: nothing happens yet
  EXPECT_EQ(pio.read(kRcr, 1), 0x02u);
  EXPECT_EQ(resets, 0);
  pio.write(kRcr, 1, 0xfa);  // reserved bits are not kept
  EXPECT_EQ(pio.read(kRcr, 1), 0x02u);
  pio.write(kRcr, 1, 0x00);
  EXPECT_EQ(pio.read(kRcr, 1), 0x00u);
  EXPECT_EQ(resets, 0);
  pio.write(kRcr, 1, 0x06);
  EXPECT_EQ(resets, 1);
  pio.write(kRcr, 1, 0x04);  // a soft reset too
  EXPECT_EQ(resets, 2);
  // CONFIG_ADDRESS is untouched by it, and byte accesses elsewhere in it still reach nothing.
  pio.write(kAddr, 4, 0x80001234);
  pio.write(kRcr, 1, 0x02);
  EXPECT_EQ(pio.read(kAddr, 4), 0x80001234u & PciConfigPorts::kAddressBits);
  EXPECT_EQ(pio.read(kAddr, 1), 0xffu);
  EXPECT_EQ(pio.read(kAddr + 2, 1), 0xffu);
  EXPECT_EQ(pio.read(kRcr, 2), 0xffffu);  // a word access is not the register
}

TEST(PciResetControl, WithoutTheRegisterCf9IsNothing) {
  PciBus bus;
  PciConfigPorts ports{bus};
  EXPECT_EQ(ports.read(PciConfigPorts::kResetControlOffset, 1), 0xffu);
  ports.write(PciConfigPorts::kResetControlOffset, 1, 0x06);  // dropped
}
