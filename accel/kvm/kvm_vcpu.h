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
  bool has_sync_regs = false;  // KVM_CAP_SYNC_REGS covers REGS, SREGS and EVENTS (kKvmSyncCoreRegs)
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
  // The whole state: the core part (refresh_core_state) and the extended part (x87/SSE via XSAVE
  // or FPU, the MSRs, DR0-3/DR6/DR7, XCR0, MP state), which costs one ioctl per piece.
  CpuState get_state() override;
  // Only the core part of `s`: GPRs, RIP, RFLAGS, segments, descriptor tables, CR0/2/3/4/8, EFER,
  // APIC base, pending events (KVM_GET_REGS/SREGS/VCPU_EVENTS) and halted (Janus's own flag, or
  // KVM's MP state as the last get_state() read it). Everything else in `s` is left as it is. With KVM_CAP_SYNC_REGS this reads the copy KVM made in kvm_run when the
  // last KVM_RUN returned (no ioctl), unless the state was changed since (set_state, injection).
  // The first state read turns that copy on: runs whose state is never read do not pay for it.
  void refresh_core_state(CpuState& s);
  // Tests: false makes refresh_core_state() and get_state() use the ioctls even where kvm_run
  // holds a current copy, to compare the two.
  void set_core_state_from_kvm_run(bool on) { use_sync_regs_ = on && config_.has_sync_regs; }
  bool core_state_from_kvm_run() const { return core_synced_ && use_sync_regs_; }
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
  void read_extended_state(CpuState& s);
  int run_ioctl();

  KvmFd vcpu_;
  KvmVcpuConfig config_;
  kvm_run* run_ = nullptr;
  VcpuContext context_;

  bool single_step_ = false;
  bool halted_ = false;               // executed HLT; stays halted until an interrupt it can take
  bool io_needs_completion_ = false;  // an I/O or MMIO exit is finished only by the next KVM_RUN
  bool mp_halted_ = false;            // KVM_MP_STATE_HALTED at the last read of the extended part
  // KVM_CAP_SYNC_REGS: kvm_run.s.regs holds REGS, SREGS and EVENTS as the last KVM_RUN left them
  // (core_synced_), until Janus changes the state by ioctl.
  bool use_sync_regs_ = false;
  bool core_synced_ = false;
  std::unique_ptr<ThreadTimer> timer_;  // created on (and targeting) the thread that calls run()

  std::atomic<bool> exit_requested_{false};
  std::mutex thread_mutex_;  // guards the two fields below for request_exit()
  pthread_t run_thread_{};
  bool in_run_ = false;
};

}  // namespace janus
