// System instructions: CPUID (from the table), TSC, MSRs, control/debug registers, descriptor
// table registers, LDTR/TR, SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, CMPXCHG8B.
#include "cpu/descriptors.h"
#include "tcg/debug_events.h"
#include "tcg/helpers.h"
#include "tcg/segment_loader.h"

namespace janus::tcg {

namespace {

namespace msr {
constexpr uint32_t kTsc = 0x10, kApicBase = 0x1b, kTscAdjust = 0x3b, kBiosSignId = 0x8b, kArchCapabilities = 0x10a, kSysenterCs = 0x174, kSysenterEsp = 0x175, kSysenterEip = 0x176,
                   kMiscEnable = 0x1a0, kPat = 0x277, kTscDeadline = 0x6e0, kEfer = 0xc0000080, kStar = 0xc0000081,
                   kLstar = 0xc0000082, kCstar = 0xc0000083, kSfmask = 0xc0000084, kFsBase = 0xc0000100,
                   kGsBase = 0xc0000101, kKernelGsBase = 0xc0000102, kTscAux = 0xc0000103;
}

Segment flat_code(uint16_t sel, unsigned dpl, bool long64) {
  Segment s;
  s.selector = sel;
  s.base = 0;
  s.limit = 0xffffffff;
  s.attr = uint16_t(0x9b | (dpl << 5) | 0x8000 | (long64 ? 0x2000 : 0x4000));
  return s;
}
Segment flat_data(uint16_t sel, unsigned dpl) {
  Segment s;
  s.selector = sel;
  s.base = 0;
  s.limit = 0xffffffff;
  s.attr = uint16_t(0x93 | (dpl << 5) | 0x8000 | 0x4000);
  return s;
}

// IA32_TSC_ADJUST exists where CPUID 7.EBX[1] says so (else RDMSR/WRMSR raise #GP).
void require_tsc_adjust(const TcgCpu& cpu) {
  if (!(cpu.ctx.cpuid.query(7, 0).ebx & cpuid_bits::TSC_ADJUST)) raise_fault(kGP, 0);
}

void set_edx_eax(CpuState& s, uint64_t v) {
  s.gpr[RAX] = v & 0xffffffff;
  s.gpr[RDX] = v >> 32;
}

}  // namespace

uint64_t h_cpuid(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  CpuidResult r = cpu.ctx.cpuid.query(uint32_t(s.gpr[RAX]), uint32_t(s.gpr[RCX]));
  s.gpr[RAX] = r.eax;
  s.gpr[RBX] = r.ebx;
  s.gpr[RCX] = r.ecx;
  s.gpr[RDX] = r.edx;
  return 0;
}

uint64_t h_rdtsc(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  if (p == 1 && !cpu.ctx.cpuid.ext1_edx(cpuid_bits::RDTSCP)) raise_fault(kUD);
  if ((s.cr4 & cr4::TSD) && cpu.cpl() != 0) raise_fault(kGP, 0);
  set_edx_eax(s, cpu.tsc());
  if (p == 1) s.gpr[RCX] = s.msr.tsc_aux & 0xffffffff;
  return 0;
}

uint64_t h_rdmsr(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  uint64_t v;
  switch (uint32_t(s.gpr[RCX])) {
    case msr::kTsc: v = cpu.tsc(); break;
    case msr::kApicBase: v = s.msr.apic_base; break;
    case msr::kTscAdjust:
      require_tsc_adjust(cpu);
      v = s.msr.tsc_adjust;
      break;
    case msr::kBiosSignId: v = 0; break;  // microcode revision: none loaded
    case msr::kArchCapabilities:  // read-only: WRMSR takes the default #GP
      if (!(cpu.ctx.cpuid.query(7, 0).edx & cpuid_bits::ARCH_CAPABILITIES)) raise_fault(kGP, 0);
      v = kSoftwareCpuArchCapabilities;
      break;
    case msr::kSysenterCs: v = s.msr.sysenter_cs; break;
    case msr::kSysenterEsp: v = s.msr.sysenter_esp; break;
    case msr::kSysenterEip: v = s.msr.sysenter_eip; break;
    case msr::kMiscEnable: v = s.msr.misc_enable; break;
    case msr::kPat: v = s.msr.pat; break;
    case msr::kTscDeadline: v = cpu.ctx.interrupts.tsc_deadline(); break;
    case msr::kEfer: v = s.efer; break;
    case msr::kStar: v = s.msr.star; break;
    case msr::kLstar: v = s.msr.lstar; break;
    case msr::kCstar: v = s.msr.cstar; break;
    case msr::kSfmask: v = s.msr.sfmask; break;
    case msr::kFsBase: v = s.seg[FS].base; break;
    case msr::kGsBase: v = s.seg[GS].base; break;
    case msr::kKernelGsBase: v = s.msr.kernel_gs_base; break;
    case msr::kTscAux: v = s.msr.tsc_aux; break;
    default: raise_fault(kGP, 0);
  }
  set_edx_eax(s, v);
  return 0;
}

uint64_t h_wrmsr(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  uint64_t v = (s.gpr[RDX] << 32) | (s.gpr[RAX] & 0xffffffff);
  auto canonical = [&](uint64_t x) { if (!is_canonical(x)) raise_fault(kGP, 0); return x; };
  switch (uint32_t(s.gpr[RCX])) {
    case msr::kTsc: {  // a guest write to the TSC moves IA32_TSC_ADJUST by as much
      const uint64_t before = cpu.tsc();
      cpu.set_tsc(v);
      s.msr.tsc_adjust += v - before;
      break;
    }
    case msr::kTscAdjust:  // and a write to IA32_TSC_ADJUST moves the TSC
      require_tsc_adjust(cpu);
      cpu.set_tsc(cpu.tsc() + (v - s.msr.tsc_adjust));
      s.msr.tsc_adjust = v;
      break;
    case msr::kApicBase: s.msr.apic_base = v; break;
    case msr::kBiosSignId: break;  // software writes 0 before CPUID to latch the revision
    case msr::kSysenterCs: s.msr.sysenter_cs = v & 0xffff; break;
    case msr::kSysenterEsp: s.msr.sysenter_esp = canonical(v); break;
    case msr::kSysenterEip: s.msr.sysenter_eip = canonical(v); break;
    case msr::kMiscEnable: s.msr.misc_enable = v; break;
    case msr::kPat: s.msr.pat = v; break;
    case msr::kTscDeadline: cpu.ctx.interrupts.set_tsc_deadline(v); break;
    case msr::kEfer: {
      uint64_t allowed = 0;
      if (cpu.ctx.cpuid.ext1_edx(cpuid_bits::SYSCALL)) allowed |= efer::SCE;
      if (cpu.ctx.cpuid.ext1_edx(cpuid_bits::LM)) allowed |= efer::LME;
      if (cpu.ctx.cpuid.ext1_edx(cpuid_bits::NX)) allowed |= efer::NXE;
      if (v & ~(allowed | efer::LMA)) raise_fault(kGP, 0);
      if ((s.cr0 & cr0::PG) && ((v ^ s.efer) & efer::LME)) raise_fault(kGP, 0);
      s.efer = (v & allowed) | (s.efer & efer::LMA);
      cpu.paging_changed(false);
      break;
    }
    case msr::kStar: s.msr.star = v; break;
    case msr::kLstar: s.msr.lstar = canonical(v); break;
    case msr::kCstar: s.msr.cstar = canonical(v); break;
    case msr::kSfmask: s.msr.sfmask = v & 0xffffffff; break;
    case msr::kFsBase: s.seg[FS].base = canonical(v); break;
    case msr::kGsBase: s.seg[GS].base = canonical(v); break;
    case msr::kKernelGsBase: s.msr.kernel_gs_base = canonical(v); break;
    case msr::kTscAux: s.msr.tsc_aux = v & 0xffffffff; break;
    default: raise_fault(kGP, 0);
  }
  return 0;
}

uint64_t h_read_cr(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  const CpuState& s = cpu.s;
  switch (p) {
    case 0: return s.cr0;
    case 2: return s.cr2;
    case 3: return s.cr3;
    case 4: return s.cr4;
    default: return cpu.ctx.interrupts.cr8() & 0xf;
  }
}

uint64_t h_write_cr(TcgCpu& cpu, uint64_t p, uint64_t v, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  switch (p) {
    case 0: {
      if (v >> 32) raise_fault(kGP, 0);
      if ((v & cr0::PG) && !(v & cr0::PE)) raise_fault(kGP, 0);
      if ((v & cr0::NW) && !(v & cr0::CD)) raise_fault(kGP, 0);
      bool enabling_lm = (v & cr0::PG) && !(s.cr0 & cr0::PG) && (s.efer & efer::LME);
      if (enabling_lm && !(s.cr4 & cr4::PAE)) raise_fault(kGP, 0);
      bool leaving_lm = !(v & cr0::PG) && s.long_mode_active();
      if (leaving_lm && s.in_64bit_code()) raise_fault(kGP, 0);
      uint64_t changed = (v ^ s.cr0);
      s.cr0 = v | cr0::ET;
      if (enabling_lm) s.efer |= efer::LMA;
      if (leaving_lm) s.efer &= ~efer::LMA;
      if (changed & (cr0::PG | cr0::PE | cr0::WP)) cpu.paging_changed(false);
      return 0;
    }
    case 2: s.cr2 = v; return 0;
    case 3:
      if (s.long_mode_active() && (v >> 52)) raise_fault(kGP, 0);
      s.cr3 = v;
      cpu.paging_changed(s.cr4 & cr4::PGE);
      return 0;
    case 4: {
      uint64_t allowed = cr4::VME | cr4::PVI | cr4::TSD | cr4::DE | cr4::PAE | cr4::MCE | cr4::PCE | cr4::OSFXSR |
                         cr4::OSXMMEXCPT;
      if (cpu.ctx.cpuid.leaf1_edx(cpuid_bits::PSE)) allowed |= cr4::PSE;
      if (cpu.ctx.cpuid.leaf1_edx(cpuid_bits::PGE)) allowed |= cr4::PGE;
      if (v & ~allowed) raise_fault(kGP, 0);
      if (s.long_mode_active() && !(v & cr4::PAE)) raise_fault(kGP, 0);
      uint64_t changed = v ^ s.cr4;
      s.cr4 = v;
      if (changed & (cr4::PSE | cr4::PAE | cr4::PGE)) cpu.paging_changed(false);
      return 0;
    }
    default:
      if (v & ~0xfull) raise_fault(kGP, 0);
      cpu.ctx.interrupts.set_cr8(v);
      s.cr8 = v;
      return 0;
  }
}

// DR7.GD (general detect): any MOV DR faults with #DB and DR6.BD before it executes, so a
// debugger can guard its registers (SDM 17.2.4). The processor clears GD for the handler.
static void check_general_detect(TcgCpu& cpu) {
  CpuState& s = cpu.s;
  if (!(s.dr7 & dr7::GD)) return;
  s.dr6 |= dr6::BD;
  s.dr7 &= ~dr7::GD;
  raise_fault(kDB);
}

uint64_t h_read_dr(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  const CpuState& s = cpu.s;
  check_general_detect(cpu);
  if ((p == 4 || p == 5) && (s.cr4 & cr4::DE)) raise_fault(kUD);
  switch (p) {
    case 0: case 1: case 2: case 3: return s.dr[p];
    case 4: case 6: return s.dr6;
    default: return s.dr7;
  }
}

uint64_t h_write_dr(TcgCpu& cpu, uint64_t p, uint64_t v, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  check_general_detect(cpu);
  if ((p == 4 || p == 5) && (s.cr4 & cr4::DE)) raise_fault(kUD);
  if ((p >= 4) && (v >> 32)) raise_fault(kGP, 0);
  switch (p) {
    case 0: case 1: case 2: case 3: s.dr[p] = v; break;
    case 4: case 6: s.dr6 = (v & 0x1e00f) | 0xffff0ff0; break;
    default: s.dr7 = (v & 0xffff2bff) | 0x400; break;
  }
  debug_registers_changed(cpu);
  return 0;
}

uint64_t h_clts(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  cpu.s.cr0 &= ~cr0::TS;
  return 0;
}

uint64_t h_lmsw(TcgCpu& cpu, uint64_t, uint64_t v, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  // LMSW can set PE but never clear it; it touches only PE, MP, EM, TS.
  uint64_t nv = (s.cr0 & ~0xeull) | (v & 0xe) | ((s.cr0 | v) & 1);
  bool pe_changed = (nv ^ s.cr0) & cr0::PE;
  s.cr0 = nv;
  if (pe_changed) cpu.paging_changed(false);
  return 0;
}

uint64_t h_smsw(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) { return cpu.s.cr0 & 0xffffffff; }

uint64_t h_invlpg(TcgCpu& cpu, uint64_t p, uint64_t offset, uint64_t, uint64_t) {
  uint64_t linear = cpu.code64() ? (p >= FS ? cpu.s.seg[p].base : 0) + offset : (cpu.s.seg[p].base + offset) & 0xffffffff;
  cpu.mmu.flush_page(linear);
  ++cpu.tlb_epoch;
  return 0;
}

uint64_t h_descriptor_table(TcgCpu& cpu, uint64_t p, uint64_t offset, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  unsigned op = hp_op(p), osz = hp_size(p);
  unsigned seg = unsigned(hp_extra(p));
  bool is64 = cpu.code64();
  unsigned asz_mask_bits = is64 ? 64 : 32;
  auto at = [&](unsigned n) { return asz_mask_bits == 64 ? offset + n : (offset + n) & 0xffffffff; };
  DescriptorTable& t = (op == kSgdt || op == kLgdt) ? s.gdtr : s.idtr;
  if (op == kSgdt || op == kSidt) {
    cpu.store(seg, at(0), 2, t.limit);
    cpu.store(seg, at(2), is64 ? 8 : 4, is64 ? t.base : t.base & 0xffffffff);
    return 0;
  }
  uint64_t limit = cpu.load(seg, at(0), 2);
  uint64_t base = cpu.load(seg, at(2), is64 ? 8 : 4);
  if (!is64 && osz == 2) base &= 0xffffff;
  if (is64 && !is_canonical(base)) raise_fault(kGP, 0);
  t.limit = uint16_t(limit);
  t.base = base;
  return 0;
}

uint64_t h_lldt(TcgCpu& cpu, uint64_t, uint64_t selector, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  uint16_t sel = uint16_t(selector);
  if ((sel & 0xfffc) == 0) {
    s.ldtr.selector = sel;
    s.ldtr.unusable = true;
    return 0;
  }
  if (sel & 4) raise_fault(kGP, selector_error(sel));
  SegmentDescriptor d = read_descriptor(cpu, sel);
  if (d.s() || d.type() != sys_type::kLdt) raise_fault(kGP, selector_error(sel));
  uint64_t high = s.long_mode_active() ? read_descriptor_high(cpu, sel) : 0;
  if (!d.present()) raise_fault(kNP, selector_error(sel));
  Segment l = d.to_segment(sel);
  l.base |= (high & 0xffffffff) << 32;
  s.ldtr = l;
  return 0;
}

uint64_t h_ltr(TcgCpu& cpu, uint64_t, uint64_t selector, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  uint16_t sel = uint16_t(selector);
  if ((sel & 0xfffc) == 0) raise_fault(kGP, 0);
  if (sel & 4) raise_fault(kGP, selector_error(sel));
  SegmentDescriptor d = read_descriptor(cpu, sel);
  bool ok = !d.s() && (d.type() == sys_type::kTssAvail || (!s.long_mode_active() && d.type() == sys_type::kTss16Avail));
  if (!ok) raise_fault(kGP, selector_error(sel));
  uint64_t high = s.long_mode_active() ? read_descriptor_high(cpu, sel) : 0;
  if (!d.present()) raise_fault(kNP, selector_error(sel));
  // Mark the TSS busy in the GDT.
  cpu.write_system(s.gdtr.base + (sel & ~7u) + 5, 1, ((d.raw >> 40) & 0xff) | 0x2);
  Segment t = SegmentDescriptor{d.raw | (2ull << 40)}.to_segment(sel);
  t.base |= (high & 0xffffffff) << 32;
  s.tr = t;
  return 0;
}

uint64_t h_read_selector(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  const CpuState& s = cpu.s;
  if (p == 0) return s.ldtr.selector;
  if (p == 1) return s.tr.selector;
  return s.seg[p - 2].selector;
}

uint64_t h_swapgs(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  std::swap(cpu.s.seg[GS].base, cpu.s.msr.kernel_gs_base);
  return 0;
}

uint64_t h_syscall(TcgCpu& cpu, uint64_t, uint64_t next_rip, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  if (!(s.efer & efer::SCE) || !s.long_mode_active()) raise_fault(kUD);
  uint16_t sel = uint16_t(s.msr.star >> 32) & 0xfffc;
  s.gpr[RCX] = next_rip;
  uint64_t fl = cpu.rflags();
  s.gpr[R11] = fl & ~rflags::RF;
  s.seg[CS] = flat_code(sel, 0, true);
  s.seg[SS] = flat_data(uint16_t(sel + 8), 0);
  s.rip = s.in_64bit_code() || true ? s.msr.lstar : s.msr.cstar;
  cpu.set_rflags(fl & ~s.msr.sfmask & ~rflags::RF);
  return 0;
}

uint64_t h_sysret(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  if (!(s.efer & efer::SCE)) raise_fault(kUD);
  if (cpu.cpl() != 0 || !s.long_mode_active()) raise_fault(kGP, 0);
  unsigned osz = hp_size(p);
  uint16_t base = uint16_t(s.msr.star >> 48);
  if (osz == 8) {
    if (!is_canonical(s.gpr[RCX])) raise_fault(kGP, 0);
    s.seg[CS] = flat_code(uint16_t((base + 16) | 3), 3, true);
    s.rip = s.gpr[RCX];
  } else {
    s.seg[CS] = flat_code(uint16_t(base | 3), 3, false);
    s.rip = s.gpr[RCX] & 0xffffffff;
  }
  Segment ss = s.seg[SS];
  ss.selector = uint16_t((base + 8) | 3);
  ss.attr = uint16_t((ss.attr & ~0x60) | 0x60);
  ss.unusable = false;
  s.seg[SS] = ss;
  cpu.set_rflags((s.gpr[R11] & 0x3c7fd7) | rflags::FIXED1);
  return 0;
}

uint64_t h_sysenter(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  if (!s.protected_mode() || (s.msr.sysenter_cs & 0xfffc) == 0) raise_fault(kGP, 0);
  uint16_t sel = uint16_t(s.msr.sysenter_cs) & 0xfffc;
  bool lm = s.long_mode_active();
  s.seg[CS] = flat_code(sel, 0, lm);
  s.seg[SS] = flat_data(uint16_t(sel + 8), 0);
  s.gpr[RSP] = lm ? s.msr.sysenter_esp : s.msr.sysenter_esp & 0xffffffff;
  s.rip = lm ? s.msr.sysenter_eip : s.msr.sysenter_eip & 0xffffffff;
  cpu.set_rflags(cpu.rflags() & ~(rflags::VM | rflags::IF | rflags::RF));
  return 0;
}

uint64_t h_sysexit(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  if (!s.protected_mode() || cpu.cpl() != 0 || (s.msr.sysenter_cs & 0xfffc) == 0) raise_fault(kGP, 0);
  uint16_t base = uint16_t(s.msr.sysenter_cs);
  if (hp_size(p) == 8) {
    s.seg[CS] = flat_code(uint16_t((base + 32) | 3), 3, true);
    s.seg[SS] = flat_data(uint16_t((base + 40) | 3), 3);
    s.rip = s.gpr[RDX];
    s.gpr[RSP] = s.gpr[RCX];
  } else {
    s.seg[CS] = flat_code(uint16_t((base + 16) | 3), 3, false);
    s.seg[SS] = flat_data(uint16_t((base + 24) | 3), 3);
    s.rip = s.gpr[RDX] & 0xffffffff;
    s.gpr[RSP] = s.gpr[RCX] & 0xffffffff;
  }
  return 0;
}

uint64_t h_cmpxchg8b(TcgCpu& cpu, uint64_t p, uint64_t offset, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  unsigned seg = unsigned(p);
  uint64_t cur = cpu.load(seg, offset, 8);
  uint64_t expected = ((s.gpr[RDX] & 0xffffffff) << 32) | (s.gpr[RAX] & 0xffffffff);
  uint64_t f = cpu.cc.compute();
  if (cur == expected) {
    cpu.store(seg, offset, 8, ((s.gpr[RCX] & 0xffffffff) << 32) | (s.gpr[RBX] & 0xffffffff));
    cpu.cc.set_eflags(f | rflags::ZF);
  } else {
    cpu.store(seg, offset, 8, cur);  // the destination is always written
    s.gpr[RAX] = cur & 0xffffffff;
    s.gpr[RDX] = cur >> 32;
    cpu.cc.set_eflags(f & ~rflags::ZF);
  }
  return 0;
}

uint64_t h_check_cpl0(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  if (cpu.cpl() != 0) raise_fault(kGP, 0);
  return 0;
}

}  // namespace janus::tcg
