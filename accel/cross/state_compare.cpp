#include "accel/cross/state_compare.h"

#include <cstdio>

namespace janus::cross {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

template <size_t N>
std::string hex_bytes(const std::array<uint8_t, N>& b, size_t len = N) {
  std::string s;
  char buf[4];
  for (size_t i = len; i-- > 0;) {  // most significant byte first, as a number reads
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    s += buf;
  }
  return s;
}

Segment normalise_segment(Segment g) {
  if (g.unusable) return Segment{g.selector, 0, 0, 0, true};
  if (g.s()) g.attr |= 1;  // rule 2
  return g;
}

class Differ {
 public:
  std::vector<FieldDiff> out;
  void num(const std::string& name, uint64_t a, uint64_t b) {
    if (a != b) out.push_back({name, hex(a), hex(b)});
  }
  void seg(const std::string& name, const Segment& a, const Segment& b) {
    num(name + ".selector", a.selector, b.selector);
    num(name + ".base", a.base, b.base);
    num(name + ".limit", a.limit, b.limit);
    num(name + ".attr", a.attr, b.attr);
    num(name + ".unusable", a.unusable, b.unusable);
  }
};

}  // namespace

CpuState normalise_for_compare(const CpuState& in) {
  CpuState s = in;
  s.tsc = 0;                                   // rule 1
  const bool pm = (s.cr0 & cr0::PE) && !(s.rflags & rflags::VM);
  for (int i : {ES, SS, DS, FS, GS})  // rule 3: a null selector in protected mode is unusable
    if (pm && (s.seg[i].selector & ~3) == 0) s.seg[i].unusable = true;
  for (Segment& g : s.seg) g = normalise_segment(g);  // rules 2, 3
  s.ldtr = normalise_segment(s.ldtr);
  if (!s.tr.unusable) s.tr.attr |= 2;  // a usable TR is busy; rule 2 for system segments
  s.rflags &= ~rflags::RF;                     // rule 4
  s.dr6 &= ~(1ull << 14);                      // rule 5
  s.dr7 = 0x400;
  s.events.exception_pending = false;          // rule 6
  s.events.exception_vector = 0;
  s.events.exception_has_error = false;
  s.events.exception_error = 0;
  return s;
}

std::vector<FieldDiff> diff_states(const CpuState& a, const CpuState& b) {
  static const char* const kGpr[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                     "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  static const char* const kSeg[] = {"es", "cs", "ss", "ds", "fs", "gs"};
  Differ d;
  for (int i = 0; i < 16; ++i) d.num(kGpr[i], a.gpr[i], b.gpr[i]);
  d.num("rip", a.rip, b.rip);
  d.num("rflags", a.rflags, b.rflags);
  for (int i = 0; i < 6; ++i) d.seg(kSeg[i], a.seg[i], b.seg[i]);
  d.seg("ldtr", a.ldtr, b.ldtr);
  d.seg("tr", a.tr, b.tr);
  d.num("gdtr.base", a.gdtr.base, b.gdtr.base);
  d.num("gdtr.limit", a.gdtr.limit, b.gdtr.limit);
  d.num("idtr.base", a.idtr.base, b.idtr.base);
  d.num("idtr.limit", a.idtr.limit, b.idtr.limit);
  d.num("cr0", a.cr0, b.cr0);
  d.num("cr2", a.cr2, b.cr2);
  d.num("cr3", a.cr3, b.cr3);
  d.num("cr4", a.cr4, b.cr4);
  d.num("cr8", a.cr8, b.cr8);
  for (int i = 0; i < 4; ++i) d.num("dr" + std::to_string(i), a.dr[i], b.dr[i]);
  d.num("dr6", a.dr6, b.dr6);
  d.num("dr7", a.dr7, b.dr7);
  d.num("efer", a.efer, b.efer);
  d.num("tsc", a.tsc, b.tsc);
  d.num("xcr0", a.xcr0, b.xcr0);
  d.num("msr.star", a.msr.star, b.msr.star);
  d.num("msr.lstar", a.msr.lstar, b.msr.lstar);
  d.num("msr.cstar", a.msr.cstar, b.msr.cstar);
  d.num("msr.sfmask", a.msr.sfmask, b.msr.sfmask);
  d.num("msr.kernel_gs_base", a.msr.kernel_gs_base, b.msr.kernel_gs_base);
  d.num("msr.sysenter_cs", a.msr.sysenter_cs, b.msr.sysenter_cs);
  d.num("msr.sysenter_esp", a.msr.sysenter_esp, b.msr.sysenter_esp);
  d.num("msr.sysenter_eip", a.msr.sysenter_eip, b.msr.sysenter_eip);
  d.num("msr.pat", a.msr.pat, b.msr.pat);
  d.num("msr.tsc_aux", a.msr.tsc_aux, b.msr.tsc_aux);
  d.num("msr.tsc_adjust", a.msr.tsc_adjust, b.msr.tsc_adjust);
  d.num("msr.apic_base", a.msr.apic_base, b.msr.apic_base);
  d.num("msr.misc_enable", a.msr.misc_enable, b.msr.misc_enable);
  d.num("fx.fcw", a.fx.fcw, b.fx.fcw);
  d.num("fx.fsw", a.fx.fsw, b.fx.fsw);
  d.num("fx.ftw", a.fx.ftw, b.fx.ftw);
  d.num("fx.fop", a.fx.fop, b.fx.fop);
  d.num("fx.fip", a.fx.fip, b.fx.fip);
  d.num("fx.fdp", a.fx.fdp, b.fx.fdp);
  d.num("fx.mxcsr", a.fx.mxcsr, b.fx.mxcsr);
  for (int i = 0; i < 8; ++i)
    if (a.fx.st[i] != b.fx.st[i]) d.out.push_back({"st" + std::to_string(i), hex_bytes(a.fx.st[i], 10), hex_bytes(b.fx.st[i], 10)});
  for (int i = 0; i < 16; ++i)
    if (a.fx.xmm[i] != b.fx.xmm[i]) d.out.push_back({"xmm" + std::to_string(i), hex_bytes(a.fx.xmm[i]), hex_bytes(b.fx.xmm[i])});
  const PendingEvents &ea = a.events, &eb = b.events;
  d.num("events.exception_pending", ea.exception_pending, eb.exception_pending);
  d.num("events.exception_vector", ea.exception_vector, eb.exception_vector);
  d.num("events.exception_has_error", ea.exception_has_error, eb.exception_has_error);
  d.num("events.exception_error", ea.exception_error, eb.exception_error);
  d.num("events.interrupt_injected", ea.interrupt_injected, eb.interrupt_injected);
  d.num("events.interrupt_vector", ea.interrupt_vector, eb.interrupt_vector);
  d.num("events.nmi_pending", ea.nmi_pending, eb.nmi_pending);
  d.num("events.nmi_masked", ea.nmi_masked, eb.nmi_masked);
  d.num("events.interrupt_shadow", ea.interrupt_shadow, eb.interrupt_shadow);
  d.num("halted", a.halted, b.halted);
  return d.out;
}

}  // namespace janus::cross
