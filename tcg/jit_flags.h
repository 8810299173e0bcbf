// Flags the LLVM tier computes inline when the SetFlags that produced them is in the block being
// lowered: its lazy-flag operands are values, so a condition or the whole EFLAGS needs no call
// to LazyFlags (tcg/lazy_flags.cpp has the rules these follow).
#pragma once
#include <llvm/IR/IRBuilder.h>

#include <cstdint>

namespace janus::tcg {

// A SetFlags of the block: cc_op (LazyFlags), and the values of dst and src.
struct KnownFlags {
  uint32_t cc_op;
  llvm::Value* dst;
  llvm::Value* src;
};

// Condition cc (Jcc order), or null where the runtime must compute it.
llvm::Value* known_condition(llvm::IRBuilder<>& b, const KnownFlags& f, unsigned cc);
// All six arithmetic flags (RFLAGS bit positions), or null for the kinds left to the runtime.
llvm::Value* known_eflags(llvm::IRBuilder<>& b, const KnownFlags& f);
// h_shift_flags for ROL/ROR (p: its parameter) of `value` by `count` after the flags f, or null.
llvm::Value* rotate_flags(llvm::IRBuilder<>& b, uint64_t p, llvm::Value* value, llvm::Value* count, const KnownFlags& f);

}  // namespace janus::tcg
