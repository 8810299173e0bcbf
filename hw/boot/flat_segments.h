// The flat 4 GiB segments the loaders start guests with, both as GDT entries (what the guest can
// reload) and as the cached segment registers (what the CPU holds at entry). Kept together so the
// two can never disagree.
#pragma once
#include <cstdint>

#include "cpu/cpu_state.h"

namespace janus::flat {

// Access rights in the VMX layout of Segment::attr.
constexpr uint16_t kCode64Attr = 0xa09b;  // G, L, present, DPL0, code execute/read accessed
constexpr uint16_t kCode32Attr = 0xc09b;  // G, D (32-bit), present, DPL0, code execute/read accessed
constexpr uint16_t kDataAttr = 0xc093;    // G, B, present, DPL0, data read/write accessed
constexpr uint16_t kBusyTss64Attr = 0x008b;  // present, system type 0xB: busy 32/64-bit TSS

// A GDT entry with base 0 and limit 0xfffff pages (4 GiB). The attr bits 0-7 go to descriptor
// bits 40-47 and bits 12-15 to bits 52-55, the inverse of how the CPU caches them.
constexpr uint64_t gdt_entry(uint16_t attr) {
  return 0xffffull | (uint64_t{attr & 0xffu} << 40) | (0xfull << 48) | (uint64_t{(attr >> 12) & 0xfu} << 52);
}
static_assert(gdt_entry(kCode64Attr) == 0x00af9b000000ffffull);
static_assert(gdt_entry(kCode32Attr) == 0x00cf9b000000ffffull);
static_assert(gdt_entry(kDataAttr) == 0x00cf93000000ffffull);

// The cached form of gdt_entry(attr) loaded with selector.
constexpr Segment segment(uint16_t selector, uint16_t attr) {
  return Segment{selector, 0, 0xffffffffu, attr, false};
}

// A TSS register both KVM and the software CPU accept: KVM refuses an unusable TR in protected
// and long mode. Nothing runs a task switch before the guest loads its own TR.
constexpr Segment busy_tss() { return Segment{0, 0, 0x67, kBusyTss64Attr, false}; }

// LDTR with nothing loaded.
constexpr Segment unusable_ldtr() { return Segment{0, 0, 0, 0, true}; }

}  // namespace janus::flat
