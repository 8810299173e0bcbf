// The MXCSR flags of an arithmetic instruction whose overflow or underflow exception the guest
// unmasked. Hardware then differs from what a masked run (which is how the host executes guest
// SSE, sse_host.h) reports: a tiny result raises underflow even when exact, and a lane that
// traps reports precision as if its exponent were unbounded (inexact only if the significand
// needed rounding), while the other lanes report as usual.
#pragma once
#include <cstdint>

#include "tcg/sse_host.h"

namespace janus::tcg {

// op has a result format (host_result_format(op) != kNone); d/s are the instruction's inputs;
// csr is the all-masked MXCSR the host ran under; unmasked = the guest's unmasked exceptions.
uint32_t sse_trap_flags(HostOp op, const XmmBytes& d, const XmmBytes& s, uint32_t csr, uint32_t unmasked);

}  // namespace janus::tcg
