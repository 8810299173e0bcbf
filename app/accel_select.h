// Choosing the backend: -accel kvm|tcg, or automatically the best one this host can run.
#pragma once
#include <memory>
#include <string>

#include "accel/vcpu.h"
#include "app/options.h"

namespace janus {

struct AccelSelection {
  AccelChoice choice = AccelChoice::kTcg;  // kKvm or kTcg, never kAuto
  std::string reason;                      // one line: why, for automatic choices
};

// Auto picks KVM only where it runs guest kernel code natively (VT-x/AMD-V); a paravirtual
// KVM that emulates kernel mode in the host (kvm_pvm) is far slower than the software CPU.
AccelSelection select_accelerator(AccelChoice requested);

std::unique_ptr<Accelerator> make_accelerator(AccelChoice choice, const CpuidTable& cpuid_template);

}  // namespace janus
