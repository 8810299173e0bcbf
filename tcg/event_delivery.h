// Delivering exceptions and interrupts in real mode (IVT), protected mode (IDT gates with privilege
// change through the TSS) and long mode (16-byte gates, IST), with #DF and triple-fault rules.
#pragma once
#include <cstdint>

#include "tcg/guest_fault.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

enum class EventKind : uint8_t {
  kException,         // fault/trap raised by an instruction; return address = the instruction (faults)
  kExternal,          // hardware interrupt (PIC/LAPIC) or NMI
  kSoftware,          // INT n: DPL checked against CPL, return address = next instruction
  kSoftwareException, // INT3 / INTO: like INT n but a #BP/#OF exception
  kIcebp,             // INT1
};

// Delivers vector with return address `return_rip`. On a fault during delivery applies the
// double-fault rules; a triple fault sets cpu.shutdown.
void deliver_event(TcgCpu& cpu, uint8_t vector, EventKind kind, uint64_t return_rip, bool has_error = false,
                   uint32_t error = 0);

// A fault raised by the instruction at cpu.s.rip (already rolled back to it).
inline void deliver_fault(TcgCpu& cpu, const GuestFault& f) {
  if (f.vector == kPF) cpu.s.cr2 = f.cr2;
  deliver_event(cpu, f.vector, EventKind::kException, cpu.s.rip, f.has_error, f.error);
}

}  // namespace janus::tcg
