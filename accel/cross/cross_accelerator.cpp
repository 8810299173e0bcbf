#include "accel/cross/cross_accelerator.h"

#include <chrono>
#include <stdexcept>

#include "accel/kvm/kvm_host_probe.h"
#include "tcg/tcg_accelerator.h"
#include "tcg/tcg_vcpu.h"

namespace janus::cross {

CrossVcpu::CrossVcpu(KvmAccelerator& kvm, GuestMemory& follower_memory, const CpuidTable& cpuid, VcpuContext context,
                     const CrossOptions& options)
    : context_(context), leader_io_(context.io), leader_irq_(context.interrupts), follower_irq_(context.interrupts),
      limit_(options.limit) {
  leader_ = kvm.create_vcpu(0, VcpuContext{context.memory, leader_io_, leader_irq_, cpuid, context.clock});
  TcgAccelerator tcg(cpuid);  // the follower sees KVM's CPUID, so both guests see the same CPU
  tcg.map_memory(follower_memory);
  follower_ = tcg.create_vcpu(0, VcpuContext{follower_memory, follower_io_, follower_irq_, cpuid, follower_clock_});
  if (options.inject_fault_at) static_cast<tcg::TcgVcpu&>(*follower_).inject_test_fault(options.inject_fault_at);
  checker_ = std::make_unique<CrossChecker>(CrossParts{*leader_, *follower_, context.memory, follower_memory, leader_io_,
                                                       follower_io_, leader_irq_, follower_irq_, context.clock,
                                                       probe_kvm_host().runs_kernel_mode_natively});
}

CrossVcpu::~CrossVcpu() = default;

VcpuExit CrossVcpu::run(uint64_t deadline_ns) {
  using Reason = VcpuExit::Reason;
  auto start = std::chrono::steady_clock::now();
  struct Timer {
    uint64_t& total;
    std::chrono::steady_clock::time_point start;
    ~Timer() { total += uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count()); }
  } timer{run_ns_, start};
  for (;;) {
    if (limit_ && checker_->instructions() >= limit_) {
      limit_reached_ = true;
      return {Reason::kFailed, "cross-check: instruction limit reached"};
    }
    if (exit_request_.exchange(false)) return {Reason::kKicked, {}};
    if (deadline_ns != kNever && context_.clock.now_ns() >= deadline_ns) return {Reason::kKicked, {}};
    CrossChecker::Result r = checker_->step(deadline_ns);
    switch (r.status) {
      case CrossChecker::Status::kAgreed:
        if (single_step_) return {Reason::kSingleStep, {}};
        break;
      case CrossChecker::Status::kHalted: return {Reason::kHalted, {}};
      case CrossChecker::Status::kShutdown: return {Reason::kShutdown, "triple fault"};
      case CrossChecker::Status::kDiverged: return {Reason::kFailed, "cross-check: the backends diverged"};
      case CrossChecker::Status::kLeaderFailed: return {Reason::kFailed, "cross-check leader: " + r.detail};
    }
  }
}

CrossAccelerator::CrossAccelerator(const CpuidTable& cpuid_template, CrossOptions options)
    : kvm_(cpuid_template), options_(options) {}

CrossAccelerator::~CrossAccelerator() = default;

void CrossAccelerator::map_memory(GuestMemory& memory) {
  kvm_.map_memory(memory);
  follower_memory_ = clone_guest_memory(memory);
}

std::unique_ptr<Vcpu> CrossAccelerator::create_vcpu(unsigned index, VcpuContext context) {
  if (index != 0) throw std::runtime_error("-accel cross runs one CPU");
  if (!follower_memory_) throw std::logic_error("CrossAccelerator: map_memory first");
  return std::make_unique<CrossVcpu>(kvm_, *follower_memory_, kvm_.cpuid(), context, options_);
}

}  // namespace janus::cross
