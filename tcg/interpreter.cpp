#include "tcg/interpreter.h"

#include <cstring>
#include <unordered_map>

#include "tcg/event_delivery.h"
#include "tcg/helpers.h"
#include "tcg/x86_decoder.h"

namespace janus::tcg {

namespace {

using H = ThreadedKind;

inline uint64_t mask_of(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

// Which temps an IR op reads.
inline void reads(const Op& op, Temp out[3], unsigned& n) {
  n = 0;
  switch (op.opc) {
    case Opc::kInsnStart: case Opc::kConst: case Opc::kGetReg: case Opc::kCond: case Opc::kGetCF:
    case Opc::kJmp: case Opc::kExit:
      return;
    case Opc::kSetReg: case Opc::kNot: case Opc::kNeg: case Opc::kZext: case Opc::kSext: case Opc::kLoad:
    case Opc::kBranch: case Opc::kJmpIndirect:
      out[n++] = op.a;
      return;
    case Opc::kSelect: case Opc::kSetFlags: case Opc::kSetFlagsIf: case Opc::kCall:
      out[n++] = op.a; out[n++] = op.b; out[n++] = op.c;
      return;
    default:  // binary, Cmp, Store
      out[n++] = op.a; out[n++] = op.b;
      return;
  }
}

// May `use` read a register value of `reg_size` bytes whose bits above reg_size are garbage?
// True where only the low op.size bytes of that operand matter.
bool low_bits_use(const Op& op, Temp t, unsigned reg_size) {
  switch (op.opc) {
    case Opc::kAdd: case Opc::kSub: case Opc::kAnd: case Opc::kOr: case Opc::kXor: case Opc::kMul:
    case Opc::kNot: case Opc::kNeg: case Opc::kZext: case Opc::kSext: case Opc::kCmp:
      return op.size <= reg_size;
    case Opc::kShl: case Opc::kShr: case Opc::kSar:
      return op.a == t && op.b != t && op.size <= reg_size;
    case Opc::kSetReg:
      return op.imm >= 16 || op.size <= reg_size;  // AH..BH take the low byte
    case Opc::kStore:
      return op.a != t && op.size <= reg_size;
    case Opc::kSetFlags: {  // these kinds mask cc_dst/cc_src to the operand size when read
      unsigned kind = unsigned(op.imm) >> 2, size = 1u << (op.imm & 3);
      bool masked = kind == kCcAdd || kind == kCcAdc || kind == kCcSub || kind == kCcSbb || kind == kCcLogic ||
                    kind == kCcImul;
      return masked && size <= reg_size;
    }
    default:
      return false;
  }
}

// Pure helpers (flags computations) neither fault nor look at RIP or memory.
bool may_fault_or_call(const Op& op) {
  return op.opc == Opc::kLoad || op.opc == Opc::kStore || (op.opc == Opc::kCall && !helper_is_pure(op.fn));
}

// Does `op` write guest register r (0..15)? Helpers may write any register.
bool writes_reg(const Op& op, unsigned r) {
  if (op.opc == Opc::kCall) return true;
  if (op.opc != Opc::kSetReg) return false;
  return op.imm == r || (op.imm >= 16 && op.imm - 16 == r);
}

// A Cond or GetCF whose flags come from a SetFlags earlier in the same block reads that
// SetFlags' operands directly. Returns false where the kind/condition pair has no such handler.
bool known_condition(const Op& sf, unsigned cc, H& h) {
  unsigned kind = unsigned(sf.imm) >> 2;
  bool sub = kind == kCcSub, logic = kind == kCcLogic;
  bool zf_is_result = kind != kCcEflags && kind != kCcMul && kind != kCcImul;
  switch (cc >> 1) {
    case 1:  // B
      if (sub) h = H::CcSubB;
      else if (kind == kCcAdd) h = H::CcAddB;
      else if (logic) h = H::CcConst;
      else if (kind == kCcInc || kind == kCcDec) h = H::CcBit0;
      else return false;
      return true;
    case 2: if (!zf_is_result) return false; h = H::CcZ; return true;
    case 3: if (sub) h = H::CcSubBE; else if (logic) h = H::CcZ; else return false; return true;
    case 4: if (kind == kCcEflags) return false; h = H::CcS; return true;
    case 6: if (sub) h = H::CcSubL; else if (logic) h = H::CcS; else return false; return true;
    case 7: if (sub) h = H::CcSubLE; else if (logic) h = H::CcLogicLE; else return false; return true;
    default: return false;
  }
}

// The work vectors of one build, kept from block to block: a block costs no allocations
// besides its own threaded code (each vCPU thread builds tens of thousands of blocks a boot).
struct BuildScratch {
  std::vector<uint64_t*> where;
  std::vector<int> flags_src, def;
  std::vector<bool> drop, used, const_temps;
  std::vector<uint8_t> insn_flags;
  std::vector<uint64_t> disp;
  std::vector<unsigned> uses;
  std::vector<Temp> base_of;
};
BuildScratch& build_scratch() {
  thread_local BuildScratch scratch;
  return scratch;
}

struct Compiler {
  const IrBlock& ir;
  ThreadedCode& code;
  TcgCpu& cpu;
  bool code64, user;
  BuildScratch& scratch = build_scratch();
  std::vector<uint64_t*>& where = scratch.where;  // operand location of each temp
  std::vector<int>& flags_src = scratch.flags_src;  // Cond/GetCF: the SetFlags in this block they read, else -1

  const uint64_t* at(Temp t) const { return t == kNoTemp ? &code.frame.back() : where[t]; }

  void build(const void* const* labels) {
    const std::vector<Op>& ops = ir.ops;
    code.ops.clear();
    code.kinds.clear();
    code.frame.assign(ir.temp_count + 1, 0);
    where.resize(ir.temp_count);
    for (unsigned t = 0; t < ir.temp_count; ++t) where[t] = &code.frame[t];
    std::vector<bool>& drop = scratch.drop;
    drop.assign(ops.size(), false);
    base_of_.assign(ops.size(), kNoTemp);
    const_temps_.clear();

    // Which SetFlags each Cond/GetCF reads (helpers and SetFlagsIf make the flags unknown).
    flags_src.assign(ops.size(), -1);
    int last_flags = -1;
    for (size_t p = 0; p < ops.size(); ++p) {
      const Op& op = ops[p];
      H h;
      if (op.opc == Opc::kSetFlags) last_flags = int(p);
      else if (op.opc == Opc::kSetFlagsIf || op.opc == Opc::kCall) last_flags = -1;
      else if ((op.opc == Opc::kCond || op.opc == Opc::kGetCF) && last_flags >= 0 &&
               known_condition(ops[last_flags], op.opc == Opc::kGetCF ? 2 : unsigned(op.imm), h))
        flags_src[p] = last_flags;
    }

    for (size_t p = 0; p < ops.size(); ++p) {
      const Op& op = ops[p];
      if (op.opc == Opc::kConst) {
        code.frame[op.d] = op.imm;
        drop[p] = true;
      } else if (op.opc == Opc::kGetReg && op.imm < 16 && forwardable(p)) {
        where[op.d] = &cpu.s.gpr[op.imm];
        drop[p] = true;
      }
    }
    fuse_register_writes(drop);

    // Instruction boundaries: RIP is stored only for instructions that can fault or call a
    // helper, the SMC stop check only after an instruction that stored or called.
    std::vector<uint8_t>& insn_flags = scratch.insn_flags;  // bit 0: faults/calls, bit 1: stores/calls
    insn_flags.clear();
    for (const Op& op : ops) {
      if (op.opc == Opc::kInsnStart) insn_flags.push_back(0);
      else if (!insn_flags.empty() && may_fault_or_call(op))
        insn_flags.back() |= op.opc == Opc::kLoad ? 1 : 3;
    }

    // One backward pass drops dead flags and dead values together.
    // A SetFlags that a later one overwrites before anything reads the flags (a Cond/GetCF left
    // generic, a helper that runs, an op that can fault, a possible SMC stop, the block's end)
    // is dead. A pure op (or flags helper) whose result nothing executed reads is dead too, such
    // as the operands of a dead SetFlags; a dead flags helper does not read the flags, so
    // ROL/ROR after ROL/ROR do not keep each other alive. (A fused SetReg still reads its
    // value: the def writes r.)
    {
      std::vector<bool>& used = scratch.used;
      used.assign(ir.temp_count, false);
      auto mark = [&](Temp t) { if (t != kNoTemp) used[t] = true; };
      bool live = true;
      size_t i = insn_flags.size();
      for (size_t p = ops.size(); p-- > 0;) {
        const Op& op = ops[p];
        if (op.opc == Opc::kInsnStart) {
          --i;
          if (i > 0 && (insn_flags[i - 1] & 2)) live = true;
          continue;
        }
        if (drop[p] && op.opc != Opc::kSetReg) continue;
        if (!drop[p] && op.d != kNoTemp && !used[op.d] && pure(op)) {
          drop[p] = true;
          continue;
        }
        switch (op.opc) {
          case Opc::kSetFlags:
            if (!live) drop[p] = true;
            live = false;
            break;
          case Opc::kCond: case Opc::kGetCF:
            if (flags_src[p] < 0) live = true;
            break;
          case Opc::kCall: case Opc::kLoad: case Opc::kStore:
            live = true;
            break;
          default: break;
        }
        if (drop[p] && op.opc != Opc::kSetReg) continue;
        Temp rd[3];
        unsigned n;
        reads(op, rd, n);
        for (unsigned k = 0; k < n; ++k) mark(rd[k]);
        if (flags_src[p] >= 0) {
          mark(ops[flags_src[p]].a);
          mark(ops[flags_src[p]].b);
        }
      }
    }

    // 64-bit code: `a = base + constant` right before the load/store that is a's only reader
    // becomes the access's displacement.
    std::vector<uint64_t>& disp = scratch.disp;
    disp.assign(ops.size(), 0);
    {
      std::vector<unsigned>& uses = scratch.uses;
      uses.assign(ir.temp_count, 0);
      std::vector<int>& def = scratch.def;
      def.assign(ir.temp_count, -1);
      for (size_t p = 0; p < ops.size(); ++p) {
        const Op& op = ops[p];
        if (drop[p] && op.opc != Opc::kSetReg) continue;
        if (!drop[p] && op.d != kNoTemp) def[op.d] = int(p);
        Temp rd[3];
        unsigned n;
        reads(op, rd, n);
        for (unsigned i = 0; i < n; ++i)
          if (rd[i] != kNoTemp) ++uses[rd[i]];
        if (flags_src[p] >= 0) {
          if (ops[flags_src[p]].a != kNoTemp) ++uses[ops[flags_src[p]].a];
          if (ops[flags_src[p]].b != kNoTemp) ++uses[ops[flags_src[p]].b];
        }
      }
      for (size_t p = 0; p < ops.size(); ++p) {
        const Op& op = ops[p];
        if (drop[p] || !fast64(op) || op.a == kNoTemp || def[op.a] < 0 || uses[op.a] != 1) continue;
        const size_t q = size_t(def[op.a]);
        const Op& add = ops[q];
        if (add.opc != Opc::kAdd || add.size != 8 || !ir_is_const(add.b) || op.b == op.a) continue;
        bool adjacent = true;
        for (size_t x = q + 1; x < p && adjacent; ++x) adjacent = drop[x];
        if (!adjacent) continue;
        drop[q] = true;
        disp[p] = *at(add.b);
        base_of_[p] = add.a;
      }
    }

    // Boundaries again, counting only the ops that remain. A 64-bit load/store sets RIP itself
    // on its slow path, so it alone needs no boundary op.
    insn_flags.clear();
    for (size_t p = 0; p < ops.size(); ++p) {
      const Op& op = ops[p];
      if (op.opc == Opc::kInsnStart) insn_flags.push_back(0);
      else if (!drop[p] && !insn_flags.empty() && may_fault_or_call(op))
        insn_flags.back() |= (fast64(op) ? 0 : 1) | (op.opc == Opc::kLoad ? 0 : 2);
    }

    uint32_t insn = 0;
    uint64_t insn_rip = 0;
    const uint32_t total = uint32_t(insn_flags.size());
    code.ops.reserve(ops.size());
    code.kinds.reserve(ops.size());
    for (size_t p = 0; p < ops.size(); ++p) {
      if (drop[p]) continue;
      const Op& op = ops[p];
      ThreadedOp x;
      H h;
      uint64_t m = mask_of(op.size);
      unsigned sh = 64 - 8 * std::min<unsigned>(op.size, 8);
      x.d = op.d == kNoTemp ? &code.frame.back() : where[op.d];
      x.a = at(op.a);
      x.b = at(op.b);
      x.c = at(op.c);
      switch (op.opc) {
        case Opc::kInsnStart: {
          insn_rip = op.imm;
          uint32_t i = insn++;
          bool check = i > 0 && (insn_flags[i - 1] & 2);
          if (!check && !(insn_flags[i] & 1)) continue;  // nothing can observe this boundary
          h = check ? H::InsnCheck : H::InsnRip;
          x.imm = op.imm;
          x.count = i;
          break;
        }
        case Opc::kGetReg:
          if (op.imm >= 16) { h = H::GetHigh; x.a = &cpu.s.gpr[op.imm - 16]; break; }
          x.a = &cpu.s.gpr[op.imm];
          h = op.size >= 8 ? H::Move : H::MoveMask;
          x.imm = m;
          break;
        case Opc::kSetReg:
          if (op.imm >= 16) { h = H::SetHigh; x.d = &cpu.s.gpr[op.imm - 16]; break; }
          x.d = &cpu.s.gpr[op.imm];
          h = op.size >= 8 ? H::Move : op.size == 4 ? H::MoveMask : H::SetMerge;
          x.imm = m;
          break;
        case Opc::kAdd: case Opc::kSub: case Opc::kAnd: {
          bool imm_b = op.b != kNoTemp && ir_is_const(op.b);
          if (imm_b) {
            h = op.opc == Opc::kAdd ? H::AddImm : op.opc == Opc::kSub ? H::SubImm : H::AndImm;
            x.imm2 = *at(op.b);
          } else {
            h = op.opc == Opc::kAdd ? H::Add : op.opc == Opc::kSub ? H::Sub : H::And;
          }
          x.imm = m;
          break;
        }
        case Opc::kOr: h = H::Or; x.imm = m; break;
        case Opc::kXor: h = H::Xor; x.imm = m; break;
        case Opc::kMul: h = H::Mul; x.imm = m; break;
        case Opc::kShl: case Opc::kShr: case Opc::kSar: {
          bool imm_b = ir_is_const(op.b);
          if (imm_b) {
            h = op.opc == Opc::kShl ? H::ShlImm : op.opc == Opc::kShr ? H::ShrImm : H::SarImm;
            x.count = uint32_t(*at(op.b) & 63);
          } else {
            h = op.opc == Opc::kShl ? H::Shl : op.opc == Opc::kShr ? H::Shr : H::Sar;
          }
          x.imm = m;
          x.imm2 = sh;
          break;
        }
        case Opc::kNot: h = H::Not; x.imm = m; break;
        case Opc::kNeg: h = H::Neg; x.imm = m; break;
        case Opc::kZext: h = H::MoveMask; x.imm = m; break;
        case Opc::kSext: h = H::Sext; x.imm2 = sh; break;
        case Opc::kCmp:
          switch (CmpKind(op.imm)) {
            case CmpKind::kEq: h = H::CmpEq; break;
            case CmpKind::kNe: h = H::CmpNe; break;
            case CmpKind::kLtu: h = H::CmpLtu; break;
            case CmpKind::kLeu: h = H::CmpLeu; break;
            case CmpKind::kLts: h = H::CmpLts; break;
            default: h = H::CmpLes; break;
          }
          x.imm = m;
          x.imm2 = sh;
          break;
        case Opc::kSelect: h = H::Select; break;
        case Opc::kLoad:
        case Opc::kStore: {
          bool load = op.opc == Opc::kLoad;
          x.aux = op.seg;
          x.imm2 = op.size;
          if (op.seg == 0xff) {
            h = load ? H::LoadLinear : H::StoreLinear;
          } else if (fast64(op)) {
            // 64-bit code: the linear address is the offset (+ FS/GS base); TLB hit inline.
            // imm = the instruction's RIP, count = its index (set on the slow path, which may
            // fault), imm2 = displacement, aux = segment | user << 8.
            x.imm = insn_rip;
            x.count = insn - 1;
            x.imm2 = disp[p];
            x.aux = op.seg | (user ? 0x100u : 0u);
            if (base_of_[p] != kNoTemp) x.a = at(base_of_[p]);
            static constexpr H kLoads[] = {H::Load64_1, H::Load64_2, H::Load64_4, H::Load64_8};
            static constexpr H kStores[] = {H::Store64_1, H::Store64_2, H::Store64_4, H::Store64_8};
            unsigned l = op.size == 1 ? 0 : op.size == 2 ? 1 : op.size == 4 ? 2 : 3;
            h = load ? kLoads[l] : kStores[l];
          } else {
            h = load ? H::Load : H::Store;
          }
          break;
        }
        case Opc::kSetFlags: h = H::SetFlags; x.imm = op.imm; break;
        case Opc::kSetFlagsIf: h = H::SetFlagsIf; x.imm = op.imm; break;
        case Opc::kCond: case Opc::kGetCF: {
          unsigned cc = op.opc == Opc::kGetCF ? 2 : unsigned(op.imm);
          if (flags_src[p] >= 0) {
            const Op& sf = ops[flags_src[p]];
            known_condition(sf, cc, h);
            unsigned l = unsigned(sf.imm) & 3, bits = 8u << l;
            x.a = at(sf.a);  // cc_dst
            x.b = at(sf.b);  // cc_src
            x.imm = mask_of(1u << l);
            x.imm2 = h == H::CcS ? bits - 1 : 64 - bits;
            x.aux = cc & 1;
          } else if (op.opc == Opc::kGetCF) {
            h = H::GetCF;
          } else {
            h = H::Cond;
            x.imm = op.imm;
          }
          break;
        }
        case Opc::kCall: h = H::Call; code.has_call |= !helper_is_local(op.fn); x.imm = op.imm2; x.imm2 = reinterpret_cast<uint64_t>(op.fn); break;
        case Opc::kJmp: h = H::Jmp; x.imm = op.imm; x.count = total; break;
        case Opc::kBranch: h = H::Branch; x.imm = op.imm; x.imm2 = op.imm2; x.count = total; break;
        case Opc::kJmpIndirect: h = H::JmpIndirect; x.count = total; break;
        case Opc::kExit: h = H::Exit; x.count = total; break;
        default: h = H::Exit; x.count = total; break;
      }
      x.handler = labels[unsigned(h)];
      code.ops.push_back(x);
      code.kinds.push_back(h);
    }
    // A block always ends in a terminator (the translator guarantees it); guard anyway.
    if (code.ops.empty() || !is_terminator(ops.back().opc)) {
      ThreadedOp x;
      x.handler = labels[unsigned(H::Exit)];
      x.count = total;
      x.d = &code.frame.back();
      x.a = x.b = x.c = &code.frame.back();
      code.ops.push_back(x);
      code.kinds.push_back(H::Exit);
    }
    code.cpu = &cpu;
  }

  // Ops without side effects (Load is not one: it may fault), pure helpers included.
  static bool pure(const Op& op) {
    switch (op.opc) {
      case Opc::kGetReg: case Opc::kAdd: case Opc::kSub: case Opc::kAnd: case Opc::kOr: case Opc::kXor:
      case Opc::kShl: case Opc::kShr: case Opc::kSar: case Opc::kMul: case Opc::kNot: case Opc::kNeg:
      case Opc::kZext: case Opc::kSext: case Opc::kCmp: case Opc::kSelect: case Opc::kCond: case Opc::kGetCF:
        return true;
      case Opc::kCall:
        return helper_is_pure(op.fn);
      default:
        return false;
    }
  }

  std::vector<Temp>& base_of_ = scratch.base_of;  // load/store -> the base temp of a folded address
  bool fast64(const Op& op) const {
    return code64 && (op.opc == Opc::kLoad || op.opc == Opc::kStore) && op.seg != 0xff &&
           (op.size == 1 || op.size == 2 || op.size == 4 || op.size == 8);
  }

  static bool is_terminator(Opc o) { return o == Opc::kJmp || o == Opc::kBranch || o == Opc::kJmpIndirect || o == Opc::kExit; }

  std::vector<bool>& const_temps_ = scratch.const_temps;
  bool ir_is_const(Temp t) {
    if (t == kNoTemp) return false;
    if (const_temps_.empty()) {
      const_temps_.assign(ir.temp_count, false);
      for (const Op& op : ir.ops)
        if (op.opc == Opc::kConst) const_temps_[op.d] = true;
    }
    return const_temps_[t];
  }

  // Does op q read temp t (explicitly, or as the operand of the SetFlags a known Cond reads)?
  bool op_reads(size_t q, Temp t) const {
    Temp rd[3];
    unsigned n;
    reads(ir.ops[q], rd, n);
    for (unsigned i = 0; i < n; ++i)
      if (rd[i] == t) return true;
    if (flags_src[q] >= 0) {
      const Op& sf = ir.ops[flags_src[q]];
      return sf.a == t || sf.b == t;
    }
    return false;
  }
  bool reads_location(size_t q, const uint64_t* loc) const {
    Temp rd[3];
    unsigned n;
    reads(ir.ops[q], rd, n);
    for (unsigned i = 0; i < n; ++i)
      if (rd[i] != kNoTemp && where[rd[i]] == loc) return true;
    if (flags_src[q] >= 0) {
      const Op& sf = ir.ops[flags_src[q]];
      return (sf.a != kNoTemp && where[sf.a] == loc) || (sf.b != kNoTemp && where[sf.b] == loc);
    }
    return false;
  }

  // `t = op; ...; SetReg r, t` becomes `r = op` when nothing in between can fault or look at r
  // and every later read of t comes before anything may write r again: t then lives in r.
  void fuse_register_writes(std::vector<bool>& drop) {
    const std::vector<Op>& ops = ir.ops;
    std::vector<int>& def = scratch.def;
    def.assign(ir.temp_count, -1);
    for (size_t p = 0; p < ops.size(); ++p)
      if (!drop[p] && ops[p].d != kNoTemp && ops[p].opc != Opc::kCall) def[ops[p].d] = int(p);
    for (size_t q = 0; q < ops.size(); ++q) {
      const Op& sr = ops[q];
      if (sr.opc != Opc::kSetReg || sr.imm >= 16 || sr.a == kNoTemp || def[sr.a] < 0) continue;
      if (sr.size != 8 && !(sr.size == 4 && fits_32(ops[def[sr.a]]))) continue;
      const size_t p = size_t(def[sr.a]);
      const unsigned r = unsigned(sr.imm);
      const Temp t = sr.a;
      const uint64_t* reg = &cpu.s.gpr[r];
      bool ok = where[t] == &code.frame[t];
      for (size_t x = p + 1; ok && x < q; ++x) {
        const Op& op = ops[x];
        if (op.opc == Opc::kConst || (op.opc == Opc::kGetReg && drop[x])) continue;  // not executed
        if (op.opc == Opc::kLoad || op.opc == Opc::kStore || op.opc == Opc::kCall || op.opc == Opc::kInsnStart ||
            writes_reg(op, r) || (op.opc == Opc::kGetReg && !drop[x] && (op.imm == r || op.imm == r + 16)) ||
            reads_location(x, reg))
          ok = false;
      }
      if (!ok) continue;
      // The first position after q where r may be written (a later SetReg r may itself be fused
      // into its value's definition, which then is the write).
      size_t w = ops.size();
      for (size_t x = q + 1; x < ops.size() && w == ops.size(); ++x) {
        const Op& op = ops[x];
        if (op.opc == Opc::kCall) w = x;
        else if (writes_reg(op, r)) w = (op.a != kNoTemp && def[op.a] > int(q)) ? size_t(def[op.a]) : x;
      }
      for (size_t x = w + 1; ok && x < ops.size(); ++x)
        if (op_reads(x, t)) ok = false;
      if (!ok) continue;
      where[t] = &cpu.s.gpr[r];
      drop[q] = true;
    }
  }
  // Is the op's result always below 2^32 (so a 32-bit register write needs no mask)?
  static bool fits_32(const Op& op) {
    switch (op.opc) {
      case Opc::kAdd: case Opc::kSub: case Opc::kAnd: case Opc::kOr: case Opc::kXor: case Opc::kMul:
      case Opc::kShl: case Opc::kShr: case Opc::kSar: case Opc::kNot: case Opc::kNeg: case Opc::kZext:
      case Opc::kLoad: case Opc::kGetReg:
        return op.size <= 4;
      case Opc::kCmp: case Opc::kCond: case Opc::kGetCF:
        return true;
      default:
        return false;
    }
  }

  // A GetReg whose value every use reads before anything writes the register again can read the
  // register itself. Narrower reads qualify when every use looks only at the low bytes.
  bool forwardable(size_t p) {
    const std::vector<Op>& ops = ir.ops;
    const Op& g = ops[p];
    unsigned r = unsigned(g.imm), size = g.size;
    bool written = false;
    for (size_t q = p + 1; q < ops.size(); ++q) {
      const Op& op = ops[q];
      Temp rd[3];
      unsigned n;
      reads(op, rd, n);
      bool used = false;
      for (unsigned i = 0; i < n; ++i) used |= rd[i] == g.d;
      if (used) {
        if (written) return false;
        if (size < 8 && !low_bits_use(op, g.d, size)) return false;
      }
      if (flags_src[q] >= 0) {  // a Cond/GetCF reading a SetFlags' operands
        const Op& sf = ops[flags_src[q]];
        if (sf.a == g.d || sf.b == g.d) {
          if (written) return false;
          if (size < 8 && !low_bits_use(sf, g.d, size)) return false;
        }
      }
      if (writes_reg(op, r)) written = true;  // the writer itself reads its operands first
    }
    return true;
  }
};

}  // namespace

BlockEnd Interpreter::execute(TcgCpu& cpu, const Block& block) {
  static const void* const labels[] = {
#define JANUS_LABEL(n) &&L_##n,
      JANUS_THREADED_HANDLERS(JANUS_LABEL)
#undef JANUS_LABEL
  };
  ThreadedCode& code = const_cast<Block&>(block).code;
  if (code.cpu != &cpu) {
    Compiler c{block.ir, code, cpu, (block.key.mode & 3) == uint32_t(CodeSize::k64), block.key.user()};
    c.build(labels);
  }
  CpuState& s = cpu.s;
  LazyFlags& cc = cpu.cc;
  const ThreadedOp* ip = code.ops.data();
  const ThreadedOp* start = nullptr;  // the last instruction boundary passed (fault restart point)
  cpu.stop_block = false;
  uint64_t rip_at_entry = s.rip;

#define NEXT() do { ++ip; goto *ip->handler; } while (0)
#define BIN(name, expr) L_##name: { const uint64_t a = *ip->a, b = *ip->b; (void)a; (void)b; *ip->d = (expr); NEXT(); }

  try {
    goto *ip->handler;

  L_InsnCheck:
    start = ip;
    if (cpu.stop_block) {  // our own code was overwritten: re-translate from here
      cpu.stop_block = false;
      s.rip = ip->imm;
      cpu.stats.instructions += ip->count;
      return BlockEnd::kUnchained;
    }
    s.rip = ip->imm;  // helpers and fault delivery see the current instruction
    NEXT();
  L_InsnRip:
    start = ip;
    s.rip = ip->imm;
    NEXT();
  L_Move: *ip->d = *ip->a; NEXT();
  L_MoveMask: *ip->d = *ip->a & ip->imm; NEXT();
  L_GetHigh: *ip->d = (*ip->a >> 8) & 0xff; NEXT();
  L_SetMerge: *ip->d = (*ip->d & ~ip->imm) | (*ip->a & ip->imm); NEXT();
  L_SetHigh: *ip->d = (*ip->d & ~0xff00ull) | ((*ip->a & 0xff) << 8); NEXT();
  BIN(Add, (a + b) & ip->imm)
  BIN(Sub, (a - b) & ip->imm)
  BIN(And, a & b & ip->imm)
  BIN(Or, (a | b) & ip->imm)
  BIN(Xor, (a ^ b) & ip->imm)
  BIN(Mul, (a * b) & ip->imm)
  L_AddImm: *ip->d = (*ip->a + ip->imm2) & ip->imm; NEXT();
  L_SubImm: *ip->d = (*ip->a - ip->imm2) & ip->imm; NEXT();
  L_AndImm: *ip->d = *ip->a & ip->imm2 & ip->imm; NEXT();
  BIN(Shl, (a << (b & 63)) & ip->imm)
  BIN(Shr, (a & ip->imm) >> (b & 63))
  BIN(Sar, uint64_t((int64_t(a << ip->imm2) >> ip->imm2) >> (b & 63)) & ip->imm)
  L_ShlImm: *ip->d = (*ip->a << ip->count) & ip->imm; NEXT();
  L_ShrImm: *ip->d = (*ip->a & ip->imm) >> ip->count; NEXT();
  L_SarImm: *ip->d = uint64_t((int64_t(*ip->a << ip->imm2) >> ip->imm2) >> ip->count) & ip->imm; NEXT();
  L_Not: *ip->d = ~*ip->a & ip->imm; NEXT();
  L_Neg: *ip->d = (0 - *ip->a) & ip->imm; NEXT();
  L_Sext: *ip->d = uint64_t(int64_t(*ip->a << ip->imm2) >> ip->imm2); NEXT();
  BIN(CmpEq, ((a ^ b) & ip->imm) == 0)
  BIN(CmpNe, ((a ^ b) & ip->imm) != 0)
  BIN(CmpLtu, (a & ip->imm) < (b & ip->imm))
  BIN(CmpLeu, (a & ip->imm) <= (b & ip->imm))
  BIN(CmpLts, int64_t(a << ip->imm2) < int64_t(b << ip->imm2))
  BIN(CmpLes, int64_t(a << ip->imm2) <= int64_t(b << ip->imm2))
  L_Select: *ip->d = *ip->a ? *ip->b : *ip->c; NEXT();
  L_Load: *ip->d = cpu.load(ip->aux, *ip->a, unsigned(ip->imm2)); NEXT();
  L_LoadLinear: *ip->d = cpu.mmu.read(*ip->a, unsigned(ip->imm2), cpu.user_mode()); NEXT();
  L_Store: cpu.store(ip->aux, *ip->a, unsigned(ip->imm2), *ip->b); NEXT();
  L_StoreLinear: cpu.mmu.write(*ip->a, unsigned(ip->imm2), *ip->b, cpu.user_mode()); NEXT();

#define LOAD64(n, T)                                                                      \
  L_Load64_##n: {                                                                         \
    const uint64_t off = *ip->a + ip->imm2;                                               \
    const unsigned seg = ip->aux & 0xff;                                                  \
    const uint8_t* p = cpu.mmu.read_ptr(off + (seg >= FS ? s.seg[seg].base : 0), n, ip->aux >> 8); \
    if (p && !cpu.data_watch) { T v; std::memcpy(&v, p, n); *ip->d = v; }                 \
    else { start = ip; s.rip = ip->imm; *ip->d = cpu.load(seg, off, n); }                 \
    NEXT();                                                                               \
  }
#define STORE64(n, T)                                                                     \
  L_Store64_##n: {                                                                        \
    const uint64_t off = *ip->a + ip->imm2;                                               \
    const unsigned seg = ip->aux & 0xff;                                                  \
    uint8_t* p = cpu.mmu.write_ptr(off + (seg >= FS ? s.seg[seg].base : 0), n, ip->aux >> 8); \
    if (p && !cpu.data_watch) { T v = T(*ip->b); std::memcpy(p, &v, n); }                 \
    else { start = ip; s.rip = ip->imm; cpu.store(seg, off, n, *ip->b); }                 \
    NEXT();                                                                               \
  }
  LOAD64(1, uint8_t) LOAD64(2, uint16_t) LOAD64(4, uint32_t) LOAD64(8, uint64_t)
  STORE64(1, uint8_t) STORE64(2, uint16_t) STORE64(4, uint32_t) STORE64(8, uint64_t)
#undef LOAD64
#undef STORE64

  L_SetFlags:
    cc.op = uint32_t(ip->imm);
    cc.dst = *ip->a;
    cc.src = *ip->b;
    cc.src2 = *ip->c;
    NEXT();
  L_SetFlagsIf:
    if (const uint64_t count = *ip->c) {
      cc.op = uint32_t(ip->imm);
      cc.dst = *ip->a;
      cc.src = *ip->b;
      cc.src2 = count;
    }
    NEXT();
  L_Cond: *ip->d = cc.condition(unsigned(ip->imm)); NEXT();
  // Conditions from a SetFlags of this block: a = its cc_dst, b = its cc_src, aux = negate.
  L_CcZ: *ip->d = ((*ip->a & ip->imm) == 0) ^ ip->aux; NEXT();
  L_CcS: *ip->d = ((*ip->a >> ip->imm2) & 1) ^ ip->aux; NEXT();
  BIN(CcSubB, (((a + b) & ip->imm) < (b & ip->imm)) ^ ip->aux)
  BIN(CcSubBE, (((a + b) & ip->imm) <= (b & ip->imm)) ^ ip->aux)
  BIN(CcSubL, (int64_t((a + b) << ip->imm2) < int64_t(b << ip->imm2)) ^ ip->aux)
  BIN(CcSubLE, (int64_t((a + b) << ip->imm2) <= int64_t(b << ip->imm2)) ^ ip->aux)
  BIN(CcAddB, ((a & ip->imm) < (b & ip->imm)) ^ ip->aux)
  L_CcLogicLE: *ip->d = ((*ip->a & ip->imm) == 0 || ((*ip->a << ip->imm2) >> 63)) ^ ip->aux; NEXT();
  L_CcConst: *ip->d = ip->aux; NEXT();
  L_CcBit0: *ip->d = (*ip->b & 1) ^ ip->aux; NEXT();
  L_GetCF: *ip->d = cc.carry(); NEXT();
  L_Call: *ip->d = reinterpret_cast<HelperFn>(ip->imm2)(cpu, ip->imm, *ip->a, *ip->b, *ip->c); NEXT();
  L_Jmp:
    s.rip = ip->imm;
    cpu.stats.instructions += ip->count;
    return BlockEnd::kChain0;
  L_Branch:
    cpu.stats.instructions += ip->count;
    if (*ip->a) { s.rip = ip->imm; return BlockEnd::kChain0; }
    s.rip = ip->imm2;
    return BlockEnd::kChain1;
  L_JmpIndirect:
    s.rip = *ip->a;
    cpu.stats.instructions += ip->count;
    return BlockEnd::kIndirect;
  L_Exit:
    cpu.stats.instructions += ip->count;
    return BlockEnd::kUnchained;
  } catch (const GuestFault& f) {
    // Nothing of the faulting instruction was committed: restart it after the handler.
    // (Every instruction with an op that can fault keeps its boundary op, so `start` is it.)
    cpu.stats.instructions += start ? start->count : 0;
    ++cpu.stats.exceptions;
    s.rip = start ? start->imm : rip_at_entry;
    deliver_fault(cpu, f);
    return BlockEnd::kUnchained;
  }
#undef NEXT
#undef BIN
}

}  // namespace janus::tcg
