// The one-line explanation a KVM vCPU gives when it cannot continue: what failed, where
// (CS:RIP and the linear address), in which CPU mode and privilege level, and the instruction bytes.
// Example: "KVM emulation failure at 0008:0000000000101234 (linear 0x101234), long mode (64-bit code),
// CPL 0, bytes: 48 0f c7 0e 90 90 ..."
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cpu/cpu_state.h"

namespace janus {

// Name of a KVM_EXIT_INTERNAL_ERROR suberror ("emulation failure", ...).
std::string internal_error_name(uint32_t suberror);

// bytes: the instruction bytes at the linear RIP, or nullopt when they could not be read.
std::string describe_guest_failure(std::string_view what, const CpuState& s,
                                   std::optional<std::span<const uint8_t>> bytes);

}  // namespace janus
