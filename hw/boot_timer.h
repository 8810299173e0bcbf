// Firecracker's boot timer: a guest init writes the byte 123 to MMIO layout::kBootTimerBase when
// it has booted, and the machine reports the time since it was created. Every such write reports.
#pragma once
#include <cstdint>
#include <functional>

#include "hw/clock.h"
#include "hw/io_device.h"

namespace janus {

class BootTimer final : public IoDevice {
 public:
  static constexpr uint64_t kMapLength = 0x1000;  // one page at layout::kBootTimerBase

  BootTimer(const Clock& clock, std::function<void(uint64_t ns)> on_boot_complete)
      : clock_(clock), on_boot_complete_(std::move(on_boot_complete)) {}

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  const Clock& clock_;
  std::function<void(uint64_t)> on_boot_complete_;
};

}  // namespace janus
