// What compiled code (the LLVM tier's and the baseline compiler's) calls for what it does not do
// inline: plain functions, whose addresses are constants in the code. A guest fault never unwinds
// through compiled code: these catch it and leave it in TcgCpu::pending_fault; the compiled code
// sees fault_pending and returns to JitTier::execute, which delivers it.
#pragma once
#include <cstdint>

#include "tcg/ir.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

// The soft MMU's checked path (seg 0xff: a linear address).
uint64_t rt_load(TcgCpu* cpu, uint64_t seg, uint64_t offset, uint64_t size);
void rt_store(TcgCpu* cpu, uint64_t seg, uint64_t offset, uint64_t size, uint64_t value);
// A helper that may fault (all but the pure flag helpers).
uint64_t rt_helper(TcgCpu* cpu, HelperFn fn, uint64_t p, uint64_t a, uint64_t b, uint64_t c);
// The lazy flags: condition cc (0..15, Jcc order), and CF.
uint64_t rt_condition(TcgCpu* cpu, uint64_t cc);
uint64_t rt_carry(TcgCpu* cpu);

}  // namespace janus::tcg
