// Helpers for the x87 FPU and the FXSAVE family (lifted by tcg/lift_x87.cpp). Each carries out a
// whole instruction: #UD/#NM/#MF checks, memory reads, the operation (on the host FPU, see
// x87_host.h, or in software for the state save/restore and control instructions), memory
// writes, and only then the FPU state update, so a fault leaves nothing behind.
#pragma once
#include <cstdint>

#include "tcg/helpers.h"

namespace janus::tcg {

// Packs an x87 instruction for h_x87: opcode D8..DF, raw ModRM, memory segment, operand size.
constexpr uint64_t x87_param(uint8_t opcode, uint8_t modrm, unsigned seg, unsigned osz) {
  return opcode | (uint64_t(modrm) << 8) | (uint64_t(seg & 0xff) << 16) | (uint64_t(osz & 0xf) << 24);
}

// One D8..DF instruction; `ea` is the memory operand's offset (ignored for register forms).
// Returns the FSW for FNSTSW AX, the new RFLAGS for FCOMI/FUCOMI(P), 0 otherwise.
uint64_t h_x87(TcgCpu&, uint64_t p /*x87_param*/, uint64_t ea, uint64_t, uint64_t);
// FWAIT: #NM when CR0.MP and CR0.TS are both set, then #MF for a pending unmasked exception.
uint64_t h_fwait(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
// FXSAVE (restore 0) / FXRSTOR (restore 1), REX.W = 64-bit pointer layout.
constexpr uint64_t fxsave_param(bool restore, bool rex_w, unsigned seg) {
  return uint64_t(restore) | (uint64_t(rex_w) << 1) | (uint64_t(seg & 0xff) << 8);
}
uint64_t h_fxsave(TcgCpu&, uint64_t p /*fxsave_param*/, uint64_t ea, uint64_t, uint64_t);

}  // namespace janus::tcg
