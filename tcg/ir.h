// Janus IR: what the lifter turns guest x86 into and what the interpreter (and later the LLVM
// tier) executes. A block is a straight list of ops over 64-bit temporaries; guest registers are
// only touched by explicit GetReg/SetReg, memory only by Load/Store (segment + size, through the
// soft MMU), flags only by SetFlags/Cond/GetCF (lazy cc_op/cc_dst/cc_src). Each temp is written
// once (SSA) so the LLVM tier can map a temp to one llvm::Value. See docs/tcg-ir.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace janus::tcg {

class TcgCpu;

using Temp = uint16_t;
constexpr Temp kNoTemp = 0xffff;

// A helper for what is too complex to spell in IR (interrupts, far transfers, CPUID, division...).
// `param` is a constant chosen by the lifter (size, sub-operation); a, b, c are temps' values.
using HelperFn = uint64_t (*)(TcgCpu& cpu, uint64_t param, uint64_t a, uint64_t b, uint64_t c);

enum class Opc : uint8_t {
  kInsnStart,   // imm = guest RIP of the instruction, imm2 = its length. Fault/restart point.
  kConst,       // d = imm
  kGetReg,      // d = GPR imm (size bytes, zero-extended); imm 16..19 = AH, CH, DH, BH
  kSetReg,      // GPR imm (size bytes) = a; size 4 clears bits 63:32, sizes 1/2 merge
  kAdd, kSub, kAnd, kOr, kXor,  // d = a op b, truncated to size
  kShl, kShr, kSar,             // d = a shift (b & 63), at size width (b already masked by lifter)
  kMul,                         // d = low half of a * b at size
  kNot, kNeg,                   // d = op a at size
  kZext,                        // d = a truncated to size
  kSext,                        // d = a sign-extended from size to 64 bits
  kCmp,                         // d = (a <imm:CmpKind> b) ? 1 : 0, at size
  kSelect,                      // d = a ? b : c
  kLoad,                        // d = memory[seg, a] (size bytes); seg 0xff = linear address
  kStore,                       // memory[seg, a] = b (size bytes)
  kSetFlags,                    // cc_op = imm, cc_dst = a, cc_src = b, cc_src2 = c (c may be kNoTemp)
  kSetFlagsIf,                  // as kSetFlags with cc_src2 = c, only if c != 0 (c = shift count)
  kCond,                        // d = x86 condition imm (0..15, Jcc order) of the current flags
  kGetCF,                       // d = CF
  kCall,                        // d = helper(cpu, imm2, a, b, c); d may be kNoTemp
  // Block terminators.
  kJmp,                         // RIP = imm; chain slot 0
  kBranch,                      // RIP = a ? imm : imm2; chain slots 0 / 1
  kJmpIndirect,                 // RIP = a
  kExit,                        // RIP already set by a helper (mode may have changed)
};

enum class CmpKind : uint8_t { kEq, kNe, kLtu, kLeu, kLts, kLes };

struct Op {
  Opc opc;
  uint8_t size = 8;   // operand width in bytes
  uint8_t seg = 0xff; // segment for Load/Store
  Temp d = kNoTemp, a = kNoTemp, b = kNoTemp, c = kNoTemp;
  uint64_t imm = 0;
  uint64_t imm2 = 0;
  HelperFn fn = nullptr;
};

struct IrBlock {
  std::vector<Op> ops;
  unsigned temp_count = 0;
  unsigned insn_count = 0;
  std::string to_string() const;  // one op per line, for debugging and docs
};

}  // namespace janus::tcg
