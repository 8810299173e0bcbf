// Emits IR ops into a block, one fresh temp per value (SSA).
#pragma once
#include "tcg/ir.h"
#include "tcg/lazy_flags.h"

namespace janus::tcg {

class IrBuilder {
 public:
  explicit IrBuilder(IrBlock& block) : b_(block) {}

  Temp temp() { return Temp(b_.temp_count++); }
  size_t mark() const { return b_.ops.size(); }
  void rewind(size_t m) { b_.ops.resize(m); }

  Op& emit(Op op) { b_.ops.push_back(op); return b_.ops.back(); }

  void insn_start(uint64_t rip, unsigned length) { emit({.opc = Opc::kInsnStart, .imm = rip, .imm2 = length}); }
  Temp constant(uint64_t v) { Temp d = temp(); emit({.opc = Opc::kConst, .d = d, .imm = v}); return d; }
  // reg 0..15, or 16..19 for AH/CH/DH/BH (size 1).
  Temp get_reg(unsigned reg, unsigned size) {
    Temp d = temp();
    emit({.opc = Opc::kGetReg, .size = uint8_t(size), .d = d, .imm = reg});
    return d;
  }
  void set_reg(unsigned reg, unsigned size, Temp v) { emit({.opc = Opc::kSetReg, .size = uint8_t(size), .a = v, .imm = reg}); }
  Temp binary(Opc opc, unsigned size, Temp a, Temp b) {
    Temp d = temp();
    emit({.opc = opc, .size = uint8_t(size), .d = d, .a = a, .b = b});
    return d;
  }
  Temp unary(Opc opc, unsigned size, Temp a) {
    Temp d = temp();
    emit({.opc = opc, .size = uint8_t(size), .d = d, .a = a});
    return d;
  }
  Temp add(unsigned size, Temp a, Temp b) { return binary(Opc::kAdd, size, a, b); }
  Temp sub(unsigned size, Temp a, Temp b) { return binary(Opc::kSub, size, a, b); }
  Temp add_imm(unsigned size, Temp a, uint64_t v) { return add(size, a, constant(v)); }
  Temp zext(unsigned size, Temp a) { return unary(Opc::kZext, size, a); }
  Temp sext(unsigned size, Temp a) { return unary(Opc::kSext, size, a); }
  Temp cmp(CmpKind kind, unsigned size, Temp a, Temp b) {
    Temp d = temp();
    emit({.opc = Opc::kCmp, .size = uint8_t(size), .d = d, .a = a, .b = b, .imm = uint64_t(kind)});
    return d;
  }
  Temp select(Temp c, Temp t, Temp f) {
    Temp d = temp();
    emit({.opc = Opc::kSelect, .d = d, .a = c, .b = t, .c = f});
    return d;
  }
  Temp load(unsigned seg, Temp addr, unsigned size) {
    Temp d = temp();
    emit({.opc = Opc::kLoad, .size = uint8_t(size), .seg = uint8_t(seg), .d = d, .a = addr});
    return d;
  }
  void store(unsigned seg, Temp addr, Temp v, unsigned size) {
    emit({.opc = Opc::kStore, .size = uint8_t(size), .seg = uint8_t(seg), .a = addr, .b = v});
  }
  void set_flags(CcKind kind, unsigned size, Temp dst, Temp src = kNoTemp, Temp src2 = kNoTemp) {
    // Unused operands point at dst so that every operand of an op is a valid temp.
    if (src == kNoTemp) src = dst;
    if (src2 == kNoTemp) src2 = dst;
    emit({.opc = Opc::kSetFlags, .d = kNoTemp, .a = dst, .b = src, .c = src2, .imm = cc_op(kind, size)});
  }
  // Flags of a shift by a register count: recorded (cc_src2 = count) only if count != 0.
  void set_flags_if(Temp count, CcKind kind, unsigned size, Temp dst, Temp src) {
    emit({.opc = Opc::kSetFlagsIf, .a = dst, .b = src, .c = count, .imm = cc_op(kind, size)});
  }
  Temp cond(unsigned cc) { Temp d = temp(); emit({.opc = Opc::kCond, .d = d, .imm = cc}); return d; }
  Temp get_cf() { Temp d = temp(); emit({.opc = Opc::kGetCF, .d = d}); return d; }
  Temp call(HelperFn fn, uint64_t param, Temp a = kNoTemp, Temp b = kNoTemp, Temp c = kNoTemp) {
    Temp d = temp();
    emit({.opc = Opc::kCall, .d = d, .a = a, .b = b, .c = c, .imm2 = param, .fn = fn});
    return d;
  }
  void jmp(uint64_t target) { emit({.opc = Opc::kJmp, .imm = target}); }
  void branch(Temp c, uint64_t taken, uint64_t not_taken) { emit({.opc = Opc::kBranch, .a = c, .imm = taken, .imm2 = not_taken}); }
  void jmp_indirect(Temp target) { emit({.opc = Opc::kJmpIndirect, .a = target}); }
  void exit() { emit({.opc = Opc::kExit}); }

 private:
  IrBlock& b_;
};

}  // namespace janus::tcg
