#include "hw/post_port.h"

namespace janus {

// A POST card shows the last code written; reading gives it back (the same byte in every lane).
uint64_t PostPort::read(uint64_t offset, unsigned size) { return last_code_ * 0x0101010101010101ull; }

void PostPort::write(uint64_t offset, unsigned size, uint64_t value) { last_code_ = uint8_t(value); }

}  // namespace janus
