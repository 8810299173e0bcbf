#include "tcg/tcg_vcpu.h"

#include "hw/clock.h"
#include "tcg/debug_events.h"
#include "tcg/event_delivery.h"

namespace janus::tcg {

TcgVcpu::TcgVcpu(unsigned index, VcpuContext context)
    : index_(index), cpu_(context), cache_(cpu_.mmu, cpu_.stop_block), translator_(cpu_) {
  cpu_.mmu.set_code_observer(&cache_);
  cpu_.s = reset_cpu_state();
  cpu_.set_rflags(cpu_.s.rflags);
}

CpuState TcgVcpu::get_state() {
  CpuState s = cpu_.s;
  s.rflags = cpu_.rflags();
  s.cr8 = cpu_.ctx.interrupts.cr8();
  s.tsc = cpu_.tsc();
  return s;
}

void TcgVcpu::set_state(const CpuState& state) {
  cpu_.s = state;
  cpu_.set_rflags(state.rflags);
  cpu_.set_tsc(state.tsc);
  debug_registers_changed(cpu_);
  cpu_.paging_changed(false);
  cache_.flush_jump_cache();
}

bool TcgVcpu::take_events() {
  CpuState& s = cpu_.s;
  if (s.events.interrupt_shadow) return false;
  InterruptSource& irq = cpu_.ctx.interrupts;
  if (!s.events.nmi_masked && irq.nmi_pending()) {
    irq.acknowledge_nmi();
    s.events.nmi_masked = true;
    s.halted = false;
    ++cpu_.stats.interrupts;
    deliver_event(cpu_, kNMI, EventKind::kExternal, s.rip);
    return true;
  }
  if ((s.rflags & rflags::IF) && irq.interrupt_pending()) {
    int vector = irq.acknowledge_interrupt();
    if (vector < 0) return false;
    s.halted = false;
    ++cpu_.stats.interrupts;
    deliver_event(cpu_, uint8_t(vector), EventKind::kExternal, s.rip);
    return true;
  }
  return false;
}

Block* TcgVcpu::block_for_pc(bool single) {
  const CpuState& s = cpu_.s;
  BlockMode mode = block_mode_of(s);
  BlockKey key;
  key.rip = s.rip;
  key.cs_base = mode.code == CodeSize::k64 ? 0 : s.seg[CS].base;
  key.mode = mode.key() | (single ? kSingleInstructionMode : 0);
  uint64_t linear = mode.code == CodeSize::k64 ? s.rip : (key.cs_base + s.rip) & 0xffffffffull;
  if (Block* b = cache_.find_fast(linear, key)) return b;
  if (mode.code != CodeSize::k64 && s.rip > s.seg[CS].limit) raise_fault(kGP, 0);
  key.phys_pc = cpu_.mmu.translate_code(linear, mode.cpl == 3);
  if (Block* b = cache_.find(key, linear)) return b;
  return cache_.insert(translator_.translate(key, linear, mode, single ? 1 : kMaxBlockInstructions));
}

VcpuExit TcgVcpu::run(uint64_t deadline_ns) {
  CpuState& s = cpu_.s;
  Block* prev = nullptr;
  BlockEnd prev_end = BlockEnd::kUnchained;
  unsigned blocks = 0;
  for (;;) {
    if (exit_request_.load(std::memory_order_relaxed) && exit_request_.exchange(false)) return {VcpuExit::Reason::kKicked, {}};
    if (cpu_.shutdown) {
      cpu_.shutdown = false;
      return {VcpuExit::Reason::kShutdown, "triple fault"};
    }
    if (++blocks % kClockCheckInterval == 0 && deadline_ns != kNever && cpu_.ctx.clock.now_ns() >= deadline_ns)
      return {VcpuExit::Reason::kKicked, {}};
    if (cache_.collect_garbage() || seen_tlb_epoch_ != cpu_.tlb_epoch) {
      seen_tlb_epoch_ = cpu_.tlb_epoch;
      cache_.flush_jump_cache();
      prev = nullptr;
    }
    if (take_events()) prev = nullptr;
    if (cpu_.shutdown) continue;
    if (s.halted) return {VcpuExit::Reason::kHalted, {}};

    // One instruction at a time while single-stepping or in an STI/MOV SS interrupt shadow.
    const bool shadow = s.events.interrupt_shadow != 0;
    const bool debug = debug_active(cpu_);  // #DB conditions are checked per instruction
    const bool single = single_step_ || shadow || debug;
    DebugStep step;
    if (debug && debug_before_instruction(cpu_, step)) {  // instruction breakpoint: #DB fault
      prev = nullptr;
      if (single_step_) return {VcpuExit::Reason::kSingleStep, {}};
      continue;
    }
    Block* block = nullptr;
    if (prev && !single && prev_end != BlockEnd::kUnchained) {
      block = prev->chain[static_cast<int>(prev_end)];
      if (block && block->key.rip != s.rip) block = nullptr;
    }
    if (!block) {
      try {
        block = block_for_pc(single);
      } catch (const GuestFault& f) {
        ++cpu_.stats.exceptions;
        deliver_fault(cpu_, f);
        prev = nullptr;
        if (single_step_) return {VcpuExit::Reason::kSingleStep, {}};
        continue;
      }
      if (prev && prev_end != BlockEnd::kUnchained && !single) cache_.chain(prev, static_cast<int>(prev_end), block);
    }
    cache_.set_running(block);
    BlockEnd end = interpreter_.execute(cpu_, *block);
    cache_.set_running(nullptr);
    ++cpu_.stats.blocks_executed;
    cpu_.stats.blocks_invalidated = cache_.invalidations();
    if (test_fault_at_ && cpu_.stats.instructions >= test_fault_at_) {
      s.gpr[RAX] ^= 1;
      test_fault_at_ = 0;
    }
    if (debug) debug_after_instruction(cpu_, step);
    if (shadow) s.events.interrupt_shadow = 0;
    prev = block->valid ? block : nullptr;
    prev_end = end;
    if (single_step_) return {VcpuExit::Reason::kSingleStep, {}};
  }
}

}  // namespace janus::tcg
