// The CPUID a KVM guest sees: the Janus template, with every feature bit the host's KVM cannot
// provide turned off, so a guest never sees a feature that would then fail under KVM.
//
// The rule (intersect_cpuid):
//  - The result has exactly the template's leaves; KVM-only leaves are not added.
//  - Feature-flag registers are ANDed with KVM_GET_SUPPORTED_CPUID: leaf 1 ECX/EDX; leaf 7
//    subleaf 0 EBX/ECX/EDX (subleaf 1+ all four registers); leaf 0xD subleaf 0 EAX/EDX and
//    subleaf 1 EAX (XSAVE components and instructions); leaf 0x80000001 ECX/EDX. A feature leaf
//    KVM does not report at all counts as all-zero.
//  - Everything else (vendor, brand string, family/model/stepping, max leaf numbers, cache and
//    address-size leaves) is kept from the template: those values describe the Janus CPU model,
//    not the host, so the guest sees the same CPU on both backends.
//  - Per vCPU, leaf 1 EBX[31:24] (initial APIC ID) becomes the vCPU index (to_kvm_cpuid_entries).
#pragma once
#include <linux/kvm.h>

#include <span>
#include <vector>

#include "accel/kvm/kvm_fd.h"
#include "cpu/cpuid.h"

namespace janus {

CpuidTable intersect_cpuid(const CpuidTable& tmpl, std::span<const kvm_cpuid_entry2> supported);

// KVM_GET_SUPPORTED_CPUID on the /dev/kvm fd.
std::vector<kvm_cpuid_entry2> kvm_supported_cpuid(const KvmFd& kvm);

// The entries KVM_SET_CPUID2 takes for vCPU apic_id.
std::vector<kvm_cpuid_entry2> to_kvm_cpuid_entries(const CpuidTable& table, unsigned apic_id);

}  // namespace janus
