// A small x86-64 machine-code encoder for the baseline compiler (tcg/baseline_compiler.cpp): the
// few instruction forms it emits, with memory operands [base + index*scale + disp] and forward
// labels. Not a general assembler: what it does not need, it does not have.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace janus::tcg::x64 {

enum Reg : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15, kNoReg = 0xff };

// Condition codes in the encoding's order (Jcc/SETcc/CMOVcc = base + code).
enum Cond : uint8_t { kO, kNO, kB, kAE, kE, kNE, kBE, kA, kS, kNS, kP, kNP, kL, kGE, kLE, kG };
inline Cond negate(Cond c) { return Cond(c ^ 1); }

struct Mem {
  Reg base;
  int32_t disp = 0;
  Reg index = kNoReg;
  uint8_t scale = 1;  // 1, 2, 4, 8
};

// ALU operations by their /digit in the 0x81 group (and their opcode row: digit * 8).
enum class Alu : uint8_t { kAdd = 0, kOr = 1, kAnd = 4, kSub = 5, kXor = 6, kCmp = 7 };
enum class Shift : uint8_t { kShl = 4, kShr = 5, kSar = 7 };

struct Label {
  int64_t bound = -1;                 // offset once bound
  std::vector<size_t> uses;           // rel32 fields waiting for it
};

class Assembler {
 public:
  std::vector<uint8_t>& code() { return code_; }
  size_t size() const { return code_.size(); }

  // Loads zero-extend to 64 bits (size 1, 2, 4, 8); load_sx sign-extends (1, 2, 4).
  void load(unsigned size, Reg dst, Mem m);
  void load_sx(unsigned size, Reg dst, Mem m);
  void store(unsigned size, Mem m, Reg src);
  void store_imm(unsigned size, Mem m, int32_t imm);  // size 8: sign-extended
  void mov_imm(Reg r, uint64_t imm);                    // the shortest form
  void mov(Reg dst, Reg src);                           // 64-bit
  void alu(Alu op, unsigned size, Reg dst, Mem src);    // dst op= [src]
  void alu(Alu op, unsigned size, Reg dst, Reg src);
  void alu_imm(Alu op, unsigned size, Reg dst, int32_t imm);
  void alu_imm(Alu op, unsigned size, Mem dst, int32_t imm);
  void imul(Reg dst, Mem src);                          // 64-bit
  void shift(Shift op, Reg r, uint8_t count);           // 64-bit
  void shift_cl(Shift op, Reg r);
  void not_(Reg r);
  void neg(Reg r);
  void test(unsigned size, Reg a, Reg b);
  void test_imm(unsigned size, Reg r, int32_t imm);
  void bt_imm(Reg r, uint8_t bit);
  void setcc(Cond c, Reg r8);
  void movzx8(Reg dst, Reg src8);                       // 32-bit dst: zero-extends to 64
  void zext(unsigned size, Reg r);                      // keep the low `size` bytes of r
  void cmov(Cond c, Reg dst, Mem src);
  void lea(Reg dst, Mem m);
  void call(Reg target);
  void jmp(Reg target);
  void ret();
  void jcc(Cond c, Label& to);
  void jmp(Label& to);
  void bind(Label& l);

 private:
  void byte(uint8_t b) { code_.push_back(b); }
  void dword(uint32_t v);
  void immediate(unsigned bytes, int32_t imm);  // little-endian, 1, 2 or 4 bytes
  // [66] [REX] opcode ModRM [SIB] [disp]: reg is the ModRM reg field (a register or /digit).
  void emit_mem(unsigned size, bool wide, std::initializer_list<uint8_t> opcode, unsigned reg, const Mem& m);
  void emit_reg(unsigned size, bool wide, std::initializer_list<uint8_t> opcode, unsigned reg, unsigned rm);
  void prefixes(unsigned size, bool wide, unsigned reg, unsigned index, unsigned base, bool byte_regs);
  void rel32_to(Label& l);

  std::vector<uint8_t> code_;
};

}  // namespace janus::tcg::x64
