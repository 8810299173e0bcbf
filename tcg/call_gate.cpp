#include "tcg/call_gate.h"

#include "tcg/segment_loader.h"

namespace janus::tcg {

namespace {

// The inner stack for a privilege change to `cpl`, from the current TSS.
struct InnerStack {
  Segment ss;
  uint64_t sp;
};

InnerStack inner_stack_from_tss(TcgCpu& cpu, unsigned cpl) {
  CpuState& s = cpu.s;
  const Segment& tr = s.tr;
  InnerStack st;
  if (s.long_mode_active()) {
    // 64-bit gates: RSPn from the 64-bit TSS, SS becomes a null selector with RPL = new CPL.
    if (8 * cpl + 11 > tr.limit) raise_fault(kTS, selector_error(tr.selector));
    st.sp = cpu.read_system(tr.base + 4 + 8 * cpl, 8);
    if (!is_canonical(st.sp)) raise_fault(kSS, 0);
    st.ss = Segment{};
    st.ss.selector = uint16_t(cpl);
    st.ss.limit = 0xffffffff;
    st.ss.attr = uint16_t(0x4093 | (cpl << 5));
    st.ss.unusable = true;
    return st;
  }
  uint16_t ss_sel;
  if (tr.type() == sys_type::kTssBusy || tr.type() == sys_type::kTssAvail) {
    if (8 * cpl + 11 > tr.limit) raise_fault(kTS, selector_error(tr.selector));
    st.sp = cpu.read_system(tr.base + 4 + 8 * cpl, 4);
    ss_sel = uint16_t(cpu.read_system(tr.base + 8 + 8 * cpl, 2));
  } else {
    if (4 * cpl + 5 > tr.limit) raise_fault(kTS, selector_error(tr.selector));
    st.sp = cpu.read_system(tr.base + 2 + 4 * cpl, 2);
    ss_sel = uint16_t(cpu.read_system(tr.base + 4 + 4 * cpl, 2));
  }
  st.ss = check_stack_segment(cpu, ss_sel, cpl, kTS);
  return st;
}

// Writes pushes onto a stack that is not loaded yet, checking its limit (#SS(selector)).
struct NewStackWriter {
  TcgCpu& cpu;
  const Segment& ss;
  uint64_t sp;
  uint64_t mask;
  bool flat64;
  void push(uint64_t v, unsigned size) {
    sp = (sp - size) & mask;
    uint64_t linear;
    if (flat64) {
      linear = sp;
    } else {
      if (sp + size - 1 > ss.limit) raise_fault(kSS, selector_error(ss.selector));
      linear = (ss.base + sp) & 0xffffffffull;
    }
    cpu.mmu.write(linear, size, v, false);
  }
};

unsigned stack_bytes(const CpuState& s) { return s.in_64bit_code() ? 8 : s.seg[SS].db() ? 4 : 2; }

}  // namespace

void far_through_call_gate(TcgCpu& cpu, uint16_t gate_sel, const SegmentDescriptor& gd, bool call,
                           uint64_t return_rip) {
  CpuState& s = cpu.s;
  const bool lm = s.long_mode_active();
  GateDescriptor gate{gd.raw, lm ? read_descriptor_high(cpu, gate_sel) : 0};
  // The upper half of a 64-bit gate must have type 0 there (it looks like a null descriptor).
  if (lm && ((gate.raw_high >> 40) & 0x1f) != 0) raise_fault(kGP, selector_error(gate_sel));
  const unsigned cpl = cpu.cpl();
  if (gate.dpl() < cpl || gate.dpl() < (gate_sel & 3u)) raise_fault(kGP, selector_error(gate_sel));
  if (!gate.present()) raise_fault(kNP, selector_error(gate_sel));

  const uint16_t cs_sel = gate.selector();
  if ((cs_sel & 0xfffc) == 0) raise_fault(kGP, 0);
  SegmentDescriptor cd = read_descriptor(cpu, cs_sel);
  if (!cd.is_code() || cd.dpl() > cpl) raise_fault(kGP, selector_error(cs_sel));
  // JMP never changes privilege: a non-conforming target must be at CPL already.
  if (!call && !cd.conforming() && cd.dpl() != cpl) raise_fault(kGP, selector_error(cs_sel));
  if (lm && (!cd.l() || cd.db())) raise_fault(kGP, selector_error(cs_sel));
  if (!cd.present()) raise_fault(kNP, selector_error(cs_sel));

  const bool gate32 = lm || (gate.type() & 8);
  const unsigned size = lm ? 8 : gate32 ? 4 : 2;
  uint64_t offset = gate.offset(lm);
  if (!gate32) offset &= 0xffff;
  const unsigned new_cpl = cd.conforming() ? cpl : cd.dpl();
  Segment cs = SegmentDescriptor{cd.raw | (1ull << 40)}.to_segment(uint16_t((cs_sel & 0xfffc) | new_cpl));
  if (lm ? !is_canonical(offset) : offset > cs.limit) raise_fault(kGP, 0);

  if (!call) {
    mark_accessed(cpu, cs_sel, cd);
    s.seg[CS] = cs;
    s.rip = offset;
    return;
  }

  const unsigned old_ssz = stack_bytes(s);
  const uint64_t old_sp = s.gpr[RSP] & size_mask_bytes(old_ssz);
  if (new_cpl < cpl) {
    // More privileged: switch to the inner stack, push the caller's SS:ESP, the parameters, CS:EIP.
    InnerStack inner = inner_stack_from_tss(cpu, new_cpl);
    const uint64_t mask = lm ? ~0ull : inner.ss.db() ? 0xffffffffull : 0xffff;
    NewStackWriter w{cpu, inner.ss, inner.sp & mask, mask, lm};
    w.push(s.seg[SS].selector, size);
    w.push(s.gpr[RSP], size);
    const unsigned params = lm ? 0 : gate.param_count();
    for (unsigned i = params; i-- > 0;) {
      uint64_t at = (old_sp + uint64_t(i) * size) & size_mask_bytes(old_ssz);
      w.push(cpu.load(SS, at, size), size);
    }
    w.push(s.seg[CS].selector, size);
    w.push(return_rip, size);
    mark_accessed(cpu, cs_sel, cd);
    s.seg[SS] = inner.ss;
    write_gpr(s, RSP, lm ? 8 : inner.ss.db() ? 4 : 2, w.sp);
    s.seg[CS] = cs;
    s.rip = offset;
    return;
  }
  // Same privilege: CS:EIP on the current stack, in the gate's size.
  uint64_t sp = (old_sp - size) & size_mask_bytes(old_ssz);
  cpu.store(SS, sp, size, s.seg[CS].selector);
  sp = (sp - size) & size_mask_bytes(old_ssz);
  cpu.store(SS, sp, size, return_rip);
  mark_accessed(cpu, cs_sel, cd);
  write_gpr(s, RSP, old_ssz, sp);
  s.seg[CS] = cs;
  s.rip = offset;
}

}  // namespace janus::tcg
