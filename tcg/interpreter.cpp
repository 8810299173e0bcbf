#include "tcg/interpreter.h"

#include "tcg/event_delivery.h"

namespace janus::tcg {

namespace {

inline uint64_t mask_of(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

inline uint64_t sext(uint64_t v, unsigned size) {
  switch (size) {
    case 1: return uint64_t(int64_t(int8_t(v)));
    case 2: return uint64_t(int64_t(int16_t(v)));
    case 4: return uint64_t(int64_t(int32_t(v)));
    default: return v;
  }
}

inline bool compare(CmpKind k, unsigned size, uint64_t a, uint64_t b) {
  uint64_t m = mask_of(size);
  a &= m;
  b &= m;
  switch (k) {
    case CmpKind::kEq: return a == b;
    case CmpKind::kNe: return a != b;
    case CmpKind::kLtu: return a < b;
    case CmpKind::kLeu: return a <= b;
    case CmpKind::kLts: return int64_t(sext(a, size)) < int64_t(sext(b, size));
    case CmpKind::kLes: return int64_t(sext(a, size)) <= int64_t(sext(b, size));
  }
  return false;
}

inline uint64_t get_reg(const CpuState& s, uint64_t r, unsigned size) {
  if (r >= 16) return (s.gpr[r - 16] >> 8) & 0xff;
  return s.gpr[r] & mask_of(size);
}

inline void set_reg(CpuState& s, uint64_t r, unsigned size, uint64_t v) {
  if (r >= 16) {
    uint64_t& g = s.gpr[r - 16];
    g = (g & ~0xff00ull) | ((v & 0xff) << 8);
    return;
  }
  uint64_t& g = s.gpr[r];
  switch (size) {
    case 1: g = (g & ~0xffull) | (v & 0xff); break;
    case 2: g = (g & ~0xffffull) | (v & 0xffff); break;
    case 4: g = v & 0xffffffffull; break;
    default: g = v; break;
  }
}

}  // namespace

BlockEnd Interpreter::execute(TcgCpu& cpu, const Block& block) {
  uint64_t* t = temps_.data();
  CpuState& s = cpu.s;
  uint64_t insn_rip = s.rip;
  try {
    for (const Op& op : block.ir.ops) {
      switch (op.opc) {
        case Opc::kInsnStart:
          if (cpu.stop_block) {  // our own code was overwritten: re-translate from here
            cpu.stop_block = false;
            s.rip = op.imm;
            return BlockEnd::kUnchained;
          }
          insn_rip = s.rip = op.imm;  // helpers and fault delivery see the current instruction
          ++cpu.stats.instructions;
          break;
        case Opc::kConst: t[op.d] = op.imm; break;
        case Opc::kGetReg: t[op.d] = get_reg(s, op.imm, op.size); break;
        case Opc::kSetReg: set_reg(s, op.imm, op.size, t[op.a]); break;
        case Opc::kAdd: t[op.d] = (t[op.a] + t[op.b]) & mask_of(op.size); break;
        case Opc::kSub: t[op.d] = (t[op.a] - t[op.b]) & mask_of(op.size); break;
        case Opc::kAnd: t[op.d] = t[op.a] & t[op.b] & mask_of(op.size); break;
        case Opc::kOr: t[op.d] = (t[op.a] | t[op.b]) & mask_of(op.size); break;
        case Opc::kXor: t[op.d] = (t[op.a] ^ t[op.b]) & mask_of(op.size); break;
        case Opc::kShl: t[op.d] = (t[op.a] << (t[op.b] & 63)) & mask_of(op.size); break;
        case Opc::kShr: t[op.d] = ((t[op.a] & mask_of(op.size)) >> (t[op.b] & 63)); break;
        case Opc::kSar: t[op.d] = uint64_t(int64_t(sext(t[op.a], op.size)) >> (t[op.b] & 63)) & mask_of(op.size); break;
        case Opc::kMul: t[op.d] = (t[op.a] * t[op.b]) & mask_of(op.size); break;
        case Opc::kNot: t[op.d] = ~t[op.a] & mask_of(op.size); break;
        case Opc::kNeg: t[op.d] = (0 - t[op.a]) & mask_of(op.size); break;
        case Opc::kZext: t[op.d] = t[op.a] & mask_of(op.size); break;
        case Opc::kSext: t[op.d] = sext(t[op.a], op.size); break;
        case Opc::kCmp: t[op.d] = compare(CmpKind(op.imm), op.size, t[op.a], t[op.b]); break;
        case Opc::kSelect: t[op.d] = t[op.a] ? t[op.b] : t[op.c]; break;
        case Opc::kLoad: t[op.d] = op.seg == 0xff ? cpu.mmu.read(t[op.a], op.size, cpu.user_mode()) : cpu.load(op.seg, t[op.a], op.size); break;
        case Opc::kStore:
          if (op.seg == 0xff) cpu.mmu.write(t[op.a], op.size, t[op.b], cpu.user_mode());
          else cpu.store(op.seg, t[op.a], op.size, t[op.b]);
          break;
        case Opc::kSetFlags:
          cpu.cc.op = uint32_t(op.imm);
          cpu.cc.dst = t[op.a];
          cpu.cc.src = t[op.b];
          cpu.cc.src2 = t[op.c];
          break;
        case Opc::kSetFlagsIf:
          if (t[op.c]) {
            cpu.cc.op = uint32_t(op.imm);
            cpu.cc.dst = t[op.a];
            cpu.cc.src = t[op.b];
          }
          break;
        case Opc::kCond: t[op.d] = cpu.cc.condition(unsigned(op.imm)); break;
        case Opc::kGetCF: t[op.d] = cpu.cc.carry(); break;
        case Opc::kCall: t[op.d] = op.fn(cpu, op.imm2, t[op.a], t[op.b], t[op.c]); break;
        case Opc::kJmp: s.rip = op.imm; return BlockEnd::kChain0;
        case Opc::kBranch:
          if (t[op.a]) { s.rip = op.imm; return BlockEnd::kChain0; }
          s.rip = op.imm2;
          return BlockEnd::kChain1;
        case Opc::kJmpIndirect: s.rip = t[op.a]; return BlockEnd::kUnchained;
        case Opc::kExit: return BlockEnd::kUnchained;
      }
    }
  } catch (const GuestFault& f) {
    // Nothing of the faulting instruction was committed: restart it after the handler.
    --cpu.stats.instructions;
    ++cpu.stats.exceptions;
    s.rip = insn_rip;
    deliver_fault(cpu, f);
    return BlockEnd::kUnchained;
  }
  return BlockEnd::kUnchained;
}

}  // namespace janus::tcg
