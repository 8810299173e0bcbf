// The lifter: one decoded x86 instruction -> Janus IR. This is the one place where the semantics
// of each instruction live (helpers.h holds the parts spelled in C++). Ordering rule that keeps
// faults precise: every op that can fault (loads, stores, faulting helpers) comes before the
// instruction's register and flag writes.
#pragma once
#include <cstdint>

#include "tcg/ir_builder.h"
#include "tcg/x86_decoder.h"

namespace janus::tcg {

// The CPU mode a block was translated for; part of the block's cache key.
struct BlockMode {
  CodeSize code = CodeSize::k16;
  uint8_t stack_size = 2;  // 2, 4 or 8: SS.B / long mode
  uint8_t cpl = 0;
  bool protected_mode = false;
  bool v86 = false;
  bool long_mode = false;
  uint32_t key() const {
    return uint32_t(code) | (uint32_t(stack_size) << 2) | (uint32_t(cpl) << 6) | (uint32_t(protected_mode) << 8) |
           (uint32_t(v86) << 9) | (uint32_t(long_mode) << 10);
  }
};

enum class LiftResult {
  kContinue,        // the block may go on with the next instruction
  kEndBlock,        // the instruction ended the block (terminator emitted)
  kUnimplemented,   // nothing emitted; the caller raises #UD
};

LiftResult lift_instruction(IrBuilder& b, const DecodedInsn& d, const BlockMode& mode, uint64_t rip);

}  // namespace janus::tcg
