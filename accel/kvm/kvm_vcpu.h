// One KVM vCPU: runs the guest with KVM_RUN and handles every exit it can inside run() (port I/O,
// MMIO, interrupt windows), returning only what the machine loop must decide. Interrupts come
// from a fully userspace irqchip (context.interrupts) through KVM_INTERRUPT and
// request_interrupt_window; CR8 is kept in step with the interrupt source.
#pragma once
#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "accel/kvm/kvm_fd.h"
#include "accel/kvm/kvm_thread_timer.h"
#include "accel/vcpu.h"

namespace janus {

// What the VM learnt about this host's KVM that each vCPU needs.
struct KvmVcpuConfig {
  size_t run_mmap_size = 0;  // KVM_GET_VCPU_MMAP_SIZE
  bool has_xcrs = false;     // KVM_CAP_XCRS: XCR0 is part of get/set_state
  size_t xsave_bytes = 0;    // 0: no KVM_CAP_XSAVE (FPU via KVM_GET/SET_FPU); else the XSAVE image size
  bool has_xsave2 = false;   // KVM_CAP_XSAVE2: read it with KVM_GET_XSAVE2
};

class KvmVcpu final : public Vcpu {
 public:
  // Creates vCPU `index` in vm, maps its kvm_run and sets its CPUID (KVM_SET_CPUID2).
  KvmVcpu(const KvmFd& vm, unsigned index, const KvmVcpuConfig& config, const CpuidTable& cpuid,
          VcpuContext context);
  ~KvmVcpu() override;
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  VcpuExit run(uint64_t deadline_ns) override;
  CpuState get_state() override;
  void set_state(const CpuState& state) override;
  void request_exit() override;
  void set_single_step(bool on) override;

 private:
  class RunScope;

  bool wakes_from_halt();
  void offer_interrupts();
  VcpuExit kicked();
  void handle_port_io();
  void handle_mmio();
  VcpuExit failure(const std::string& what);
  std::optional<std::vector<uint8_t>> instruction_bytes(uint64_t linear);

  void read_fpu(CpuState& s);
  void write_fpu(const FxState& fx);

  KvmFd vcpu_;
  KvmVcpuConfig config_;
  kvm_run* run_ = nullptr;
  VcpuContext context_;

  bool single_step_ = false;
  bool halted_ = false;               // executed HLT; stays halted until an interrupt it can take
  bool io_needs_completion_ = false;  // an I/O or MMIO exit is finished only by the next KVM_RUN
  std::unique_ptr<ThreadTimer> timer_;  // created on (and targeting) the thread that calls run()

  std::atomic<bool> exit_requested_{false};
  std::mutex thread_mutex_;  // guards the two fields below for request_exit()
  pthread_t run_thread_{};
  bool in_run_ = false;
};

}  // namespace janus
