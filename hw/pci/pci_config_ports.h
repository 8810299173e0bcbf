// PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2), the host bridge's two
// I/O registers: CONFIG_ADDRESS at 0xCF8 (32-bit accesses only) selects a bus, device,
// function and dword; CONFIG_DATA at 0xCFC-0xCFF carries the access, each byte port being the
// matching byte lane of that dword. With the enable bit clear, or for byte and word accesses
// to 0xCF8-0xCFB, these are ordinary I/O ports with nothing behind them (all ones; writes are
// dropped), except the byte port 0xCF9: the PIIX3's reset control register, when given.
#pragma once
#include <cstdint>

#include "hw/io_device.h"
#include "hw/pci/pci_bus.h"

namespace janus {

class PciConfigPorts final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 8;  // CONFIG_ADDRESS then CONFIG_DATA
  static constexpr uint64_t kDataOffset = 4;
  static constexpr uint32_t kEnable = 1u << 31;
  // What CONFIG_ADDRESS keeps: enable, bus, device, function and the dword register number.
  // Bits 30-24 are reserved and bits 1-0 select the cycle type; both read 0.
  static constexpr uint32_t kAddressBits = kEnable | 0x00fffffc;

  static constexpr uint64_t kResetControlOffset = 1;  // port 0xCF9

  explicit PciConfigPorts(PciBus& bus, IoDevice* reset_control = nullptr) : bus_(bus), reset_control_(reset_control) {}

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  uint32_t address() const { return address_; }

 private:
  struct Window;  // the part of an access that falls on CONFIG_DATA
  bool data_window(uint64_t offset, unsigned size, Window& window) const;

  PciBus& bus_;
  IoDevice* reset_control_;
  uint32_t address_ = 0;
};

}  // namespace janus
