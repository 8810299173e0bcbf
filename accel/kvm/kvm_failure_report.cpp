#include "accel/kvm/kvm_failure_report.h"

#include <linux/kvm.h>

#include <cstdio>

#include "cpu/guest_virtual_memory.h"

namespace janus {

std::string internal_error_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "internal error (simultaneous exceptions)";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "internal error (exit while delivering an event)";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "internal error (unexpected exit reason)";
    default: return "internal error (suberror " + std::to_string(suberror) + ")";
  }
}

std::string describe_guest_failure(std::string_view what, const CpuState& s,
                                   std::optional<std::span<const uint8_t>> bytes) {
  char where[96];
  std::snprintf(where, sizeof where, " at %04x:%016llx (linear 0x%llx), ", s.seg[CS].selector,
                static_cast<unsigned long long>(s.rip), static_cast<unsigned long long>(linear_rip(s)));
  std::string out(what);
  out += where;
  out += describe_mode(s);
  out += ", CPL " + std::to_string(s.cpl()) + ", ";
  if (!bytes) return out + "bytes unavailable";
  out += "bytes:";
  for (uint8_t b : *bytes) {
    char hex[4];
    std::snprintf(hex, sizeof hex, " %02x", b);
    out += hex;
  }
  return out;
}

}  // namespace janus
