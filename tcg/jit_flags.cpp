#include "tcg/jit_flags.h"

#include "cpu/cpu_state.h"
#include "tcg/helpers.h"
#include "tcg/lazy_flags.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

// Condition cc (Jcc order) of the flags a SetFlags of this block produced, computed from its
// operands as tcg/lazy_flags.cpp would; null where the runtime must compute it.
llvm::Value* known_condition(llvm::IRBuilder<>& b, const KnownFlags& f, unsigned cc) {
  const unsigned kind = f.cc_op >> 2, l = f.cc_op & 3, size = 1u << l, bits = 8u << l;
  const uint64_t m = size_mask_bytes(size), sign = 1ull << (bits - 1);
  llvm::Value* d = b.CreateAnd(f.dst, m);
  llvm::Value* s = b.CreateAnd(f.src, m);
  const bool sub = kind == kCcSub, add = kind == kCcAdd, logic = kind == kCcLogic;
  const bool has_result = kind != kCcEflags;
  auto zero = [&] { return b.CreateICmpEQ(d, b.getInt64(0)); };
  auto negative = [&] { return b.CreateICmpNE(b.CreateAnd(d, sign), b.getInt64(0)); };
  auto sub_s1 = [&] { return b.CreateAnd(b.CreateAdd(d, s), m); };  // the first operand of a SUB/CMP
  llvm::Value* r = nullptr;
  if (kind == kCcEflags) {  // the flags themselves, in cc_src
    llvm::Value* eflags = f.src;
    auto set = [&](uint64_t bit) { return b.CreateICmpNE(b.CreateAnd(eflags, bit), b.getInt64(0)); };
    switch (cc >> 1) {
      case 0: r = set(rflags::OF); break;
      case 1: r = set(rflags::CF); break;
      case 2: r = set(rflags::ZF); break;
      case 3: r = set(rflags::CF | rflags::ZF); break;
      case 4: r = set(rflags::SF); break;
      case 5: r = set(rflags::PF); break;
      case 6: r = b.CreateICmpNE(set(rflags::SF), set(rflags::OF)); break;
      default: r = b.CreateOr(set(rflags::ZF), b.CreateICmpNE(set(rflags::SF), set(rflags::OF))); break;
    }
    return (cc & 1) ? b.CreateNot(r) : r;
  }
  switch (cc >> 1) {
    case 0:  // O
      if (logic) r = b.getFalse();
      else if (sub) {
        llvm::Value* s1 = sub_s1();
        r = b.CreateICmpNE(b.CreateAnd(b.CreateAnd(b.CreateXor(s1, s), b.CreateXor(s1, d)), sign), b.getInt64(0));
      } else if (add) {
        llvm::Value* s1 = b.CreateAnd(b.CreateSub(d, s), m);
        r = b.CreateICmpNE(b.CreateAnd(b.CreateAnd(b.CreateNot(b.CreateXor(s1, s)), b.CreateXor(s1, d)), sign),
                            b.getInt64(0));
      }
      break;
    case 1:  // B
      if (sub) r = b.CreateICmpULT(sub_s1(), s);
      else if (add) r = b.CreateICmpULT(d, s);
      else if (logic) r = b.getFalse();
      else if (kind == kCcInc || kind == kCcDec) r = b.CreateICmpNE(b.CreateAnd(f.src, 1), b.getInt64(0));
      break;
    case 2:  // E
      if (has_result && kind != kCcMul && kind != kCcImul) r = zero();
      break;
    case 3:  // BE
      if (sub) r = b.CreateICmpULE(sub_s1(), s);
      else if (logic) r = zero();
      break;
    case 4:  // S
      if (has_result) r = negative();
      break;
    case 5:  // P: even parity of the low byte of the result
      if (has_result) r = b.CreateICmpEQ(b.CreateAnd(b.CreateUnaryIntrinsic(llvm::Intrinsic::ctpop, b.CreateAnd(d, 0xff)), 1), b.getInt64(0));
      break;
    case 6:  // L
      if (sub) r = b.CreateICmpSLT(b.CreateShl(sub_s1(), 64 - bits), b.CreateShl(s, 64 - bits));
      else if (logic) r = negative();
      break;
    case 7:  // LE
      if (sub) r = b.CreateICmpSLE(b.CreateShl(sub_s1(), 64 - bits), b.CreateShl(s, 64 - bits));
      else if (logic) r = b.CreateOr(zero(), negative());
      break;
  }
  if (!r) return nullptr;
  return (cc & 1) ? b.CreateNot(r) : r;
}

// All six arithmetic flags (RFLAGS bit positions) of a SetFlags of this block, as
// LazyFlags::compute would give them; null for the kinds left to the runtime.
llvm::Value* known_eflags(llvm::IRBuilder<>& b, const KnownFlags& f) {
  const unsigned kind = f.cc_op >> 2, l = f.cc_op & 3, bits = 8u << l;
  const uint64_t m = size_mask_bytes(1u << l), sign = 1ull << (bits - 1);
  if (kind == kCcEflags) return b.CreateAnd(f.src, kArithFlags);
  if (kind != kCcLogic && kind != kCcAdd && kind != kCcSub && kind != kCcInc && kind != kCcDec) return nullptr;
  llvm::Value* d = b.CreateAnd(f.dst, m);
  llvm::Value* s = b.CreateAnd(f.src, m);
  auto flag = [&](llvm::Value* cond, uint64_t bit) { return b.CreateSelect(cond, b.getInt64(bit), b.getInt64(0)); };
  auto bit_set = [&](llvm::Value* v, uint64_t mask) { return b.CreateICmpNE(b.CreateAnd(v, mask), b.getInt64(0)); };
  llvm::Value* parity_even =
      b.CreateICmpEQ(b.CreateAnd(b.CreateUnaryIntrinsic(llvm::Intrinsic::ctpop, b.CreateAnd(d, 0xff)), 1), b.getInt64(0));
  llvm::Value* zsp = b.CreateOr(b.CreateOr(flag(b.CreateICmpEQ(d, b.getInt64(0)), rflags::ZF), flag(bit_set(d, sign), rflags::SF)),
                                 flag(parity_even, rflags::PF));
  llvm::Value *cf = nullptr, *of = nullptr, *af = nullptr;
  switch (kind) {
    case kCcLogic:
      return zsp;
    case kCcAdd: {
      llvm::Value* s1 = b.CreateAnd(b.CreateSub(d, s), m);
      cf = b.CreateICmpULT(d, s);
      of = bit_set(b.CreateAnd(b.CreateNot(b.CreateXor(s1, s)), b.CreateXor(s1, d)), sign);
      af = bit_set(b.CreateXor(b.CreateXor(s1, s), d), 0x10);
      break;
    }
    case kCcSub: {
      llvm::Value* s1 = b.CreateAnd(b.CreateAdd(d, s), m);
      cf = b.CreateICmpULT(s1, s);
      of = bit_set(b.CreateAnd(b.CreateXor(s1, s), b.CreateXor(s1, d)), sign);
      af = bit_set(b.CreateXor(b.CreateXor(s1, s), d), 0x10);
      break;
    }
    default: {  // INC, DEC: CF is the carry before them (cc_src)
      const bool inc = kind == kCcInc;
      cf = bit_set(f.src, 1);
      of = b.CreateICmpEQ(d, b.getInt64(inc ? sign : sign - 1));
      af = bit_set(b.CreateXor(inc ? b.CreateSub(d, b.getInt64(1)) : b.CreateAdd(d, b.getInt64(1)), d), 0x10);
      break;
    }
  }
  return b.CreateOr(zsp, b.CreateOr(flag(cf, rflags::CF), b.CreateOr(flag(of, rflags::OF), flag(af, rflags::AF))));
}

// h_shift_flags for ROL/ROR when the flags before are known in this block: only CF and OF
// change (tcg/helpers_arith.cpp has the rules); SHA-256 and hashes rotate all the time.
llvm::Value* rotate_flags(llvm::IRBuilder<>& b, uint64_t p, llvm::Value* value, llvm::Value* count, const KnownFlags& f) {
  const unsigned op = hp_op(p), size = hp_size(p), bits = 8 * size;
  if ((op != kRol && op != kRor) || size == 0 || size > 8) return nullptr;
  llvm::Value* old = known_eflags(b, f);
  if (!old) return nullptr;
  llvm::Type* narrow = b.getIntNTy(bits);
  llvm::Value* v = b.CreateTrunc(value, narrow);
  llvm::Value* c = b.CreateTrunc(count, narrow);
  llvm::Value* r = b.CreateZExt(b.CreateIntrinsic(op == kRol ? llvm::Intrinsic::fshl : llvm::Intrinsic::fshr, {narrow}, {v, v, c}), b.getInt64Ty());
  llvm::Value* wide = b.CreateZExt(v, b.getInt64Ty());
  auto bit = [&](llvm::Value* x, unsigned n) { return b.CreateAnd(b.CreateLShr(x, n), 1); };
  llvm::Value* cf = op == kRol ? bit(r, 0) : bit(r, bits - 1);
  llvm::Value* of = op == kRol ? b.CreateXor(bit(wide, bits - 1), bit(wide, bits - 2)) : b.CreateXor(bit(wide, 0), bit(wide, bits - 1));
  if (hp_extra(p) & kShiftImmCount)  // an imm8 count of 2 or more on a register keeps OF
    of = b.CreateSelect(b.CreateICmpUGE(count, b.getInt64(2)), bit(old, 11), of);
  llvm::Value* rotated = b.CreateOr(b.CreateAnd(old, ~uint64_t(rflags::CF | rflags::OF)), b.CreateOr(cf, b.CreateShl(of, 11)));
  return b.CreateSelect(b.CreateICmpEQ(count, b.getInt64(0)), old, rotated);
}

}  // namespace janus::tcg
