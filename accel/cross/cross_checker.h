// Lockstep execution of one guest on two backends: the leader (KVM) executes one instruction,
// the follower (software CPU) executes the same one, then their architectural state, the
// memory the follower wrote, their I/O and their interrupts are compared. The first
// disagreement is kept as a Divergence (what, where, and the last instructions before it).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "accel/cross/cross_interrupts.h"
#include "accel/cross/cross_io.h"
#include "accel/cross/follower_memory.h"
#include "accel/cross/state_compare.h"
#include "accel/vcpu.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"

namespace janus {
class KvmVcpu;
}

namespace janus::cross {

// One executed instruction, as the leader saw it before executing it.
struct ExecutedInsn {
  uint64_t step = 0;          // 1-based
  uint64_t linear_rip = 0;
  uint64_t rip = 0;
  uint16_t cs = 0;
  uint8_t code_bits = 64;     // 16, 32 or 64
  uint8_t cpl = 0;
  uint8_t length = 0;         // bytes readable there (up to 15); the instruction is a prefix
  std::array<uint8_t, 15> bytes{};
  std::string disassembly;    // filled in for reports
};

struct Divergence {
  uint64_t step = 0;            // the instruction number that diverged (1-based)
  ExecutedInsn insn;
  std::string mode;             // describe_mode() of the state before the instruction
  unsigned cpl = 0;
  std::string leader_execution; // natively on the CPU, or by the host kernel's emulator
  std::vector<FieldDiff> fields;
  std::optional<MemoryDiff> memory;
  std::string memory_note;      // how the memory difference was found
  std::string io;               // port/MMIO or interrupt mismatch
  std::string exits;            // different exit reasons
  std::string stretch;          // set when the leader ran a stretch without single-stepping
  std::string state_note;       // set when an extended-state difference may predate this step
  std::vector<ExecutedInsn> history;  // last 32 instructions, oldest first, ending with insn
  CpuState before, leader_after, follower_after;
};

struct CrossParts {
  Vcpu& leader;
  Vcpu& follower;
  GuestMemory& leader_memory;
  GuestMemory& follower_memory;
  RecordingIo& leader_io;
  ReplayIo& follower_io;
  LeaderInterrupts& leader_irq;
  FollowerInterrupts& follower_irq;
  const Clock& clock;                 // the leader's (machine) clock, for run deadlines
  bool leader_kernel_native = false;  // KVM runs CPL0 on the CPU (VT-x/AMD-V), not in an emulator
};

class CrossChecker {
 public:
  enum class Status { kAgreed, kHalted, kShutdown, kDiverged, kLeaderFailed };
  struct Result {
    Status status = Status::kAgreed;
    std::string detail;  // kLeaderFailed: why
  };
  static constexpr size_t kHistory = 32;

  explicit CrossChecker(CrossParts parts, uint64_t full_memory_check_interval = 1u << 16);
  ~CrossChecker();

  // Both CPUs start from `state` (and the two memories must already be equal).
  void set_state(const CpuState& state);
  // The leader's state after the last step, read whole: if only its core was read after the
  // last steps, the rest is read now and compared with the follower's (a difference is a
  // divergence, as at any step).
  const CpuState& leader_state();

  // One instruction in lockstep; or, where this host's KVM cannot single-step (64-bit CPL3 under
  // the paravirtual KVM), one leader run up to its next exit (I/O, HLT, deadline), which the
  // follower then follows instruction by instruction until their states meet.
  Result step(uint64_t deadline_ns = kNever);
  // Follower instructions allowed to reach the leader's state after one leader run.
  static constexpr uint64_t kFollowBudget = 50'000'000;
  // Instructions KVM may run past an emulated I/O instruction, or into an exception handler,
  // before its single-step stops: the follower may take this many extra steps to meet it.
  static constexpr int kIoOverrun = 3;
  // How long one leader run without single-stepping may last.
  static constexpr uint64_t kStretchNs = 20'000'000;
  // Compares all RAM now; a difference is a divergence found "by the full scan". The leader's
  // state is compared whole first (as leader_state() does): this is the check at the end of a run.
  bool check_all_memory();
  // A KVM leader's state is read whole (core and extended part, extended_state.h) after the
  // instructions that may change the extended part, whenever the two states differ, and at least
  // once every this many instructions; after other steps only its core is read.
  static constexpr uint64_t kWholeStateInterval = 1024;
  uint64_t whole_state_reads() const { return whole_reads_; }

  uint64_t instructions() const { return steps_; }
  // Divergences a listed host erratum explained (accel/cross/host_errata.h), by erratum name, and
  // the first instruction each one explained. Such a step is not a divergence: the leader is
  // given the follower's (the hardware's) values and the run goes on.
  const std::map<std::string, uint64_t>& explained() const { return explained_; }
  const std::map<std::string, ExecutedInsn>& first_explained() const { return first_explained_; }
  // Off: every difference is a divergence (errata are on by default; they never apply where
  // the leader runs the instruction natively).
  void set_explain_host_errata(bool on) { explain_errata_ = on; }
  const std::optional<Divergence>& divergence() const { return divergence_; }
  std::vector<ExecutedInsn> history() const;
  WriteTracker& tracker() { return *tracker_; }

 private:
  ExecutedInsn fetch(const CpuState& s, GuestMemory& memory);
  Result lockstep(const CpuState& before);
  Result stretch(const CpuState& before, uint64_t deadline_ns);
  bool leader_can_single_step(const CpuState& s) const;
  bool runs_natively_in_user_mode(const CpuState& s) const;
  bool last_was_hlt() const;
  std::optional<uint64_t> iterations_to_meet(const CpuState& follower, const CpuState& leader,
                                             const ExecutedInsn& insn) const;
  bool may_enter_user_mode(const CpuState& s);
  void undo_single_step_tf(const CpuState& before, const CpuState& leader, const CpuState& follower);
  Result finish(Divergence& d, const CpuState& before, CpuState leader, const CpuState& follower,
                bool leader_down, const VcpuExit& fe, const CpuState* last_before = nullptr);
  std::string leader_execution(const CpuState& s) const;
  bool leader_emulated(const CpuState& s) const;
  void diverge(Divergence d, const CpuState& before, const CpuState& leader, const CpuState& follower);
  CpuState read_leader_core(const CpuState& last);
  void read_leader_whole(CpuState& leader);
  bool check_whole_leader_state();
  std::string extended_state_note(const std::vector<FieldDiff>& fields) const;

  CrossParts p_;
  KvmVcpu* leader_kvm_ = nullptr;  // the leader, when it is read in two parts (a KvmVcpu)
  bool leader_whole_ = true;       // the leader's last read was whole, not only its core
  uint64_t whole_read_at_ = 0;     // steps_ at the last whole read
  uint64_t extended_known_at_ = 0; // steps_ after which the extended part was last read, at step start
  bool agreed_ = false;            // the last step (or set_state) left both CPUs in the same state
  uint64_t whole_reads_ = 0;
  uint64_t full_interval_;
  std::unique_ptr<WriteTracker> tracker_;
  CpuState leader_state_;
  bool leader_stepping_ = false;
  uint64_t steps_ = 0;
  uint64_t last_full_check_ = 0;
  std::array<ExecutedInsn, kHistory> ring_{};
  size_t ring_count_ = 0;
  std::optional<Divergence> divergence_;
  bool explain_errata_ = true;
  std::map<std::string, uint64_t> explained_;
  std::map<std::string, ExecutedInsn> first_explained_;
};

}  // namespace janus::cross
