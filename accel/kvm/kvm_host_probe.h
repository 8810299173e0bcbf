// Can this host run guests under KVM, and does kernel-mode guest code run on the CPU or in the
// host kernel's instruction emulator? The CLI asks this when it chooses an accelerator itself.
#pragma once
#include <string>

namespace janus {

struct KvmHostInfo {
  bool usable = false;                     // /dev/kvm opens and speaks KVM API version 12
  bool runs_kernel_mode_natively = false;  // VT-x/AMD-V present and KVM is not the paravirtual kvm_pvm
  std::string reason;                      // one line for the user: why KVM is (not) a good choice
};

KvmHostInfo probe_kvm_host();

}  // namespace janus
