#include "tcg/task_switch.h"

#include "tcg/segment_loader.h"

namespace janus::tcg {

namespace {

// Where each field lives in the two TSS formats (SDM figures 7-2 and 7-11).
struct TssLayout {
  unsigned word;                      // 4 (32-bit TSS) or 2 (16-bit TSS)
  unsigned ip, flags, gprs;           // gprs: EAX ECX EDX EBX ESP EBP ESI EDI, `word` apart
  unsigned segs;                      // ES CS SS DS (FS GS): 32-bit TSS 4 apart, 16-bit 2 apart
  unsigned seg_count, ldt;
  uint32_t min_limit;                 // a smaller limit is #TS
};
constexpr TssLayout kTss32{4, 0x20, 0x24, 0x28, 0x48, 6, 0x60, 0x67};
constexpr TssLayout kTss16{2, 0x0e, 0x10, 0x12, 0x22, 4, 0x2a, 0x2b};
constexpr unsigned kCr3 = 0x1c;

bool is_tss32(unsigned type) { return type == sys_type::kTssAvail || type == sys_type::kTssBusy; }
bool is_tss16(unsigned type) { return type == sys_type::kTss16Avail || type == sys_type::kTss16Busy; }

// The state read from the incoming TSS before anything is committed.
struct TaskImage {
  uint64_t cr3 = 0, ip = 0, flags = 0;
  uint64_t gpr[8] = {};
  uint16_t seg[6] = {};
  uint16_t ldt = 0;
};

// Sets or clears the busy bit (type bit 1) of the TSS descriptor in the GDT.
void set_busy(TcgCpu& cpu, uint16_t sel, bool busy) {
  uint64_t addr = cpu.s.gdtr.base + (sel & ~7u) + 5;
  uint64_t access = cpu.read_system(addr, 1);
  cpu.write_system(addr, 1, busy ? access | 2 : access & ~2ull);
}

// Loads LDTR for the new task: #TS(selector) for anything but a present LDT descriptor.
void load_task_ldt(TcgCpu& cpu, uint16_t sel, bool ext) {
  CpuState& s = cpu.s;
  if ((sel & 0xfffc) == 0) {
    s.ldtr.selector = sel;
    s.ldtr.unusable = true;
    return;
  }
  if (sel & 4) raise_fault(kTS, selector_error(sel, ext));
  SegmentDescriptor d = read_descriptor(cpu, sel, kTS);
  if (d.s() || d.type() != sys_type::kLdt || !d.present()) raise_fault(kTS, selector_error(sel, ext));
  s.ldtr = d.to_segment(sel);
}

// CS of the new task: its RPL becomes the CPL.
Segment task_code_segment(TcgCpu& cpu, uint16_t sel, bool ext) {
  if ((sel & 0xfffc) == 0) raise_fault(kTS, selector_error(sel, ext));
  SegmentDescriptor d = read_descriptor(cpu, sel, kTS);
  unsigned rpl = sel & 3;
  if (!d.is_code()) raise_fault(kTS, selector_error(sel, ext));
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) raise_fault(kTS, selector_error(sel, ext));
  if (!d.present()) raise_fault(kNP, selector_error(sel, ext));
  mark_accessed(cpu, sel, d);
  return SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(sel);
}

// DS/ES/FS/GS of the new task: null is fine; otherwise readable and accessible at the new CPL.
void load_task_data_segment(TcgCpu& cpu, unsigned seg, uint16_t sel, unsigned cpl, bool ext) {
  CpuState& s = cpu.s;
  if ((sel & 0xfffc) == 0) {
    s.seg[seg].selector = sel;
    s.seg[seg].unusable = true;
    s.seg[seg].attr &= ~0x80;
    return;
  }
  SegmentDescriptor d = read_descriptor(cpu, sel, kTS);
  if (!d.s() || !d.readable()) raise_fault(kTS, selector_error(sel, ext));
  if ((d.is_data() || !d.conforming()) && d.dpl() < std::max(cpl, unsigned(sel & 3)))
    raise_fault(kTS, selector_error(sel, ext));
  if (!d.present()) raise_fault(kNP, selector_error(sel, ext));
  mark_accessed(cpu, sel, d);
  s.seg[seg] = SegmentDescriptor{d.raw | (1ull << 40)}.to_segment(sel);
}

// Step 12 of SDM 7.3: the new task's segment registers and LDTR, checked in the new context.
void load_task_segments(TcgCpu& cpu, const TaskImage& t, unsigned seg_count, bool ext) {
  CpuState& s = cpu.s;
  // Selectors first, caches marked unusable: a fault below is reported with these selectors
  // and with the new task's CPL (SS.DPL follows CS.RPL).
  for (unsigned i = 0; i < 6; ++i) {
    s.seg[i].selector = i < seg_count ? t.seg[i] : 0;
    if (i != CS) s.seg[i].unusable = true;
  }
  s.seg[SS].attr = uint16_t((s.seg[SS].attr & ~0x60) | ((t.seg[CS] & 3) << 5));
  s.ldtr.selector = t.ldt;
  s.ldtr.unusable = true;
  if (s.rflags & rflags::VM) {  // a 32-bit TSS may resume a virtual-8086 task
    load_task_ldt(cpu, t.ldt, ext);
    for (unsigned i = 0; i < 6; ++i) s.seg[i] = real_mode_segment(t.seg[i], 0xf3);
    return;
  }
  load_task_ldt(cpu, t.ldt, ext);
  Segment cs = task_code_segment(cpu, t.seg[CS], ext);
  unsigned cpl = t.seg[CS] & 3;
  uint16_t ss_sel = t.seg[SS];
  if ((ss_sel & 0xfffc) == 0) raise_fault(kTS, selector_error(ss_sel, ext));
  s.seg[SS] = check_stack_segment(cpu, ss_sel, cpl, kTS);
  s.seg[CS] = cs;
  for (unsigned seg : {ES, DS, FS, GS}) {
    uint16_t sel = seg < seg_count ? t.seg[seg] : 0;
    load_task_data_segment(cpu, seg, sel, cpl, ext);
  }
}

}  // namespace

void task_switch(TcgCpu& cpu, uint16_t tss_sel, TaskSwitchReason reason, uint64_t return_rip, bool has_error,
                 uint32_t error, bool ext) {
  CpuState& s = cpu.s;
  const bool from_iret = reason == TaskSwitchReason::kIret;
  // An unusable target is #TS for IRET (the back-link is bad) and #GP for JMP/CALL/INT.
  const uint8_t bad_target = from_iret ? kTS : kGP;
  if (s.long_mode_active()) raise_fault(kGP, selector_error(tss_sel, ext));
  if (tss_sel & 4) raise_fault(bad_target, selector_error(tss_sel, ext));
  SegmentDescriptor nd = read_descriptor(cpu, tss_sel, bad_target);
  unsigned type = nd.type();
  if (nd.s() || !(is_tss32(type) || is_tss16(type))) raise_fault(bad_target, selector_error(tss_sel, ext));
  bool busy = type & 2;
  if (from_iret ? !busy : busy) raise_fault(bad_target, selector_error(tss_sel, ext));
  if (!nd.present()) raise_fault(kNP, selector_error(tss_sel, ext));
  const TssLayout& nl = is_tss32(type) ? kTss32 : kTss16;
  if (nd.limit() < nl.min_limit) raise_fault(kTS, selector_error(tss_sel, ext));
  const TssLayout& ol = is_tss32(s.tr.type()) ? kTss32 : kTss16;
  if (s.tr.limit < ol.segs + ol.word * ol.seg_count - 1) raise_fault(kTS, selector_error(s.tr.selector, ext));

  // Read the new task's state (a #PF here leaves everything as it was).
  const uint64_t nb = nd.base();
  TaskImage t;
  auto rd = [&](unsigned off, unsigned size) { return cpu.read_system(nb + off, size); };
  if (nl.word == 4) t.cr3 = rd(kCr3, 4);
  t.ip = rd(nl.ip, nl.word);
  t.flags = rd(nl.flags, nl.word);
  for (unsigned i = 0; i < 8; ++i) t.gpr[i] = rd(nl.gprs + nl.word * i, nl.word);
  for (unsigned i = 0; i < nl.seg_count; ++i) t.seg[i] = uint16_t(rd(nl.segs + nl.word * i, 2));
  t.ldt = uint16_t(rd(nl.ldt, 2));

  // Save the outgoing task. IRET clears NT in the saved image; the others keep it.
  const uint64_t ob = s.tr.base;
  auto wr = [&](unsigned off, unsigned size, uint64_t v) { cpu.write_system(ob + off, size, v); };
  uint64_t old_flags = cpu.rflags();
  if (from_iret) old_flags &= ~rflags::NT;
  wr(ol.ip, ol.word, return_rip);
  wr(ol.flags, ol.word, old_flags);
  for (unsigned i = 0; i < 8; ++i) wr(ol.gprs + ol.word * i, ol.word, s.gpr[i]);
  for (unsigned i = 0; i < ol.seg_count; ++i) wr(ol.segs + ol.word * i, 2, s.seg[i].selector);

  // Busy bits and the back-link: JMP and IRET leave the old task, CALL and INT nest the new one.
  const uint16_t old_tr = s.tr.selector;
  if (reason == TaskSwitchReason::kJmp || from_iret) set_busy(cpu, old_tr, false);
  if (!from_iret) set_busy(cpu, tss_sel, true);
  const bool nest = reason == TaskSwitchReason::kCall || reason == TaskSwitchReason::kInterrupt;
  if (nest) cpu.write_system(nb, 2, old_tr);

  // Commit: TR, CR0.TS, CR3, registers. From here on faults belong to the new task.
  s.tr = SegmentDescriptor{nd.raw | (2ull << 40)}.to_segment(tss_sel);
  s.cr0 |= cr0::TS;
  if (nl.word == 4 && (s.cr0 & cr0::PG)) {
    s.cr3 = t.cr3;
    cpu.paging_changed(s.cr4 & cr4::PGE);
  }
  uint64_t flags = t.flags;
  if (nl.word == 2) flags = (cpu.rflags() & ~0xffffull) | (flags & 0xffff);
  if (nest) flags |= rflags::NT;
  cpu.set_rflags(flags | rflags::FIXED1);
  for (unsigned i = 0; i < 8; ++i) write_gpr(s, i, nl.word, t.gpr[i]);
  s.rip = nl.word == 4 ? t.ip & 0xffffffff : t.ip & 0xffff;
  load_task_segments(cpu, t, nl.seg_count, ext);
  if (s.rip > s.seg[CS].limit) raise_fault(kGP, ext ? 1 : 0);

  if (has_error) {  // an exception through a task gate pushes its error code on the new stack
    unsigned ssz = s.seg[SS].db() ? 4 : 2;
    uint64_t sp = (s.gpr[RSP] - nl.word) & size_mask_bytes(ssz);
    cpu.store(SS, sp, nl.word, error);
    write_gpr(s, RSP, ssz, sp);
  }
}

void task_switch_far(TcgCpu& cpu, uint16_t sel, const SegmentDescriptor& d, bool call, uint64_t return_rip) {
  const CpuState& s = cpu.s;
  if (s.long_mode_active()) raise_fault(kGP, selector_error(sel));
  unsigned cpl = cpu.cpl(), rpl = sel & 3;
  if (d.dpl() < cpl || d.dpl() < rpl) raise_fault(kGP, selector_error(sel));
  if (!d.present()) raise_fault(kNP, selector_error(sel));
  uint16_t tss_sel = sel;
  if (d.type() == sys_type::kTaskGate) tss_sel = uint16_t(d.raw >> 16);
  task_switch(cpu, tss_sel, call ? TaskSwitchReason::kCall : TaskSwitchReason::kJmp, return_rip);
}

}  // namespace janus::tcg
