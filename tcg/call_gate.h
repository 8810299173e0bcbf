// Far CALL/JMP through a call gate (Intel SDM Vol. 3, 5.8): 16- and 32-bit gates in legacy
// mode, 16-byte 64-bit gates in IA-32e mode. A CALL to a more privileged non-conforming segment
// switches to the inner stack from the TSS and (legacy gates) copies the gate's parameter count
// of words/dwords from the caller's stack. The matching RETF is h_far_ret.
#pragma once
#include <cstdint>

#include "cpu/descriptors.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

// `gate_sel`/`gate` are the call gate the far pointer's selector named (type 4 or 12).
// Commits CS:RIP (and SS:RSP) or raises a fault with nothing changed.
void far_through_call_gate(TcgCpu& cpu, uint16_t gate_sel, const SegmentDescriptor& gate, bool call,
                           uint64_t return_rip);

}  // namespace janus::tcg
