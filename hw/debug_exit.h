// QEMU's isa-debug-exit: test guests end the run by writing a value v to one port, and the
// machine exits with status (v << 1) | 1, so no guest-chosen value can look like a clean 0.
#pragma once
#include <cstdint>
#include <functional>

#include "hw/io_device.h"

namespace janus {

class DebugExit final : public IoDevice {
 public:
  // Map at iobase (default layout::kPortDebugExitDefault) with length iosize (1, 2 or 4).
  explicit DebugExit(std::function<void(int status)> on_exit) : on_exit_(std::move(on_exit)) {}

  // The status the machine exits with for a guest write of value (truncated to 32 bits).
  static int exit_status(uint64_t value) { return int(uint32_t((value << 1) | 1)); }

  uint64_t read(uint64_t offset, unsigned size) override { return ~0ull; }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    if (on_exit_) on_exit_(exit_status(value));
  }

 private:
  std::function<void(int)> on_exit_;
};

}  // namespace janus
