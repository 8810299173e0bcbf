#include "hw/pci/piix3_reset_control.h"

namespace janus {

uint64_t Piix3ResetControl::read(uint64_t, unsigned) { return value_; }

void Piix3ResetControl::write(uint64_t, unsigned, uint64_t value) {
  if (value & kResetCpu) {
    if (on_reset_) on_reset_();
    return;
  }
  value_ = uint8_t(value) & kSystemReset;
}

}  // namespace janus
