#include "tcg/jit_lowering.h"

#include <llvm/IR/InlineAsm.h>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <array>
#include <cstring>
#include <optional>

#include "cpu/cpu_state.h"
#include "tcg/block.h"
#include "tcg/block_cache.h"
#include "tcg/helpers.h"
#include "tcg/helpers_sse.h"
#include "tcg/helpers_x87.h"
#include "tcg/jit_emitter.h"
#include "tcg/jit_flags.h"
#include "tcg/jit_sse.h"
#include "tcg/interpreter.h"
#include "tcg/jit_runtime.h"
#include "tcg/lifter.h"
#include "tcg/lazy_flags.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

JitLayout JitLayout::of(const TcgCpu& cpu) {
  auto at = [&cpu](const void* p) { return size_t(static_cast<const char*>(p) - reinterpret_cast<const char*>(&cpu)); };
  JitLayout l;
  l.gpr = at(&cpu.s.gpr[0]);
  l.rip = at(&cpu.s.rip);
  l.seg_base_fs = at(&cpu.s.seg[FS].base);
  l.seg_base_gs = at(&cpu.s.seg[GS].base);
  l.xmm = at(&cpu.s.fx.xmm[0]);
  l.cr0 = at(&cpu.s.cr0);
  l.cr4 = at(&cpu.s.cr4);
  l.cc_op = at(&cpu.cc.op);
  l.cc_dst = at(&cpu.cc.dst);
  l.cc_src = at(&cpu.cc.src);
  l.cc_src2 = at(&cpu.cc.src2);
  l.stop_block = at(&cpu.stop_block);
  l.loop_check = at(&cpu.loop_check);
  l.mmio_count = at(cpu.mmu.mmio_counter());
  l.jit_insn = at(&cpu.jit_insn);
  l.chain_budget = at(&cpu.chain_budget);
  l.jit_last_block = at(&cpu.jit_last_block);
  l.fault_pending = at(&cpu.fault_pending);
  static const Block sample;
  auto in_block = [](const void* p) { return size_t(static_cast<const char*>(p) - reinterpret_cast<const char*>(&sample)); };
  l.block_chain = in_block(&sample.chain[0]);
  l.block_jit = in_block(&sample.jit);
  l.block_rip = in_block(&sample.key.rip);
  l.block_phys_pc = in_block(&sample.key.phys_pc);
  l.block_linear_pc = in_block(&sample.linear_pc);
  l.block_cs_base = in_block(&sample.key.cs_base);
  l.block_mode = in_block(&sample.key.mode);
  static const JitSlot slot;
  l.slot_entry = size_t(reinterpret_cast<const char*>(&slot.entry) - reinterpret_cast<const char*>(&slot));
  l.slot_optimised = size_t(reinterpret_cast<const char*>(&slot.optimised) - reinterpret_cast<const char*>(&slot));
  l.slot_runs = size_t(reinterpret_cast<const char*>(&slot.runs) - reinterpret_cast<const char*>(&slot));
  l.slot_countdown = size_t(reinterpret_cast<const char*>(&slot.countdown) - reinterpret_cast<const char*>(&slot));
  l.slot_asked = size_t(reinterpret_cast<const char*>(&slot.asked) - reinterpret_cast<const char*>(&slot));
  l.mmu = at(&cpu.mmu);
  l.tlb = cpu.mmu.tlb_layout();
  return l;
}

namespace {




class Lowering : JitEmitter {
 public:
  Lowering(llvm::Module& module, const LowerTarget& target, const JitLayout& layout)
      : JitEmitter(module, layout, target.mode), ir_(target.ir), block_(target.block), target_(target) {}

  llvm::Function* lower(const std::string& name) {
    auto* type = llvm::FunctionType::get(i32_, {ptr_}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
    fn_->addFnAttr(llvm::Attribute::NoUnwind);  // faults come back as fault_pending, not exceptions
    // No callee-saved registers: entering, chaining and leaving save and restore nothing (the
    // entry trampoline, tcg/jit_tier.cpp, saves the run loop's registers once).
    fn_->setCallingConv(llvm::CallingConv::PreserveNone);
    cpu_ = fn_->getArg(0);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
    // Allocas in the entry block (mem2reg promotes only those; elsewhere they are dynamic).
    slow_taken_ = b_.CreateAlloca(i1_);
    code_written_ = b_.CreateAlloca(i1_);
    if (target_.tier_up && layout_.tier_up) tier_up_prologue();
    // A block that calls no helper may jump straight on to its successor's compiled code,
    // unless it took a soft-MMU slow path (MMIO, code pages: the run loop must look).
    may_chain_ = true;
    for (const Op& op : ir_.ops) may_chain_ &= op.opc != Opc::kCall || helper_is_local(op.fn);
    b_.CreateStore(b_.getFalse(), slow_taken_);
    // Local helpers report to the run loop: through loop_check, and (memory) the MMIO count.
    for (const Op& op : ir_.ops) {
      if (op.opc != Opc::kCall) continue;
      asks_for_loop_ |= helper_may_ask_for_loop(op.fn);
      if (helper_may_touch_memory(op.fn) && !mmio_at_entry_) mmio_at_entry_ = load_cpu(i64_, layout_.mmio_count);
    }
    b_.CreateStore(b_.getFalse(), code_written_);

    const std::vector<Op>& ops = ir_.ops;
    temps_.assign(ir_.temp_count, nullptr);
    // Per instruction: bit 0 = RIP must be current for a fault or helper, bit 1 = may store or
    // call (code may have been overwritten: look at stop_block before the next one).
    std::vector<uint8_t> insn_flags;
    for (const Op& op : ops) {
      if (op.opc == Opc::kInsnStart) insn_flags.push_back(0);
      else if (!insn_flags.empty() && (op.opc == Opc::kLoad || op.opc == Opc::kStore || op.opc == Opc::kCall) && !inlined_helper(op))
        insn_flags.back() |= (op.opc == Opc::kCall || !fast64(op) ? 1 : 0) | (op.opc == Opc::kLoad ? 0 : 2);
    }
    total_ = uint32_t(insn_flags.size());

    int flags_from = -1;  // the SetFlags of this block whose operands the flags are, if known
    bool terminated = false;
    for (size_t p = 0; p < ops.size() && !terminated; ++p) {
      const Op& op = ops[p];
      switch (op.opc) {
        case Opc::kInsnStart: {
          const uint32_t i = insn_++;
          insn_rip_ = op.imm;
          if (i > 0 && (insn_flags[i - 1] & 2)) stop_check(op.imm, i);
          b_.CreateStore(b_.getFalse(), code_written_);
          if (insn_flags[i] & 1) mark_instruction(op.imm, i);
          break;
        }
        case Opc::kConst: def(op, b_.getInt64(op.imm)); break;
        case Opc::kGetReg:
          if (op.imm >= 16) def(op, b_.CreateAnd(b_.CreateLShr(reg_value(unsigned(op.imm - 16)), 8), 0xff));
          else def(op, mask(reg_value(unsigned(op.imm)), op.size));
          break;
        case Opc::kSetReg: set_reg(op); break;
        case Opc::kAdd: def(op, mask(b_.CreateAdd(t(op.a), t(op.b)), op.size)); break;
        case Opc::kSub: def(op, mask(b_.CreateSub(t(op.a), t(op.b)), op.size)); break;
        case Opc::kAnd: def(op, mask(b_.CreateAnd(t(op.a), t(op.b)), op.size)); break;
        case Opc::kOr: def(op, mask(b_.CreateOr(t(op.a), t(op.b)), op.size)); break;
        case Opc::kXor: def(op, mask(b_.CreateXor(t(op.a), t(op.b)), op.size)); break;
        case Opc::kMul: def(op, mask(b_.CreateMul(t(op.a), t(op.b)), op.size)); break;
        case Opc::kShl: def(op, mask(b_.CreateShl(t(op.a), count(op.b)), op.size)); break;
        case Opc::kShr: def(op, b_.CreateLShr(mask(t(op.a), op.size), count(op.b))); break;
        case Opc::kSar: def(op, mask(b_.CreateAShr(sext(t(op.a), op.size), count(op.b)), op.size)); break;
        case Opc::kNot: def(op, mask(b_.CreateNot(t(op.a)), op.size)); break;
        case Opc::kNeg: def(op, mask(b_.CreateNeg(t(op.a)), op.size)); break;
        case Opc::kZext: def(op, mask(t(op.a), op.size)); break;
        case Opc::kSext: def(op, sext(t(op.a), op.size)); break;
        case Opc::kCmp: def(op, b_.CreateZExt(compare(op), i64_)); break;
        case Opc::kSelect: def(op, b_.CreateSelect(nonzero(t(op.a)), t(op.b), t(op.c))); break;
        case Opc::kLoad:
          if (!fast64(op)) note_slow_path();
          def(op, fast64(op) ? load_fast(op) : call_load(op));
          break;
        case Opc::kStore:
          if (fast64(op)) {
            store_fast(op);
          } else {
            note_slow_path();
            note_may_write_code();
            call_store(op);
          }
          break;
        case Opc::kSetFlags:
          pending_flags_ = flags_of(op);  // stored when something may read them (flush_state)
          flags_from = int(p);
          break;
        case Opc::kSetFlagsIf: {
          if (pending_flags_) set_flags(*pending_flags_);  // the flags it may keep
          pending_flags_.reset();
          llvm::BasicBlock* set = new_block("flags.set");
          llvm::BasicBlock* next = new_block("flags.next");
          b_.CreateCondBr(nonzero(t(op.c)), set, next);
          b_.SetInsertPoint(set);
          set_flags(flags_of(op));
          b_.CreateBr(next);
          b_.SetInsertPoint(next);
          flags_from = -1;
          break;
        }
        case Opc::kCond: case Opc::kGetCF: {
          const unsigned cc = op.opc == Opc::kGetCF ? 2 : unsigned(op.imm);
          llvm::Value* v = flags_from >= 0 ? known_condition(b_, known(ops[flags_from]), cc) : nullptr;
          if (v) def(op, b_.CreateZExt(v, i64_));
          else if (!target_.tier_up && !pending_flags_) def(op, stored_condition(op, cc));
          else def(op, runtime_condition(op, cc));
          break;
        }
        case Opc::kCall: {
          if (op.fn == h_shift_flags && flags_from >= 0) {
            if (llvm::Value* f = rotate_flags(b_, op.imm2, t(op.a), t(op.b), known(ops[flags_from]))) {
              def(op, f);
              break;
            }
          }
          if (inlined_helper(op)) {
            if (op.fn == h_bitcount) {
              def(op, bit_count(op));
              break;
            }
            mul_wide(op);
            flags_from = -1;
            if (op.d != kNoTemp) temps_[op.d] = b_.getInt64(0);
            break;
          }
          if (op.fn == h_div && (hp_size(op.imm2) == 4 || hp_size(op.imm2) == 8)) {
            divide(op);
            if (op.d != kNoTemp) temps_[op.d] = b_.getInt64(0);
            break;
          }
          if (op.fn == h_sse && sse_inlinable(SseInsn::unpack(op.imm2), code64_)) {
            // The flags stay as they are; the helper path may store into code.
            def(op, lower_sse(*this, SseInsn::unpack(op.imm2), t(op.a), t(op.b), [&] {
                  note_may_write_code();
                  return call_helper(op);
                }));
            break;
          }
          flush_state(true);
          llvm::CallInst* call = call_helper(op);
          if (helper_is_pure(op.fn)) {
            make_pure(call);
          } else {
            flags_from = -1;        // it may have changed the flags
            forget_state();         // or registers
            note_may_write_code();  // or stored into code
          }
          if (op.d != kNoTemp) temps_[op.d] = call;
          break;
        }
        case Opc::kJmp:
          flush_state(true);
          retire(total_);
          jump_on(0, b_.getInt64(op.imm), op.imm);
          terminated = true;
          break;
        case Opc::kBranch: {
          flush_state(true);
          retire(total_);
          llvm::Value* taken = nonzero(t(op.a));
          llvm::BasicBlock* yes = new_block("taken");
          llvm::BasicBlock* no = new_block("not.taken");
          b_.CreateCondBr(taken, yes, no);
          b_.SetInsertPoint(yes);
          jump_on(0, b_.getInt64(op.imm), op.imm);
          b_.SetInsertPoint(no);
          jump_on(1, b_.getInt64(op.imm2), op.imm2);
          terminated = true;
          break;
        }
        case Opc::kJmpIndirect:
          flush_state(true);
          retire(total_);
          jump_on(2, t(op.a));
          terminated = true;
          break;
        case Opc::kExit:
          flush_state(true);
          retire(total_);
          leave(BlockEnd::kUnchained);
          terminated = true;
          break;
      }
    }
    if (!terminated) {  // the translator always ends a block with a terminator; guard anyway
      flush_state(true);
      retire(total_);
      leave(BlockEnd::kUnchained);
    }
    return fn_;
  }

 private:
  bool fast64(const Op& op) const {
    return code64_ && op.seg != 0xff && (op.size == 1 || op.size == 2 || op.size == 4 || op.size == 8);
  }
  size_t gpr(uint64_t r) const { return layout_.gpr + 8 * size_t(r); }

  void def(const Op& op, llvm::Value* v) {
    if (op.d != kNoTemp) temps_[op.d] = v;
  }
  llvm::Value* t(Temp x) {
    if (x == kNoTemp || !temps_[x]) return b_.getInt64(0);  // an unused operand
    return temps_[x];
  }
  llvm::Value* count(Temp x) { return b_.CreateAnd(t(x), 63); }
  llvm::Value* mask(llvm::Value* v, unsigned size) { return size >= 8 ? v : b_.CreateAnd(v, size_mask_bytes(size)); }
  llvm::Value* sext(llvm::Value* v, unsigned size) {
    if (size >= 8) return v;
    const unsigned sh = 64 - 8 * size;
    return b_.CreateAShr(b_.CreateShl(v, sh), sh);
  }
  llvm::Value* nonzero(llvm::Value* v) { return b_.CreateICmpNE(v, b_.getInt64(0)); }
  // Retired instructions are counted down from the chain budget (TcgVcpu::execute adds them up).
  void retire(uint32_t n) {
    if (n) store_cpu(b_.CreateSub(load_cpu(i32_, layout_.chain_budget), b_.getInt32(int32_t(n))), layout_.chain_budget);
  }
  // RIP and the instruction's index, for helpers and for a fault's restart point.
  void mark_instruction(uint64_t rip, uint32_t index) {
    store_cpu(b_.getInt64(rip), layout_.rip);
    store_cpu(b_.getInt32(index), layout_.jit_insn);
  }
  // The previous instruction may have overwritten translated code (maybe this block's own):
  // then stop here, with it retired, and let the run loop translate again.
  // Only a slow-path store or a helper can write code (the TLB has no fast write tag for code
  // pages), so stop_block is read only after one of those ran (code_written_).
  void stop_check(uint64_t rip, uint32_t index) {
    llvm::BasicBlock* look = new_block("smc.look");
    llvm::BasicBlock* stop = new_block("smc.stop");
    llvm::BasicBlock* go = new_block("smc.go");
    branch_unlikely(b_.CreateLoad(i1_, code_written_), look, go);
    b_.SetInsertPoint(look);
    branch_unlikely(b_.CreateICmpNE(load_cpu(i8_, layout_.stop_block), b_.getInt8(0)), stop, go);
    b_.SetInsertPoint(stop);
    flush_state(false);
    store_cpu(b_.getInt8(0), layout_.stop_block);
    store_cpu(b_.getInt64(rip), layout_.rip);
    retire(index);
    leave(BlockEnd::kUnchained);
    b_.SetInsertPoint(go);
  }

  // Quick code: count this run; on the tier_up_runs-th ask for optimised code; once the slot
  // holds it (JitSlot::optimised), make it the block's and go there.
  void tier_up_prologue() {
    llvm::Value* slot = address_of(const_cast<JitSlot*>(target_.slot));
    llvm::Value* runs_at = b_.CreateConstInBoundsGEP1_64(i8_, slot, layout_.slot_runs);
    llvm::Value* runs = b_.CreateAdd(b_.CreateLoad(i32_, runs_at), b_.getInt32(1));
    b_.CreateStore(runs, runs_at);
    llvm::BasicBlock* ask = new_block("tier.ask");
    llvm::BasicBlock* check = new_block("tier.check");
    llvm::BasicBlock* go = new_block("tier.switch");
    llvm::BasicBlock* body = new_block("body");
    branch_unlikely(b_.CreateICmpEQ(runs, b_.getInt32(layout_.tier_up_runs)), ask, check);
    b_.SetInsertPoint(ask);
    auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, ptr_}, false);
    b_.CreateCall(type, address_of(reinterpret_cast<void*>(layout_.tier_up)),
                  {address_of(layout_.tier_up_context), address_of(const_cast<void*>(block_))});
    b_.CreateBr(check);
    b_.SetInsertPoint(check);
    llvm::Value* optimised = b_.CreateLoad(i8_, b_.CreateConstInBoundsGEP1_64(i8_, slot, layout_.slot_optimised));
    branch_likely(b_.CreateICmpEQ(optimised, b_.getInt8(0)), body, go);
    b_.SetInsertPoint(go);
    llvm::Value* entry = b_.CreateLoad(ptr_, b_.CreateConstInBoundsGEP1_64(i8_, slot, layout_.slot_entry));
    b_.CreateStore(entry, b_.CreateConstInBoundsGEP1_64(i8_, address_of(const_cast<void*>(block_)), layout_.block_jit));
    tail_call(entry);
    b_.SetInsertPoint(body);
  }

  // Ends the block with a jump to `rip` (target_rip when it is a constant); `slot` is its chain
  // slot (0, 1) or 2 for an indirect jump. Goes on to the next block's compiled code when no slow path was taken, the
  // chain budget lasts and that code is found: through the block's chain link, else through the
  // run loop's jump cache (TcgVcpu::compiled_successor, which also links direct jumps for next
  // time). Otherwise back to the run loop with the BlockEnd.
  void jump_on(unsigned slot, llvm::Value* rip, std::optional<uint64_t> target_rip = std::nullopt) {
    static constexpr BlockEnd kEnds[] = {BlockEnd::kChain0, BlockEnd::kChain1, BlockEnd::kIndirect};
    const BlockEnd done = kEnds[slot];
    // RIP is stored only where the run loop or the jump cache reads it; compiled code going on
    // to the next block does not (its own faults and helpers store their RIP).
    if (!may_chain_ || !layout_.successor) {
      store_cpu(rip, layout_.rip);
      leave(done);
      return;
    }
    llvm::Value* self = address_of(const_cast<void*>(block_));
    llvm::Value* slow = b_.CreateLoad(i1_, slow_taken_);
    if (asks_for_loop_) slow = b_.CreateOr(slow, b_.CreateICmpNE(load_cpu(i8_, layout_.loop_check), b_.getInt8(0)));
    if (mmio_at_entry_) slow = b_.CreateOr(slow, b_.CreateICmpNE(load_cpu(i64_, layout_.mmio_count), mmio_at_entry_));
    llvm::BasicBlock* back = new_block("to.loop");
    llvm::BasicBlock* go = new_block("go.on");
    llvm::BasicBlock* lookup = new_block("lookup");
    llvm::Value* budget = load_cpu(i32_, layout_.chain_budget);  // what is left after this block
    branch_unlikely(b_.CreateOr(slow, b_.CreateICmpSLT(budget, b_.getInt32(0))), back, go);
    b_.SetInsertPoint(go);
    // The link (BlockCache::linked): the indirect target's RIP must match (either of two links),
    // and a block on another page must still be mapped where it was translated from.
    const bool same_page = target_rip && code64_ && ((*target_rip ^ target_.linear_pc) >> 12) == 0;
    for (unsigned link : slot == 2 ? std::vector<unsigned>{2, 3} : std::vector<unsigned>{slot}) {
      llvm::BasicBlock* miss = link == 2 ? new_block("other.link") : lookup;
      llvm::Value* next = b_.CreateLoad(ptr_, b_.CreateConstInBoundsGEP1_64(i8_, self, layout_.block_chain + 8 * link));
      llvm::BasicBlock* linked = new_block("linked");
      branch_unlikely(b_.CreateIsNull(next), miss, linked);
      b_.SetInsertPoint(linked);
      llvm::Value* ok = b_.getTrue();
      if (slot == 2) ok = b_.CreateICmpEQ(rip, load_at(i64_, next, layout_.block_rip));
      if (!same_page) ok = b_.CreateAnd(ok, still_mapped(next));
      llvm::Value* entry = load_at(ptr_, next, layout_.block_jit);
      llvm::BasicBlock* compiled = new_block("compiled");
      branch_likely(b_.CreateAnd(ok, b_.CreateIsNotNull(entry)), compiled, miss);
      b_.SetInsertPoint(compiled);
      emit_tail_call(entry);  // the hot way on: its own jump, which predicts one target
      b_.SetInsertPoint(miss);
    }
    if (slot == 2 && code64_ && layout_.jump_cache) jump_cache_probe(rip);

    // Else the run loop's jump cache, which also links the block for next time.
    store_cpu(rip, layout_.rip);
    llvm::BasicBlock* found = new_block("found");
    auto* type = llvm::FunctionType::get(ptr_, {ptr_, ptr_, i32_}, false);
    llvm::Value* found_entry = b_.CreateCall(type, address_of(reinterpret_cast<void*>(layout_.successor)),
                                             {address_of(layout_.successor_context), self, b_.getInt32(slot)});
    branch_unlikely(b_.CreateIsNull(found_entry), back, found);
    b_.SetInsertPoint(found);
    tail_call(found_entry);
    b_.SetInsertPoint(back);
    store_cpu(rip, layout_.rip);
    leave(done);
  }
  // 64-bit code, an indirect jump whose two links missed (a RET from a function called from many
  // places): the jump cache entry for RIP, checked as BlockCache::find_fast checks it, without
  // a call and without relinking. Goes on at a new insertion point on a miss.
  void jump_cache_probe(llvm::Value* rip) {
    llvm::Value* index = b_.CreateAnd(b_.CreateXor(rip, b_.CreateLShr(rip, 12)), BlockCache::kJumpCacheSize - 1);
    llvm::Value* table = address_of(const_cast<void*>(layout_.jump_cache));
    llvm::Value* next = b_.CreateLoad(ptr_, b_.CreateInBoundsGEP(ptr_, table, index));
    llvm::BasicBlock* check = new_block("cached");
    llvm::BasicBlock* miss = new_block("not.cached");
    branch_unlikely(b_.CreateIsNull(next), miss, check);
    b_.SetInsertPoint(check);
    llvm::Value* ok = b_.CreateAnd(b_.CreateICmpEQ(rip, load_at(i64_, next, layout_.block_rip)),
                                   b_.CreateICmpEQ(rip, load_at(i64_, next, layout_.block_linear_pc)));  // 64-bit: linear = RIP
    ok = b_.CreateAnd(ok, b_.CreateICmpEQ(load_at(i32_, next, layout_.block_mode), b_.getInt32(target_.mode)));
    ok = b_.CreateAnd(ok, b_.CreateICmpEQ(load_at(i64_, next, layout_.block_cs_base), b_.getInt64(0)));
    ok = b_.CreateAnd(ok, still_mapped(next));
    llvm::Value* entry = load_at(ptr_, next, layout_.block_jit);
    llvm::BasicBlock* compiled = new_block("cached.compiled");
    branch_likely(b_.CreateAnd(ok, b_.CreateIsNotNull(entry)), compiled, miss);
    b_.SetInsertPoint(compiled);
    emit_tail_call(entry);
    b_.SetInsertPoint(miss);
  }
  // Back to the run loop, which learns here which block ended the chain (after a fault,
  // JitTier::execute names the block it entered).
  void leave(BlockEnd end) {
    store_cpu(address_of(const_cast<void*>(block_)), layout_.jit_last_block);
    return_with(end);
  }
  // All returns go through one block (LLVM's fast instruction selector cannot lower a return in
  // this calling convention: the block that does is left to the slow one, so it is kept small).
  // Quick code has none: it jumps to a function that returns `end` (JitLayout::leave), through
  // its one tail call.
  void return_with(BlockEnd end) {
    if (target_.tier_up && layout_.leave[int(end)]) return tail_call(address_of(reinterpret_cast<void*>(layout_.leave[int(end)])));
    if (!return_) {
      llvm::BasicBlock* here = b_.GetInsertBlock();
      return_ = new_block("return");
      b_.SetInsertPoint(return_);
      return_end_ = b_.CreatePHI(i32_, 4);
      b_.CreateRet(return_end_);
      b_.SetInsertPoint(here);
    }
    return_end_->addIncoming(b_.getInt32(int(end)), b_.GetInsertBlock());
    b_.CreateBr(return_);
  }
  // SoftMmu::code_maps_to for a linked block: its page is mapped, executable, to its physical page.
  llvm::Value* still_mapped(llvm::Value* next) {
    llvm::Value* linear = load_at(i64_, next, layout_.block_linear_pc);
    llvm::Value* index = b_.CreateAnd(b_.CreateLShr(linear, 12), SoftMmu::kTlbSize - 1);
    const size_t table = layout_.mmu + layout_.tlb.table[user_ ? 1 : 0];
    llvm::Value* entry = b_.CreateInBoundsGEP(i8_, field(table), b_.CreateMul(index, b_.getInt64(layout_.tlb.entry_bytes)));
    llvm::Value* ok = b_.CreateICmpEQ(load_at(i64_, entry, layout_.tlb.tag_checked), b_.CreateAnd(linear, ~0xfffull));
    ok = b_.CreateAnd(ok, b_.CreateICmpNE(load_at(i8_, entry, layout_.tlb.exec_checked), b_.getInt8(0)));
    llvm::Value* phys_page = b_.CreateAnd(load_at(i64_, next, layout_.block_phys_pc), ~0xfffull);
    return b_.CreateAnd(ok, b_.CreateICmpEQ(load_at(i64_, entry, layout_.tlb.phys_page), phys_page));
  }
  // Goes on to compiled code at `entry` on a rarely taken way. In quick code all of these share
  // one tail call: the fast instruction selector cannot lower one, and each basic block holding
  // one costs a run of the slow selector (most of quick code's instruction selection time). The
  // way through a chain link keeps its own (emit_tail_call): a shared jump has several targets,
  // which the branch predictor misses (measured: 8% slower sha256sum in the guest).
  void tail_call(llvm::Value* entry) {
    if (!target_.tier_up) return emit_tail_call(entry);
    if (!shared_tail_call_) {
      llvm::BasicBlock* here = b_.GetInsertBlock();
      shared_tail_call_ = new_block("tail.call");
      b_.SetInsertPoint(shared_tail_call_);
      shared_tail_entry_ = b_.CreatePHI(ptr_, 4);
      emit_tail_call(shared_tail_entry_);
      b_.SetInsertPoint(here);
    }
    shared_tail_entry_->addIncoming(entry, b_.GetInsertBlock());
    b_.CreateBr(shared_tail_call_);
  }
  void emit_tail_call(llvm::Value* entry) {
    llvm::CallInst* call = b_.CreateCall(fn_->getFunctionType(), entry, {cpu_});
    call->setCallingConv(llvm::CallingConv::PreserveNone);
    call->setTailCallKind(llvm::CallInst::TCK_MustTail);
    b_.CreateRet(call);
  }
  void note_slow_path() { b_.CreateStore(b_.getTrue(), slow_taken_); }
  void note_may_write_code() { b_.CreateStore(b_.getTrue(), code_written_); }

  void set_reg(const Op& op) {
    llvm::Value* v = t(op.a);
    if (op.imm >= 16) {
      const unsigned r = unsigned(op.imm - 16);
      llvm::Value* old = b_.CreateAnd(reg_value(r), ~0xff00ull);
      return write_reg(r, b_.CreateOr(old, b_.CreateShl(b_.CreateAnd(v, 0xff), 8)));
    }
    const unsigned r = unsigned(op.imm);
    if (op.size >= 8) return write_reg(r, v);
    if (op.size == 4) return write_reg(r, b_.CreateAnd(v, 0xffffffffull));
    const uint64_t m = size_mask_bytes(op.size);
    write_reg(r, b_.CreateOr(b_.CreateAnd(reg_value(r), ~m), b_.CreateAnd(v, m)));
  }

  // Guest registers and flags live in SSA values within the block; memory (CpuState, the lazy
  // flag fields) is brought up to date only where something may look: before a helper or a
  // slow-path call (which may fault: the fault is delivered from memory), and on the way out.
  // The fast paths then store nothing in between. flush_state(false) on a side path (a slow
  // path) leaves the values dirty: the main path has not stored them.
  llvm::Value* reg_value(unsigned r) {
    if (!regs_[r]) regs_[r] = load_cpu(i64_, gpr(r));
    return regs_[r];
  }
  void write_reg(unsigned r, llvm::Value* v) {
    regs_[r] = v;
    dirty_regs_ |= uint16_t(1u << r);
  }
  void flush_state(bool settled) {
    for (unsigned r = 0; r < 16; ++r)
      if (dirty_regs_ & (1u << r)) store_cpu(regs_[r], gpr(r));
    if (pending_flags_) set_flags(*pending_flags_);
    if (settled) {
      dirty_regs_ = 0;
      pending_flags_.reset();
    }
  }
  // After a helper that may have changed registers or flags in memory.
  void forget_state() {
    regs_.fill(nullptr);
    dirty_regs_ = 0;
    pending_flags_.reset();
  }

  llvm::Value* compare(const Op& op) {
    llvm::Value* a = t(op.a);
    llvm::Value* b = t(op.b);
    const uint64_t m = size_mask_bytes(op.size);
    const unsigned sh = 64 - 8 * std::min<unsigned>(op.size, 8);
    switch (CmpKind(op.imm)) {
      case CmpKind::kEq: return b_.CreateICmpEQ(mask(b_.CreateXor(a, b), op.size), b_.getInt64(0));
      case CmpKind::kNe: return b_.CreateICmpNE(mask(b_.CreateXor(a, b), op.size), b_.getInt64(0));
      case CmpKind::kLtu: return b_.CreateICmpULT(b_.CreateAnd(a, m), b_.CreateAnd(b, m));
      case CmpKind::kLeu: return b_.CreateICmpULE(b_.CreateAnd(a, m), b_.CreateAnd(b, m));
      case CmpKind::kLts: return b_.CreateICmpSLT(b_.CreateShl(a, sh), b_.CreateShl(b, sh));
      default: return b_.CreateICmpSLE(b_.CreateShl(a, sh), b_.CreateShl(b, sh));
    }
  }

  // The lazy flag fields (LazyFlags) as values: cc_op, dst, src and src2 (null: not stored).
  struct FlagValues {
    uint32_t op;
    llvm::Value *dst, *src, *src2;
  };
  KnownFlags known(const Op& set_flags) { return {uint32_t(set_flags.imm), t(set_flags.a), t(set_flags.b)}; }
  FlagValues flags_of(const Op& op) { return {uint32_t(op.imm), t(op.a), t(op.b), op.c != kNoTemp ? t(op.c) : nullptr}; }
  void set_flags(const FlagValues& f) {
    store_cpu(b_.getInt32(f.op), layout_.cc_op);
    store_cpu(f.dst, layout_.cc_dst);
    store_cpu(f.src, layout_.cc_src);
    if (f.src2 && cc_reads_src2(CcKind(f.op >> 2))) store_cpu(f.src2, layout_.cc_src2);
  }

  // A condition of flags the run loop's LazyFlags computes (call, after storing pending flags).
  llvm::Value* runtime_condition(const Op& op, unsigned cc) {
    if (op.opc == Opc::kGetCF) return call_pure(reinterpret_cast<void*>(&rt_carry), {cpu_});
    return call_pure(reinterpret_cast<void*>(&rt_condition), {cpu_, b_.getInt64(cc)});
  }
  // Optimised code, flags set by an earlier block (in LazyFlags): inline for the kinds that set
  // them most (SUB/CMP, AND/TEST/logic, ADD at every size), else the call.
  llvm::Value* stored_condition(const Op& op, unsigned cc) {
    llvm::Value* kind = load_cpu(i32_, layout_.cc_op);
    KnownFlags flags{0, load_cpu(i64_, layout_.cc_dst), load_cpu(i64_, layout_.cc_src)};
    llvm::BasicBlock* other = new_block("cond.other");
    llvm::BasicBlock* join = new_block("cond.done");
    llvm::SwitchInst* sw = b_.CreateSwitch(kind, other);
    std::vector<std::pair<llvm::Value*, llvm::BasicBlock*>> results;
    for (CcKind k : {kCcSub, kCcLogic, kCcAdd})
      for (unsigned size : {1u, 2u, 4u, 8u}) {
        llvm::BasicBlock* here = new_block("cond.kind");
        b_.SetInsertPoint(here);
        flags.cc_op = cc_op(k, size);
        llvm::Value* v = known_condition(b_, flags, cc);
        if (!v) {
          here->eraseFromParent();
          continue;
        }
        sw->addCase(b_.getInt32(flags.cc_op), here);
        results.emplace_back(b_.CreateZExt(v, i64_), b_.GetInsertBlock());
        b_.CreateBr(join);
      }
    b_.SetInsertPoint(other);
    results.emplace_back(runtime_condition(op, cc), b_.GetInsertBlock());
    b_.CreateBr(join);
    b_.SetInsertPoint(join);
    llvm::PHINode* phi = b_.CreatePHI(i64_, unsigned(results.size()));
    for (auto& [v, from] : results) phi->addIncoming(v, from);
    return phi;
  }

  // Helpers whose work is inline code (no call, nothing that can fault).
  static bool inlined_helper(const Op& op) {
    if (op.opc != Opc::kCall) return false;
    if (op.fn == h_mul_wide) return hp_size(op.imm2) == 4 || hp_size(op.imm2) == 8;
    return op.fn == h_bitcount;
  }
  // DIV/IDIV r/m32 and r/m64 (h_div): inline when the quotient fits (so no #DE), else the helper,
  // which raises it. The flags are undefined and left as they are, as the helper does.
  void divide(const Op& call) {
    const bool is_signed = hp_op(call.imm2) != 0;
    const unsigned size = hp_size(call.imm2);
    llvm::Value* rax = reg_value(RAX);
    llvm::Value* rdx = reg_value(RDX);
    llvm::Value* q = nullptr;
    llvm::Value* r = nullptr;
    llvm::Value* fits = nullptr;
    llvm::BasicBlock* fast = new_block("div.fast");
    llvm::BasicBlock* slow = new_block("div.helper");
    llvm::BasicBlock* join = new_block("div.done");
    auto i64 = [&](uint64_t v) { return b_.getInt64(v); };
    if (size == 8 && !is_signed) {  // RDX:RAX / d: the host's 128/64 DIV, once RDX < d
      llvm::Value* d = t(call.a);
      branch_likely(b_.CreateICmpULT(rdx, d), fast, slow);
      b_.SetInsertPoint(fast);
      auto* type = llvm::FunctionType::get(llvm::StructType::get(ctx_, {i64_, i64_}), {i64_, i64_, i64_}, false);
      llvm::InlineAsm* div = llvm::InlineAsm::get(type, "divq $4", "={rax},={rdx},{rax},{rdx},r,~{dirflag},~{fpsr},~{flags}", false);
      llvm::Value* qr = b_.CreateCall(div, {rax, rdx, d});
      q = b_.CreateExtractValue(qr, 0);
      r = b_.CreateExtractValue(qr, 1);
    } else if (size == 8) {  // only a dividend that RAX holds alone (RDX its sign)
      llvm::Value* d = t(call.a);
      fits = b_.CreateICmpEQ(rdx, b_.CreateAShr(rax, 63));
      fits = b_.CreateAnd(fits, b_.CreateICmpNE(d, i64(0)));
      fits = b_.CreateAnd(fits, b_.CreateNot(b_.CreateAnd(b_.CreateICmpEQ(rax, i64(1ull << 63)), b_.CreateICmpEQ(d, i64(~0ull)))));
      branch_likely(fits, fast, slow);
      b_.SetInsertPoint(fast);
      q = b_.CreateSDiv(rax, d);
      r = b_.CreateSRem(rax, d);
    } else {  // EDX:EAX / d32 in 64 bits; the quotient must fit 32
      llvm::Value* dividend = b_.CreateOr(b_.CreateShl(b_.CreateAnd(rdx, 0xffffffffull), 32), b_.CreateAnd(rax, 0xffffffffull));
      llvm::Value* d32 = b_.CreateTrunc(t(call.a), i32_);
      if (!is_signed) {
        llvm::Value* d = b_.CreateZExt(d32, i64_);
        branch_likely(b_.CreateICmpULT(b_.CreateAnd(rdx, 0xffffffffull), d), fast, slow);
        b_.SetInsertPoint(fast);
        q = b_.CreateUDiv(dividend, d);
        r = b_.CreateURem(dividend, d);
      } else {
        llvm::Value* d = b_.CreateSExt(d32, i64_);
        fits = b_.CreateAnd(b_.CreateICmpNE(d, i64(0)),
                            b_.CreateNot(b_.CreateAnd(b_.CreateICmpEQ(dividend, i64(1ull << 63)), b_.CreateICmpEQ(d, i64(~0ull)))));
        llvm::BasicBlock* check = new_block("div.check");
        branch_likely(fits, check, slow);
        b_.SetInsertPoint(check);
        llvm::Value* q64 = b_.CreateSDiv(dividend, d);
        llvm::Value* q32 = b_.CreateSExt(b_.CreateTrunc(q64, i32_), i64_);
        branch_likely(b_.CreateICmpEQ(q32, q64), fast, slow);
        b_.SetInsertPoint(fast);
        q = b_.CreateAnd(q64, 0xffffffffull);
        r = b_.CreateAnd(b_.CreateSRem(dividend, d), 0xffffffffull);
      }
    }
    llvm::BasicBlock* fast_end = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(slow);
    call_helper(call);  // stores the registers first; may fault (#DE)
    llvm::Value* slow_rax = load_cpu(i64_, gpr(RAX));
    llvm::Value* slow_rdx = load_cpu(i64_, gpr(RDX));
    llvm::BasicBlock* slow_end = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(join);
    llvm::PHINode* new_rax = b_.CreatePHI(i64_, 2);
    new_rax->addIncoming(q, fast_end);
    new_rax->addIncoming(slow_rax, slow_end);
    llvm::PHINode* new_rdx = b_.CreatePHI(i64_, 2);
    new_rdx->addIncoming(r, fast_end);
    new_rdx->addIncoming(slow_rdx, slow_end);
    write_reg(RAX, new_rax);
    write_reg(RDX, new_rdx);
  }

  // POPCNT, LZCNT, TZCNT: the result (h_bitcount; the flags stay with h_bitcount_flags).
  llvm::Value* bit_count(const Op& call) {
    llvm::Type* type = b_.getIntNTy(8 * hp_size(call.imm2));
    llvm::Value* v = b_.CreateTrunc(t(call.a), type);
    llvm::Value* r = hp_op(call.imm2) == kPopcnt ? b_.CreateUnaryIntrinsic(llvm::Intrinsic::ctpop, v)
                     : b_.CreateBinaryIntrinsic(hp_op(call.imm2) == kLzcnt ? llvm::Intrinsic::ctlz : llvm::Intrinsic::cttz, v,
                                                b_.getFalse());  // zero in: the width
    return b_.CreateZExt(r, i64_);
  }
  // MUL/IMUL r/m32 and r/m64 (h_mul_wide): EDX:EAX / RDX:RAX = EAX / RAX times the source, one
  // host multiply; the flags as the helper leaves them (kCcMul: dst = low half, src = whether
  // the high half is significant).
  void mul_wide(const Op& call) {
    const bool is_signed = hp_op(call.imm2) != 0;
    const unsigned size = hp_size(call.imm2), bits = 8 * size;
    llvm::Type* narrow = b_.getIntNTy(bits);
    llvm::Type* wide = b_.getIntNTy(2 * bits);
    auto extend = [&](llvm::Value* v) {
      llvm::Value* n = b_.CreateTrunc(v, narrow);
      return is_signed ? b_.CreateSExt(n, wide) : b_.CreateZExt(n, wide);
    };
    llvm::Value* product = b_.CreateMul(extend(reg_value(RAX)), extend(t(call.a)));
    llvm::Value* lo = b_.CreateTrunc(product, narrow);
    llvm::Value* hi = b_.CreateTrunc(b_.CreateLShr(product, bits), narrow);
    llvm::Value* significant = is_signed ? b_.CreateICmpNE(product, b_.CreateSExt(lo, wide))
                                         : b_.CreateICmpNE(hi, llvm::ConstantInt::get(narrow, 0));
    llvm::Value* lo64 = b_.CreateZExt(lo, i64_);  // 32-bit results clear the upper halves
    write_reg(RAX, lo64);
    write_reg(RDX, b_.CreateZExt(hi, i64_));
    pending_flags_ = FlagValues{cc_op(kCcMul, size), lo64, b_.CreateZExt(significant, i64_), nullptr};
  }

  void make_pure(llvm::CallInst* call) {
    call->setMemoryEffects(llvm::MemoryEffects::readOnly());
    call->setDoesNotThrow();
    call->addFnAttr(llvm::Attribute::WillReturn);
  }
  llvm::Value* call_pure(void* fn, std::vector<llvm::Value*> args) {
    flush_state(false);  // pure helpers read the flags (and registers) from memory
    std::vector<llvm::Type*> types;
    for (llvm::Value* a : args) types.push_back(a->getType());
    llvm::CallInst* call = b_.CreateCall(llvm::FunctionType::get(i64_, types, false), address_of(fn), args);
    make_pure(call);
    return call;
  }

  // A helper call; one that may fault goes through rt_helper and returns from the block on a fault.
  llvm::CallInst* call_helper(const Op& op) {
    flush_state(false);
    llvm::Value* args[] = {cpu_, b_.getInt64(op.imm2), t(op.a), t(op.b), t(op.c)};
    if (helper_is_pure(op.fn)) {
      auto* type = llvm::FunctionType::get(i64_, {ptr_, i64_, i64_, i64_, i64_}, false);
      return b_.CreateCall(type, address_of(reinterpret_cast<void*>(op.fn)), args);
    }
    auto* type = llvm::FunctionType::get(i64_, {ptr_, ptr_, i64_, i64_, i64_, i64_}, false);
    llvm::CallInst* call = b_.CreateCall(type, address_of(reinterpret_cast<void*>(&rt_helper)),
                                         {cpu_, address_of(reinterpret_cast<void*>(op.fn)), args[1], args[2], args[3], args[4]});
    check_fault();
    return call;
  }
  // After a call that may have left a fault: back to JitTier::execute, which delivers it.
  void check_fault() {
    if (!fault_exit_) {
      llvm::BasicBlock* here = b_.GetInsertBlock();
      fault_exit_ = new_block("fault");
      b_.SetInsertPoint(fault_exit_);
      return_with(BlockEnd::kUnchained);
      b_.SetInsertPoint(here);
    }
    llvm::BasicBlock* go = new_block("no.fault");
    branch_unlikely(b_.CreateICmpNE(load_cpu(i8_, layout_.fault_pending), b_.getInt8(0)), fault_exit_, go);
    b_.SetInsertPoint(go);
  }
  llvm::Value* call_load(const Op& op) {
    flush_state(false);  // it may fault
    auto* type = llvm::FunctionType::get(i64_, {ptr_, i64_, i64_, i64_}, false);
    llvm::Value* v = b_.CreateCall(type, address_of(reinterpret_cast<void*>(&rt_load)),
                                   {cpu_, b_.getInt64(op.seg), t(op.a), b_.getInt64(op.size)});
    check_fault();
    return v;
  }
  void call_store(const Op& op) {
    flush_state(false);
    auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, i64_, i64_, i64_, i64_}, false);
    b_.CreateCall(type, address_of(reinterpret_cast<void*>(&rt_store)),
                  {cpu_, b_.getInt64(op.seg), t(op.a), b_.getInt64(op.size), t(op.b)});
    check_fault();
  }

  // 64-bit code: linear = offset (+ FS/GS base); a TLB hit goes straight to host memory, anything
  // else (miss, MMIO, code page, data breakpoints) takes the soft MMU's checked path.
  struct Access {
    llvm::Value* offset;
    llvm::Value* host;  // host address, valid on the fast path
    llvm::BasicBlock* fast;
    llvm::BasicBlock* slow;
    llvm::BasicBlock* join;
  };
  Access tlb_lookup(const Op& op, bool write) {
    TlbProbe probe = probe_tlb(t(op.a), op.seg, op.size, write);
    Access x;
    x.offset = t(op.a);
    x.host = probe.host;
    x.fast = new_block(write ? "store.fast" : "load.fast");
    x.slow = new_block(write ? "store.slow" : "load.slow");
    x.join = new_block(write ? "store.done" : "load.done");
    branch_likely(probe.hit, x.fast, x.slow);
    b_.SetInsertPoint(x.fast);
    return x;
  }
  llvm::Value* load_fast(const Op& op) {
    Access x = tlb_lookup(op, false);
    llvm::Value* fast_value = b_.CreateZExt(load_guest(b_.getIntNTy(8 * op.size), x.host), i64_);
    llvm::BasicBlock* fast_end = b_.GetInsertBlock();
    b_.CreateBr(x.join);
    b_.SetInsertPoint(x.slow);
    mark_instruction(insn_rip_, insn_ - 1);
    note_slow_path();
    llvm::Value* slow_value = call_load(op);
    llvm::BasicBlock* slow_end = b_.GetInsertBlock();
    b_.CreateBr(x.join);
    b_.SetInsertPoint(x.join);
    llvm::PHINode* v = b_.CreatePHI(i64_, 2);
    v->addIncoming(fast_value, fast_end);
    v->addIncoming(slow_value, slow_end);
    return v;
  }
  void store_fast(const Op& op) {
    Access x = tlb_lookup(op, true);
    store_guest(b_.CreateTrunc(t(op.b), b_.getIntNTy(8 * op.size)), x.host);
    b_.CreateBr(x.join);
    b_.SetInsertPoint(x.slow);
    mark_instruction(insn_rip_, insn_ - 1);
    note_slow_path();
    note_may_write_code();
    call_store(op);
    b_.CreateBr(x.join);
    b_.SetInsertPoint(x.join);
  }

  const IrBlock& ir_;
  const void* block_;
  const LowerTarget& target_;
  std::vector<llvm::Value*> temps_;
  llvm::BasicBlock* fault_exit_ = nullptr;  // returns after a fault (check_fault)
  llvm::BasicBlock* return_ = nullptr;      // the one return (return_with)
  llvm::PHINode* return_end_ = nullptr;
  llvm::BasicBlock* shared_tail_call_ = nullptr;  // quick code's shared tail call (tail_call)
  llvm::PHINode* shared_tail_entry_ = nullptr;
  std::array<llvm::Value*, 16> regs_{};  // guest registers as values (null: read from memory)
  uint16_t dirty_regs_ = 0;              // of them, not stored yet
  std::optional<FlagValues> pending_flags_;  // flags not stored yet
  bool may_chain_ = false;
  bool asks_for_loop_ = false;              // calls a helper that may set loop_check
  llvm::Value* mmio_at_entry_ = nullptr;    // MMIO count at entry, if a helper may access memory
  llvm::Value* slow_taken_ = nullptr;    // i1 alloca: a slow path ran (no chaining)
  llvm::Value* code_written_ = nullptr;  // i1 alloca: this instruction may have written code
  uint32_t insn_ = 0, total_ = 0;
  uint64_t insn_rip_ = 0;
};

}  // namespace

void lower_block(llvm::Module& module, const LowerTarget& target, const JitLayout& layout, const std::string& name) {
  Lowering(module, target, layout).lower(name);
}

}  // namespace janus::tcg
