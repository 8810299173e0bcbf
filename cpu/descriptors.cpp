// Decoding and encoding of GDT/LDT/IDT entries (Intel SDM Vol. 3, 3.4.5, 6.11, 6.14.1).
#include "cpu/descriptors.h"

#include <stdexcept>

namespace janus {

uint64_t SegmentDescriptor::base() const {
  return ((raw >> 16) & 0xffffff) | (((raw >> 56) & 0xff) << 24);
}

uint32_t SegmentDescriptor::limit() const {
  uint32_t l = uint32_t(raw & 0xffff) | uint32_t((raw >> 48) & 0xf) << 16;
  if ((raw >> 55) & 1) l = (l << 12) | 0xfff;  // G: 4 KiB units, low 12 bits read as ones
  return l;
}

uint16_t SegmentDescriptor::attr() const {
  // Bits 40..55 with the limit's bits 16..19 (which sit at 48..51) cleared.
  return uint16_t((raw >> 40) & 0xf0ff);
}

Segment SegmentDescriptor::to_segment(uint16_t selector) const {
  Segment s;
  s.selector = selector;
  s.base = base();
  s.limit = limit();
  s.attr = attr();
  s.unusable = false;
  return s;
}

uint64_t GateDescriptor::offset(bool long_mode) const {
  uint64_t off = (raw & 0xffff) | ((raw >> 48) & 0xffff) << 16;
  if (long_mode) off |= (raw_high & 0xffffffff) << 32;
  return off;
}

uint64_t make_descriptor(uint64_t base, uint32_t limit, uint16_t attr) {
  constexpr uint16_t kG = 0x8000;
  bool g = (attr & kG) || limit > 0xfffff;
  uint32_t field = limit;
  if (g) {
    // With G the CPU fills the low 12 bits with ones; any other limit cannot be encoded.
    if ((limit & 0xfff) != 0xfff)
      throw std::invalid_argument("make_descriptor: page-granular limit must end in 0xfff");
    field = limit >> 12;
    attr |= kG;
  }
  uint64_t raw = field & 0xffff;
  raw |= (base & 0xffffff) << 16;
  raw |= uint64_t(attr & 0xff) << 40;
  raw |= uint64_t((field >> 16) & 0xf) << 48;
  raw |= uint64_t((attr >> 12) & 0xf) << 52;
  raw |= ((base >> 24) & 0xff) << 56;
  return raw;
}

Segment real_mode_segment(uint16_t selector, uint16_t attr) {
  Segment s;
  s.selector = selector;
  s.base = uint64_t(selector) << 4;
  s.limit = 0xffff;
  s.attr = attr;
  s.unusable = false;
  return s;
}

}  // namespace janus
