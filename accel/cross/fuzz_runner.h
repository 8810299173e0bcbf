// Runs fuzz cases in cross mode in-process, without the PC machine: one KVM vCPU (reused), a
// fresh software CPU per case, a deterministic port device, no interrupts. A divergence is
// shrunk to the single instruction and the inputs that still show it.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "accel/cross/cross_checker.h"
#include "accel/cross/fuzz_case.h"
#include "accel/kvm/kvm_accelerator.h"
#include "hw/clock.h"

namespace janus::cross {

struct FuzzOutcome {
  enum class Kind { kAgreed, kDiverged, kLeaderFailed } kind = Kind::kAgreed;
  uint64_t instructions = 0;        // compared
  std::optional<Divergence> divergence;
  std::string detail;               // kLeaderFailed: KVM's error
  std::map<std::string, uint64_t> explained;  // steps a host erratum explained, by erratum name
  CpuState final_state;             // the leader's, where the run stopped
};

struct ShrunkCase {
  FuzzCase c;                       // one instruction from the state just before it
  FuzzOutcome outcome;              // its divergence (at instruction 1)
  bool single_instruction = false;  // false: the divergence needed the earlier instructions
  std::vector<uint8_t> culprit;     // the instruction the shortest diverging prefix ends with
  uint64_t culprit_rip = 0;
};

class FuzzRunner {
 public:
  // Throws std::runtime_error if KVM cannot be used.
  FuzzRunner();
  ~FuzzRunner();

  const CpuidTable& cpuid() const { return kvm_->cpuid(); }
  // Host errata (accel/cross/host_errata.h) explain divergences unless turned off.
  void set_explain_host_errata(bool on) { explain_errata_ = on; }
  // Runs the case to its end (HLT), or only to its end marker.
  FuzzOutcome run(const FuzzCase& c, bool stop_at_marker = false);
  // The shortest prefix that diverges names the instruction; it is then run alone from the
  // state before it, and inputs that do not matter are zeroed.
  ShrunkCase shrink(const FuzzCase& c, const Divergence& d);

  static std::vector<size_t> boundaries(const FuzzCase& c);
  static FuzzCase prefix(const FuzzCase& c, const std::vector<size_t>& at, size_t n);
  static bool can_cut(const FuzzCase& c, const std::vector<size_t>& at, size_t n);
  // Test only: the software CPU flips bit 0 of RAX after its Nth instruction in every run
  // (tcg::TcgVcpu::inject_test_fault), to show that a divergence is found and named. 0: off.
  void set_test_fault(uint64_t nth_instruction) { test_fault_at_ = nth_instruction; }

 private:
  void flush_leader_halt(const FuzzCase& c);
  void resync_follower_memory();
  class PortDevice;
  class NoInterrupts;

  std::unique_ptr<GuestMemory> leader_memory_, follower_memory_;
  std::unique_ptr<KvmAccelerator> kvm_;
  std::unique_ptr<PortDevice> device_;
  std::unique_ptr<NoInterrupts> irq_;
  std::unique_ptr<RecordingIo> leader_io_;
  ReplayIo follower_io_;
  std::unique_ptr<LeaderInterrupts> leader_irq_;
  std::unique_ptr<FollowerInterrupts> follower_irq_;
  HostClock clock_;
  ManualClock follower_clock_;
  std::unique_ptr<Vcpu> leader_;
  bool kernel_native_ = false;
  bool explain_errata_ = true;
  bool memories_equal_ = true;
  uint64_t test_fault_at_ = 0;  // false after a run that diverged or failed
};

}  // namespace janus::cross
