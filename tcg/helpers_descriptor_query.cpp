// Instructions that ask about a descriptor without loading it (Intel SDM Vol. 2: LAR, LSL,
// VERR, VERW) and the selector/bounds checks ARPL and BOUND. Their answers go to ZF; none of
// them faults on a selector the program may not use, only on the memory access itself.
#include "cpu/descriptors.h"
#include "tcg/helpers.h"
#include "tcg/segment_loader.h"

namespace janus::tcg {

namespace {

// The descriptor for `sel` if it lies inside the GDT/LDT (no fault for a bad selector).
bool find_descriptor(TcgCpu& cpu, uint16_t sel, SegmentDescriptor& d) {
  const CpuState& s = cpu.s;
  if ((sel & 0xfffc) == 0) return false;
  bool ldt = sel & 4;
  if (ldt && s.ldtr.unusable) return false;
  uint64_t base = ldt ? s.ldtr.base : s.gdtr.base;
  uint64_t limit = ldt ? s.ldtr.limit : s.gdtr.limit;
  if ((sel & ~7u) + 7u > limit) return false;
  d.raw = cpu.read_system(base + (sel & ~7u), 8);
  return true;
}

// System descriptor types LAR (and, with `for_lsl`, LSL) report; IA-32e mode allows fewer.
bool system_type_ok(unsigned type, bool long_mode, bool for_lsl) {
  using namespace sys_type;
  if (long_mode) return type == kLdt || type == kTssAvail || type == kTssBusy || (!for_lsl && type == kCallGate);
  switch (type) {
    case kTss16Avail: case kLdt: case kTss16Busy: case kTssAvail: case kTssBusy: return true;
    case kCallGate16: case kTaskGate: case kCallGate: return !for_lsl;
    default: return false;
  }
}

// Privilege rule shared by all four: conforming code is always visible, anything else needs
// DPL >= CPL and DPL >= RPL.
bool visible(const TcgCpu& cpu, uint16_t sel, const SegmentDescriptor& d) {
  if (d.conforming()) return true;
  return d.dpl() >= cpu.cpl() && d.dpl() >= (sel & 3u);
}

}  // namespace

uint64_t h_descriptor_query(TcgCpu& cpu, uint64_t p, uint64_t selector, uint64_t, uint64_t) {
  const uint16_t sel = uint16_t(selector);
  const unsigned op = hp_op(p);
  SegmentDescriptor d;
  if (!find_descriptor(cpu, sel, d)) return 0;
  const bool lm = cpu.s.long_mode_active();
  constexpr uint64_t kOk = 1ull << 32;
  switch (op) {
    case kLar:
      if (!d.s() && !system_type_ok(d.type(), lm, false)) return 0;
      if (!visible(cpu, sel, d)) return 0;
      return kOk | ((d.raw >> 32) & 0x00f0ff00);
    case kLsl:
      if (!d.s() && !system_type_ok(d.type(), lm, true)) return 0;
      if (!visible(cpu, sel, d)) return 0;
      return kOk | d.limit();
    case kVerr:
      if (!d.s() || !d.readable() || !visible(cpu, sel, d)) return 0;
      return kOk;
    default:  // kVerw
      if (!d.writable() || !visible(cpu, sel, d)) return 0;
      return kOk;
  }
}

uint64_t h_set_zf(TcgCpu& cpu, uint64_t, uint64_t set, uint64_t, uint64_t) {
  uint64_t f = cpu.cc.compute();
  cpu.cc.set_eflags(set ? f | rflags::ZF : f & ~rflags::ZF);
  return 0;
}

uint64_t h_bound(TcgCpu&, uint64_t p, uint64_t index, uint64_t lower, uint64_t upper) {
  auto sx = [&](uint64_t v) { return hp_size(p) == 2 ? int64_t(int16_t(v)) : int64_t(int32_t(v)); };
  if (sx(index) < sx(lower) || sx(index) > sx(upper)) raise_fault(kBR);
  return 0;
}

uint64_t h_near_branch_limit(TcgCpu& cpu, uint64_t, uint64_t target, uint64_t taken, uint64_t) {
  if (taken && target > cpu.s.seg[CS].limit) raise_fault(kGP, 0);
  return 0;
}

}  // namespace janus::tcg
