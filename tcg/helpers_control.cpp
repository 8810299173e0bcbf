// Control transfers that need the descriptor machinery: INT/INTO/INT3, IRET in every form, far
// JMP/CALL/RET, segment loads, ENTER, PUSHA/POPA, HLT.
#include "tcg/event_delivery.h"
#include "tcg/helpers.h"
#include "tcg/segment_loader.h"
#include "tcg/call_gate.h"
#include "tcg/task_switch.h"

namespace janus::tcg {

namespace {

unsigned stack_size(const CpuState& s) { return s.in_64bit_code() ? 8 : s.seg[SS].db() ? 4 : 2; }

// Reads the current stack at sp + offset (offset in bytes) without committing anything.
uint64_t stack_read(TcgCpu& cpu, uint64_t offset, unsigned size) {
  unsigned ssz = stack_size(cpu.s);
  uint64_t sp = (cpu.s.gpr[RSP] + offset) & size_mask_bytes(ssz);
  return cpu.load(SS, sp, size);
}

// Pushes on the current stack, tracking the new stack pointer without committing it.
struct Pusher {
  TcgCpu& cpu;
  unsigned ssz;
  uint64_t sp;
  explicit Pusher(TcgCpu& c) : cpu(c), ssz(stack_size(c.s)), sp(c.s.gpr[RSP] & size_mask_bytes(ssz)) {}
  void push(uint64_t v, unsigned size) {
    sp = (sp - size) & size_mask_bytes(ssz);
    cpu.store(SS, sp, size, v);
  }
  void commit() { write_gpr(cpu.s, RSP, ssz, sp); }
};

// Checks a code segment descriptor as the target of a far JMP/CALL (direct, no gate).
Segment check_far_target(TcgCpu& cpu, uint16_t sel, const SegmentDescriptor& d) {
  unsigned cpl = cpu.cpl();
  unsigned rpl = sel & 3;
  if (d.conforming()) {
    if (d.dpl() > cpl) raise_fault(kGP, selector_error(sel));
  } else if (rpl > cpl || d.dpl() != cpl) {
    raise_fault(kGP, selector_error(sel));
  }
  if (!d.present()) raise_fault(kNP, selector_error(sel));
  mark_accessed(cpu, sel, d);
  return SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(uint16_t((sel & 0xfffc) | cpl));
}

void check_offset(TcgCpu& cpu, const Segment& cs, uint64_t offset) {
  bool long64 = cpu.s.long_mode_active() && cs.l();
  if (long64 ? !is_canonical(offset) : offset > cs.limit) raise_fault(kGP, 0);
}

void set_real_mode_cs(CpuState& s, uint16_t sel) {
  s.seg[CS].selector = sel;
  s.seg[CS].base = uint64_t(sel) << 4;
  if (s.v86_mode()) { s.seg[CS].limit = 0xffff; s.seg[CS].attr = 0xf3; }
}

// A far JMP/CALL in protected mode to a system descriptor: call gate, task gate or TSS.
// Returns false if `d` is a code/data segment descriptor (the direct case).
bool far_through_system_descriptor(TcgCpu& cpu, uint16_t sel, const SegmentDescriptor& d, bool call,
                                   uint64_t next_rip) {
  if (d.s()) return false;
  const bool lm = cpu.s.long_mode_active();
  switch (d.type()) {
    case sys_type::kCallGate:
      far_through_call_gate(cpu, sel, d, call, next_rip);
      return true;
    case sys_type::kCallGate16:
      if (lm) break;
      far_through_call_gate(cpu, sel, d, call, next_rip);
      return true;
    case sys_type::kTaskGate: case sys_type::kTssAvail: case sys_type::kTss16Avail:
    case sys_type::kTssBusy: case sys_type::kTss16Busy:
      if (lm) break;  // IA-32e mode has no task switching
      task_switch_far(cpu, sel, d, call, next_rip);
      return true;
    default:
      break;
  }
  raise_fault(kGP, selector_error(sel));
}

uint64_t apply_iret_flags(TcgCpu& cpu, uint64_t popped, unsigned size, unsigned new_cpl_for_if) {
  CpuState& s = cpu.s;
  unsigned cpl = cpu.cpl();
  uint64_t changeable = rflags::CF | rflags::PF | rflags::AF | rflags::ZF | rflags::SF | rflags::TF | rflags::DF |
                        rflags::OF | rflags::NT | rflags::AC | rflags::ID | rflags::RF;
  if (!s.protected_mode() || cpl == 0) changeable |= rflags::IOPL | rflags::VIF | rflags::VIP;
  if (!s.protected_mode() || cpl <= ((s.rflags >> 12) & 3)) changeable |= rflags::IF;
  if (size == 2) changeable &= 0xffff;
  if (size == 4 && !s.protected_mode()) changeable &= ~(rflags::VIF | rflags::VIP);
  uint64_t old = cpu.rflags();
  return (old & ~changeable) | (popped & changeable);
}

}  // namespace

uint64_t h_raise(TcgCpu&, uint64_t p, uint64_t, uint64_t, uint64_t) {
  throw GuestFault{uint8_t(p & 0xff), bool((p >> 8) & 1), uint32_t(p >> 16), 0};
}

uint64_t h_undefined(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  ++cpu.stats.undefined_opcodes;
  raise_fault(kUD);
}

uint64_t h_set_rip(TcgCpu& cpu, uint64_t, uint64_t rip, uint64_t, uint64_t) {
  cpu.s.rip = rip;
  return 0;
}

uint64_t h_interrupt_shadow(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  cpu.s.events.interrupt_shadow |= uint8_t(p);
  return 0;
}

uint64_t h_hlt(TcgCpu& cpu, uint64_t, uint64_t next_rip, uint64_t, uint64_t) {
  cpu.s.rip = next_rip;
  cpu.s.halted = true;
  return 0;
}

uint64_t h_int(TcgCpu& cpu, uint64_t p, uint64_t next_rip, uint64_t, uint64_t) {
  uint8_t vector = p & 0xff;
  unsigned kind = hp_size(p);  // 0 INT n, 1 INT3, 2 INTO, 3 INT1
  CpuState& s = cpu.s;
  if (kind == 2 && !(cpu.cc.compute() & rflags::OF)) {
    s.rip = next_rip;
    return 0;
  }
  if (kind == 0 && s.v86_mode() && ((s.rflags >> 12) & 3) < 3) raise_fault(kGP, 0);
  EventKind ek = kind == 0 ? EventKind::kSoftware : kind == 3 ? EventKind::kIcebp : EventKind::kSoftwareException;
  deliver_event(cpu, vector, ek, next_rip);
  return 0;
}

uint64_t h_load_seg(TcgCpu& cpu, uint64_t p, uint64_t selector, uint64_t, uint64_t) {
  load_data_segment(cpu, unsigned(p & 0xff), uint16_t(selector));
  return 0;
}

uint64_t h_far_jmp(TcgCpu& cpu, uint64_t p, uint64_t selector, uint64_t offset, uint64_t next_rip) {
  CpuState& s = cpu.s;
  unsigned osz = hp_size(p);
  uint16_t sel = uint16_t(selector);
  offset &= size_mask_bytes(osz);
  if (!s.protected_mode() || s.v86_mode()) {
    if (offset > s.seg[CS].limit) raise_fault(kGP, 0);
    set_real_mode_cs(s, sel);
    s.rip = offset;
    return 0;
  }
  if ((sel & 0xfffc) == 0) raise_fault(kGP, 0);
  SegmentDescriptor d = read_descriptor(cpu, sel);
  if (far_through_system_descriptor(cpu, sel, d, false, next_rip)) return 0;
  if (!d.is_code()) raise_fault(kGP, selector_error(sel));
  Segment cs = check_far_target(cpu, sel, d);
  check_offset(cpu, cs, offset);
  s.seg[CS] = cs;
  s.rip = offset;
  return 0;
}

uint64_t h_far_call(TcgCpu& cpu, uint64_t p, uint64_t selector, uint64_t offset, uint64_t next_rip) {
  CpuState& s = cpu.s;
  unsigned osz = hp_size(p);
  uint16_t sel = uint16_t(selector);
  offset &= size_mask_bytes(osz);
  Pusher st(cpu);
  if (!s.protected_mode() || s.v86_mode()) {
    if (offset > s.seg[CS].limit) raise_fault(kGP, 0);
    st.push(s.seg[CS].selector, osz);
    st.push(next_rip, osz);
    st.commit();
    set_real_mode_cs(s, sel);
    s.rip = offset;
    return 0;
  }
  if ((sel & 0xfffc) == 0) raise_fault(kGP, 0);
  SegmentDescriptor d = read_descriptor(cpu, sel);
  if (far_through_system_descriptor(cpu, sel, d, true, next_rip)) return 0;
  if (!d.is_code()) raise_fault(kGP, selector_error(sel));
  Segment cs = check_far_target(cpu, sel, d);
  check_offset(cpu, cs, offset);
  st.push(s.seg[CS].selector, osz);
  st.push(next_rip, osz);
  st.commit();
  s.seg[CS] = cs;
  s.rip = offset;
  return 0;
}

uint64_t h_far_ret(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  unsigned osz = hp_size(p);
  uint64_t pop_bytes = hp_extra(p);
  unsigned ssz = stack_size(s);
  uint64_t ip = stack_read(cpu, 0, osz);
  uint16_t sel = uint16_t(stack_read(cpu, osz, osz));
  if (!s.protected_mode() || s.v86_mode()) {
    if (ip > s.seg[CS].limit) raise_fault(kGP, 0);
    write_gpr(s, RSP, ssz, s.gpr[RSP] + 2 * osz + pop_bytes);
    set_real_mode_cs(s, sel);
    s.rip = ip;
    return 0;
  }
  unsigned cpl = cpu.cpl(), rpl = sel & 3;
  if ((sel & 0xfffc) == 0) raise_fault(kGP, 0);
  SegmentDescriptor d = read_descriptor(cpu, sel);
  if (!d.is_code() || rpl < cpl) raise_fault(kGP, selector_error(sel));
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) raise_fault(kGP, selector_error(sel));
  if (!d.present()) raise_fault(kNP, selector_error(sel));
  Segment cs = SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(sel);
  check_offset(cpu, cs, ip);
  if (rpl == cpl) {
    mark_accessed(cpu, sel, d);  // as hardware does (and KVM: cross-checked on Linux's boot)
    write_gpr(s, RSP, ssz, s.gpr[RSP] + 2 * osz + pop_bytes);
    s.seg[CS] = cs;
    s.rip = ip;
    return 0;
  }
  // Return to an outer privilege level: the outer SS:SP follows the immediate's bytes.
  uint64_t new_sp = stack_read(cpu, 2 * osz + pop_bytes, osz);
  uint16_t ss_sel = uint16_t(stack_read(cpu, 3 * osz + pop_bytes, osz));
  Segment ss = check_stack_segment(cpu, ss_sel, rpl, kGP);
  mark_accessed(cpu, sel, d);
  s.seg[CS] = cs;
  s.seg[SS] = ss;
  unsigned new_ssz = cs.l() && s.long_mode_active() ? 8 : ss.db() ? 4 : 2;
  write_gpr(s, RSP, new_ssz, new_sp + pop_bytes);
  s.rip = ip;
  nullify_inaccessible_segments(cpu);
  return 0;
}

uint64_t h_iret(TcgCpu& cpu, uint64_t p, uint64_t next_rip, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  unsigned osz = hp_size(p);
  unsigned ssz = stack_size(s);
  s.events.nmi_masked = false;  // IRET ends the NMI handler's blocking

  if (!s.protected_mode() || s.v86_mode()) {
    if (s.v86_mode() && ((s.rflags >> 12) & 3) < 3) raise_fault(kGP, 0);
    uint64_t ip = stack_read(cpu, 0, osz);
    uint16_t sel = uint16_t(stack_read(cpu, osz, osz));
    uint64_t fl = stack_read(cpu, 2 * osz, osz);
    if (ip > s.seg[CS].limit) raise_fault(kGP, 0);
    uint64_t nf = apply_iret_flags(cpu, fl, osz, 0);
    if (s.v86_mode()) nf = (nf & ~rflags::IOPL) | (s.rflags & rflags::IOPL);
    nf = (nf & ~rflags::VM) | (s.rflags & rflags::VM);
    write_gpr(s, RSP, ssz, s.gpr[RSP] + 3 * osz);
    set_real_mode_cs(s, sel);
    cpu.set_rflags(nf);
    s.rip = ip;
    return 0;
  }

  const bool lm = s.long_mode_active();
  if (s.rflags & rflags::NT) {
    // Return from a nested task along the back-link of the current TSS; IA-32e mode has none.
    if (lm) raise_fault(kGP, 0);
    uint16_t link = uint16_t(cpu.read_system(s.tr.base, 2));
    task_switch(cpu, link, TaskSwitchReason::kIret, next_rip);
    return 0;
  }
  uint64_t ip = stack_read(cpu, 0, osz);
  uint16_t sel = uint16_t(stack_read(cpu, osz, osz));
  uint64_t fl = stack_read(cpu, 2 * osz, osz);
  unsigned cpl = cpu.cpl();

  if (!lm && (fl & rflags::VM) && cpl == 0 && osz == 4) {
    // Return to virtual-8086 mode: ESP, SS, ES, DS, FS, GS follow on the stack.
    uint64_t esp = stack_read(cpu, 12, 4);
    uint16_t v[5];
    for (unsigned i = 0; i < 5; ++i) v[i] = uint16_t(stack_read(cpu, 16 + 4 * i, 4));
    cpu.set_rflags(fl | rflags::VM);
    s.seg[CS] = real_mode_segment(sel, 0xf3);
    s.seg[SS] = real_mode_segment(v[0], 0xf3);
    s.seg[ES] = real_mode_segment(v[1], 0xf3);
    s.seg[DS] = real_mode_segment(v[2], 0xf3);
    s.seg[FS] = real_mode_segment(v[3], 0xf3);
    s.seg[GS] = real_mode_segment(v[4], 0xf3);
    s.gpr[RSP] = esp & 0xffffffff;
    s.rip = ip & 0xffff;
    return 0;
  }

  unsigned rpl = sel & 3;
  if ((sel & 0xfffc) == 0) raise_fault(kGP, 0);
  SegmentDescriptor d = read_descriptor(cpu, sel);
  if (!d.is_code() || rpl < cpl) raise_fault(kGP, selector_error(sel));
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) raise_fault(kGP, selector_error(sel));
  if (!d.present()) raise_fault(kNP, selector_error(sel));
  Segment cs = SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(sel);
  if (lm && cs.l() && cs.db()) raise_fault(kGP, selector_error(sel));
  check_offset(cpu, cs, ip);
  uint64_t nf = apply_iret_flags(cpu, fl, osz, rpl);
  if (lm) nf &= ~rflags::VM;
  else nf = (nf & ~rflags::VM);

  // 64-bit mode always pops SS:RSP; legacy mode only on a privilege change.
  if (rpl != cpl || s.in_64bit_code()) {
    uint64_t new_sp = stack_read(cpu, 3 * osz, osz);
    uint16_t ss_sel = uint16_t(stack_read(cpu, 4 * osz, osz));
    Segment ss;
    bool null_ok = lm && cs.l() && rpl < 3;
    if ((ss_sel & 0xfffc) == 0 && null_ok) {
      ss = Segment{};
      ss.selector = ss_sel;
      ss.limit = 0xffffffff;
      ss.attr = uint16_t(0x4093 | (rpl << 5));
      ss.unusable = true;
    } else {
      ss = check_stack_segment(cpu, ss_sel, rpl, kGP);
    }
    mark_accessed(cpu, sel, d);
    s.seg[CS] = cs;
    s.seg[SS] = ss;
    unsigned new_ssz = (lm && cs.l()) ? 8 : ss.db() ? 4 : 2;
    write_gpr(s, RSP, new_ssz, new_sp);
    cpu.set_rflags(nf);
    s.rip = ip;
    if (rpl != cpl) nullify_inaccessible_segments(cpu);
    return 0;
  }
  mark_accessed(cpu, sel, d);
  write_gpr(s, RSP, ssz, s.gpr[RSP] + 3 * osz);
  s.seg[CS] = cs;
  cpu.set_rflags(nf);
  s.rip = ip;
  return 0;
}

uint64_t h_enter(TcgCpu& cpu, uint64_t p, uint64_t alloc, uint64_t level, uint64_t) {
  CpuState& s = cpu.s;
  unsigned osz = hp_size(p);
  Pusher st(cpu);
  uint64_t bp = s.gpr[RBP] & size_mask_bytes(st.ssz);
  st.push(s.gpr[RBP], osz);
  uint64_t frame = st.sp;
  for (unsigned i = 1; i < level; ++i) {
    bp = (bp - osz) & size_mask_bytes(st.ssz);
    st.push(cpu.load(SS, bp, osz), osz);
  }
  if (level > 0) st.push(frame, osz);
  uint64_t new_sp = (st.sp - alloc) & size_mask_bytes(st.ssz);
  write_gpr(s, RBP, osz, frame);
  st.sp = new_sp;
  st.commit();
  return 0;
}

uint64_t h_pusha(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  unsigned osz = hp_size(p);
  Pusher st(cpu);
  uint64_t original_sp = cpu.s.gpr[RSP];
  for (unsigned r : {RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI}) st.push(r == RSP ? original_sp : cpu.s.gpr[r], osz);
  st.commit();
  return 0;
}

uint64_t h_popa(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  unsigned osz = hp_size(p);
  CpuState& s = cpu.s;
  uint64_t v[8];
  for (unsigned i = 0; i < 8; ++i) v[i] = stack_read(cpu, i * osz, osz);
  const unsigned order[8] = {RDI, RSI, RBP, RSP, RBX, RDX, RCX, RAX};
  for (unsigned i = 0; i < 8; ++i)
    if (order[i] != RSP) write_gpr(s, order[i], osz, v[i]);
  unsigned ssz = stack_size(s);
  write_gpr(s, RSP, ssz, s.gpr[RSP] + 8 * osz);
  return 0;
}

}  // namespace janus::tcg
