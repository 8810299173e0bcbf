// One software vCPU: the run loop over translated blocks (interpreter and LLVM tiers), events at block
// boundaries, the exit-request word, deadlines, HLT and single-step.
#pragma once
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <memory>
#include <unordered_map>

#include "accel/vcpu.h"
#include "tcg/block_cache.h"
#include "tcg/interpreter.h"
#include "tcg/jit_tier.h"
#include "tcg/tcg_cpu.h"
#include "tcg/translator.h"

namespace janus::tcg {

class TcgVcpu final : public Vcpu {
 public:
  TcgVcpu(unsigned index, VcpuContext context);
  ~TcgVcpu() override;

  VcpuExit run(uint64_t deadline_ns) override;
  CpuState get_state() override;
  void set_state(const CpuState& state) override;
  void request_exit() override { exit_request_.store(true, std::memory_order_release); }
  void set_single_step(bool on) override { single_step_ = on; }
  // Test only (cross-check's self-test): after the block that retires the Nth instruction,
  // flip bit 0 of RAX once, as a wrong result of that instruction would. 0 = off.
  void inject_test_fault(uint64_t nth_instruction) { test_fault_at_ = nth_instruction; }

  const TcgStats& stats() const;  // with the LLVM tier's counters brought up to date
  unsigned index() const { return index_; }
  // Clock checks happen every this many instructions (a clock read costs more than a block
  // entry); chained compiled code runs at most about this far before the run loop looks.
  static constexpr uint64_t kClockCheckInstructions = 4096;

 private:
  bool take_events();  // delivers a pending NMI/interrupt; true if one was taken
  // `same_mode`: a block of the current mode (its key.mode and cs_base apply), or null.
  Block* block_for_pc(bool single, const Block* same_mode = nullptr);
  // The jump cache's block for RIP in the mode of `from` (after its indirect jump), or null.
  Block* indirect_target(const Block& from);
  // For compiled code after a jump from block `from` through chain slot `slot` (2: indirect):
  // the next block's compiled code, linking it to `from` where chaining may (TcgVcpu* context).
  static JitEntry compiled_successor(void* self, const void* from, uint32_t slot);
  // Takes the block's compiled code from its slot once the compile thread has left it there.
  bool install_compiled(Block& block);

  // The block being run by whichever tier holds it; counts runs and compiles hot blocks.
  BlockEnd execute(Block& block);

  unsigned index_;
  TcgCpu cpu_;
  std::unique_ptr<JitTier> jit_;  // null when the LLVM tier is off; outlives the blocks' code
  BlockCache cache_;
  Translator translator_;
  Interpreter interpreter_;
  std::atomic<bool> exit_request_{false};
  bool single_step_ = false;
  uint64_t seen_tlb_epoch_ = 0;
  clockid_t thread_clock_{};  // the CPU-time clock of the thread that runs this vCPU
  bool have_thread_clock_ = false;
  uint64_t test_fault_at_ = 0;
  // JANUS_TCG_PROFILE=n: guest instructions per block entry address, top n printed at exit.
  struct ProfileEntry { uint64_t instructions = 0, runs = 0; };
  std::unique_ptr<std::unordered_map<uint64_t, ProfileEntry>> profile_;
  unsigned profile_top_ = 0;
};

}  // namespace janus::tcg
