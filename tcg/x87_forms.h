// The x87 opcode map (D8-DF): which ModRM forms exist on Intel CPUs, which run on the host FPU
// (x87_host.h) and which Janus carries out itself (state save/restore, control words), the size
// and direction of each memory operand, and which forms are "waiting" (check for a pending
// unmasked exception first). Intel SDM Vol. 2, Tables A-7..A-22 (x87 escape opcode maps), plus
// the undocumented register aliases Intel CPUs execute (FSTP1, FCOM2, FCOMP3, FXCH4, FCOMP5,
// FFREEP, FXCH7, FSTP8, FSTP9), pinned against the host by tests/unit/test_tcg_x87.cpp.
#pragma once
#include <cstdint>

namespace janus::tcg::x87 {

enum class FormKind : uint8_t {
  kInvalid,     // #UD
  kHost,        // executed on the host FPU
  kNop,         // FNENI, FNDISI, FNSETPM: no-ops since the 387 (no wait, no pointer update)
  kFninit,
  kFnclex,
  kFnstswAx,
  kFnstswMem,
  kFnstcw,
  kFnstenv,
  kFldenv,
  kFnsave,
  kFrstor,
};

struct Form {
  FormKind kind = FormKind::kInvalid;
  uint8_t mem_size = 0;     // memory operand bytes for host forms (0: register form)
  bool mem_store = false;   // the host form writes its memory operand (else reads it)
  bool waiting = true;      // takes #MF for a pending unmasked exception before executing
  bool sets_eflags = false; // FCOMI/FUCOMI(P): ZF, PF, CF
  bool needs_sse3 = false;  // FISTTP
};

// `modrm` is the raw ModRM byte (mod 3 = register form).
Form form_of(uint8_t opcode, uint8_t modrm);

}  // namespace janus::tcg::x87
