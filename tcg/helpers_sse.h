// SSE/SSE2 helpers: one call per instruction (h_sse), described by an SseInsn the lifter packs
// into the call's constant. The helper checks CR0/CR4 (#UD/#NM), reads the operands (16-byte
// alignment #GP), computes (sse_host.h for arithmetic), decides #XM/#UD for unmasked SIMD
// exceptions, and only then writes the destination: the XMM registers and MXCSR live in
// CpuState::fx, so they are committed by the helper itself, last.
#pragma once
#include <cstdint>

#include "tcg/ir.h"

namespace janus::tcg {

enum class SseKind : uint8_t {
  kHost,            // xmm[reg] = host op (xmm[reg], rm); sub = HostOp
  kHostImmCount,    // xmm[rm] = host shift (xmm[rm], count imm8); sub = HostOp
  kFromGpr,         // xmm[reg] = CVTSI2SS/SD(gpr a | memory); sub = HostGprOp
  kToGpr,           // returns CVT(T)SS2SI/SD2SI(rm); sub = HostGprOp
  kCompareFlags,    // returns EFLAGS of (U)COMISS/SD(xmm[reg], rm); sub = HostGprOp
  kMove,            // slice moves between xmm[reg] and rm; sub = SseMove bits
  kMoveFromGpr,     // MOVD/MOVQ xmm[reg] = zero-extended (gpr a | memory)
  kMoveToGpr,       // MOVD/MOVQ rm = xmm[reg] low lane: stored to memory, or returned
  kShuffle,         // sub = SseShuffle, imm8 selector
  kByteShift,       // PSLLDQ (sub 0) / PSRLDQ (sub 1) xmm[rm] by imm8 bytes
  kExtractWord,     // PEXTRW: returns word imm8 of xmm[rm]
  kInsertWord,      // PINSRW: xmm[reg].word[imm8] = (gpr a | memory16)
  kMoveMask,        // MOVMSKPS (sub 0) / MOVMSKPD (1) / PMOVMSKB (2) of xmm[rm]: returned
  kMaskMove,        // MASKMOVDQU: bytes of xmm[reg] selected by xmm[rm] to seg:a (a = rDI)
  kLdmxcsr,
  kStmxcsr,
};

enum class SseShuffle : uint8_t { kShufps, kShufpd, kPshufd, kPshufhw, kPshuflw };

// kMove: `width` bytes from the source slice (xmm offset src_off, or memory) to the destination
// slice (xmm offset dst_off, or memory); `zero` clears the rest of a destination register.
// Load direction: xmm[reg] <- rm. Store direction: rm <- xmm[reg].
struct SseMove {
  uint8_t width = 16;  // 4, 8 or 16
  uint8_t src_off = 0, dst_off = 0;
  bool zero = false;
  bool store = false;
  constexpr uint8_t pack() const {
    return uint8_t((width == 4 ? 0 : width == 8 ? 1 : 2) | (src_off ? 4 : 0) | (dst_off ? 8 : 0) | (zero ? 16 : 0) |
                   (store ? 32 : 0));
  }
  static constexpr SseMove unpack(uint8_t v) {
    return {uint8_t(4u << (v & 3)), uint8_t(v & 4 ? 8 : 0), uint8_t(v & 8 ? 8 : 0), bool(v & 16), bool(v & 32)};
  }
};

// Everything about one SSE instruction that is known at translation time.
struct SseInsn {
  SseKind kind = SseKind::kHost;
  uint8_t sub = 0;
  uint8_t reg = 0;         // ModRM.reg (XMM number)
  uint8_t rm = 0;          // ModRM.rm (XMM number) when !mem
  bool mem = false;        // rm is memory at seg:a
  uint8_t seg = 0;
  uint8_t mem_size = 16;   // bytes read/written at the memory operand
  bool aligned = false;    // a 16-byte operand that must be 16-byte aligned (#GP(0))
  uint8_t imm = 0;
  bool wide = false;       // REX.W: 64-bit general-purpose operand

  constexpr uint64_t pack() const {
    return uint64_t(kind) | uint64_t(sub) << 8 | uint64_t(reg & 15) << 16 | uint64_t(rm & 15) << 20 |
           uint64_t(mem) << 24 | uint64_t(seg & 7) << 25 | uint64_t(mem_size & 31) << 28 | uint64_t(aligned) << 33 |
           uint64_t(imm) << 34 | uint64_t(wide) << 42;
  }
  static constexpr SseInsn unpack(uint64_t p) {
    SseInsn i;
    i.kind = SseKind(p & 0xff);
    i.sub = uint8_t(p >> 8);
    i.reg = (p >> 16) & 15;
    i.rm = (p >> 20) & 15;
    i.mem = (p >> 24) & 1;
    i.seg = (p >> 25) & 7;
    i.mem_size = (p >> 28) & 31;
    i.aligned = (p >> 33) & 1;
    i.imm = uint8_t(p >> 34);
    i.wide = (p >> 42) & 1;
    return i;
  }
};

// p = SseInsn::pack(); a = memory offset (or rDI for MASKMOVDQU); b = general-purpose source.
// Returns the general-purpose result (kToGpr, kMoveToGpr, kExtractWord, kMoveMask) or EFLAGS
// (kCompareFlags), else 0.
uint64_t h_sse(TcgCpu&, uint64_t p, uint64_t a, uint64_t b, uint64_t);

// MXCSR bits a guest may set (LDMXCSR, FXRSTOR) and FXSAVE's MXCSR_MASK: what this host has.
uint32_t sse_mxcsr_mask();

}  // namespace janus::tcg
