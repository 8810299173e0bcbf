// The one device interface: every port-I/O and MMIO device implements read/write of 1, 2, 4
// (or 8) bytes at an offset from the base it was mapped at.
#pragma once
#include <cstdint>

namespace janus {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  virtual uint64_t read(uint64_t offset, unsigned size) = 0;
  virtual void write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

}  // namespace janus
