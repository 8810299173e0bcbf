// The PIIX3's Reset Control register, the byte port 0xCF9 (82371SB datasheet, RC register):
// bit 1 chooses a hard or soft reset, and writing bit 2 (reset CPU) set resets the machine. It
// reads back bit 1 as last written. Linux's `reboot=pci` writes 0x02 then 0x06 here; so does
// firmware. Port 0xCF9 sits inside CONFIG_ADDRESS, which takes only dword accesses, so
// PciConfigPorts hands byte accesses at 0xCF9 to this register.
#pragma once
#include <cstdint>
#include <functional>

#include "hw/io_device.h"

namespace janus {

class Piix3ResetControl final : public IoDevice {
 public:
  static constexpr uint8_t kSystemReset = 1u << 1;  // SRST: hard reset (kept, read back)
  static constexpr uint8_t kResetCpu = 1u << 2;     // RCPU: writing it set resets

  explicit Piix3ResetControl(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  std::function<void()> on_reset_;
  uint8_t value_ = 0;
};

}  // namespace janus
