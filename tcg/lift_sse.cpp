// SSE/SSE2 instructions (0F, 0F 38, 0F 3A maps) and LDMXCSR/STMXCSR. Not implemented yet:
// every one is #UD (reported once per opcode).
#include "tcg/lifter_internal.h"

namespace janus::tcg::lift_detail {

LiftResult Lifter::sse() { return kUnimpl; }

}  // namespace janus::tcg::lift_detail
