#include "accel/cross/rep_string.h"

#include "hw/clock.h"

namespace janus::cross {

namespace {

uint64_t count_mask(const tcg::DecodedInsn& d) {
  return d.address_size == 8 ? ~0ull : d.address_size == 4 ? 0xffffffffull : 0xffffull;
}

uint64_t code_mask(const tcg::DecodedInsn& d) {
  return d.code_size == tcg::CodeSize::k64 ? ~0ull : d.code_size == tcg::CodeSize::k32 ? 0xffffffffull : 0xffffull;
}

// REPE/REPNE CMPS and SCAS also stop on ZF (REPE while ZF=1, REPNE while ZF=0).
bool stopped_by_condition(const tcg::DecodedInsn& d, const CpuState& s) {
  const bool compares = d.opcode == 0xa6 || d.opcode == 0xa7 || d.opcode == 0xae || d.opcode == 0xaf;
  if (!compares) return false;
  const bool zf = s.rflags & rflags::ZF;
  return d.rep == 0xf3 ? !zf : zf;
}

}  // namespace

bool is_rep_string(const tcg::DecodedInsn& d) {
  if (d.status != tcg::DecodeStatus::kOk || !d.rep || d.map != tcg::OpcodeMap::kPrimary) return false;
  uint8_t o = d.opcode;
  return (o >= 0x6c && o <= 0x6f) || (o >= 0xa4 && o <= 0xa7) || (o >= 0xaa && o <= 0xaf);
}

uint64_t rep_count(const tcg::DecodedInsn& d, const CpuState& s) { return s.gpr[RCX] & count_mask(d); }

VcpuExit run_rep_iterations(Vcpu& cpu, const tcg::DecodedInsn& d, uint64_t iterations) {
  using Reason = VcpuExit::Reason;
  const uint64_t mask = count_mask(d);
  CpuState s = cpu.get_state();
  const uint64_t rip = s.rip;
  const uint16_t cs = s.seg[CS].selector;
  const uint64_t count = s.gpr[RCX] & mask;
  s.gpr[RCX] = (s.gpr[RCX] & ~mask) | (iterations & mask);
  cpu.set_state(s);
  VcpuExit e;
  do {
    e = cpu.run(kNever);
    s = cpu.get_state();
  } while (e.reason == Reason::kSingleStep && s.rip == rip && s.seg[CS].selector == cs && !s.halted);
  const uint64_t left = s.gpr[RCX] & mask;
  s.gpr[RCX] = (s.gpr[RCX] & ~mask) | ((count - iterations + left) & mask);
  // Only the shortened count ended the instruction: the real one has iterations left.
  if (e.reason == Reason::kSingleStep && left == 0 && s.seg[CS].selector == cs &&
      s.rip == ((rip + d.length) & code_mask(d)) && !stopped_by_condition(d, s))
    s.rip = rip;
  cpu.set_state(s);
  return e;
}

}  // namespace janus::cross
