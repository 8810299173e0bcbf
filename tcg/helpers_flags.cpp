// Flag instructions with their privilege rules: CLI/STI (IOPL), PUSHF/POPF (IOPL, VM), LAHF/SAHF.
#include "tcg/helpers.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

namespace {
unsigned iopl(const CpuState& s) { return (s.rflags >> 12) & 3; }
}

uint64_t h_flag_op(TcgCpu& cpu, uint64_t p, uint64_t a, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  switch (hp_op(p)) {
    case kClc: case kStc: case kCmc: {
      uint64_t f = cpu.cc.compute();
      f = hp_op(p) == kClc ? f & ~rflags::CF : hp_op(p) == kStc ? f | rflags::CF : f ^ rflags::CF;
      cpu.cc.set_eflags(f);
      return 0;
    }
    case kCld: s.rflags &= ~rflags::DF; return 0;
    case kStd: s.rflags |= rflags::DF; return 0;
    case kCli: case kSti: {
      // Protected mode: CPL <= IOPL; virtual-8086: IOPL 3 (no VME/PVI support yet).
      if (s.protected_mode() && cpu.cpl() > iopl(s)) raise_fault(kGP, 0);
      if (hp_op(p) == kCli) {
        s.rflags &= ~rflags::IF;
      } else {
        if (!(s.rflags & rflags::IF)) s.events.interrupt_shadow |= 1;  // STI: one instruction of shadow
        s.rflags |= rflags::IF;
        cpu.loop_check = true;  // the shadow, then pending interrupts
      }
      return 0;
    }
    case kLahf: return (cpu.cc.compute() & 0xd5) | 0x02;
    case kSahf: cpu.cc.set_eflags((cpu.cc.compute() & ~0xd5ull) | (a & 0xd5)); return 0;
    case kSalc: return (cpu.cc.carry()) ? 0xff : 0;
  }
  return 0;
}

uint64_t h_pushf_value(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  if (cpu.s.v86_mode() && iopl(cpu.s) < 3) raise_fault(kGP, 0);
  // The image on the stack has VM and RF clear.
  return cpu.rflags() & ~(rflags::VM | rflags::RF) & size_mask_bytes(hp_size(p));
}

uint64_t h_popf(TcgCpu& cpu, uint64_t p, uint64_t value, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  unsigned size = hp_size(p);
  if (s.v86_mode() && iopl(s) < 3) raise_fault(kGP, 0);
  uint64_t changeable = rflags::CF | rflags::PF | rflags::AF | rflags::ZF | rflags::SF | rflags::TF | rflags::DF |
                        rflags::OF | rflags::NT | rflags::AC | rflags::ID;
  unsigned cpl = cpu.cpl();
  if (!s.protected_mode() || cpl == 0) changeable |= rflags::IOPL;
  if (!s.protected_mode() || cpl <= iopl(s)) changeable |= rflags::IF;
  if (s.v86_mode()) changeable &= ~rflags::IOPL;
  if (size == 2) changeable &= 0xffff;
  uint64_t old = cpu.rflags();
  uint64_t nf = (old & ~changeable) | (value & changeable);
  nf &= ~rflags::RF;
  // Interrupts may become deliverable, or single-stepping start or stop.
  if ((nf & ~old & rflags::IF) || ((nf ^ old) & rflags::TF)) cpu.loop_check = true;
  cpu.set_rflags(nf);
  return 0;
}

}  // namespace janus::tcg
