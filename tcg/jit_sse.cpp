#include "tcg/jit_sse.h"

#include <llvm/IR/Intrinsics.h>

#include <optional>
#include <utility>
#include <vector>

#include "cpu/cpu_state.h"
#include "tcg/sse_host.h"

namespace janus::tcg {

namespace {

using enum HostOp;

// The kHost ops with inline code: integer and bitwise, no MXCSR.
bool host_op_inline(HostOp op) {
  switch (op) {
    case andps: case andnps: case orps: case xorps: case pand: case pandn: case por: case pxor:
    case unpcklps: case unpckhps: case unpcklpd: case unpckhpd:
    case punpcklbw: case punpcklwd: case punpckldq: case punpcklqdq:
    case punpckhbw: case punpckhwd: case punpckhdq: case punpckhqdq:
    case paddb: case paddw: case paddd: case paddq: case psubb: case psubw: case psubd: case psubq:
    case paddsb: case paddsw: case paddusb: case paddusw: case psubsb: case psubsw: case psubusb: case psubusw:
    case pminub: case pmaxub: case pminsw: case pmaxsw: case pavgb: case pavgw: case pmullw:
    case pcmpeqb: case pcmpeqw: case pcmpeqd: case pcmpgtb: case pcmpgtw: case pcmpgtd:
      return true;
    default:
      return false;
  }
}

bool shift_op(HostOp op) { return op >= psllw && op <= psrad; }
bool scalar_add(HostOp op) { return op == addss || op == addsd || op == subss || op == subsd; }

struct MemoryUse {
  unsigned size;
  bool write;
};
// The memory operand's size and direction, as h_sse reads or writes it.
std::optional<MemoryUse> memory_use(const SseInsn& in) {
  if (!in.mem) return std::nullopt;
  switch (in.kind) {
    case SseKind::kMove: {
      const SseMove mv = SseMove::unpack(in.sub);
      return mv.store ? MemoryUse{mv.width, true} : MemoryUse{in.mem_size, false};
    }
    case SseKind::kMoveToGpr: return MemoryUse{in.wide ? 8u : 4u, true};
    default: return MemoryUse{in.mem_size, false};
  }
}

class SseLowering {
 public:
  SseLowering(JitEmitter& e, const SseInsn& in) : e_(e), b_(e.b_), in_(in) {
    v16_ = llvm::FixedVectorType::get(e.i8_, 16);
    v8_ = llvm::FixedVectorType::get(b_.getInt16Ty(), 8);
    v4_ = llvm::FixedVectorType::get(e.i32_, 4);
    v2_ = llvm::FixedVectorType::get(e.i64_, 2);
  }

  llvm::Value* lower(llvm::Value* a, llvm::Value* b, const std::function<llvm::Value*()>& call_helper) {
    llvm::Value* cr0 = e_.load_cpu(e_.i64_, e_.layout_.cr0);
    llvm::Value* cr4 = e_.load_cpu(e_.i64_, e_.layout_.cr4);
    llvm::Value* ok = b_.CreateAnd(b_.CreateICmpEQ(b_.CreateAnd(cr0, cr0::EM | cr0::TS), b_.getInt64(0)),
                                   b_.CreateICmpNE(b_.CreateAnd(cr4, cr4::OSFXSR), b_.getInt64(0)));
    if (auto use = memory_use(in_)) {
      JitEmitter::TlbProbe probe = e_.probe_tlb(a, in_.seg, use->size, use->write);
      ok = b_.CreateAnd(ok, probe.hit);
      if (in_.aligned) ok = b_.CreateAnd(ok, b_.CreateICmpEQ(b_.CreateAnd(probe.linear, 15), b_.getInt64(0)));
      host_ = probe.host;
    }
    llvm::BasicBlock* fast = e_.new_block("sse.fast");
    llvm::BasicBlock* slow = slow_ = e_.new_block("sse.helper");
    llvm::BasicBlock* join = e_.new_block("sse.done");
    e_.branch_likely(ok, fast, slow);
    b_.SetInsertPoint(fast);
    llvm::Value* fast_value = fast_path(b);
    llvm::BasicBlock* fast_end = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(slow);
    llvm::Value* slow_value = call_helper();
    llvm::BasicBlock* slow_end = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(join);
    llvm::PHINode* v = b_.CreatePHI(e_.i64_, 2);
    v->addIncoming(fast_value, fast_end);
    v->addIncoming(slow_value, slow_end);
    return v;
  }

 private:
  llvm::Value* fast_path(llvm::Value* gpr) {
    llvm::Value* zero = b_.getInt64(0);
    switch (in_.kind) {
      case SseKind::kMove: move(); return zero;
      case SseKind::kHost:
        if (scalar_add(HostOp(in_.sub))) add_scalar(HostOp(in_.sub));
        else set_xmm(in_.reg, host_op(HostOp(in_.sub), xmm(in_.reg), source()));
        return zero;
      case SseKind::kHostImmCount: set_xmm(in_.rm, shift(HostOp(in_.sub), xmm(in_.rm), in_.imm)); return zero;
      case SseKind::kShuffle: set_xmm(in_.reg, shuffle(xmm(in_.reg), source())); return zero;
      case SseKind::kByteShift: set_xmm(in_.rm, byte_shift(xmm(in_.rm))); return zero;
      case SseKind::kMoveMask: return move_mask(xmm(in_.rm));
      case SseKind::kExtractWord: {
        llvm::Value* words = b_.CreateBitCast(xmm(in_.rm), v8_);
        return b_.CreateZExt(b_.CreateExtractElement(words, uint64_t(in_.imm & 7)), e_.i64_);
      }
      case SseKind::kMoveFromGpr: {
        llvm::Value* v = in_.mem ? b_.CreateZExt(e_.load_guest(b_.getIntNTy(8 * in_.mem_size), host_), e_.i64_) : gpr;
        if (!in_.wide) v = b_.CreateAnd(v, 0xffffffffull);
        set_xmm(in_.reg, b_.CreateBitCast(b_.CreateZExt(v, b_.getInt128Ty()), v16_));
        return zero;
      }
      case SseKind::kMoveToGpr: {
        llvm::Value* low = load_lane(in_.reg, 0, in_.wide ? 8 : 4);
        if (in_.mem) e_.store_guest(low, host_);
        return b_.CreateZExt(low, e_.i64_);
      }
      case SseKind::kCompareFlags: return compare_flags();
      case SseKind::kFromGpr: from_gpr(gpr); return zero;
      case SseKind::kToGpr: return to_gpr();
      default: return zero;  // not inlinable (sse_inlinable)
    }
  }

  // Takes the helper path when `cond` holds (operands the inline code does not handle).
  void bail_if(llvm::Value* cond) {
    llvm::BasicBlock* go = e_.new_block("sse.go");
    e_.branch_unlikely(cond, slow_, go);
    b_.SetInsertPoint(go);
  }

  // Scalar floating point without MXCSR: only where the instruction can raise no exception
  // (so sets no MXCSR flag) and the rounding mode, DAZ and FTZ cannot matter. Everything else
  // (NaN, denormal, inexact or out-of-range operands) goes to h_sse.
  bool is_double(HostGprOp g) const {
    using enum HostGprOp;
    return g == cvtsi2sd || g == cvtsd2si || g == cvttsd2si || g == comisd || g == ucomisd;
  }
  llvm::Type* float_type(bool dbl) { return dbl ? b_.getDoubleTy() : b_.getFloatTy(); }
  // Zero, a normal number or an infinity: not NaN, not denormal.
  llvm::Value* ordinary(llvm::Value* bits, bool dbl) {
    const uint64_t magnitude = dbl ? 0x7fffffffffffffffull : 0x7fffffffull;
    const uint64_t min_normal = dbl ? 0x0010000000000000ull : 0x00800000ull;
    const uint64_t infinity = dbl ? 0x7ff0000000000000ull : 0x7f800000ull;
    llvm::Type* t = bits->getType();
    llvm::Value* abs = b_.CreateAnd(bits, llvm::ConstantInt::get(t, magnitude));
    llvm::Value* normal = b_.CreateAnd(b_.CreateICmpUGE(abs, llvm::ConstantInt::get(t, min_normal)),
                                       b_.CreateICmpULE(abs, llvm::ConstantInt::get(t, infinity)));
    return b_.CreateOr(b_.CreateICmpEQ(abs, llvm::ConstantInt::get(t, 0)), normal);
  }
  llvm::Value* scalar_source(unsigned width) {
    return in_.mem ? e_.load_guest(b_.getIntNTy(8 * width), host_) : load_lane(in_.rm, 0, width);
  }
  // The low lanes of XMM[reg] and of the source as floats, once both pass `accept` (else h_sse).
  template <typename Accept>
  std::pair<llvm::Value*, llvm::Value*> scalar_operands(bool dbl, Accept accept) {
    const unsigned width = dbl ? 8 : 4;
    llvm::Value* a = load_lane(in_.reg, 0, width);
    llvm::Value* b = scalar_source(width);
    bail_if(b_.CreateNot(b_.CreateAnd(accept(a), accept(b))));
    return {b_.CreateBitCast(a, float_type(dbl)), b_.CreateBitCast(b, float_type(dbl))};
  }
  // (U)COMISS/SD: EFLAGS ZF, PF, CF. Raises nothing unless an operand is NaN or denormal.
  llvm::Value* compare_flags() {
    const bool dbl = is_double(HostGprOp(in_.sub));
    auto [fa, fb] = scalar_operands(dbl, [&](llvm::Value* v) { return ordinary(v, dbl); });
    llvm::Value* cf = b_.CreateZExt(b_.CreateFCmpOLT(fa, fb), e_.i64_);
    llvm::Value* zf = b_.CreateZExt(b_.CreateFCmpOEQ(fa, fb), e_.i64_);
    return b_.CreateOr(cf, b_.CreateShl(zf, 6));
  }
  // ADDSS/SD, SUBSS/SD: exact sums of finite normal numbers whose result is normal raise
  // nothing and do not depend on the rounding mode; Knuth's two-sum says whether the sum was
  // exact. (A zero result is left to h_sse: its sign depends on the rounding mode.)
  void add_scalar(HostOp op) {
    const bool dbl = op == addsd || op == subsd;
    const unsigned width = dbl ? 8 : 4;
    auto [fa, fb] = scalar_operands(dbl, [&](llvm::Value* v) { return finite(v, dbl); });
    if (op == subss || op == subsd) fb = b_.CreateFNeg(fb);
    llvm::Value* sum = b_.CreateFAdd(fa, fb);
    llvm::Value* bb = b_.CreateFSub(sum, fa);
    llvm::Value* error = b_.CreateFAdd(b_.CreateFSub(fa, b_.CreateFSub(sum, bb)), b_.CreateFSub(fb, bb));
    llvm::Value* bits = b_.CreateBitCast(sum, b_.getIntNTy(8 * width));
    llvm::Value* zero = llvm::ConstantFP::get(float_type(dbl), 0.0);
    bail_if(b_.CreateOr(b_.CreateNot(finite(bits, dbl)), b_.CreateOr(b_.CreateFCmpOEQ(sum, zero), b_.CreateFCmpUNE(error, zero))));
    store_at(bits, xmm_offset(in_.reg));
  }
  // Zero or a normal number: not NaN, infinite or denormal.
  llvm::Value* finite(llvm::Value* bits, bool dbl) {
    const uint64_t infinity = dbl ? 0x7ff0000000000000ull : 0x7f800000ull;
    llvm::Type* t = bits->getType();
    const uint64_t magnitude = dbl ? 0x7fffffffffffffffull : 0x7fffffffull;
    llvm::Value* abs = b_.CreateAnd(bits, llvm::ConstantInt::get(t, magnitude));
    return b_.CreateAnd(ordinary(bits, dbl), b_.CreateICmpNE(abs, llvm::ConstantInt::get(t, infinity)));
  }

  // CVTSI2SS/SD: exact (so no PE) for integers of at most 24 / 53 significant bits.
  void from_gpr(llvm::Value* gpr) {
    const bool dbl = is_double(HostGprOp(in_.sub));
    llvm::Value* v = in_.mem ? b_.CreateZExt(e_.load_guest(b_.getIntNTy(8 * in_.mem_size), host_), e_.i64_) : gpr;
    if (!in_.wide) v = b_.CreateSExt(b_.CreateTrunc(v, e_.i32_), e_.i64_);
    if (!dbl || in_.wide) {
      const uint64_t limit = dbl ? 1ull << 53 : 1ull << 24;
      bail_if(b_.CreateICmpUGT(b_.CreateAdd(v, b_.getInt64(limit)), b_.getInt64(2 * limit)));
    }
    llvm::Value* f = b_.CreateSIToFP(v, float_type(dbl));
    store_at(b_.CreateBitCast(f, b_.getIntNTy(dbl ? 64 : 32)), xmm_offset(in_.reg));
  }
  // CVT(T)SS2SI, CVT(T)SD2SI: exact (no PE, IE) for integral values in range; then truncation
  // and rounding agree.
  llvm::Value* to_gpr() {
    const bool dbl = is_double(HostGprOp(in_.sub));
    llvm::Value* f = b_.CreateBitCast(scalar_source(dbl ? 8 : 4), float_type(dbl));
    const double limit = in_.wide ? 9223372036854775808.0 : 2147483648.0;  // 2^63, 2^31
    llvm::Value* fabs = b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, f);
    bail_if(b_.CreateNot(b_.CreateFCmpOLT(fabs, llvm::ConstantFP::get(float_type(dbl), limit))));
    llvm::Type* it = in_.wide ? e_.i64_ : e_.i32_;
    llvm::Value* i = b_.CreateFPToSI(f, it);
    bail_if(b_.CreateFCmpUNE(b_.CreateSIToFP(i, float_type(dbl)), f));
    return b_.CreateZExt(i, e_.i64_);
  }

  // XMM registers in TcgCpu (any alignment: byte offsets into FxState).
  size_t xmm_offset(unsigned n, unsigned byte = 0) const { return e_.layout_.xmm + 16 * n + byte; }
  llvm::Value* xmm(unsigned n) {
    llvm::LoadInst* l = b_.CreateAlignedLoad(v16_, e_.field(xmm_offset(n)), llvm::MaybeAlign(1));
    l->setMetadata(llvm::LLVMContext::MD_tbaa, e_.tbaa_cpu_);
    return l;
  }
  void set_xmm(unsigned n, llvm::Value* v) { store_at(b_.CreateBitCast(v, v16_), xmm_offset(n)); }
  llvm::Value* load_lane(unsigned n, unsigned byte, unsigned width) {
    llvm::LoadInst* l = b_.CreateAlignedLoad(b_.getIntNTy(8 * width), e_.field(xmm_offset(n, byte)), llvm::MaybeAlign(1));
    l->setMetadata(llvm::LLVMContext::MD_tbaa, e_.tbaa_cpu_);
    return l;
  }
  void store_at(llvm::Value* v, size_t offset) {
    llvm::StoreInst* s = b_.CreateAlignedStore(v, e_.field(offset), llvm::MaybeAlign(1));
    s->setMetadata(llvm::LLVMContext::MD_tbaa, e_.tbaa_cpu_);
  }
  // The r/m operand as a register image: XMM[rm], or mem_size bytes of memory zero-extended.
  llvm::Value* source() {
    if (!in_.mem) return xmm(in_.rm);
    if (in_.mem_size == 16) return e_.load_guest(v16_, host_);
    llvm::Value* v = e_.load_guest(b_.getIntNTy(8 * in_.mem_size), host_);
    return b_.CreateBitCast(b_.CreateZExt(v, b_.getInt128Ty()), v16_);
  }

  // SseMove (tcg/helpers_sse.cpp slice_move): a slice of width bytes from the source to the
  // destination, the rest of a destination register kept or zeroed.
  void move() {
    const SseMove mv = SseMove::unpack(in_.sub);
    if (mv.store && in_.mem) {
      e_.store_guest(mv.width == 16 ? xmm(in_.reg) : load_lane(in_.reg, mv.src_off, mv.width), host_);
      return;
    }
    const unsigned dst = mv.store ? in_.rm : in_.reg;
    if (mv.width == 16) {
      set_xmm(dst, mv.store ? xmm(in_.reg) : source());
      return;
    }
    llvm::Value* v = mv.store ? load_lane(in_.reg, mv.src_off, mv.width)
                     : in_.mem ? e_.load_guest(b_.getIntNTy(8 * mv.width), host_)
                               : load_lane(in_.rm, mv.src_off, mv.width);
    if (mv.zero) set_xmm(dst, llvm::Constant::getNullValue(v16_));
    store_at(v, xmm_offset(dst, mv.dst_off));
  }

  llvm::Value* as(llvm::Value* v, llvm::Type* type) { return b_.CreateBitCast(v, type); }
  llvm::Value* interleave(llvm::Value* d, llvm::Value* s, llvm::Type* type, unsigned lanes, bool high) {
    std::vector<int> mask;
    for (unsigned i = 0; i < lanes / 2; ++i) {
      mask.push_back(int(i + (high ? lanes / 2 : 0)));
      mask.push_back(int(i + (high ? lanes / 2 : 0) + lanes));
    }
    return b_.CreateShuffleVector(as(d, type), as(s, type), mask);
  }
  llvm::Value* saturating(llvm::Intrinsic::ID id, llvm::Value* d, llvm::Value* s, llvm::Type* type) {
    return b_.CreateBinaryIntrinsic(id, as(d, type), as(s, type));
  }
  // PAVGB/PAVGW: (d + s + 1) >> 1 without losing the carry.
  llvm::Value* average(llvm::Value* d, llvm::Value* s, llvm::Type* type, llvm::Type* wide) {
    llvm::Value* sum = b_.CreateAdd(b_.CreateAdd(b_.CreateZExt(as(d, type), wide), b_.CreateZExt(as(s, type), wide)),
                                    llvm::ConstantInt::get(wide, 1));
    return b_.CreateTrunc(b_.CreateLShr(sum, llvm::ConstantInt::get(wide, 1)), type);
  }
  llvm::Value* compare(llvm::CmpInst::Predicate p, llvm::Value* d, llvm::Value* s, llvm::Type* type) {
    return b_.CreateSExt(b_.CreateICmp(p, as(d, type), as(s, type)), type);
  }

  llvm::Value* host_op(HostOp op, llvm::Value* d, llvm::Value* s) {
    using llvm::Intrinsic::ID;
    switch (op) {
      case andps: case pand: return b_.CreateAnd(d, s);
      case andnps: case pandn: return b_.CreateAnd(b_.CreateNot(d), s);
      case orps: case por: return b_.CreateOr(d, s);
      case xorps: case pxor: return b_.CreateXor(d, s);
      case punpcklbw: return interleave(d, s, v16_, 16, false);
      case punpckhbw: return interleave(d, s, v16_, 16, true);
      case punpcklwd: return interleave(d, s, v8_, 8, false);
      case punpckhwd: return interleave(d, s, v8_, 8, true);
      case unpcklps: case punpckldq: return interleave(d, s, v4_, 4, false);
      case unpckhps: case punpckhdq: return interleave(d, s, v4_, 4, true);
      case unpcklpd: case punpcklqdq: return interleave(d, s, v2_, 2, false);
      case unpckhpd: case punpckhqdq: return interleave(d, s, v2_, 2, true);
      case paddb: return b_.CreateAdd(d, s);
      case paddw: return b_.CreateAdd(as(d, v8_), as(s, v8_));
      case paddd: return b_.CreateAdd(as(d, v4_), as(s, v4_));
      case paddq: return b_.CreateAdd(as(d, v2_), as(s, v2_));
      case psubb: return b_.CreateSub(d, s);
      case psubw: return b_.CreateSub(as(d, v8_), as(s, v8_));
      case psubd: return b_.CreateSub(as(d, v4_), as(s, v4_));
      case psubq: return b_.CreateSub(as(d, v2_), as(s, v2_));
      case paddsb: return saturating(llvm::Intrinsic::sadd_sat, d, s, v16_);
      case paddsw: return saturating(llvm::Intrinsic::sadd_sat, d, s, v8_);
      case paddusb: return saturating(llvm::Intrinsic::uadd_sat, d, s, v16_);
      case paddusw: return saturating(llvm::Intrinsic::uadd_sat, d, s, v8_);
      case psubsb: return saturating(llvm::Intrinsic::ssub_sat, d, s, v16_);
      case psubsw: return saturating(llvm::Intrinsic::ssub_sat, d, s, v8_);
      case psubusb: return saturating(llvm::Intrinsic::usub_sat, d, s, v16_);
      case psubusw: return saturating(llvm::Intrinsic::usub_sat, d, s, v8_);
      case pminub: return saturating(llvm::Intrinsic::umin, d, s, v16_);
      case pmaxub: return saturating(llvm::Intrinsic::umax, d, s, v16_);
      case pminsw: return saturating(llvm::Intrinsic::smin, d, s, v8_);
      case pmaxsw: return saturating(llvm::Intrinsic::smax, d, s, v8_);
      case pavgb: return average(d, s, v16_, llvm::FixedVectorType::get(b_.getInt16Ty(), 16));
      case pavgw: return average(d, s, v8_, llvm::FixedVectorType::get(e_.i32_, 8));
      case pmullw: return b_.CreateMul(as(d, v8_), as(s, v8_));
      case pcmpeqb: return compare(llvm::CmpInst::ICMP_EQ, d, s, v16_);
      case pcmpeqw: return compare(llvm::CmpInst::ICMP_EQ, d, s, v8_);
      case pcmpeqd: return compare(llvm::CmpInst::ICMP_EQ, d, s, v4_);
      case pcmpgtb: return compare(llvm::CmpInst::ICMP_SGT, d, s, v16_);
      case pcmpgtw: return compare(llvm::CmpInst::ICMP_SGT, d, s, v8_);
      case pcmpgtd: return compare(llvm::CmpInst::ICMP_SGT, d, s, v4_);
      default: return d;  // not inlinable (host_op_inline)
    }
  }

  // PSLL/PSRL/PSRA by an immediate: counts past the lane width clear the lanes (or fill them
  // with the sign).
  llvm::Value* shift(HostOp op, llvm::Value* v, unsigned count) {
    const unsigned bits = (op == psllw || op == psrlw || op == psraw) ? 16 : (op == pslld || op == psrld || op == psrad) ? 32 : 64;
    llvm::Type* type = bits == 16 ? v8_ : bits == 32 ? v4_ : v2_;
    llvm::Value* x = as(v, type);
    const bool arithmetic = op == psraw || op == psrad;
    if (count >= bits && !arithmetic) return llvm::Constant::getNullValue(type);
    llvm::Value* n = llvm::ConstantInt::get(type, std::min(count, bits - 1));
    if (arithmetic) return b_.CreateAShr(x, n);
    return (op == psllw || op == pslld || op == psllq) ? b_.CreateShl(x, n) : b_.CreateLShr(x, n);
  }

  // PSLLDQ (sub 0) / PSRLDQ (sub 1): whole bytes, zeros shifted in.
  llvm::Value* byte_shift(llvm::Value* v) {
    const unsigned n = in_.imm;
    std::vector<int> mask(16);
    for (unsigned i = 0; i < 16; ++i) {
      if (in_.sub == 0) mask[i] = i >= n ? int(i - n) : 16;  // 16: a zero byte
      else mask[i] = i + n < 16 ? int(i + n) : 16;
    }
    return b_.CreateShuffleVector(v, llvm::Constant::getNullValue(v16_), mask);
  }

  llvm::Value* shuffle(llvm::Value* d, llvm::Value* s) {
    const unsigned imm = in_.imm;
    auto sel = [imm](unsigned i) { return int((imm >> (2 * i)) & 3); };
    switch (SseShuffle(in_.sub)) {
      case SseShuffle::kShufps: return b_.CreateShuffleVector(as(d, v4_), as(s, v4_), {sel(0), sel(1), 4 + sel(2), 4 + sel(3)});
      case SseShuffle::kShufpd: return b_.CreateShuffleVector(as(d, v2_), as(s, v2_), {int(imm & 1), 2 + int((imm >> 1) & 1)});
      case SseShuffle::kPshufd: return b_.CreateShuffleVector(as(s, v4_), {sel(0), sel(1), sel(2), sel(3)});
      case SseShuffle::kPshufhw: return b_.CreateShuffleVector(as(s, v8_), {0, 1, 2, 3, 4 + sel(0), 4 + sel(1), 4 + sel(2), 4 + sel(3)});
      case SseShuffle::kPshuflw: return b_.CreateShuffleVector(as(s, v8_), {sel(0), sel(1), sel(2), sel(3), 4, 5, 6, 7});
    }
    return d;
  }

  // MOVMSKPS (sub 0), MOVMSKPD (1), PMOVMSKB (2): the lanes' sign bits.
  llvm::Value* move_mask(llvm::Value* v) {
    llvm::Type* type = in_.sub == 0 ? v4_ : in_.sub == 1 ? v2_ : v16_;
    const unsigned lanes = in_.sub == 0 ? 4 : in_.sub == 1 ? 2 : 16;
    llvm::Value* negative = b_.CreateICmpSLT(as(v, type), llvm::Constant::getNullValue(type));
    return b_.CreateZExt(b_.CreateBitCast(negative, b_.getIntNTy(lanes)), e_.i64_);
  }

  JitEmitter& e_;
  llvm::IRBuilder<>& b_;
  const SseInsn& in_;
  llvm::Type *v16_, *v8_, *v4_, *v2_;
  llvm::Value* host_ = nullptr;  // the memory operand's host address (fast path)
  llvm::BasicBlock* slow_ = nullptr;  // the h_sse path
};

}  // namespace

bool sse_inlinable(const SseInsn& in, bool code64) {
  if (in.mem && !code64) return false;  // the inline TLB probe is for 64-bit code
  auto sized = [&](std::initializer_list<unsigned> sizes) {
    if (!in.mem) return true;
    for (unsigned s : sizes)
      if (in.mem_size == s) return true;
    return false;
  };
  switch (in.kind) {
    case SseKind::kMove: {
      const SseMove mv = SseMove::unpack(in.sub);
      return mv.store || !in.mem || in.mem_size == mv.width;
    }
    case SseKind::kHost: return (host_op_inline(HostOp(in.sub)) || scalar_add(HostOp(in.sub))) && sized({4, 8, 16});
    case SseKind::kHostImmCount: return shift_op(HostOp(in.sub));
    case SseKind::kShuffle: return sized({4, 8, 16});
    case SseKind::kByteShift: case SseKind::kExtractWord: case SseKind::kMoveToGpr: return true;
    case SseKind::kMoveMask: return in.sub <= 2;
    case SseKind::kMoveFromGpr: return sized({4, 8});
    case SseKind::kCompareFlags: case SseKind::kFromGpr: case SseKind::kToGpr: return sized({4, 8});
    default: return false;
  }
}

llvm::Value* lower_sse(JitEmitter& e, const SseInsn& in, llvm::Value* a, llvm::Value* b,
                       const std::function<llvm::Value*()>& call_helper) {
  return SseLowering(e, in).lower(a, b, call_helper);
}

}  // namespace janus::tcg
