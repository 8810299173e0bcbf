#include "tcg/debug_events.h"

#include "tcg/event_delivery.h"

namespace janus::tcg {

namespace {

// DR7 fields of breakpoint n: L/G enables, R/W kind, LEN.
bool enabled(const CpuState& s, unsigned n) { return (s.dr7 >> (2 * n)) & 3; }
unsigned rw_of(const CpuState& s, unsigned n) { return (s.dr7 >> (16 + 4 * n)) & 3; }
uint64_t len_of(const CpuState& s, unsigned n) {
  switch ((s.dr7 >> (18 + 4 * n)) & 3) {
    case 0: return 1;
    case 1: return 2;
    case 2: return 8;
    default: return 4;
  }
}
constexpr unsigned kRwExecute = 0, kRwWrite = 1, kRwReadWrite = 3;  // 2 = I/O (CR4.DE): not supported

// The breakpoint covers [DRn & ~(len-1), +len): the CPU ignores the low address bits.
bool overlaps(const CpuState& s, unsigned n, uint64_t linear, unsigned size) {
  uint64_t len = len_of(s, n);
  uint64_t start = s.dr[n] & ~(len - 1);
  return linear < start + len && start < linear + size;
}

uint64_t code_linear(const TcgCpu& cpu) {
  const CpuState& s = cpu.s;
  return cpu.code64() ? s.rip : (s.seg[CS].base + s.rip) & 0xffffffffull;
}

// Reports `bits` in DR6 and delivers #DB with the current RIP as return address. B0-B3 describe
// this exception only (they replace older ones); BD/BS/BT accumulate until software clears them.
void raise_debug(TcgCpu& cpu, uint64_t bits) {
  CpuState& s = cpu.s;
  if (bits & 0xf) s.dr6 &= ~0xfull;
  s.dr6 |= bits;
  s.dr7 &= ~dr7::GD;  // the handler may use the debug registers
  deliver_event(cpu, kDB, EventKind::kException, s.rip);
}

}  // namespace

bool debug_active(const TcgCpu& cpu) {
  return (cpu.s.rflags & rflags::TF) || (cpu.s.dr7 & 0xff) || cpu.debug_deferred;
}

void debug_registers_changed(TcgCpu& cpu) {
  bool watch = false;
  for (unsigned n = 0; n < 4; ++n) {
    unsigned rw = rw_of(cpu.s, n);
    if (enabled(cpu.s, n) && (rw == kRwWrite || rw == kRwReadWrite)) watch = true;
  }
  cpu.data_watch = watch;
  cpu.mmu.set_fast_data(!watch);
}

void note_data_access(TcgCpu& cpu, uint64_t linear, unsigned size, bool write) {
  const CpuState& s = cpu.s;
  for (unsigned n = 0; n < 4; ++n) {
    unsigned rw = rw_of(s, n);
    if (!enabled(s, n) || rw == kRwExecute || (rw == kRwWrite && !write)) continue;
    if (rw != kRwWrite && rw != kRwReadWrite) continue;
    if (overlaps(s, n, linear, size)) cpu.debug_data_hits |= dr6::B0 << n;
  }
}

bool debug_before_instruction(TcgCpu& cpu, DebugStep& step) {
  CpuState& s = cpu.s;
  step.tf = s.rflags & rflags::TF;
  step.rf = s.rflags & rflags::RF;
  step.shadow = s.events.interrupt_shadow;
  step.retired = cpu.stats.instructions;
  step.events = cpu.events_delivered;
  cpu.debug_data_hits = 0;
  if (step.rf || !(s.dr7 & 0xff)) return false;
  uint64_t rip = code_linear(cpu);
  uint64_t hits = 0;
  for (unsigned n = 0; n < 4; ++n)
    if (enabled(s, n) && rw_of(s, n) == kRwExecute && overlaps(s, n, rip, 1)) hits |= dr6::B0 << n;
  if (!hits) return false;
  ++cpu.stats.exceptions;
  raise_debug(cpu, hits);
  return true;
}

void debug_after_instruction(TcgCpu& cpu, const DebugStep& step) {
  CpuState& s = cpu.s;
  uint64_t hits = cpu.debug_data_hits;
  cpu.debug_data_hits = 0;
  if (cpu.stats.instructions == step.retired) return;  // it faulted: the fault was delivered instead
  // RF only shields the one instruction after an IRET (SDM 17.3.1.1); it is cleared once that
  // instruction completes. (An IRET that itself ran with RF set and loads RF again loses it.)
  if (step.rf) s.rflags &= ~rflags::RF;
  uint64_t bits = hits;
  // The single-step trap follows TF as it was when the instruction began: POPF/IRET setting TF
  // trap only after the next instruction. INT n, INT3, INTO and INT1 clear TF on the way to
  // their handler and raise no single-step trap.
  if (step.tf && cpu.events_delivered == step.events) bits |= dr6::BS;
  // MOV SS / POP SS hold debug traps for one more instruction, so that the stack pointer load
  // that follows completes first (SDM 6.8.3).
  if ((s.events.interrupt_shadow & 2) && !(step.shadow & 2)) {
    cpu.debug_deferred |= bits;
    return;
  }
  bits |= cpu.debug_deferred;
  cpu.debug_deferred = 0;
  if (!bits) return;
  ++cpu.stats.exceptions;
  raise_debug(cpu, bits);
}

}  // namespace janus::tcg
