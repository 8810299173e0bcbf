#include "tcg/x64_assembler.h"

#include <cstring>

namespace janus::tcg::x64 {

namespace {
bool fits8(int64_t v) { return v >= -128 && v <= 127; }
unsigned log2_scale(uint8_t s) { return s == 8 ? 3 : s == 4 ? 2 : s == 2 ? 1 : 0; }
}  // namespace

void Assembler::dword(uint32_t v) {
  for (int i = 0; i < 4; ++i) byte(uint8_t(v >> (8 * i)));
}

void Assembler::immediate(unsigned bytes, int32_t imm) {
  for (unsigned i = 0; i < bytes; ++i) byte(uint8_t(uint32_t(imm) >> (8 * i)));
}

// byte_regs: the operands are byte registers, where 4..7 mean SPL..DIL only with a REX prefix.
void Assembler::prefixes(unsigned size, bool wide, unsigned reg, unsigned index, unsigned base, bool byte_regs) {
  if (size == 2) byte(0x66);
  uint8_t rex = uint8_t(0x40 | (wide ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 | ((base >> 3) & 1));
  if (rex != 0x40 || (byte_regs && ((reg >= 4 && reg < 8) || (base >= 4 && base < 8)))) byte(rex);
}

void Assembler::emit_mem(unsigned size, bool wide, std::initializer_list<uint8_t> opcode, unsigned reg, const Mem& m) {
  const bool has_index = m.index != kNoReg;
  prefixes(size, wide, reg, has_index ? m.index : 0, m.base, size == 1);
  for (uint8_t b : opcode) byte(b);
  const unsigned base = m.base & 7;
  const unsigned mod = (m.disp == 0 && base != 5) ? 0 : fits8(m.disp) ? 1 : 2;
  const bool sib = has_index || base == 4;
  byte(uint8_t(mod << 6 | (reg & 7) << 3 | (sib ? 4 : base)));
  if (sib) byte(uint8_t(has_index ? (log2_scale(m.scale) << 6 | (m.index & 7) << 3 | base) : 0x24));
  if (mod == 1) byte(uint8_t(int8_t(m.disp)));
  if (mod == 2) dword(uint32_t(m.disp));
}

void Assembler::emit_reg(unsigned size, bool wide, std::initializer_list<uint8_t> opcode, unsigned reg, unsigned rm) {
  prefixes(size, wide, reg, 0, rm, size == 1);
  for (uint8_t b : opcode) byte(b);
  byte(uint8_t(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

void Assembler::load(unsigned size, Reg dst, Mem m) {
  switch (size) {
    case 1: return emit_mem(4, false, {0x0f, 0xb6}, dst, m);
    case 2: return emit_mem(4, false, {0x0f, 0xb7}, dst, m);
    case 4: return emit_mem(4, false, {0x8b}, dst, m);
    default: return emit_mem(8, true, {0x8b}, dst, m);
  }
}

void Assembler::load_sx(unsigned size, Reg dst, Mem m) {
  switch (size) {
    case 1: return emit_mem(8, true, {0x0f, 0xbe}, dst, m);
    case 2: return emit_mem(8, true, {0x0f, 0xbf}, dst, m);
    default: return emit_mem(8, true, {0x63}, dst, m);
  }
}

void Assembler::store(unsigned size, Mem m, Reg src) {
  emit_mem(size, size == 8, {uint8_t(size == 1 ? 0x88 : 0x89)}, src, m);
}

void Assembler::store_imm(unsigned size, Mem m, int32_t imm) {
  emit_mem(size, size == 8, {uint8_t(size == 1 ? 0xc6 : 0xc7)}, 0, m);
  immediate(size == 1 ? 1 : size == 2 ? 2 : 4, imm);
}

void Assembler::mov_imm(Reg r, uint64_t imm) {
  if (imm <= 0xffffffffull) {
    if (r >= 8) byte(0x41);
    byte(uint8_t(0xb8 + (r & 7)));
    return dword(uint32_t(imm));
  }
  if (int64_t(imm) == int64_t(int32_t(imm))) {
    emit_reg(8, true, {0xc7}, 0, r);
    return dword(uint32_t(imm));
  }
  byte(uint8_t(0x48 | (r >> 3)));
  byte(uint8_t(0xb8 + (r & 7)));
  for (int i = 0; i < 8; ++i) byte(uint8_t(imm >> (8 * i)));
}

void Assembler::mov(Reg dst, Reg src) { emit_reg(8, true, {0x89}, src, dst); }

void Assembler::alu(Alu op, unsigned size, Reg dst, Mem src) {
  emit_mem(size, size == 8, {uint8_t(unsigned(op) * 8 + (size == 1 ? 2 : 3))}, dst, src);
}

void Assembler::alu(Alu op, unsigned size, Reg dst, Reg src) {
  emit_reg(size, size == 8, {uint8_t(unsigned(op) * 8 + (size == 1 ? 2 : 3))}, dst, src);
}

void Assembler::alu_imm(Alu op, unsigned size, Reg dst, int32_t imm) {
  const bool short_imm = size == 1 || fits8(imm);
  emit_reg(size, size == 8, {uint8_t(size == 1 ? 0x80 : short_imm ? 0x83 : 0x81)}, unsigned(op), dst);
  immediate(short_imm ? 1 : size == 2 ? 2 : 4, imm);
}

void Assembler::alu_imm(Alu op, unsigned size, Mem dst, int32_t imm) {
  const bool short_imm = size == 1 || fits8(imm);
  emit_mem(size, size == 8, {uint8_t(size == 1 ? 0x80 : short_imm ? 0x83 : 0x81)}, unsigned(op), dst);
  immediate(short_imm ? 1 : size == 2 ? 2 : 4, imm);
}

void Assembler::imul(Reg dst, Mem src) { emit_mem(8, true, {0x0f, 0xaf}, dst, src); }

void Assembler::shift(Shift op, Reg r, uint8_t count) {
  emit_reg(8, true, {0xc1}, unsigned(op), r);
  byte(count);
}

void Assembler::shift_cl(Shift op, Reg r) { emit_reg(8, true, {0xd3}, unsigned(op), r); }
void Assembler::not_(Reg r) { emit_reg(8, true, {0xf7}, 2, r); }
void Assembler::neg(Reg r) { emit_reg(8, true, {0xf7}, 3, r); }

void Assembler::test(unsigned size, Reg a, Reg b) { emit_reg(size, size == 8, {uint8_t(size == 1 ? 0x84 : 0x85)}, b, a); }

void Assembler::test_imm(unsigned size, Reg r, int32_t imm) {
  emit_reg(size, size == 8, {uint8_t(size == 1 ? 0xf6 : 0xf7)}, 0, r);
  immediate(size == 1 ? 1 : size == 2 ? 2 : 4, imm);
}

void Assembler::bt_imm(Reg r, uint8_t bit) {
  emit_reg(8, true, {0x0f, 0xba}, 4, r);
  byte(bit);
}

void Assembler::setcc(Cond c, Reg r8) { emit_reg(1, false, {0x0f, uint8_t(0x90 + c)}, 0, r8); }
void Assembler::movzx8(Reg dst, Reg src8) { emit_reg(1, false, {0x0f, 0xb6}, dst, src8); }

void Assembler::zext(unsigned size, Reg r) {
  switch (size) {
    case 1: return movzx8(r, r);
    case 2: return emit_reg(4, false, {0x0f, 0xb7}, r, r);
    case 4: return emit_reg(4, false, {0x89}, r, r);
    default: return;
  }
}

void Assembler::cmov(Cond c, Reg dst, Mem src) { emit_mem(8, true, {0x0f, uint8_t(0x40 + c)}, dst, src); }
void Assembler::lea(Reg dst, Mem m) { emit_mem(8, true, {0x8d}, dst, m); }
void Assembler::call(Reg target) { emit_reg(4, false, {0xff}, 2, target); }
void Assembler::jmp(Reg target) { emit_reg(4, false, {0xff}, 4, target); }
void Assembler::ret() { byte(0xc3); }

void Assembler::rel32_to(Label& l) {
  const size_t at = code_.size();
  dword(0);
  if (l.bound >= 0) {
    const int32_t rel = int32_t(l.bound - int64_t(at + 4));
    std::memcpy(&code_[at], &rel, 4);
  } else {
    l.uses.push_back(at);
  }
}

void Assembler::jcc(Cond c, Label& to) {
  byte(0x0f);
  byte(uint8_t(0x80 + c));
  rel32_to(to);
}

void Assembler::jmp(Label& to) {
  byte(0xe9);
  rel32_to(to);
}

void Assembler::bind(Label& l) {
  l.bound = int64_t(code_.size());
  for (size_t at : l.uses) {
    const int32_t rel = int32_t(l.bound - int64_t(at + 4));
    std::memcpy(&code_[at], &rel, 4);
  }
  l.uses.clear();
}

}  // namespace janus::tcg::x64
