// -accel cross: KVM leads, the software CPU follows, one instruction at a time, on one machine.
// The machine (devices, interrupt controllers, RAM) belongs to the leader; the follower gets a
// copy of guest RAM made when the guest is loaded, and sees devices only through the leader's
// recorded I/O. To the vCPU loop the pair looks like one Vcpu.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "accel/cross/cross_checker.h"
#include "accel/kvm/kvm_accelerator.h"
#include "hw/clock.h"

namespace janus::cross {

struct CrossOptions {
  uint64_t inject_fault_at = 0;  // test only: the software CPU corrupts RAX after its Nth instruction
  uint64_t limit = 0;            // stop once this many instructions were compared (0: no limit)
};

class CrossVcpu final : public Vcpu {
 public:
  CrossVcpu(KvmAccelerator& kvm, GuestMemory& follower_memory, const CpuidTable& cpuid, VcpuContext context,
            const CrossOptions& options);
  ~CrossVcpu() override;

  // Steps both CPUs until a halt, a shutdown, the deadline, a kick, a divergence (kFailed), or
  // the instruction limit (kFailed too, with limit_reached() set: the run ends there).
  VcpuExit run(uint64_t deadline_ns) override;
  CpuState get_state() override { return checker_->leader_state(); }
  void set_state(const CpuState& state) override { checker_->set_state(state); }
  void request_exit() override { exit_request_.store(true); }
  void set_single_step(bool on) override { single_step_ = on; }

  CrossChecker& checker() { return *checker_; }
  bool limit_reached() const { return limit_reached_; }
  // Seconds spent inside run(), for the rate.
  double seconds_running() const { return double(run_ns_) / 1e9; }

 private:
  VcpuContext context_;
  RecordingIo leader_io_;
  ReplayIo follower_io_;
  LeaderInterrupts leader_irq_;
  FollowerInterrupts follower_irq_;
  ManualClock follower_clock_;  // frozen: the follower's TSC only changes when a value is replayed
  std::unique_ptr<Vcpu> leader_, follower_;
  std::unique_ptr<CrossChecker> checker_;
  std::atomic<bool> exit_request_{false};
  bool single_step_ = false;
  uint64_t limit_ = 0;
  bool limit_reached_ = false;
  uint64_t run_ns_ = 0;
};

class CrossAccelerator final : public Accelerator {
 public:
  // Throws std::runtime_error if KVM is unusable (cross-check needs it as the oracle).
  CrossAccelerator(const CpuidTable& cpuid_template, CrossOptions options);
  ~CrossAccelerator() override;

  std::string name() const override { return "cross"; }
  // Maps RAM into KVM and makes the follower's copy of it (the guest is loaded by now).
  void map_memory(GuestMemory& memory) override;
  std::unique_ptr<Vcpu> create_vcpu(unsigned index, VcpuContext context) override;
  const CpuidTable& cpuid() const override { return kvm_.cpuid(); }
  uint64_t tsc_hz() const override { return kvm_.tsc_hz(); }

 private:
  KvmAccelerator kvm_;
  CrossOptions options_;
  std::unique_ptr<GuestMemory> follower_memory_;
};

}  // namespace janus::cross
