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

// The handlers of the threaded form (the label table of Interpreter::execute follows this order).
// The baseline compiler (tcg/baseline_compiler.cpp) turns each into machine code.
#define JANUS_THREADED_HANDLERS(X)                                                                  \
  X(InsnCheck) X(InsnRip) X(Move) X(MoveMask) X(GetHigh) X(SetMerge) X(SetHigh)                    \
  X(Add) X(Sub) X(And) X(Or) X(Xor) X(Mul) X(AddImm) X(SubImm) X(AndImm)                           \
  X(Shl) X(Shr) X(Sar) X(ShlImm) X(ShrImm) X(SarImm) X(Not) X(Neg) X(Sext)                         \
  X(CmpEq) X(CmpNe) X(CmpLtu) X(CmpLeu) X(CmpLts) X(CmpLes) X(Select)                              \
  X(Load) X(LoadLinear) X(Load64_1) X(Load64_2) X(Load64_4) X(Load64_8)                            \
  X(Store) X(StoreLinear) X(Store64_1) X(Store64_2) X(Store64_4) X(Store64_8)                      \
  X(SetFlags) X(SetFlagsIf) X(Cond) X(GetCF) X(Call)                                               \
  X(CcZ) X(CcS) X(CcSubB) X(CcSubBE) X(CcSubL) X(CcSubLE) X(CcAddB) X(CcLogicLE) X(CcConst) X(CcBit0) \
  X(Jmp) X(Branch) X(JmpIndirect) X(Exit)

enum class ThreadedKind : uint8_t {
#define JANUS_ENUM(n) n,
  JANUS_THREADED_HANDLERS(JANUS_ENUM)
#undef JANUS_ENUM
};

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
  std::vector<ThreadedKind> kinds;            // each op's handler (for the baseline compiler; not read when interpreting)
  std::vector<uint64_t> frame;     // the block's temps (constants preloaded), then a junk slot
  bool has_call = false;           // calls a helper that is not local (may raise events, change modes...)
};

}  // namespace janus::tcg
