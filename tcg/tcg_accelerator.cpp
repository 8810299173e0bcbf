#include "tcg/tcg_accelerator.h"

#include "tcg/tcg_vcpu.h"

namespace janus {

std::unique_ptr<Vcpu> TcgAccelerator::create_vcpu(unsigned index, VcpuContext context) {
  return std::make_unique<tcg::TcgVcpu>(index, context);
}

const tcg::TcgStats* TcgAccelerator::stats_of(const Vcpu& vcpu) {
  auto* t = dynamic_cast<const tcg::TcgVcpu*>(&vcpu);
  return t ? &t->stats() : nullptr;
}

}  // namespace janus
