// Port 0x80: firmware writes POST progress codes here, and since nothing else decodes it,
// OSes also use it as a ~1 us I/O delay. Hot path: a write only stores one byte.
#pragma once
#include <cstdint>

#include "hw/io_device.h"

namespace janus {

class PostPort final : public IoDevice {
 public:
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  uint8_t last_code() const { return last_code_; }

 private:
  uint8_t last_code_ = 0;
};

}  // namespace janus
