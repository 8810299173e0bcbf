// Runs one guest x87 instruction on the host's own FPU. The software CPU's x87 semantics are
// those of the Intel CPU it runs on: the guest's FPU state is loaded into the host FPU with
// FXRSTOR, the very same instruction (same opcode and ModRM; memory operands redirected to a
// host buffer) executes natively, and FXSAVE reads back everything it changed (registers, TOP,
// tags, condition codes, exception flags), bit for bit. The host's own FPU state is saved
// before and restored after, so the host program never sees guest state.
//
// Safety: the caller must only pass instructions that x87_forms.h calls valid host forms (an
// invalid opcode would SIGILL). A pending unmasked exception in the guest state (possible only
// with CR0.NE=0, or after loading an inconsistent status word) would make the host take #MF as
// SIGFPE, so it is stripped for the host run and merged back into the result.
#pragma once
#include <cstdint>

#include "cpu/cpu_state.h"

namespace janus::tcg::x87 {

// A 64-bit FXSAVE image (FXSAVE64 layout) as the host FPU reads and writes it.
struct alignas(64) HostImage {
  uint8_t bytes[512];
};

struct HostResult {
  uint16_t fcw = 0, fsw = 0;
  uint8_t ftw = 0;
  std::array<std::array<uint8_t, 16>, 8> st{};
  bool updated_fip = false;  // the instruction is a non-control one (it set the host's FIP)
  bool updated_fop = false;  // it raised an unmasked exception (this CPU records FOP/FDP only then)
  uint64_t rflags = 0;       // host RFLAGS after it (FCOMI family, read for CF/PF/ZF...)
};

// Executes `opcode modrm` (modrm >= 0xc0) on the host with the x87 part of `fx` (control,
// status, tags, registers). `rflags`' arithmetic flags are live during it (FCMOVcc reads them).
HostResult run_register_form(const FxState& fx, uint8_t opcode, uint8_t modrm, uint64_t rflags);

// Executes the memory form `opcode /reg` with its operand at `mem` (at least 16 bytes).
HostResult run_memory_form(const FxState& fx, uint8_t opcode, unsigned reg, uint8_t* mem, uint64_t rflags);

}  // namespace janus::tcg::x87
