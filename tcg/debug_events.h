// Debug exceptions (#DB, Intel SDM Vol. 3, 17.2-17.3): the RFLAGS.TF single-step trap, DR0-DR3
// instruction breakpoints (faults, before the instruction, suppressed by RF) and data breakpoints
// (traps after the access), reported in DR6. General detect (DR7.GD) lives with MOV DR.
//
// While any of this can fire (TF set, or a breakpoint enabled in DR7) the run loop executes one
// instruction per block and brackets it with debug_before_instruction / debug_after_instruction.
#pragma once
#include <cstdint>

#include "tcg/tcg_cpu.h"

namespace janus::tcg {

namespace dr6 {
constexpr uint64_t B0 = 1u << 0, BD = 1u << 13, BS = 1u << 14, BT = 1u << 15;
}
namespace dr7 {
constexpr uint64_t GD = 1u << 13;
}

// TF is set or DR7 enables a breakpoint: instructions must be stepped one at a time.
bool debug_active(const TcgCpu& cpu);
// After DR0-DR3/DR7 change: decide whether loads and stores are compared with the breakpoints.
void debug_registers_changed(TcgCpu& cpu);
// Records a data access matching an enabled data breakpoint (called by TcgCpu::load/store).
void note_data_access(TcgCpu& cpu, uint64_t linear, unsigned size, bool write);

// What the loop remembers about the instruction about to run.
struct DebugStep {
  bool tf = false;               // RFLAGS.TF when the instruction began
  bool rf = false;               // RFLAGS.RF when the instruction began
  uint8_t shadow = 0;            // interrupt shadow in force before it
  uint64_t retired = 0;          // stats.instructions before it
  uint64_t events = 0;           // events_delivered before it
};

// An enabled instruction breakpoint at CS:RIP (RF clear) raises #DB before the instruction:
// returns true when it was delivered (the loop then starts over at the handler).
bool debug_before_instruction(TcgCpu& cpu, DebugStep& step);
// After the instruction: clears RF, then delivers the single-step / data breakpoint trap (or
// holds it for one more instruction after MOV SS / POP SS).
void debug_after_instruction(TcgCpu& cpu, const DebugStep& step);

}  // namespace janus::tcg
