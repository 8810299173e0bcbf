#include "app/accel_select.h"

#include <stdexcept>

#include "accel/cross/cross_accelerator.h"
#include "accel/kvm/kvm_accelerator.h"
#include "accel/kvm/kvm_host_probe.h"
#include "tcg/tcg_accelerator.h"

namespace janus {

AccelSelection select_accelerator(AccelChoice requested) {
  if (requested != AccelChoice::kAuto) return {requested, ""};
  KvmHostInfo host = probe_kvm_host();
  if (host.usable && host.runs_kernel_mode_natively)
    return {AccelChoice::kKvm, "KVM runs guest kernel code natively on this host"};
  return {AccelChoice::kTcg, host.reason.empty() ? "KVM is not usable here" : host.reason};
}

std::unique_ptr<Accelerator> make_accelerator(AccelChoice choice, const CpuidTable& cpuid_template) {
  switch (choice) {
    case AccelChoice::kKvm: return std::make_unique<KvmAccelerator>(cpuid_template);
    case AccelChoice::kTcg: return std::make_unique<TcgAccelerator>(cpuid_template);
    case AccelChoice::kCross: return std::make_unique<cross::CrossAccelerator>(cpuid_template, cross::CrossOptions{});
    case AccelChoice::kAuto: break;
  }
  throw std::logic_error("make_accelerator: resolve kAuto with select_accelerator first");
}

}  // namespace janus
