#include "tcg/event_delivery.h"

#include "cpu/descriptors.h"
#include "tcg/segment_loader.h"
#include "tcg/task_switch.h"

namespace janus::tcg {

namespace {

// Pushes onto a stack that may not be loaded yet (the inner stack of a privilege change).
// All pushes are written before any register is committed, so a #PF/#SS here restarts cleanly.
struct StackBuilder {
  TcgCpu& cpu;
  uint64_t base;
  uint64_t sp;
  uint64_t sp_mask;  // 0xffff, 0xffffffff or ~0
  bool user;
  uint8_t fault_vector = kSS;
  uint32_t fault_error = 0;

  void push(uint64_t v, unsigned size) {
    sp = (sp - size) & sp_mask;
    uint64_t linear = cpu.s.long_mode_active() && sp_mask == ~0ull ? base + sp : (base + sp) & 0xffffffffull;
    cpu.mmu.write(linear, size, v, user);
  }
};

uint64_t sp_mask_for(const Segment& ss, bool long64) { return long64 ? ~0ull : ss.db() ? 0xffffffffull : 0xffff; }

void deliver_real_mode(TcgCpu& cpu, uint8_t vector, uint64_t return_rip) {
  CpuState& s = cpu.s;
  if (uint64_t(vector) * 4 + 3 > s.idtr.limit) raise_fault(kGP, idt_error(vector));
  uint32_t entry = uint32_t(cpu.read_system(s.idtr.base + vector * 4u, 4));
  StackBuilder st{cpu, s.seg[SS].base, s.gpr[RSP], 0xffff, false};
  st.push(cpu.rflags() & 0xffff, 2);
  st.push(s.seg[CS].selector, 2);
  st.push(return_rip & 0xffff, 2);
  write_gpr(s, RSP, 2, st.sp);
  s.rflags &= ~(rflags::IF | rflags::TF | rflags::AC | rflags::RF);
  uint16_t sel = entry >> 16;
  s.seg[CS].selector = sel;
  s.seg[CS].base = uint64_t(sel) << 4;
  s.rip = entry & 0xffff;
}

// Protected mode (legacy) and long mode IDT delivery.
void deliver_protected(TcgCpu& cpu, uint8_t vector, EventKind kind, uint64_t return_rip, bool has_error,
                       uint32_t error) {
  CpuState& s = cpu.s;
  const bool lm = s.long_mode_active();
  // EXT: the event is not a software interrupt (INT n, INT3, INTO); INT1 counts as external.
  const bool ext = kind != EventKind::kSoftware && kind != EventKind::kSoftwareException;
  const unsigned gate_size = lm ? 16 : 8;
  if (uint64_t(vector) * gate_size + gate_size - 1 > s.idtr.limit) raise_fault(kGP, idt_error(vector, ext));
  GateDescriptor gate;
  gate.raw = cpu.read_system(s.idtr.base + uint64_t(vector) * gate_size, 8);
  if (lm) gate.raw_high = cpu.read_system(s.idtr.base + uint64_t(vector) * gate_size + 8, 8);
  unsigned type = gate.type();
  bool valid_type = lm ? (type == sys_type::kIntGate || type == sys_type::kTrapGate)
                       : (type == sys_type::kIntGate || type == sys_type::kTrapGate || type == sys_type::kIntGate16 ||
                          type == sys_type::kTrapGate16 || type == sys_type::kTaskGate);
  if (!valid_type) raise_fault(kGP, idt_error(vector, ext));
  const unsigned cpl = cpu.cpl();
  bool software = kind == EventKind::kSoftware || kind == EventKind::kSoftwareException;
  if (software && gate.dpl() < cpl) raise_fault(kGP, idt_error(vector));
  if (!gate.present()) raise_fault(kNP, idt_error(vector, ext));
  if (type == sys_type::kTaskGate) {  // legacy mode only: the handler is another task
    task_switch(cpu, gate.selector(), TaskSwitchReason::kInterrupt, return_rip, has_error, error, ext);
    return;
  }

  uint16_t sel = gate.selector();
  if ((sel & 0xfffc) == 0) raise_fault(kGP, ext ? 1 : 0);
  SegmentDescriptor cd = read_descriptor(cpu, sel);
  if (!cd.is_code() || cd.dpl() > cpl) raise_fault(kGP, selector_error(sel, ext));
  if (!cd.present()) raise_fault(kNP, selector_error(sel, ext));
  if (lm && (!cd.l() || cd.db())) raise_fault(kGP, selector_error(sel, ext));
  const bool gate32 = lm || (type & 8);
  const unsigned push_size = lm ? 8 : gate32 ? 4 : 2;
  const unsigned new_cpl = cd.conforming() ? cpl : cd.dpl();
  const bool privilege_change = new_cpl < cpl;
  const bool from_v86 = s.v86_mode();
  if (from_v86 && new_cpl != 0) raise_fault(kGP, selector_error(sel, ext));

  uint64_t old_rflags = cpu.rflags();
  Segment old_ss = s.seg[SS];
  uint64_t old_rsp = s.gpr[RSP];
  Segment new_ss = old_ss;
  uint64_t new_rsp = old_rsp;
  const Segment& tr = s.tr;

  if (lm) {
    if (gate.ist()) {
      new_rsp = cpu.read_system(tr.base + 0x24 + 8 * (gate.ist() - 1), 8);
    } else if (privilege_change) {
      new_rsp = cpu.read_system(tr.base + 4 + 8 * new_cpl, 8);
    }
    if (privilege_change) {
      new_ss = Segment{};
      new_ss.selector = uint16_t(new_cpl);
      new_ss.base = 0;
      new_ss.limit = 0xffffffff;
      new_ss.attr = uint16_t(0x4093 | (new_cpl << 5));
      new_ss.unusable = true;
    }
    new_rsp &= ~0xfull;
  } else if (privilege_change) {
    uint16_t ss_sel;
    if (tr.type() == sys_type::kTssBusy || tr.type() == sys_type::kTssAvail) {
      if (8 * new_cpl + 11 > tr.limit) raise_fault(kTS, selector_error(tr.selector, ext));
      new_rsp = cpu.read_system(tr.base + 4 + 8 * new_cpl, 4);
      ss_sel = uint16_t(cpu.read_system(tr.base + 8 + 8 * new_cpl, 2));
    } else {
      if (4 * new_cpl + 5 > tr.limit) raise_fault(kTS, selector_error(tr.selector, ext));
      new_rsp = cpu.read_system(tr.base + 2 + 4 * new_cpl, 2);
      ss_sel = uint16_t(cpu.read_system(tr.base + 4 + 4 * new_cpl, 2));
    }
    new_ss = check_stack_segment(cpu, ss_sel, new_cpl, kTS);
  }

  uint64_t offset = gate.offset(lm);
  if (!gate32) offset &= 0xffff;
  if (lm ? !is_canonical(offset) : offset > cd.limit()) raise_fault(kGP, ext ? 1 : 0);

  StackBuilder st{cpu, lm ? 0 : new_ss.base, new_rsp, sp_mask_for(new_ss, lm), new_cpl == 3};
  if (from_v86) {
    for (unsigned seg : {GS, FS, DS, ES}) st.push(s.seg[seg].selector, push_size);
  }
  if (lm || privilege_change) {
    st.push(old_ss.selector, push_size);
    st.push(old_rsp, push_size);
  }
  st.push(old_rflags, push_size);
  st.push(s.seg[CS].selector, push_size);
  st.push(return_rip, push_size);
  if (has_error) st.push(error, push_size);

  // Commit.
  mark_accessed(cpu, sel, cd);
  Segment cs = SegmentDescriptor{cd.raw | (1ull << 40)}.to_segment(uint16_t((sel & 0xfffc) | new_cpl));
  if (privilege_change || lm) s.seg[SS] = new_ss;
  write_gpr(s, RSP, lm ? 8 : (new_ss.db() ? 4 : 2), st.sp);
  s.seg[CS] = cs;
  if (from_v86) {
    for (unsigned seg : {ES, DS, FS, GS}) {
      s.seg[seg].selector = 0;
      s.seg[seg].unusable = true;
      s.seg[seg].attr &= ~0x80;
    }
  }
  uint64_t nf = old_rflags & ~(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
  if ((type & 1) == 0) nf &= ~rflags::IF;  // interrupt gate (not trap gate)
  cpu.set_rflags(nf);
  s.rip = offset;
}

void deliver_once(TcgCpu& cpu, uint8_t vector, EventKind kind, uint64_t return_rip, bool has_error, uint32_t error) {
  if (!cpu.s.protected_mode()) return deliver_real_mode(cpu, vector, return_rip);
  deliver_protected(cpu, vector, kind, return_rip, has_error, error);
}

}  // namespace

void deliver_event(TcgCpu& cpu, uint8_t vector, EventKind kind, uint64_t return_rip, bool has_error, uint32_t error) {
  // Error codes only exist in protected/long mode, and only for hardware exceptions.
  if (!cpu.s.protected_mode() || kind != EventKind::kException) has_error = false;
  if (kind == EventKind::kException && !exception_has_error_code(vector)) has_error = false;
  const uint64_t fault_rip = cpu.s.rip;  // a fault during delivery reports this instruction
  ++cpu.events_delivered;
  // SDM 17.3.1.1: every fault-class exception pushes RF=1 (so the handler's IRET does not
  // re-trigger an instruction breakpoint); #DB keeps RF as it is (breakpoint faults, traps).
  if (kind == EventKind::kException && vector != kDB) cpu.s.rflags |= rflags::RF;
  try {
    deliver_once(cpu, vector, kind, return_rip, has_error, error);
    cpu.s.halted = false;
    return;
  } catch (GuestFault& second) {
    if (second.vector == kPF) cpu.s.cr2 = second.cr2;
    // A selector error raised while delivering a hardware event carries EXT (SDM 6.13).
    bool selector_fault = second.vector == kTS || second.vector == kNP || second.vector == kSS || second.vector == kGP;
    if (selector_fault && second.has_error && kind != EventKind::kSoftware && kind != EventKind::kSoftwareException)
      second.error |= 1;
    int next = second.vector;
    if (kind == EventKind::kException) next = combine_exceptions(vector, second.vector);
    if (next == kTripleFault) {
      cpu.shutdown = true;
      return;
    }
    cpu.s.rip = fault_rip;
    if (next == kDF) {
      try {
        deliver_once(cpu, kDF, EventKind::kException, fault_rip, true, 0);
      } catch (const GuestFault&) {
        cpu.shutdown = true;  // a fault while delivering #DF
      }
      return;
    }
    deliver_event(cpu, second.vector, EventKind::kException, fault_rip, second.has_error, second.error);
  }
}

}  // namespace janus::tcg
