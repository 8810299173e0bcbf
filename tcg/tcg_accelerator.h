// -accel tcg: the software CPU as a janus::Accelerator.
#pragma once
#include <memory>

#include "accel/vcpu.h"
#include "tcg/tcg_cpu.h"

namespace janus {

class TcgAccelerator final : public Accelerator {
 public:
  explicit TcgAccelerator(const CpuidTable& cpuid) : cpuid_(cpuid) {}
  std::string name() const override { return "tcg"; }
  void map_memory(GuestMemory& memory) override { memory_ = &memory; }
  std::unique_ptr<Vcpu> create_vcpu(unsigned index, VcpuContext context) override;
  const CpuidTable& cpuid() const override { return cpuid_; }

  // Counters of a vCPU this accelerator created (nullptr for a foreign Vcpu).
  static const tcg::TcgStats* stats_of(const Vcpu& vcpu);
  uint64_t tsc_hz() const override { return tcg::kTscHz; }

 private:
  CpuidTable cpuid_;
  GuestMemory* memory_ = nullptr;
};

}  // namespace janus
