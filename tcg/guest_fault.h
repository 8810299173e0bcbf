// A guest exception raised while executing an instruction. Thrown from the soft MMU and helpers,
// caught at the instruction boundary by the executor, which restores RIP to the faulting
// instruction and delivers the exception: since the lifter commits registers only after the last
// op that can fault, nothing of the instruction is visible (precise faults).
#pragma once
#include <cstdint>

namespace janus::tcg {

struct GuestFault {
  uint8_t vector;
  bool has_error = false;
  uint32_t error = 0;
  uint64_t cr2 = 0;  // #PF: the linear address
};

[[noreturn]] inline void raise_fault(uint8_t vector) { throw GuestFault{vector, false, 0, 0}; }
[[noreturn]] inline void raise_fault(uint8_t vector, uint32_t error) { throw GuestFault{vector, true, error, 0}; }

}  // namespace janus::tcg
