// The x87 state in CpuState::fx (FXSAVE layout, registers in stack order ST0..ST7) and the memory
// images the state save/restore instructions use: FNSTENV/FLDENV and FNSAVE/FRSTOR in their
// four formats (16-/32-bit operand size x real/protected mode, Intel SDM Vol. 1, 8.1.10) and
// FXSAVE/FXRSTOR (SDM Vol. 1, 10.5.1). Pure data conversions: no memory access, no faults.
#pragma once
#include <cstdint>
#include <span>

#include "cpu/cpu_state.h"

namespace janus::tcg::x87 {

constexpr uint16_t kFswTopShift = 11;
constexpr uint16_t kFswTopMask = 7u << kFswTopShift;
constexpr uint32_t kMxcsrMask = 0xffff;  // MXCSR bits FXRSTOR/LDMXCSR accept (DAZ included)

inline unsigned top_of(const FxState& fx) { return (fx.fsw >> kFswTopShift) & 7; }

// Sets TOP, keeping every physical register where it is (st[] is re-indexed around it).
void set_top(FxState& fx, unsigned top);

// The full 16-bit tag word (2 bits per physical register: 00 valid, 01 zero, 10 special,
// 11 empty) computed from the abridged tag and the register contents, as FNSTENV stores it.
uint16_t full_tag_word(const FxState& fx);
// The abridged tag (1 = not empty) of a full tag word, as FLDENV/FRSTOR load it.
uint8_t abridged_tag(uint16_t full);

// ES (error summary) and B (busy) follow from the exception flags and masks: the CPU derives
// them when a status word is loaded (FLDENV, FRSTOR, FXRSTOR) and stores the derived bits.
void derive_error_summary(FxState& fx);

// FNINIT: default control word, empty stack, TOP 0, cleared pointers; register contents stay.
void fninit(FxState& fx);

// FNSTENV/FLDENV image layout: 14 bytes (16-bit operand size) or 28 bytes (32/64-bit).
struct EnvFormat {
  bool op32 = true;
  bool real_mode = false;  // real-address and virtual-8086 mode layout: linear pointers + FOP
  unsigned size() const { return op32 ? 28 : 14; }
};
void store_env(const FxState& fx, EnvFormat f, std::span<uint8_t> out);
void load_env(FxState& fx, EnvFormat f, std::span<const uint8_t> in);

// FXSAVE/FXRSTOR image (512 bytes). `rex_w` picks the 64-bit pointer layout; `xmm_count` is
// 16 in 64-bit mode, 8 otherwise.
void store_fxsave(const FxState& fx, bool rex_w, unsigned xmm_count, std::span<uint8_t, 512> out);
void load_fxsave(FxState& fx, bool rex_w, bool with_sse, unsigned xmm_count, std::span<const uint8_t, 512> in);

}  // namespace janus::tcg::x87
