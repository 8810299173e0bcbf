// Where a far RET or IRET at CPL0 returns to, read from the guest's stack before it executes:
// cross-check must know whether it drops to CPL3 (which this host's KVM cannot single-step)
// or stays in the kernel (the common case: Linux's IRETQ from an interrupt of kernel code, the
// decompressor's LRETQ that reloads CS).
#pragma once
#include <optional>

#include "cpu/cpu_state.h"
#include "hw/guest_memory.h"
#include "tcg/x86_decoder.h"

namespace janus::cross {

// The privilege level (the popped CS selector's RPL) the far RET (CA/CB) or IRET (CF) `d`
// returns to from state `s`; nullopt for other instructions, a task-switching IRET (NT set,
// outside long mode), or a stack that cannot be read.
std::optional<unsigned> return_privilege(const tcg::DecodedInsn& d, const CpuState& s, GuestMemory& memory);

}  // namespace janus::cross
