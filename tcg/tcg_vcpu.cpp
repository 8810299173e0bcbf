#include "tcg/tcg_vcpu.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "hw/clock.h"
#include "tcg/debug_events.h"
#include "tcg/event_delivery.h"

namespace janus::tcg {

TcgVcpu::TcgVcpu(unsigned index, VcpuContext context)
    : index_(index), cpu_(context), jit_(JitTier::create(cpu_, &TcgVcpu::compiled_successor, this)), cache_(cpu_.mmu, cpu_.stop_block), translator_(cpu_) {
  cpu_.mmu.set_code_observer(&cache_);
  if (jit_) jit_->set_jump_cache(cache_.jump_cache());
  cpu_.s = reset_cpu_state();
  cpu_.set_rflags(cpu_.s.rflags);
  if (const char* p = std::getenv("JANUS_TCG_PROFILE"); p && std::atoi(p) > 0) {
    profile_top_ = unsigned(std::atoi(p));
    profile_ = std::make_unique<std::unordered_map<uint64_t, ProfileEntry>>();
  }
}

TcgVcpu::~TcgVcpu() {
  if (!profile_) return;
  std::vector<std::pair<uint64_t, ProfileEntry>> v(profile_->begin(), profile_->end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second.instructions > b.second.instructions; });
  uint64_t total = 0;
  for (auto& e : v) total += e.second.instructions;
  std::fprintf(stderr, "janus: tcg profile: %" PRIu64 " instructions; top blocks by instructions (linear pc, %%, instructions, runs):\n", total);
  for (size_t i = 0; i < v.size() && i < profile_top_; ++i)
    std::fprintf(stderr, "  %016" PRIx64 " %5.2f%% %12" PRIu64 " %10" PRIu64 "\n", v[i].first,
                 total ? 100.0 * double(v[i].second.instructions) / double(total) : 0.0, v[i].second.instructions, v[i].second.runs);
  // JANUS_TCG_PROFILE_IR=n: the IR of the n hottest blocks still in the cache, and op counts.
  const char* ir = std::getenv("JANUS_TCG_PROFILE_IR");
  for (size_t i = 0; ir && i < v.size() && i < size_t(std::atoi(ir)); ++i)
    cache_.for_each([&](const Block& b) {
      if (b.linear_pc != v[i].first) return;
      std::fprintf(stderr, "janus: tcg profile: block %016" PRIx64 ": %u instructions, %zu IR ops, %zu threaded ops\n%s",
                   b.linear_pc, b.ir.insn_count, b.ir.ops.size(), b.code.ops.size(), b.ir.to_string().c_str());
    });
}

const TcgStats& TcgVcpu::stats() const {
  timespec t{};
  if (have_thread_clock_ && clock_gettime(thread_clock_, &t) == 0)
    const_cast<TcgStats&>(cpu_.stats).vcpu_thread_ns = uint64_t(t.tv_sec) * 1'000'000'000ull + uint64_t(t.tv_nsec);
  if (jit_) {  // the compile thread keeps these; copied here (the stats are only read, rarely)
    TcgStats& st = const_cast<TcgStats&>(cpu_.stats);
    st.blocks_compiled = jit_->stats().compiled;
    st.blocks_baseline = jit_->stats().baseline;
    st.blocks_optimised = jit_->stats().optimised;
    st.jit_compile_ns = jit_->stats().compile_ns;
    st.jit_optimise_ns = jit_->stats().optimise_ns;
    st.jit_codegen_ns = jit_->stats().codegen_ns;
  }
  return cpu_.stats;
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

Block* TcgVcpu::block_for_pc(bool single, const Block* same_mode) {
  const CpuState& s = cpu_.s;
  BlockKey key;
  key.rip = s.rip;
  if (same_mode && !single && !(same_mode->key.mode & kSingleInstructionMode)) {  // skip recomputing the mode
    key.cs_base = same_mode->key.cs_base;
    key.mode = same_mode->key.mode;
    const bool code64 = (key.mode & 3) == uint32_t(CodeSize::k64);
    uint64_t linear = code64 ? s.rip : (key.cs_base + s.rip) & 0xffffffffull;
    if (Block* b = cache_.find_fast(linear, key, key.user())) return b;
  }
  BlockMode mode = block_mode_of(s);
  key.cs_base = mode.code == CodeSize::k64 ? 0 : s.seg[CS].base;
  key.mode = mode.key() | (single ? kSingleInstructionMode : 0);
  uint64_t linear = mode.code == CodeSize::k64 ? s.rip : (key.cs_base + s.rip) & 0xffffffffull;
  Block* candidate = cache_.jump_candidate(linear, key);
  if (candidate && cpu_.mmu.code_maps_to(linear, mode.cpl == 3, candidate->key.phys_pc & ~0xfffull)) return candidate;
  if (mode.code != CodeSize::k64 && s.rip > s.seg[CS].limit) raise_fault(kGP, 0);
  key.phys_pc = cpu_.mmu.translate_code(linear, mode.cpl == 3);
  if (candidate && candidate->key.phys_pc == key.phys_pc) return candidate;  // the TLB had lost the page
  if (Block* b = cache_.find(key, linear)) return b;
  return cache_.insert(translator_.translate(key, linear, mode, single ? 1 : kMaxBlockInstructions));
}

VcpuExit TcgVcpu::run(uint64_t deadline_ns) {
  if (!have_thread_clock_) have_thread_clock_ = pthread_getcpuclockid(pthread_self(), &thread_clock_) == 0;
  CpuState& s = cpu_.s;
  Block* prev = nullptr;
  BlockEnd prev_end = BlockEnd::kUnchained;
  uint64_t clock_check_at = cpu_.stats.instructions;  // the clock is read every kClockCheckInstructions
  DebugStep step;
  for (;;) {
    if (exit_request_.load(std::memory_order_relaxed) && exit_request_.exchange(false)) return {VcpuExit::Reason::kKicked, {}};
    if (cpu_.shutdown) {
      cpu_.shutdown = false;
      return {VcpuExit::Reason::kShutdown, "triple fault"};
    }
    if (cpu_.stats.instructions >= clock_check_at) {
      clock_check_at = cpu_.stats.instructions + kClockCheckInstructions;
      if (deadline_ns != kNever && cpu_.ctx.clock.now_ns() >= deadline_ns) return {VcpuExit::Reason::kKicked, {}};
    }
    // The jump cache checks hits against the TLB, so a TLB flush leaves it alone.
    if (cache_.collect_garbage() || seen_tlb_epoch_ != cpu_.tlb_epoch) {
      seen_tlb_epoch_ = cpu_.tlb_epoch;
      prev = nullptr;
    }
    cpu_.loop_check = false;  // looked at now
    if (take_events()) prev = nullptr;
    if (cpu_.shutdown) continue;
    if (s.halted) return {VcpuExit::Reason::kHalted, {}};

    // One instruction at a time while single-stepping or in an STI/MOV SS interrupt shadow.
    const bool shadow = s.events.interrupt_shadow != 0;
    const bool debug = debug_active(cpu_);  // #DB conditions are checked per instruction
    const bool single = single_step_ || shadow || debug;
    if (debug && debug_before_instruction(cpu_, step)) {  // instruction breakpoint: #DB fault
      prev = nullptr;
      if (single_step_) return {VcpuExit::Reason::kSingleStep, {}};
      continue;
    }
    const bool chained_end = prev_end == BlockEnd::kChain0 || prev_end == BlockEnd::kChain1;
    Block* block = nullptr;
    if (prev && !single && chained_end) {
      block = cache_.linked(*prev, static_cast<unsigned>(prev_end), s.rip, prev->key.user());
    }
    if (!block) {
      try {
        // After a jump from a block that called no helper the mode is unchanged.
        block = block_for_pc(single, prev && (chained_end || prev_end == BlockEnd::kIndirect) && !prev->code.has_call
                                         ? prev : nullptr);
      } catch (const GuestFault& f) {
        ++cpu_.stats.exceptions;
        deliver_fault(cpu_, f);
        prev = nullptr;
        if (single_step_) return {VcpuExit::Reason::kSingleStep, {}};
        continue;
      }
      if (prev && chained_end && !single) cache_.chain(prev, static_cast<int>(prev_end), block);
    }

    // Run it, then go straight on to its chained successor or indirect target for as long as
    // nothing can need the checks above: the block called no helper (events, modes, debug state,
    // TLB), touched no MMIO (interrupts) and invalidated no code. Other threads kick exit_request_.
    for (;;) {
      cache_.set_running(block);
      const uint64_t retired_before = cpu_.stats.instructions;
      const uint64_t activity = cpu_.mmu.mmio_accesses() + cache_.invalidations();
      // Compiled code may run on through chained compiled blocks while it has instructions
      // left of this budget (profiling counts per block).
      const uint64_t left = clock_check_at > retired_before ? clock_check_at - retired_before : 0;
      cpu_.chain_budget = profile_ || test_fault_at_ ? 0 : int32_t(left);
      BlockEnd end = execute(*block);
      if (block->jit) block = static_cast<Block*>(const_cast<void*>(cpu_.jit_last_block));  // the one that ended
      cache_.set_running(nullptr);
      if (profile_) {
        ProfileEntry& e = (*profile_)[block->linear_pc];
        e.instructions += cpu_.stats.instructions - retired_before;
        ++e.runs;
      }
      ++cpu_.stats.blocks_executed;
      if (test_fault_at_ && cpu_.stats.instructions >= test_fault_at_) {
        s.gpr[RAX] ^= 1;
        test_fault_at_ = 0;
      }
      if (debug) debug_after_instruction(cpu_, step);
      if (shadow) s.events.interrupt_shadow = 0;
      prev = block->valid ? block : nullptr;
      prev_end = end;
      if (single_step_) {
        cpu_.stats.blocks_invalidated = cache_.invalidations();
        return {VcpuExit::Reason::kSingleStep, {}};
      }
      if (single || !prev || block->code.has_call || cpu_.loop_check ||
          cpu_.mmu.mmio_accesses() + cache_.invalidations() != activity ||
          cpu_.stats.instructions >= clock_check_at || exit_request_.load(std::memory_order_relaxed))
        break;
      Block* next = nullptr;
      if (end == BlockEnd::kChain0 || end == BlockEnd::kChain1) {
        next = cache_.linked(*block, static_cast<unsigned>(end), s.rip, block->key.user());
      } else if (end == BlockEnd::kIndirect) {
        next = indirect_target(*block);
      }
      if (!next) break;
      block = next;
    }
    cpu_.stats.blocks_invalidated = cache_.invalidations();
  }
}

BlockEnd TcgVcpu::execute(Block& block) {
  if (block.jit || install_compiled(block)) {
    ++cpu_.stats.compiled_runs;
    // Compiled code counts what it retires down from chain_budget (one counter per block, not
    // two); after a fault, JitTier::execute has added the faulting block's part.
    const uint64_t before = cpu_.stats.instructions;
    const int32_t budget = cpu_.chain_budget;
    BlockEnd end = jit_->execute(cpu_, block);
    cpu_.stats.instructions += uint64_t(int64_t(budget) - int64_t(cpu_.chain_budget));
    cpu_.stats.compiled_instructions += cpu_.stats.instructions - before;
    return end;
  }
  BlockEnd end = interpreter_.execute(cpu_, block);
  // Single-instruction blocks (single-step, shadows, debug) stay with the interpreter.
  if (jit_ && block.valid && !(block.key.mode & kSingleInstructionMode)) jit_->note_run(block);
  return end;
}

bool TcgVcpu::install_compiled(Block& block) {
  if (!block.jit_slot) return false;
  JitEntry entry = block.jit_slot->entry.load(std::memory_order_acquire);
  if (!entry) return false;
  block.jit = entry;
  return true;
}

JitEntry TcgVcpu::compiled_successor(void* self, const void* from, uint32_t slot) {
  TcgVcpu& v = *static_cast<TcgVcpu*>(self);
  Block& prev = *static_cast<Block*>(const_cast<void*>(from));
  Block* next = v.indirect_target(prev);
  if (!next) return nullptr;
  if (slot == 2) {  // the older of the two indirect links makes way
    slot = prev.next_indirect_slot;
    prev.next_indirect_slot = uint8_t(slot ^ 1);
  }
  v.cache_.chain(&prev, slot, next);  // compiled code follows the link next time
  if (!next->jit) v.install_compiled(*next);
  return next->jit;
}

Block* TcgVcpu::indirect_target(const Block& from) {
  BlockKey key;
  key.rip = cpu_.s.rip;
  key.cs_base = from.key.cs_base;
  key.mode = from.key.mode;
  const bool code64 = (key.mode & 3) == uint32_t(CodeSize::k64);
  const uint64_t linear = code64 ? key.rip : (key.cs_base + key.rip) & 0xffffffffull;
  return cache_.find_fast(linear, key, key.user());
}

}  // namespace janus::tcg
