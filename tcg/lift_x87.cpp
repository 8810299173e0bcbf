// x87 instructions (D8-DF, FWAIT) and the FXSAVE/FXRSTOR family. Not implemented yet: every
// one is #UD (reported once per opcode), which is what the CPUID template must then not claim.
#include "tcg/lifter_internal.h"

namespace janus::tcg::lift_detail {

LiftResult Lifter::x87() { return kUnimpl; }

}  // namespace janus::tcg::lift_detail
