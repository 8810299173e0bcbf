// The baseline compiler: a block's threaded code (tcg/threaded_code.h, built by the interpreter)
// turned straight into x86-64 machine code, op by op, in a few microseconds: no register
// allocation (temps stay in the block's frame, guest registers in TcgCpu), no LLVM. It is the
// quick level of the compiled tier: its code keeps the contract of LLVM's quick code
// (tcg/jit_lowering.h: calling convention, chaining, counting runs for the tier-up to optimised
// LLVM code, faults left in TcgCpu::fault_pending), so the run loop, JitTier::execute and LLVM's
// code treat both alike. docs/tcg-ir.md has the design.
#pragma once
#include <memory>

#include "tcg/block.h"
#include "tcg/code_arena.h"
#include "tcg/jit_lowering.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

struct BaselineCode final : JitCode {
  CodePlace place;
  size_t bytes = 0;
};

struct BaselineResult {
  JitEntry entry = nullptr;
  std::shared_ptr<BaselineCode> code;  // null: the block has nothing the compiler can take
};

// Compiles `block` (its threaded code built for `cpu`) for `slot`. With layout.tier_up set, the
// code counts its runs in the slot and asks for optimised code as quick code does.
BaselineResult compile_baseline(CodeArena& arena, const Block& block, const TcgCpu& cpu, const JitLayout& layout, const JitSlot& slot);

}  // namespace janus::tcg
