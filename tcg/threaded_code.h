// The interpreter's executable form of a block (tcg/interpreter.cpp builds it from the IR on the
// block's first run): one op per IR op that does work, each with the address of its handler in
// Interpreter::execute (computed goto) and its operands resolved to pointers. Constants live in the
// block's frame, preloaded; a register read that nothing overwrites before its last use points at
// the guest register itself. The IR stays the source of truth (the LLVM tier lowers the IR).
#pragma once
#include <cstdint>
#include <vector>

namespace janus::tcg {

class TcgCpu;

struct ThreadedOp {
  const void* handler = nullptr;
  uint64_t* d = nullptr;
  const uint64_t* a = nullptr;
  const uint64_t* b = nullptr;
  const uint64_t* c = nullptr;
  uint64_t imm = 0;    // constant, mask, RIP, cc_op... (per handler)
  uint64_t imm2 = 0;   // second constant (sign shift, size, helper, branch target)
  uint32_t count = 0;  // instructions retired when the op ends the block / index of the instruction
  uint32_t aux = 0;    // segment, user flag
};

struct ThreadedCode {
  const TcgCpu* cpu = nullptr;     // operands point into this CPU's registers; empty = not built
  std::vector<ThreadedOp> ops;
  std::vector<uint64_t> frame;     // the block's temps (constants preloaded), then a junk slot
  bool has_call = false;           // calls a helper that is not local (may raise events, change modes...)
};

}  // namespace janus::tcg
