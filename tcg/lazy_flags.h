// Lazy arithmetic flags, QEMU style: an instruction records what it did (cc_op, result, source)
// and CF/PF/AF/ZF/SF/OF are computed only when something reads them (Jcc, PUSHF, ADC...).
#pragma once
#include <cstdint>

namespace janus::tcg {

// cc_op = kind * 4 + log2(operand size).
enum CcKind : uint8_t {
  kCcEflags = 0,  // flags already computed: cc_src holds them (the six arithmetic bits)
  kCcAdd, kCcAdc, kCcSub, kCcSbb, kCcLogic, kCcInc, kCcDec,
  kCcMul,         // cc_dst = low result, cc_src = nonzero when the high half is significant
  // SHL/SAL, SHR, SAR by a non-zero count: cc_dst = result, cc_src = the operand, cc_src2 = count.
  kCcShl, kCcShr, kCcSar,
  // IMUL r, r/m (, imm): cc_dst = low result, cc_src and cc_src2 = the operands (the overflow
  // test redoes the full product only when CF/OF are read).
  kCcImul,
};

constexpr uint32_t cc_op(CcKind kind, unsigned size) {
  return uint32_t(kind) * 4 + (size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3);
}

// Only these kinds' flags depend on cc_src2; the others may leave it stale (compiled code does
// not store it for them).
constexpr bool cc_reads_src2(CcKind kind) {
  return kind == kCcAdc || kind == kCcSbb || kind == kCcShl || kind == kCcShr || kind == kCcSar || kind == kCcImul;
}

constexpr uint64_t kArithFlags = 0x8d5;  // CF PF AF ZF SF OF

struct LazyFlags {
  uint32_t op = kCcEflags;
  uint64_t dst = 0, src = 0, src2 = 0;

  uint64_t compute() const;  // the six arithmetic flags
  bool carry() const;
  bool condition(unsigned cc) const;  // cc in Jcc order: O NO B AE E NE BE A S NS P NP L GE LE G
  void set_eflags(uint64_t flags) { op = kCcEflags; src = flags & kArithFlags; }
};

inline bool parity_even(uint64_t v) { return !__builtin_parity(unsigned(v & 0xff)); }

}  // namespace janus::tcg
