// The software CPU's execution state: the architectural CpuState plus what only the software CPU
// needs (lazy flags, soft MMU, counters). Helpers and the interpreter operate on this.
#pragma once
#include <atomic>
#include <cstdint>

#include "accel/vcpu.h"
#include "cpu/cpu_state.h"
#include "cpu/exceptions.h"
#include "tcg/guest_fault.h"
#include "tcg/lazy_flags.h"
#include "tcg/soft_mmu.h"

namespace janus::tcg {

// The TSC advances at a fixed 2 GHz of machine-clock time: TSC = clock_ns * 2 + offset.
constexpr uint64_t kTscHz = 2'000'000'000ull;

struct TcgStats {
  uint64_t instructions = 0;       // guest instructions retired
  uint64_t blocks_translated = 0;
  uint64_t blocks_executed = 0;    // blocks the run loop ran (compiled code chains on uncounted)
  uint64_t blocks_compiled = 0;     // by the compiled tier (baseline compiler or LLVM)
  uint64_t blocks_baseline = 0;     //   of them by the baseline compiler
  uint64_t blocks_optimised = 0;    //   and compiled again optimised
  uint64_t compiled_runs = 0;       // entries into compiled code (of blocks_executed; chained blocks not counted)
  uint64_t compiled_instructions = 0;  // instructions retired by compiled code
  uint64_t jit_compile_ns = 0;      // host time the LLVM tier spent compiling, of which
  uint64_t jit_optimise_ns = 0;     //   in LLVM's passes
  uint64_t jit_codegen_ns = 0;      //   in code generation
  uint64_t blocks_invalidated = 0;  // by self-modifying code or page invalidation
  uint64_t undefined_opcodes = 0;   // #UD raised for instructions Janus does not implement
  uint64_t exceptions = 0;
  uint64_t vcpu_thread_ns = 0;      // CPU time of the vCPU's thread (not the compile thread)
  uint64_t interrupts = 0;
};

// Writes a GPR with x86 width rules: 32-bit writes clear bits 63:32, 8/16-bit writes merge.
inline void write_gpr(CpuState& s, unsigned r, unsigned size, uint64_t v) {
  uint64_t& g = s.gpr[r];
  switch (size) {
    case 1: g = (g & ~0xffull) | (v & 0xff); break;
    case 2: g = (g & ~0xffffull) | (v & 0xffff); break;
    case 4: g = v & 0xffffffffull; break;
    default: g = v; break;
  }
}
inline uint64_t size_mask_bytes(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

class TcgCpu {
 public:
  explicit TcgCpu(VcpuContext ctx);

  CpuState s;
  LazyFlags cc;
  VcpuContext ctx;
  SoftMmu mmu;
  TcgStats stats;

  bool shutdown = false;        // triple fault happened
  bool stop_block = false;      // leave the current block at the next instruction boundary
  // A local helper did something the run loop must look at before the next block (IF or TF
  // set, a REP instruction paused for events, a port access): chaining stops.
  bool loop_check = false;
  uint32_t jit_insn = 0;        // compiled code: index in its block of the instruction that may fault
  // Compiled code counts the instructions it retires down from this, and jumps straight on to
  // compiled successors while it stays non-negative: the run loop still looks at clocks and
  // requests every so many instructions, and adds up what was retired (TcgVcpu::execute).
  int32_t chain_budget = 0;
  const void* jit_last_block = nullptr;  // the Block whose compiled code ran last
  // A guest fault raised under compiled code: the C++ it called caught it and left it here, and
  // the compiled code went back to JitTier::execute (no exception crosses compiled frames).
  bool fault_pending = false;
  GuestFault pending_fault{};
  int64_t tsc_offset = 0;

  // Debug exceptions (tcg/debug_events.cpp): data breakpoints hit by the current instruction
  // (DR6 B0-B3 bits), #DB conditions held back by a MOV SS/POP SS shadow, and whether loads and
  // stores must be compared with DR0-DR3 at all (DR7 enables a data breakpoint).
  uint64_t debug_data_hits = 0;
  uint64_t debug_deferred = 0;
  bool data_watch = false;
  uint64_t events_delivered = 0;  // exceptions/interrupts delivered so far (INT n detection)

  // RFLAGS with the lazy arithmetic flags folded in, and the reverse.
  uint64_t rflags() const { return (s.rflags & ~kArithFlags) | cc.compute() | rflags::FIXED1; }
  void set_rflags(uint64_t v) {
    s.rflags = (v & 0x3f7fd7) | rflags::FIXED1;
    cc.set_eflags(v);
  }

  bool code64() const { return s.in_64bit_code(); }
  unsigned cpl() const { return s.cpl(); }
  bool user_mode() const { return cpl() == 3; }

  // Segmented data accesses by the current privilege; #GP/#SS on limit/type/canonical faults.
  uint64_t load(unsigned seg, uint64_t offset, unsigned size);
  void store(unsigned seg, uint64_t offset, unsigned size, uint64_t value);
  uint64_t linear_address(unsigned seg, uint64_t offset, unsigned size, bool write);

  // Implicit supervisor accesses (descriptor tables, TSS, IDT) by linear address.
  uint64_t read_system(uint64_t linear, unsigned size) { return mmu.read(linear & linear_mask(), size, false); }
  void write_system(uint64_t linear, unsigned size, uint64_t v) { mmu.write(linear & linear_mask(), size, v, false); }
  uint64_t linear_mask() const { return s.long_mode_active() ? ~0ull : 0xffffffffull; }

  uint64_t tsc() const;
  void set_tsc(uint64_t value);

  // After CR0/CR3/CR4/EFER writes: drop translations the new paging state invalidates.
  void paging_changed(bool keep_global) { keep_global ? mmu.flush_non_global() : mmu.flush_all(); ++tlb_epoch; }
  uint64_t tlb_epoch = 0;  // bumps whenever the TLB is flushed (the jump cache follows it)
};

}  // namespace janus::tcg
