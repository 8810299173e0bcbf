// POPCNT, LZCNT and TZCNT, executed as the host's own instruction: the host is the Intel CPU the
// CPUID template describes, so results and every flag (defined or not) match hardware exactly.
#include "tcg/helpers.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

namespace {

constexpr uint64_t kArith = rflags::CF | rflags::PF | rflags::AF | rflags::ZF | rflags::SF | rflags::OF;

// Loads only the arithmetic flags into the host (never TF/DF/AC), runs OP, reads them back.
// The 128-byte step over the red zone keeps the compiler's locals safe from PUSHF.
#define JANUS_BITCOUNT(insn, T, src, result, flags)                                                  \
  asm volatile("sub $128, %%rsp\n\tpushq %[f]\n\tpopfq\n\t" insn " %[s], %[r]\n\tpushfq\n\tpopq %[f]\n\t" \
               "add $128, %%rsp"                                                                     \
               : [r] "=&r"(result), [f] "+r"(flags)                                                  \
               : [s] "r"(T(src))                                                                     \
               : "cc", "memory")

template <typename T>
void run(uint64_t op, uint64_t src, uint64_t& result, uint64_t& flags) {
  T r = 0;
  switch (op) {
    case kPopcnt: JANUS_BITCOUNT("popcnt", T, src, r, flags); break;
    case kLzcnt: JANUS_BITCOUNT("lzcnt", T, src, r, flags); break;
    default: JANUS_BITCOUNT("tzcnt", T, src, r, flags); break;
  }
  result = r;
}

// Returns {result, flags} for the guest's operand and current flags.
std::pair<uint64_t, uint64_t> bitcount(TcgCpu& cpu, uint64_t p, uint64_t src) {
  uint64_t old = cpu.cc.compute();
  uint64_t flags = (old & kArith) | rflags::FIXED1;
  uint64_t result = 0;
  switch (hp_size(p)) {
    case 2: run<uint16_t>(hp_op(p), src, result, flags); break;
    case 4: run<uint32_t>(hp_op(p), src, result, flags); break;
    default: run<uint64_t>(hp_op(p), src, result, flags); break;
  }
  return {result, (old & ~kArith) | (flags & kArith)};
}

}  // namespace

uint64_t h_bitcount(TcgCpu& cpu, uint64_t p, uint64_t src, uint64_t, uint64_t) { return bitcount(cpu, p, src).first; }

uint64_t h_bitcount_flags(TcgCpu& cpu, uint64_t p, uint64_t src, uint64_t, uint64_t) {
  return bitcount(cpu, p, src).second;
}

uint64_t h_probe_write(TcgCpu& cpu, uint64_t p, uint64_t offset, uint64_t, uint64_t) {
  unsigned size = hp_size(p);
  uint64_t linear = cpu.linear_address(unsigned(hp_op(p)), offset, size, true);
  cpu.mmu.probe_write(linear, size, cpu.user_mode());
  return 0;
}

uint64_t h_cmpxchg16b(TcgCpu& cpu, uint64_t p, uint64_t offset, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  unsigned seg = unsigned(p);
  if (cpu.linear_address(seg, offset, 16, true) & 15) raise_fault(kGP, 0);
  uint64_t lo = cpu.load(seg, offset, 8), hi = cpu.load(seg, offset + 8, 8);
  uint64_t f = cpu.cc.compute();
  bool equal = lo == s.gpr[RAX] && hi == s.gpr[RDX];
  // The destination is always written (with itself on failure); aligned, so one page.
  cpu.store(seg, offset, 8, equal ? s.gpr[RBX] : lo);
  cpu.store(seg, offset + 8, 8, equal ? s.gpr[RCX] : hi);
  if (!equal) {
    s.gpr[RAX] = lo;
    s.gpr[RDX] = hi;
  }
  cpu.cc.set_eflags(equal ? f | rflags::ZF : f & ~rflags::ZF);
  return 0;
}

}  // namespace janus::tcg
