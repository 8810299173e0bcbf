// The KVM backend's machine-wide half: /dev/kvm, one VM, its memory slots and the guest CPUID.
// Guest memory must outlive the accelerator and its vCPUs (KVM maps it by host address).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "accel/kvm/kvm_fd.h"
#include "accel/kvm/kvm_vcpu.h"
#include "accel/vcpu.h"

namespace janus {

class KvmAccelerator final : public Accelerator {
 public:
  // Opens /dev/kvm, checks the API version and the capabilities Janus needs, creates the VM and
  // computes the guest CPUID (see kvm_cpuid.h for the rule). Throws std::runtime_error with a
  // one-line reason if KVM is missing or unusable.
  explicit KvmAccelerator(const CpuidTable& tmpl);

  std::string name() const override { return "kvm"; }
  // One KVM memory slot per GuestMemory region; ROM regions are read-only slots, so guest writes
  // to them exit as MMIO (which the machine drops).
  void map_memory(GuestMemory& memory) override;
  std::unique_ptr<Vcpu> create_vcpu(unsigned index, VcpuContext context) override;
  const CpuidTable& cpuid() const override { return cpuid_; }

  // The guest TSC frequency (KVM_GET_TSC_KHZ on the VM), in Hz.
  uint64_t tsc_hz() const override;

 private:
  KvmFd kvm_;
  KvmFd vm_;
  KvmVcpuConfig vcpu_config_;
  uint32_t next_slot_ = 0;
  CpuidTable cpuid_;
};

}  // namespace janus
