// Segment and gate descriptors as stored in the GDT/LDT/IDT, decoded into values both backends
// and the tools understand (Intel SDM Vol. 3, 3.4.5, 5.8, 6.11, 6.14).
#pragma once
#include <cstdint>
#include <optional>

#include "cpu/cpu_state.h"

namespace janus {

struct SegmentDescriptor {
  uint64_t raw = 0;
  uint64_t base() const;
  uint32_t limit() const;  // byte-granular, G applied
  uint16_t attr() const;   // VMX access-rights layout, as Segment::attr
  unsigned type() const { return (raw >> 40) & 0xf; }
  bool s() const { return (raw >> 44) & 1; }
  unsigned dpl() const { return (raw >> 45) & 3; }
  bool present() const { return (raw >> 47) & 1; }
  bool l() const { return (raw >> 53) & 1; }
  bool db() const { return (raw >> 54) & 1; }
  bool is_code() const { return s() && (type() & 8); }
  bool is_data() const { return s() && !(type() & 8); }
  bool conforming() const { return is_code() && (type() & 4); }
  bool readable() const { return !is_code() || (type() & 2); }  // code: R bit; data: always
  bool writable() const { return is_data() && (type() & 2); }
  bool expand_down() const { return is_data() && (type() & 4); }
  // Long-mode LDT/TSS descriptors are 16 bytes; raw_high bits 0..31 hold base bits 32..63.
  uint64_t system_base(uint64_t raw_high) const { return base() | (raw_high & 0xffffffff) << 32; }
  // The cached form loaded into a segment register with this selector.
  Segment to_segment(uint16_t selector) const;
};

// System descriptor types (S=0).
namespace sys_type {
constexpr unsigned kLdt = 0x2, kTss16Avail = 0x1, kTss16Busy = 0x3, kCallGate16 = 0x4, kTaskGate = 0x5,
                   kIntGate16 = 0x6, kTrapGate16 = 0x7, kTssAvail = 0x9, kTssBusy = 0xb,
                   kCallGate = 0xc, kIntGate = 0xe, kTrapGate = 0xf;
}

// An IDT or call gate. In long mode gates are 16 bytes (raw_high holds bits 64..127).
struct GateDescriptor {
  uint64_t raw = 0, raw_high = 0;
  uint16_t selector() const { return (raw >> 16) & 0xffff; }
  uint64_t offset(bool long_mode) const;
  unsigned type() const { return (raw >> 40) & 0xf; }
  unsigned dpl() const { return (raw >> 45) & 3; }
  bool present() const { return (raw >> 47) & 1; }
  unsigned ist() const { return (raw >> 32) & 7; }
  unsigned param_count() const { return (raw >> 32) & 0x1f; }  // call gates
};

// Encodes a flat descriptor (for loaders and tests): base, byte limit, attr in VMX layout.
uint64_t make_descriptor(uint64_t base, uint32_t limit, uint16_t attr);

// The real-mode / virtual-8086 cache for a selector: base = selector << 4.
Segment real_mode_segment(uint16_t selector, uint16_t attr = 0x93);

}  // namespace janus
