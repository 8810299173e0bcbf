#include "accel/kvm/kvm_cpuid.h"

#include "accel/kvm/kvm_abi.h"

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <stdexcept>

namespace janus {

namespace {

const kvm_cpuid_entry2* find_supported(std::span<const kvm_cpuid_entry2> supported, uint32_t function,
                                       uint32_t index) {
  for (const auto& e : supported)
    if (e.function == function && (!(e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e.index == index)) return &e;
  return nullptr;
}

// Which registers of this leaf hold feature flags (bit i: EAX, EBX, ECX, EDX).
unsigned feature_register_mask(uint32_t function, uint32_t index) {
  constexpr unsigned A = 1, B = 2, C = 4, D = 8;
  switch (function) {
    case 1: return C | D;
    case 7: return index == 0 ? (B | C | D) : (A | B | C | D);
    case 0xd: return index == 0 ? (A | D) : index == 1 ? A : 0;
    case 0x80000001: return C | D;
    case 0x80000007: return D;  // invariant TSC
    default: return 0;
  }
}

}  // namespace

CpuidTable intersect_cpuid(const CpuidTable& tmpl, std::span<const kvm_cpuid_entry2> supported) {
  CpuidTable out = tmpl;
  for (CpuidEntry& e : out.entries()) {
    unsigned mask = feature_register_mask(e.function, e.index);
    if (!mask) continue;
    const kvm_cpuid_entry2* host = find_supported(supported, e.function, e.index);
    kvm_cpuid_entry2 none{};
    if (!host) host = &none;
    if (mask & 1) e.regs.eax &= host->eax;
    if (mask & 2) e.regs.ebx &= host->ebx;
    if (mask & 4) e.regs.ecx &= host->ecx;
    if (mask & 8) e.regs.edx &= host->edx;
  }
  return out;
}

std::vector<kvm_cpuid_entry2> kvm_supported_cpuid(const KvmFd& kvm) {
  // The kernel says E2BIG until the buffer is large enough for every entry it wants to report.
  for (uint32_t capacity = 128; capacity <= 4096; capacity *= 2) {
    KvmArrayArg<KvmCpuid2Header, kvm_cpuid_entry2> cpuid(capacity);
    cpuid.header()->nent = capacity;
    int r = kvm.try_ioctl(kKvmGetSupportedCpuid, cpuid.arg());
    if (r == -E2BIG) continue;
    if (r < 0) throw std::runtime_error(std::string("KVM_GET_SUPPORTED_CPUID failed: ") + std::strerror(-r));
    uint32_t n = std::min(cpuid.header()->nent, capacity);
    return std::vector<kvm_cpuid_entry2>(cpuid.entries(), cpuid.entries() + n);
  }
  throw std::runtime_error("KVM_GET_SUPPORTED_CPUID failed: more than 4096 entries");
}

std::vector<kvm_cpuid_entry2> to_kvm_cpuid_entries(const CpuidTable& table, unsigned apic_id) {
  std::vector<kvm_cpuid_entry2> out;
  for (const CpuidEntry& e : table.entries()) {
    kvm_cpuid_entry2 k{};
    k.function = e.function;
    k.index = e.index;
    k.flags = e.indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    k.eax = e.regs.eax;
    k.ebx = e.regs.ebx;
    k.ecx = e.regs.ecx;
    k.edx = e.regs.edx;
    if (e.function == 1) k.ebx = (k.ebx & 0x00ffffffu) | (apic_id << 24);
    out.push_back(k);
  }
  return out;
}

}  // namespace janus
