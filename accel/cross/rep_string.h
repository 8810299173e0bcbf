// REP-prefixed string instructions in cross-check. KVM single-steps them per iteration (or per
// chunk of iterations) and a leader run can be stopped in the middle of one (a deadline); the
// software CPU runs up to 4096 iterations per step. To meet the leader's state in the middle
// of such an instruction, the follower runs exactly as many iterations as the leader did.
#pragma once
#include <cstdint>

#include "accel/vcpu.h"
#include "cpu/cpu_state.h"
#include "tcg/x86_decoder.h"

namespace janus::cross {

// MOVS, CMPS, STOS, LODS, SCAS, INS or OUTS with a REP/REPE/REPNE prefix.
bool is_rep_string(const tcg::DecodedInsn& d);

// The iteration count of the REP string instruction `d` in `s` (CX, ECX or RCX by address size).
uint64_t rep_count(const tcg::DecodedInsn& d, const CpuState& s);

// Runs `iterations` iterations (0 < iterations < its count) of the REP string instruction `d`
// that `cpu` (single-stepping) is at, or fewer where it ends earlier (a REPE/REPNE condition, an
// exception): with the count register set to `iterations`, then given back the rest of the
// count (and RIP, when only the shortened count ended the instruction). Splitting the
// iterations this way is invisible to the guest as long as no interrupt is delivered in between.
VcpuExit run_rep_iterations(Vcpu& cpu, const tcg::DecodedInsn& d, uint64_t iterations);

}  // namespace janus::cross
