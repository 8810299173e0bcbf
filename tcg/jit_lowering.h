// The LLVM tier's lowering: one Janus IR block (tcg/ir.h) -> one LLVM function
//   i32 f(ptr cpu)   returning a BlockEnd, with the interpreter's observable behaviour
// (tcg/interpreter.cpp): guest registers, lazy flags, RIP and the retired-instruction count in
// TcgCpu are updated the same way; memory goes through the soft MMU's TLB inline and its slow
// path otherwise; guest faults propagate as GuestFault after RIP and TcgCpu::jit_insn name the
// faulting instruction. Only tcg/jit_tier.cpp includes this (it needs LLVM's headers).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "tcg/block.h"
#include "tcg/interpreter.h"
#include "tcg/ir.h"
#include "tcg/soft_mmu.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace janus::tcg {

// Byte offsets of what compiled code touches, from the TcgCpu it is passed.
struct JitLayout {
  size_t gpr, rip, seg_base_fs, seg_base_gs;
  size_t xmm, cr0, cr4;  // XMM0 and the SSE enable bits (tcg/jit_sse.cpp)
  size_t cc_op, cc_dst, cc_src, cc_src2;
  size_t stop_block, loop_check, jit_insn, chain_budget, jit_last_block, fault_pending;
  size_t mmio_count;  // SoftMmu's count of device accesses
  size_t block_chain, block_jit;  // within a Block: chain[0] and jit
  size_t block_rip, block_phys_pc, block_linear_pc;  // within a Block: what a link is checked by
  size_t block_cs_base, block_mode;                  //   and a jump cache entry too
  // The vCPU's jump cache (BlockCache::jump_cache), which compiled code (baseline and LLVM)
  // probes itself for the target of an indirect jump its links miss; null: it calls successor.
  const void* jump_cache = nullptr;
  size_t mmu;  // the SoftMmu; its TLB is at mmu + tlb.table[user]
  SoftMmu::TlbLayout tlb;
  // The compiled code of the block a jump from `from` reaches (the run loop's jump cache), or
  // null: compiled code jumps straight there. slot: the jump's chain slot (0, 1), 2 = indirect.
  JitEntry (*successor)(void* context, const void* from, uint32_t slot) = nullptr;
  void* successor_context = nullptr;
  // Quick code calls tier_up(context, block) on its tier_up_runs-th run (the JitSlot counts).
  void (*tier_up)(void* context, const void* block) = nullptr;
  void* tier_up_context = nullptr;
  uint32_t tier_up_runs = 0;
  size_t slot_entry = 0, slot_optimised = 0, slot_runs = 0, slot_countdown = 0, slot_asked = 0;  // within a JitSlot
  // Compiled functions that return BlockEnd N from compiled code (quick code tail-calls them).
  JitEntry leave[kBlockEnds] = {};
  static JitLayout of(const TcgCpu& cpu);
};

// What one function is compiled for: the block (whose IR and BlockKey::mode these are) and its
// slot. The code may jump to the compiled code of the blocks `block` is chained to, so it must
// only run as that block's. Quick code (tier_up set) counts its runs, asks for the optimised
// version and switches to it once the slot has it.
struct LowerTarget {
  const IrBlock& ir;
  uint32_t mode;
  uint64_t linear_pc;
  const void* block;
  const JitSlot* slot;
  bool tier_up;
};
void lower_block(llvm::Module& module, const LowerTarget& target, const JitLayout& layout, const std::string& name);

}  // namespace janus::tcg
