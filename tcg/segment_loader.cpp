#include "tcg/segment_loader.h"

namespace janus::tcg {

namespace {
uint64_t descriptor_address(TcgCpu& cpu, uint16_t selector, unsigned bytes, uint8_t vector) {
  const CpuState& s = cpu.s;
  bool ldt = selector & 4;
  uint64_t base = ldt ? s.ldtr.base : s.gdtr.base;
  uint64_t limit = ldt ? s.ldtr.limit : s.gdtr.limit;
  if (ldt && s.ldtr.unusable) raise_fault(vector, selector_error(selector));
  uint64_t offset = selector & ~7u;
  if (offset + bytes - 1 > limit) raise_fault(vector, selector_error(selector));
  return base + offset;
}
}  // namespace

SegmentDescriptor read_descriptor(TcgCpu& cpu, uint16_t selector, uint8_t vector) {
  uint64_t addr = descriptor_address(cpu, selector, 8, vector);
  return SegmentDescriptor{cpu.read_system(addr, 8)};
}

uint64_t read_descriptor_high(TcgCpu& cpu, uint16_t selector, uint8_t vector) {
  uint64_t addr = descriptor_address(cpu, selector, 16, vector);
  return cpu.read_system(addr + 8, 8);
}

void mark_accessed(TcgCpu& cpu, uint16_t selector, const SegmentDescriptor& d) {
  if (d.raw & (1ull << 40)) return;
  uint64_t addr = descriptor_address(cpu, selector, 8, kGP);
  cpu.write_system(addr + 5, 1, ((d.raw >> 40) & 0xff) | 1);
}

Segment check_stack_segment(TcgCpu& cpu, uint16_t selector, unsigned cpl, uint8_t vector) {
  if ((selector & 0xfffc) == 0) {
    // Long mode allows a null SS below CPL 3 (64-bit code).
    if (cpu.s.long_mode_active() && cpl < 3) {
      Segment null_ss;
      null_ss.selector = selector;
      null_ss.base = 0;
      null_ss.limit = 0xffffffff;
      null_ss.attr = uint16_t(0x4093 | (cpl << 5));
      null_ss.unusable = true;
      return null_ss;
    }
    raise_fault(vector, 0);
  }
  if ((selector & 3) != cpl) raise_fault(vector, selector_error(selector));
  SegmentDescriptor d = read_descriptor(cpu, selector, vector);
  if (!d.writable() || d.dpl() != cpl) raise_fault(vector, selector_error(selector));
  if (!d.present()) raise_fault(kSS, selector_error(selector));
  mark_accessed(cpu, selector, d);
  return SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(selector);
}

void load_data_segment(TcgCpu& cpu, unsigned seg, uint16_t selector) {
  CpuState& s = cpu.s;
  if (!s.protected_mode() || s.v86_mode()) {
    // Real mode changes only selector and base (limit/attributes stay: "unreal" mode works);
    // virtual-8086 mode gets the fixed 64 KiB data segment.
    Segment& sg = s.seg[seg];
    sg.selector = selector;
    sg.base = uint64_t(selector) << 4;
    sg.unusable = false;
    if (s.v86_mode()) { sg.limit = 0xffff; sg.attr = 0xf3; }
    return;
  }
  unsigned cpl = cpu.cpl();
  if (seg == SS) {
    s.seg[SS] = check_stack_segment(cpu, selector, cpl, kGP);
    return;
  }
  if ((selector & 0xfffc) == 0) {
    Segment null_seg = s.seg[seg];
    null_seg.selector = selector;
    null_seg.unusable = true;
    if (cpu.code64()) null_seg.base = seg >= FS ? s.seg[seg].base : 0;
    null_seg.attr &= ~0x80;
    s.seg[seg] = null_seg;
    return;
  }
  SegmentDescriptor d = read_descriptor(cpu, selector);
  if (!d.s() || (d.is_code() && !d.readable())) raise_fault(kGP, selector_error(selector));
  if (d.is_data() || !d.conforming()) {
    unsigned rpl = selector & 3;
    if (d.dpl() < std::max(cpl, rpl)) raise_fault(kGP, selector_error(selector));
  }
  if (!d.present()) raise_fault(kNP, selector_error(selector));
  mark_accessed(cpu, selector, d);
  s.seg[seg] = SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(selector);
}

void nullify_inaccessible_segments(TcgCpu& cpu) {
  CpuState& s = cpu.s;
  unsigned cpl = cpu.cpl();
  for (unsigned seg : {ES, DS, FS, GS}) {
    Segment& sg = s.seg[seg];
    if (sg.unusable) continue;
    bool conforming_code = (sg.attr & 0x8) && (sg.attr & 0x4);
    if (!conforming_code && sg.dpl() < cpl) {
      sg.selector = 0;
      sg.unusable = true;
      sg.attr &= ~0x80;
    }
  }
}

void commit_code_segment(TcgCpu& cpu, const Segment& cs) { cpu.s.seg[CS] = cs; }

}  // namespace janus::tcg
