// The LLVM tier: blocks that the interpreter has run often enough are lowered to LLVM IR
// (tcg/jit_lowering.cpp), optimised and compiled to host code with LLVM ORC on a compile thread,
// then run in place of their threaded code. Compiled code keeps the interpreter's contract, so
// the run loop treats both alike. Code lives as long as its block (or a pending compile job).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "hw/clock.h"
#include "tcg/block.h"
#include "tcg/code_arena.h"
#include "tcg/interpreter.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

struct JitStats {
  std::atomic<uint64_t> compiled{0};    // blocks compiled (by the baseline compiler or LLVM)
  std::atomic<uint64_t> baseline{0};    // of them, by the baseline compiler (quick level)
  std::atomic<uint64_t> optimised{0};   // of them, compiled again optimised (tier-up)
  std::atomic<uint64_t> failed{0};      // blocks LLVM could not compile (they stay interpreted)
  std::atomic<uint64_t> compile_ns{0};  // host time spent compiling, of which:
  std::atomic<uint64_t> optimise_ns{0};  //   running LLVM's passes over the IR
  std::atomic<uint64_t> codegen_ns{0};   //   generating and linking machine code
};

// JANUS_JIT_PERFMAP=1: at exit, /tmp/perf-PID.map names each compiled block by its guest PC,
// base_PC for baseline code and guest_PC for LLVM's (for `perf report`).
struct PerfMapEntry {
  uint64_t host, guest_pc;
  bool baseline;
  bool operator<(const PerfMapEntry& o) const { return host < o.host; }
};

class JitTier {
 public:
  // The tier for one vCPU, configured from the environment (null when off, or when LLVM cannot
  // target this host, said once on stderr):
  //   JANUS_JIT_THRESHOLD=n  compile a block after n interpreted runs (default 100, with LLVM's
  //                          quick code 3000; 0 = tier off)
  //   JANUS_JIT_TIERUP=n     compile quickly first, optimised after n compiled runs (default
  //                          30000, with LLVM's quick code 100000; 0 = optimised at once)
  //   JANUS_JIT_BASELINE=0   quick code from LLVM (on the compile thread) instead of the baseline
  //                          compiler (tcg/baseline_compiler.h, on the vCPU thread, at once)
  //   JANUS_JIT_SYNC=1       compile on the vCPU thread, at once (deterministic; tests)
  //   JANUS_JIT_VERIFY=1     check every function LLVM is given (tests)
  //   JANUS_LLVM_ARGS=...    LLVM's own options, e.g. -time-passes (reported at exit)
  // `successor(context, from, slot)`: the compiled code a jump from block `from` goes on to.
  static std::unique_ptr<JitTier> create(const TcgCpu& cpu, JitEntry (*successor)(void*, const void*, uint32_t), void* context);
  // The vCPU's jump cache, for compiled code to probe (before any block is compiled).
  void set_jump_cache(const void* table);
  ~JitTier();

  // Counts an interpreted run of the block; queues it for compilation when it turns hot.
  void note_run(Block& block) {
    if (block.runs < threshold_) {
      if (++block.runs == threshold_) request(block);
    } else if (block.jit_slot) {  // queued, not compiled yet (one writer: no atomic add)
      std::atomic<uint32_t>& w = block.jit_slot->waiting_runs;
      w.store(w.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }
  // Runs a compiled block; delivers a guest fault as the interpreter does.
  BlockEnd execute(TcgCpu& cpu, const Block& block) const;

  const JitStats& stats() const { return stats_; }

  enum Level { kQuick = 0, kOptimised = 1 };
  struct Engine;  // LLVM's state (tcg/jit_tier.cpp)
  struct Job;

 private:
  JitTier(std::unique_ptr<Engine> engine, uint32_t threshold, bool sync, const Clock& clock);
  void request(Block& block);
  void tier_up(const Block& block);  // from quick code, on the vCPU thread
  void enqueue(Job job);
  void compile_thread();
  // Moves up to kMaxBatch newly hot jobs to `batch` (or `dropped`), hottest first.
  void take_hottest(std::deque<Job>& q, std::vector<Job>& batch, std::vector<Job>& dropped);
  void compile(std::vector<Job>& jobs);

  std::unique_ptr<Engine> engine_;
  int (*enter_)(TcgCpu*, JitEntry) = nullptr;  // the entry trampoline (compiled code's convention)
  uint32_t threshold_;
  bool sync_;
  bool baseline_ = false;  // quick code from the baseline compiler
  CodeArena arena_;        // its code (vCPU thread only)
  std::vector<PerfMapEntry> baseline_functions_;  // JANUS_JIT_PERFMAP
  const Clock& clock_;  // the machine's: synchronous compiles are skipped in guest time
  JitStats stats_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queues_[2];  // per level
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace janus::tcg
