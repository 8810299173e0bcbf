#include "tcg/baseline_compiler.h"

#include <cstring>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tcg/block_cache.h"
#include "tcg/helpers.h"
#include "tcg/jit_runtime.h"
#include "tcg/x64_assembler.h"
#include "tcg/x86_decoder.h"

namespace janus::tcg {

namespace {

using namespace x64;
using K = ThreadedKind;

// Registers: r12 holds the TcgCpu (the calling convention's first argument, callee-saved in C
// calls), rbx the block's frame of temps; rax, rcx, rdx, rsi and the argument registers are
// scratch within one op. Nothing lives in a register from one op to the next.
constexpr Reg kCpu = R12;
constexpr Reg kFrame = RBX;
// The stack frame: [rsp] a slow path ran (no chaining), [rsp+8] the MMIO count at entry. 24
// bytes keep calls 16-aligned (the code is entered with rsp = 8 mod 16).
constexpr int32_t kFrameBytes = 24;
constexpr Mem kSlowTaken{RSP, 0};
constexpr Mem kMmioAtEntry{RSP, 8};
// After the tier-up request, how many runs go by between looks for the optimised code.
constexpr int32_t kTierUpRecheck = 64;

// The operand size a mask stands for (mask_of in tcg/interpreter.cpp), 0 for any other mask.
unsigned size_of_mask(uint64_t m) {
  switch (m) {
    case 0xffull: return 1;
    case 0xffffull: return 2;
    case 0xffffffffull: return 4;
    case ~0ull: return 8;
    default: return 0;
  }
}

bool fits_i32(uint64_t v) { return int64_t(v) == int64_t(int32_t(v)); }

class BaselineCompiler {
 public:
  BaselineCompiler(const Block& block, const TcgCpu& cpu, const JitLayout& layout, const JitSlot& slot)
      : block_(block), code_(block.code), cpu_(cpu), layout_(layout), slot_(slot),
        code64_((block.key.mode & 3) == uint32_t(CodeSize::k64)), user_(block.key.user()) {}

  bool compile() {
    scan();
    prologue();
    count_reads();
    for (index_ = 0; index_ < code_.ops.size() && ok_; ++index_) {
      rax_in_ = rax_out_;
      rax_in_only_ = rax_out_only_;
      rax_out_ = nullptr;
      rax_out_only_ = false;
      op(code_.ops[index_], code_.kinds[index_]);
      if (rax_in_ && rax_in_only_) ok_ = false;  // a value left in rax that the op did not take
    }
    for (auto& stub : cold_) stub();
    for (int end = 0; end < kBlockEnds; ++end) {
      a_.bind(leave_[end]);
      a_.mov_imm(RAX, reinterpret_cast<uint64_t>(&block_));
      a_.store(8, cpu(layout_.jit_last_block), RAX);
      a_.mov_imm(RAX, uint64_t(end));
      a_.alu_imm(Alu::kAdd, 8, RSP, kFrameBytes);
      a_.ret();
    }
    return ok_;
  }
  std::vector<uint8_t>& bytes() { return a_.code(); }

 private:
  Mem cpu(size_t offset) const { return Mem{kCpu, int32_t(offset)}; }
  // Where a threaded operand points: into the TcgCpu or into the block's frame.
  Mem at(const void* p, int32_t extra = 0) {
    const auto* c = reinterpret_cast<const uint8_t*>(&cpu_);
    const auto* q = static_cast<const uint8_t*>(p);
    if (q >= c && q < c + sizeof(TcgCpu)) return Mem{kCpu, int32_t(q - c) + extra};
    const auto* f = reinterpret_cast<const uint8_t*>(code_.frame.data());
    if (q >= f && q < f + 8 * code_.frame.size()) return Mem{kFrame, int32_t(q - f) + extra};
    ok_ = false;  // cannot happen: the interpreter resolves operands to these two places only
    return Mem{kFrame, 0};
  }

  // What the block calls decides how it may end (as LLVM's quick code: tcg/jit_lowering.cpp).
  void scan() {
    may_chain_ = layout_.successor != nullptr;
    for (size_t i = 0; i < code_.ops.size(); ++i) {
      switch (code_.kinds[i]) {
        case K::Call: {
          auto fn = reinterpret_cast<HelperFn>(code_.ops[i].imm2);
          if (!helper_is_local(fn)) may_chain_ = false;
          asks_for_loop_ |= helper_may_ask_for_loop(fn);
          watches_mmio_ |= helper_may_touch_memory(fn);
          break;
        }
        case K::Load: case K::LoadLinear: case K::Store: case K::StoreLinear:
          may_chain_ = false;  // the soft MMU's checked path every time (MMIO: the run loop looks)
          break;
        case K::Load64_1: case K::Load64_2: case K::Load64_4: case K::Load64_8:
        case K::Store64_1: case K::Store64_2: case K::Store64_4: case K::Store64_8:
          has_slow_paths_ = true;  // a TLB miss takes the soft MMU's path: no chaining after it
          break;
        default: break;
      }
    }
  }

  void prologue() {
    a_.alu_imm(Alu::kSub, 8, RSP, kFrameBytes);
    if (layout_.tier_up) tier_up_prologue();
    a_.mov_imm(kFrame, reinterpret_cast<uint64_t>(code_.frame.data()));
    if (may_chain_) {
      if (has_slow_paths_) a_.store_imm(1, kSlowTaken, 0);
      if (watches_mmio_) {
        a_.load(8, RAX, cpu(layout_.mmio_count));
        a_.store(8, kMmioAtEntry, RAX);
      }
    }
  }

  // Counts this run down in the slot. At zero (the tier_up_runs-th run) it asks for optimised
  // code once; from then on it looks every kTierUpRecheck runs whether the slot holds that code,
  // makes it the block's and goes there. Three instructions a run on the way through.
  void tier_up_prologue() {
    const auto slot = reinterpret_cast<uint64_t>(&slot_);
    a_.mov_imm(RDX, slot);
    a_.alu_imm(Alu::kSub, 4, Mem{RDX, int32_t(layout_.slot_countdown)}, 1);
    Label zero, back;
    a_.jcc(kE, zero);
    a_.bind(back);
    cold_.push_back([this, slot, zero, back]() mutable {
      Label go, rearm;
      a_.bind(zero);
      a_.alu_imm(Alu::kCmp, 1, Mem{RDX, int32_t(layout_.slot_optimised)}, 0);
      a_.jcc(kNE, go);
      a_.alu_imm(Alu::kCmp, 1, Mem{RDX, int32_t(layout_.slot_asked)}, 0);
      a_.jcc(kNE, rearm);
      a_.store_imm(1, Mem{RDX, int32_t(layout_.slot_asked)}, 1);
      a_.mov_imm(RDI, reinterpret_cast<uint64_t>(layout_.tier_up_context));
      a_.mov_imm(RSI, reinterpret_cast<uint64_t>(&block_));
      call(reinterpret_cast<void*>(layout_.tier_up));
      a_.mov_imm(RDX, slot);
      a_.bind(rearm);
      a_.store_imm(4, Mem{RDX, int32_t(layout_.slot_countdown)}, kTierUpRecheck);
      a_.jmp(back);
      a_.bind(go);
      a_.load(8, RAX, Mem{RDX, int32_t(layout_.slot_entry)});
      a_.mov_imm(RCX, reinterpret_cast<uint64_t>(&block_));
      a_.store(8, Mem{RCX, int32_t(layout_.block_jit)}, RAX);
      a_.alu_imm(Alu::kAdd, 8, RSP, kFrameBytes);
      a_.jmp(RAX);
    });
  }

  void call(const void* fn) {
    a_.mov_imm(RAX, reinterpret_cast<uint64_t>(fn));
    a_.call(RAX);
  }
  void check_fault() {
    a_.alu_imm(Alu::kCmp, 1, cpu(layout_.fault_pending), 0);
    a_.jcc(kNE, leave_[int(BlockEnd::kUnchained)]);
  }
  void set_rip(uint64_t rip) {
    if (fits_i32(rip)) return a_.store_imm(8, cpu(layout_.rip), int32_t(rip));
    a_.mov_imm(RAX, rip);
    a_.store(8, cpu(layout_.rip), RAX);
  }
  // RIP and the instruction's index: where a fault restarts (JitTier::execute).
  void mark_instruction(uint64_t rip, uint32_t index) {
    set_rip(rip);
    a_.store_imm(4, cpu(layout_.jit_insn), int32_t(index));
  }
  // Compiled code counts retired instructions down from the chain budget.
  void retire(uint32_t n) {
    if (n) a_.alu_imm(Alu::kSub, 4, cpu(layout_.chain_budget), int32_t(n));
  }
  void mask(Reg r, uint64_t m) {
    const unsigned size = size_of_mask(m);
    if (size) return a_.zext(size, r);
    a_.mov_imm(RDX, m);
    a_.alu(Alu::kAnd, 8, r, RDX);
  }
  // The result, in rax, goes to its temp or register; a temp that only the next op reads, as
  // the first operand it loads, stays in rax instead (load_a then loads nothing).
  void def(const ThreadedOp& x) {
    // Either way rax still holds the value when the next op begins (rax_in_).
    rax_out_ = x.d;
    rax_out_only_ = passes_in_rax(x);
    if (!rax_out_only_) a_.store(8, at(x.d), RAX);
  }
  // rax = the first operand (its low `size` bytes, zero-extended).
  void load_a(const ThreadedOp& x, unsigned size = 8) {
    if (rax_in_ && rax_in_ == x.a) {
      rax_in_ = nullptr;
      return a_.zext(size, RAX);
    }
    a_.load(size, RAX, at(x.a));
  }
  bool passes_in_rax(const ThreadedOp& x) const {
    const size_t next = index_ + 1;
    if (next >= code_.ops.size()) return false;
    const ThreadedOp& n = code_.ops[next];
    const K k = code_.kinds[next];
    if (!(loads_a_first(k) && n.a == x.d) && !(commutative(k) && n.b == x.d && n.a != x.d)) return false;
    return read_once(x.d);
  }
  bool read_once(const uint64_t* slot) const {
    auto it = reads_.find(slot);
    return it != reads_.end() && it->second == 1;
  }
  static bool commutative(K k) { return k == K::Add || k == K::And || k == K::Or || k == K::Xor || k == K::Mul; }
  // Ops whose code begins with load_a (rax = the first operand, full width).
  static bool loads_a_first(K k) {
    switch (k) {
      case K::Move: case K::MoveMask: case K::SetMerge: case K::Add: case K::Sub: case K::And: case K::Or: case K::Xor: case K::Mul:
      case K::AddImm: case K::SubImm: case K::AndImm: case K::Shl: case K::Shr: case K::Sar:
      case K::ShlImm: case K::ShrImm: case K::SarImm: case K::Not: case K::Neg:
      case K::CmpEq: case K::CmpNe: case K::CmpLtu: case K::CmpLeu: case K::CmpLts: case K::CmpLes:
      case K::CcZ: case K::CcS: case K::CcSubB: case K::CcSubBE: case K::CcSubL: case K::CcSubLE:
      case K::CcAddB: case K::CcLogicLE: case K::JmpIndirect: case K::Branch:
      case K::Load64_1: case K::Load64_2: case K::Load64_4: case K::Load64_8:
      case K::Store64_1: case K::Store64_2: case K::Store64_4: case K::Store64_8:
        return true;
      default:
        return false;
    }
  }
  // How often each frame slot is read as an operand (over-counted: every operand pointer).
  void count_reads() {
    const uint64_t* lo = code_.frame.data();
    const uint64_t* hi = lo + code_.frame.size();
    for (const ThreadedOp& x : code_.ops)
      for (const uint64_t* p : {x.a, x.b, x.c})
        if (p >= lo && p < hi) ++reads_[p];
  }
  void imm_op(Alu op, Reg r, uint64_t v) {
    if (fits_i32(v)) return a_.alu_imm(op, 8, r, int32_t(v));
    a_.mov_imm(RCX, v);
    a_.alu(op, 8, r, RCX);
  }
  // r = the value sign-extended from 64 - sh bits.
  void sign_extend(Reg r, unsigned sh) {
    if (!sh) return;
    a_.shift(Shift::kShl, r, uint8_t(sh));
    a_.shift(Shift::kSar, r, uint8_t(sh));
  }
  void set_bool(Cond c) {
    a_.setcc(c, RAX);
    a_.movzx8(RAX, RAX);
  }
  // A 0/1 result from the host flags' condition c: left in the flags when the next op is a
  // Branch and its only reader (no setcc, no store, no test), else 0/1 in rax and its temp.
  void bool_result(const ThreadedOp& x, Cond c) {
    const size_t next = index_ + 1;
    if (next < code_.ops.size() && code_.kinds[next] == K::Branch && code_.ops[next].a == x.d && read_once(x.d)) {
      branch_cc_ = c;
      return;
    }
    set_bool(c);
    def(x);
  }
  unsigned sized(uint64_t m) {
    const unsigned size = size_of_mask(m);
    if (!size) ok_ = false;
    return size ? size : 8;
  }

  void op(const ThreadedOp& x, K kind) {
    switch (kind) {
      case K::InsnCheck: {
        Label stop;
        a_.alu_imm(Alu::kCmp, 1, cpu(layout_.stop_block), 0);
        a_.jcc(kNE, stop);
        const uint64_t rip = x.imm;
        const uint32_t index = x.count;
        cold_.push_back([this, stop, rip, index]() mutable {
          // Our own code was overwritten: stop here with the instructions before retired.
          a_.bind(stop);
          a_.store_imm(1, cpu(layout_.stop_block), 0);
          set_rip(rip);
          retire(index);
          a_.jmp(leave_[int(BlockEnd::kUnchained)]);
        });
        return mark_instruction(x.imm, x.count);
      }
      case K::InsnRip: return mark_instruction(x.imm, x.count);
      case K::Move: load_a(x); return def(x);
      case K::MoveMask:
        load_a(x, sized(x.imm));
        return def(x);
      case K::GetHigh: a_.load(1, RAX, at(x.a, 1)); return def(x);
      case K::SetMerge: {
        const unsigned size = sized(x.imm);
        load_a(x, size);
        return a_.store(size, at(x.d), RAX);
      }
      case K::SetHigh: a_.load(1, RAX, at(x.a)); return a_.store(1, at(x.d, 1), RAX);
      case K::Add: return binary(x, Alu::kAdd);
      case K::Sub: return binary(x, Alu::kSub);
      case K::And: return binary(x, Alu::kAnd);
      case K::Or: return binary(x, Alu::kOr);
      case K::Xor: return binary(x, Alu::kXor);
      case K::Mul:
        if (rax_in_ && rax_in_ == x.b && x.a != x.b) {
          rax_in_ = nullptr;
          a_.imul(RAX, at(x.a));
        } else {
          load_a(x);
          a_.imul(RAX, at(x.b));
        }
        mask(RAX, x.imm);
        return def(x);
      case K::AddImm: case K::SubImm: case K::AndImm:
        load_a(x);
        imm_op(kind == K::AddImm ? Alu::kAdd : kind == K::SubImm ? Alu::kSub : Alu::kAnd, RAX, x.imm2);
        mask(RAX, x.imm);
        return def(x);
      case K::Shl: case K::Shr: case K::Sar:
        a_.load(8, RCX, at(x.b));
        load_a(x);
        if (kind == K::Shr) mask(RAX, x.imm);
        if (kind == K::Sar) sign_extend(RAX, unsigned(x.imm2));
        a_.shift_cl(kind == K::Shl ? Shift::kShl : kind == K::Shr ? Shift::kShr : Shift::kSar, RAX);
        if (kind != K::Shr) mask(RAX, x.imm);
        return def(x);
      case K::ShlImm: case K::ShrImm: case K::SarImm:
        load_a(x);
        if (kind == K::ShrImm) mask(RAX, x.imm);
        if (kind == K::SarImm) sign_extend(RAX, unsigned(x.imm2));
        if (x.count)
          a_.shift(kind == K::ShlImm ? Shift::kShl : kind == K::ShrImm ? Shift::kShr : Shift::kSar, RAX, uint8_t(x.count));
        if (kind != K::ShrImm) mask(RAX, x.imm);
        return def(x);
      case K::Not: case K::Neg:
        load_a(x);
        if (kind == K::Not) a_.not_(RAX);
        else a_.neg(RAX);
        mask(RAX, x.imm);
        return def(x);
      case K::Sext:
        switch (x.imm2) {
          case 56: a_.load_sx(1, RAX, at(x.a)); break;
          case 48: a_.load_sx(2, RAX, at(x.a)); break;
          case 32: a_.load_sx(4, RAX, at(x.a)); break;
          default: load_a(x); sign_extend(RAX, unsigned(x.imm2)); break;
        }
        return def(x);
      case K::CmpEq: return compare(x, kE);
      case K::CmpNe: return compare(x, kNE);
      case K::CmpLtu: return compare(x, kB);
      case K::CmpLeu: return compare(x, kBE);
      case K::CmpLts: return compare(x, kL);
      case K::CmpLes: return compare(x, kLE);
      case K::Select:
        a_.load(8, RAX, at(x.c));
        a_.alu_imm(Alu::kCmp, 8, at(x.a), 0);
        a_.cmov(kNE, RAX, at(x.b));
        return def(x);
      case K::Load: case K::LoadLinear:
        checked_access(x, false);
        return def(x);
      case K::Store: case K::StoreLinear:
        return checked_access(x, true);
      case K::Load64_1: return access64(x, 1, false);
      case K::Load64_2: return access64(x, 2, false);
      case K::Load64_4: return access64(x, 4, false);
      case K::Load64_8: return access64(x, 8, false);
      case K::Store64_1: return access64(x, 1, true);
      case K::Store64_2: return access64(x, 2, true);
      case K::Store64_4: return access64(x, 4, true);
      case K::Store64_8: return access64(x, 8, true);
      case K::SetFlags: {
        const bool src2 = cc_reads_src2(CcKind(uint32_t(x.imm) >> 2));
        if (src2) a_.load(8, RDX, at(x.c));
        return set_flags(x, src2);
      }
      case K::SetFlagsIf: {
        Label skip;
        a_.load(8, RDX, at(x.c));
        a_.test(8, RDX, RDX);
        a_.jcc(kE, skip);
        set_flags(x, true);
        return a_.bind(skip);
      }
      case K::Cond:
        a_.mov(RDI, kCpu);
        a_.mov_imm(RSI, x.imm);
        call(reinterpret_cast<void*>(&rt_condition));
        return def(x);
      case K::GetCF:
        a_.mov(RDI, kCpu);
        call(reinterpret_cast<void*>(&rt_carry));
        return def(x);
      // Conditions from a SetFlags of this block: a = its cc_dst, b = its cc_src, aux = negate.
      case K::CcZ:
        load_a(x);
        a_.test(sized(x.imm), RAX, RAX);
        return bool_result(x, x.aux ? kNE : kE);
      case K::CcS:
        load_a(x);
        a_.bt_imm(RAX, uint8_t(x.imm2));
        return bool_result(x, x.aux ? kAE : kB);
      case K::CcSubB: return sub_condition(x, x.aux ? kAE : kB);
      case K::CcSubBE: return sub_condition(x, x.aux ? kA : kBE);
      case K::CcSubL: return sub_condition(x, x.aux ? kGE : kL);
      case K::CcSubLE: return sub_condition(x, x.aux ? kG : kLE);
      case K::CcAddB:
        load_a(x);
        a_.alu(Alu::kCmp, sized(x.imm), RAX, at(x.b));
        return bool_result(x, x.aux ? kAE : kB);
      case K::CcLogicLE:  // ZF or SF of the result (TEST clears OF)
        load_a(x);
        a_.test(sized(x.imm), RAX, RAX);
        return bool_result(x, x.aux ? kG : kLE);
      case K::CcConst: return a_.store_imm(8, at(x.d), int32_t(x.aux));
      case K::CcBit0:
        a_.load(8, RAX, at(x.b));
        a_.alu_imm(Alu::kAnd, 4, RAX, 1);
        if (x.aux) a_.alu_imm(Alu::kXor, 4, RAX, 1);
        return def(x);
      case K::Call: return helper_call(x);
      case K::Jmp: return jump_on(0, x.imm, x.count);
      case K::Branch: {
        Label not_taken;
        if (branch_cc_) {  // the flags of the comparison just before
          a_.jcc(negate(*branch_cc_), not_taken);
          branch_cc_.reset();
        } else if (rax_in_ && rax_in_ == x.a) {
          rax_in_ = nullptr;
          a_.test(8, RAX, RAX);
          a_.jcc(kE, not_taken);
        } else {
          a_.alu_imm(Alu::kCmp, 8, at(x.a), 0);
          a_.jcc(kE, not_taken);
        }
        jump_on(0, x.imm, x.count);
        a_.bind(not_taken);
        return jump_on(1, x.imm2, x.count);
      }
      case K::JmpIndirect:
        load_a(x);
        a_.store(8, cpu(layout_.rip), RAX);
        return jump_on(2, std::nullopt, x.count);
      case K::Exit:
        retire(x.count);
        return a_.jmp(leave_[int(BlockEnd::kUnchained)]);
    }
    ok_ = false;
  }

  // The soft MMU's checked path for a load or store outside 64-bit code: segment aux, offset a,
  // size imm2 (and the value b); the loaded value in rax.
  void checked_access(const ThreadedOp& x, bool write) {
    a_.mov(RDI, kCpu);
    a_.mov_imm(RSI, x.aux);
    a_.load(8, RDX, at(x.a));
    a_.mov_imm(RCX, x.imm2);
    if (write) a_.load(8, R8, at(x.b));
    call(write ? reinterpret_cast<void*>(&rt_store) : reinterpret_cast<void*>(&rt_load));
    check_fault();
  }
  void binary(const ThreadedOp& x, Alu op) {
    if (rax_in_ && rax_in_ == x.b && x.a != x.b && op != Alu::kSub) {  // commutative: rax op= a
      rax_in_ = nullptr;
      a_.alu(op, 8, RAX, at(x.a));
    } else {
      load_a(x);
      a_.alu(op, 8, RAX, at(x.b));
    }
    mask(RAX, x.imm);
    def(x);
  }
  // A comparison at the mask's size: the low bytes of both operands.
  void compare(const ThreadedOp& x, Cond c) {
    const unsigned size = sized(x.imm);
    load_a(x);
    a_.alu(Alu::kCmp, size, RAX, at(x.b));
    bool_result(x, c);
  }
  // SUB/CMP: cc_dst = a - b, cc_src = b; the first operand is cc_dst + cc_src.
  void sub_condition(const ThreadedOp& x, Cond c) {
    load_a(x);
    a_.alu(Alu::kAdd, 8, RAX, at(x.b));
    a_.alu(Alu::kCmp, sized(x.imm), RAX, at(x.b));
    bool_result(x, c);
  }
  void set_flags(const ThreadedOp& x, bool src2) {  // src2 in rdx
    if (src2) a_.store(8, cpu(layout_.cc_src2), RDX);
    load_a(x);
    a_.store(8, cpu(layout_.cc_dst), RAX);
    a_.load(8, RAX, at(x.b));
    a_.store(8, cpu(layout_.cc_src), RAX);
    a_.store_imm(4, cpu(layout_.cc_op), int32_t(uint32_t(x.imm)));
  }

  void helper_call(const ThreadedOp& x) {
    const auto fn = reinterpret_cast<HelperFn>(x.imm2);
    a_.mov(RDI, kCpu);
    if (helper_is_pure(fn)) {  // no faults: called directly
      a_.mov_imm(RSI, x.imm);
      a_.load(8, RDX, at(x.a));
      a_.load(8, RCX, at(x.b));
      a_.load(8, R8, at(x.c));
      call(reinterpret_cast<void*>(fn));
      return def(x);
    }
    a_.mov_imm(RSI, x.imm2);
    a_.mov_imm(RDX, x.imm);
    a_.load(8, RCX, at(x.a));
    a_.load(8, R8, at(x.b));
    a_.load(8, R9, at(x.c));
    call(reinterpret_cast<void*>(&rt_helper));
    check_fault();
    def(x);
  }

  // 64-bit code: linear = offset + displacement (+ FS/GS base); a TLB hit whose tag matches the
  // page of the access's last byte goes straight to host memory, anything else takes the soft
  // MMU's checked path (out of line; it may fault) and keeps the block from chaining on.
  void access64(const ThreadedOp& x, unsigned size, bool write) {
    const unsigned seg = x.aux & 0xff;
    const bool user = (x.aux >> 8) & 1;
    load_a(x);
    if (x.imm2) imm_op(Alu::kAdd, RAX, x.imm2);  // rax = offset
    a_.mov(RSI, RAX);
    if (seg == FS || seg == GS) a_.alu(Alu::kAdd, 8, RSI, cpu(seg == FS ? layout_.seg_base_fs : layout_.seg_base_gs));
    a_.lea(RDX, Mem{RSI, int32_t(size - 1)});
    a_.alu_imm(Alu::kAnd, 8, RDX, -4096);  // the page of the last byte
    a_.mov(RCX, RSI);
    a_.shift(Shift::kShr, RCX, 12);
    a_.alu_imm(Alu::kAnd, 4, RCX, SoftMmu::kTlbSize - 1);
    a_.shift(Shift::kShl, RCX, 6);
    static_assert(SoftMmu::kTlbSize <= (1u << 24));
    if (layout_.tlb.entry_bytes != 64) ok_ = false;
    const int32_t table = int32_t(layout_.mmu + layout_.tlb.table[user ? 1 : 0]);
    Label slow, done;
    a_.alu(Alu::kCmp, 8, RDX, Mem{kCpu, table + int32_t(write ? layout_.tlb.tag_write : layout_.tlb.tag_read), RCX, 1});
    a_.jcc(kNE, slow);
    a_.alu(Alu::kAdd, 8, RSI, Mem{kCpu, table + int32_t(layout_.tlb.addend), RCX, 1});
    if (write) {
      a_.load(8, RAX, at(x.b));
      a_.store(size, Mem{RSI, 0}, RAX);
    } else {
      a_.load(size, RAX, Mem{RSI, 0});
      def(x);
    }
    a_.bind(done);
    const ThreadedOp op = x;
    const bool in_rax = rax_out_only_;  // the loaded value stays in rax only (def)
    cold_.push_back([this, op, seg, size, write, slow, done, in_rax]() mutable {
      a_.bind(slow);
      a_.mov(RDX, RAX);  // the offset (mark_instruction may need rax)
      if (may_chain_) a_.store_imm(1, kSlowTaken, 1);
      mark_instruction(op.imm, op.count);
      a_.mov(RDI, kCpu);
      a_.mov_imm(RSI, seg);
      a_.mov_imm(RCX, size);
      if (write) a_.load(8, R8, at(op.b));
      call(reinterpret_cast<void*>(write ? reinterpret_cast<void*>(&rt_store) : reinterpret_cast<void*>(&rt_load)));
      check_fault();
      if (!write && !in_rax) a_.store(8, at(op.d), RAX);
      a_.jmp(done);
    });
  }

  // Ends the block with a jump to `rip` (slot 0, 1: a direct jump to target; 2: indirect, RIP
  // already stored), retiring `retired` instructions from the chain budget. Goes on to the next
  // block's compiled code when nothing has to be looked at by the run loop, the budget lasts and
  // that code is found: through the block's chain link, else through the run loop's jump cache.
  // RIP is stored only where the run loop or the jump cache needs it, not on the linked path.
  // As LLVM's quick code (tcg/jit_lowering.cpp).
  void jump_on(unsigned slot, std::optional<uint64_t> target, uint32_t retired) {
    static constexpr BlockEnd kEnds[] = {BlockEnd::kChain0, BlockEnd::kChain1, BlockEnd::kIndirect};
    Label& back = leave_[int(kEnds[slot])];
    retire(retired);
    if (!may_chain_) {
      if (target) set_rip(*target);
      return a_.jmp(back);
    }
    Label exit;  // RIP, then back to the run loop
    if (retired) a_.jcc(kL, exit);  // the budget went below zero
    if (has_slow_paths_) {
      a_.alu_imm(Alu::kCmp, 1, kSlowTaken, 0);
      a_.jcc(kNE, exit);
    }
    if (asks_for_loop_) {
      a_.alu_imm(Alu::kCmp, 1, cpu(layout_.loop_check), 0);
      a_.jcc(kNE, exit);
    }
    if (watches_mmio_) {
      a_.load(8, RAX, cpu(layout_.mmio_count));
      a_.alu(Alu::kCmp, 8, RAX, kMmioAtEntry);
      a_.jcc(kNE, exit);
    }
    if (!retired) {
      a_.alu_imm(Alu::kCmp, 4, cpu(layout_.chain_budget), 0);
      a_.jcc(kL, exit);
    }
    // A link holds when (indirect) the target's RIP matches and (another page) the TLB still
    // maps the target's page where it was translated from (SoftMmu::code_maps_to).
    const bool same_page = target && code64_ && ((*target ^ block_.linear_pc) >> 12) == 0;
    a_.mov_imm(RDI, reinterpret_cast<uint64_t>(&block_));
    for (unsigned link : slot == 2 ? std::vector<unsigned>{2, 3} : std::vector<unsigned>{slot}) {
      Label miss;
      a_.load(8, RAX, Mem{RDI, int32_t(layout_.block_chain + 8 * link)});
      a_.test(8, RAX, RAX);
      a_.jcc(kE, miss);
      if (slot == 2) {
        a_.load(8, RCX, cpu(layout_.rip));
        a_.alu(Alu::kCmp, 8, RCX, Mem{RAX, int32_t(layout_.block_rip)});
        a_.jcc(kNE, miss);
      }
      if (!same_page) still_mapped(miss);
      enter_compiled(miss);
    }
    if (slot == 2 && code64_ && layout_.jump_cache) jump_cache_probe();
    // Else the run loop's jump cache (TcgVcpu::compiled_successor), which links it for next time.
    if (target) set_rip(*target);
    a_.mov_imm(RDI, reinterpret_cast<uint64_t>(layout_.successor_context));
    a_.mov_imm(RSI, reinterpret_cast<uint64_t>(&block_));
    a_.mov_imm(RDX, slot);
    call(reinterpret_cast<void*>(layout_.successor));
    a_.test(8, RAX, RAX);
    a_.jcc(kE, back);
    a_.alu_imm(Alu::kAdd, 8, RSP, kFrameBytes);
    a_.jmp(RAX);
    a_.bind(exit);
    if (target) set_rip(*target);
    a_.jmp(back);
  }
  // 64-bit code, an indirect jump whose two links missed (a RET from a function called from many
  // places): the jump cache entry for RIP, checked as BlockCache::find_fast checks it, without
  // a call and without relinking. Falls through on a miss.
  void jump_cache_probe() {
    Label miss;
    a_.load(8, RCX, cpu(layout_.rip));
    a_.mov(RAX, RCX);
    a_.shift(Shift::kShr, RAX, 12);
    a_.alu(Alu::kXor, 8, RAX, RCX);
    a_.alu_imm(Alu::kAnd, 4, RAX, int32_t(BlockCache::kJumpCacheSize - 1));
    a_.mov_imm(RDX, reinterpret_cast<uint64_t>(layout_.jump_cache));
    a_.load(8, RAX, Mem{RDX, 0, RAX, 8});
    a_.test(8, RAX, RAX);
    a_.jcc(kE, miss);
    a_.alu(Alu::kCmp, 8, RCX, Mem{RAX, int32_t(layout_.block_rip)});
    a_.jcc(kNE, miss);
    a_.alu(Alu::kCmp, 8, RCX, Mem{RAX, int32_t(layout_.block_linear_pc)});  // 64-bit: linear = RIP
    a_.jcc(kNE, miss);
    a_.alu_imm(Alu::kCmp, 4, Mem{RAX, int32_t(layout_.block_mode)}, int32_t(block_.key.mode));
    a_.jcc(kNE, miss);
    a_.alu_imm(Alu::kCmp, 8, Mem{RAX, int32_t(layout_.block_cs_base)}, 0);
    a_.jcc(kNE, miss);
    still_mapped(miss);
    enter_compiled(miss);
  }
  // The block in rax: jump to its compiled code if it has any, else bind `miss` here.
  void enter_compiled(Label& miss) {
    a_.load(8, RCX, Mem{RAX, int32_t(layout_.block_jit)});
    a_.test(8, RCX, RCX);
    a_.jcc(kE, miss);
    a_.alu_imm(Alu::kAdd, 8, RSP, kFrameBytes);
    a_.jmp(RCX);
    a_.bind(miss);
  }
  // The linked block in rax: is its page mapped, executable, to the physical page it came from?
  void still_mapped(Label& miss) {
    const int32_t table = int32_t(layout_.mmu + layout_.tlb.table[user_ ? 1 : 0]);
    a_.load(8, RCX, Mem{RAX, int32_t(layout_.block_linear_pc)});
    a_.mov(RSI, RCX);
    a_.shift(Shift::kShr, RSI, 12);
    a_.alu_imm(Alu::kAnd, 4, RSI, SoftMmu::kTlbSize - 1);
    a_.shift(Shift::kShl, RSI, 6);
    a_.alu_imm(Alu::kAnd, 8, RCX, -4096);
    a_.alu(Alu::kCmp, 8, RCX, Mem{kCpu, table + int32_t(layout_.tlb.tag_checked), RSI, 1});
    a_.jcc(kNE, miss);
    a_.alu_imm(Alu::kCmp, 1, Mem{kCpu, table + int32_t(layout_.tlb.exec_checked), RSI, 1}, 0);
    a_.jcc(kE, miss);
    a_.load(8, RCX, Mem{RAX, int32_t(layout_.block_phys_pc)});
    a_.alu_imm(Alu::kAnd, 8, RCX, -4096);
    a_.alu(Alu::kCmp, 8, RCX, Mem{kCpu, table + int32_t(layout_.tlb.phys_page), RSI, 1});
    a_.jcc(kNE, miss);
  }

  const Block& block_;
  const ThreadedCode& code_;
  const TcgCpu& cpu_;
  const JitLayout& layout_;
  const JitSlot& slot_;
  const bool code64_, user_;
  bool ok_ = true;
  bool may_chain_ = false;
  bool asks_for_loop_ = false;
  bool watches_mmio_ = false;
  bool has_slow_paths_ = false;  // 64-bit loads/stores, whose TLB misses set kSlowTaken
  // A condition the next op (a Branch, its only reader) takes from the host flags.
  std::optional<Cond> branch_cc_;
  Assembler a_;
  size_t index_ = 0;                 // the op being compiled
  // The operand whose value rax holds when an op begins (the previous op's result), and
  // whether rax is its only copy (not stored: the op must take it).
  const uint64_t* rax_in_ = nullptr;
  bool rax_in_only_ = false;
  const uint64_t* rax_out_ = nullptr;  // what this op leaves in rax for the next
  bool rax_out_only_ = false;
  std::unordered_map<const uint64_t*, unsigned> reads_;
  Label leave_[kBlockEnds];
  std::vector<std::function<void()>> cold_;  // out-of-line paths, emitted after the block
};

}  // namespace

BaselineResult compile_baseline(CodeArena& arena, const Block& block, const TcgCpu& cpu, const JitLayout& layout, const JitSlot& slot) {
  if (block.code.cpu != &cpu || block.code.kinds.size() != block.code.ops.size()) return {};
  BaselineCompiler compiler(block, cpu, layout, slot);
  if (!compiler.compile()) return {};
  std::vector<uint8_t>& bytes = compiler.bytes();
  auto code = std::make_shared<BaselineCode>();
  code->place = arena.allocate(bytes.size());
  if (!code->place.at) return {};
  std::memcpy(code->place.at, bytes.data(), bytes.size());
  code->bytes = bytes.size();
  return {reinterpret_cast<JitEntry>(code->place.at), std::move(code)};
}

}  // namespace janus::tcg
