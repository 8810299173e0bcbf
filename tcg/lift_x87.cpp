// x87 instructions (D8-DF, FWAIT) and FXSAVE/FXRSTOR. Each instruction is one helper call that
// does all of it (tcg/helpers_x87.cpp): the x87 state lives in CpuState::fx and only helpers
// touch it. The lifter picks the form (x87_forms.h), computes the memory operand's offset, and
// writes what the helper returns to AX (FNSTSW AX) or EFLAGS (FCOMI family).
#include "tcg/helpers_x87.h"
#include "tcg/lifter_internal.h"
#include "tcg/x87_forms.h"

namespace janus::tcg::lift_detail {

LiftResult Lifter::x87() {
  if (d.map == OpcodeMap::k0F) {  // 0F AE /0 FXSAVE, /1 FXRSTOR (memory forms only)
    unsigned r = d.reg & 7;
    if (d.mod == 3 || r > 1) return kUnimpl;  // XSAVE family, RDFSBASE...: not implemented
    b.call(h_fxsave, fxsave_param(r == 1, d.rex_w(), mem_seg()), ea());
    return kNext;
  }
  if (d.opcode == 0x9b) {  // FWAIT
    b.call(h_fwait, 0);
    return kNext;
  }
  const x87::Form f = x87::form_of(d.opcode, d.modrm);
  if (f.kind == x87::FormKind::kInvalid) return raise(kUD);
  const bool memory = d.mod != 3;
  Temp addr = memory ? ea() : b.constant(0);
  Temp r = b.call(h_x87, x87_param(d.opcode, d.modrm, memory ? mem_seg() : 0, osz), addr);
  if (f.kind == x87::FormKind::kFnstswAx) b.set_reg(RAX, 2, r);
  if (f.sets_eflags) b.set_flags(kCcEflags, 4, r, r);
  return kNext;
}

}  // namespace janus::tcg::lift_detail
