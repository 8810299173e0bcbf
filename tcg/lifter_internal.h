// The lifter's internals, shared by the files that lift one instruction family each
// (lifter.cpp: integer and system; lift_x87.cpp: x87; lift_sse.cpp: SSE/SSE2). Only those files
// include this header; everyone else uses tcg/lifter.h.
#pragma once
#include "cpu/cpu_state.h"
#include "cpu/exceptions.h"
#include "tcg/helpers.h"
#include "tcg/lifter.h"

namespace janus::tcg::lift_detail {

inline int64_t sign_extend(uint64_t v, unsigned size) {
  switch (size) {
    case 1: return int8_t(v);
    case 2: return int16_t(v);
    case 4: return int32_t(v);
    default: return int64_t(v);
  }
}

inline uint64_t mask_of(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

class Lifter {
 public:
  Lifter(IrBuilder& b, const DecodedInsn& d, const BlockMode& m, uint64_t rip) : b(b), d(d), m(m), rip(rip) {
    ip_mask = m.code == CodeSize::k64 ? ~0ull : m.code == CodeSize::k32 ? 0xffffffffull : 0xffffull;
    next = (rip + d.length) & ip_mask;
    osz = d.operand_size;
    asz = d.address_size;
    ssz = m.stack_size;
  }

  LiftResult lift() {
    switch (d.map) {
      case OpcodeMap::kPrimary: return primary();
      case OpcodeMap::k0F: return secondary();
      default: return sse();  // 0F 38 and 0F 3A
    }
  }

 private:
  IrBuilder& b;
  const DecodedInsn& d;
  const BlockMode& m;
  uint64_t rip, next, ip_mask;
  unsigned osz, asz, ssz;
  Temp ea_ = kNoTemp;

  static constexpr LiftResult kNext = LiftResult::kContinue;
  static constexpr LiftResult kEnd = LiftResult::kEndBlock;
  static constexpr LiftResult kUnimpl = LiftResult::kUnimplemented;

  bool code64() const { return m.code == CodeSize::k64; }

  // --- Operands -----------------------------------------------------------------------------
  unsigned mem_seg() const {
    if (d.segment != kNoSegment) return d.segment;
    if (d.base == RSP || d.base == RBP) return SS;
    return DS;
  }
  unsigned data_seg() const { return d.segment != kNoSegment ? d.segment : unsigned(DS); }

  Temp ea() {
    if (ea_ != kNoTemp) return ea_;
    Temp t = kNoTemp;
    if (d.rip_relative) {
      t = b.constant((next + d.disp) & mask_of(asz));
    } else {
      if (d.base != 0xff) t = b.get_reg(d.base, asz);
      if (d.index != 0xff) {
        Temp i = b.get_reg(d.index, asz);
        if (d.scale) i = b.binary(Opc::kShl, asz, i, b.constant(d.scale));
        t = t == kNoTemp ? i : b.add(asz, t, i);
      }
      if (t == kNoTemp) t = b.constant(uint64_t(d.disp) & mask_of(asz));
      else if (d.disp) t = b.add(asz, t, b.constant(uint64_t(d.disp)));
    }
    ea_ = t;
    return t;
  }
  // Address `offset` bytes after the memory operand (far pointers, descriptor table operands).
  Temp ea_plus(unsigned offset) { return b.add(asz, ea(), b.constant(offset)); }

  Temp reg(unsigned r, unsigned size) {
    if (size == 1 && d.byte_reg_is_high(r)) return b.get_reg(16 + r - 4, 1);
    return b.get_reg(r, size);
  }
  void set(unsigned r, unsigned size, Temp v) {
    if (size == 1 && d.byte_reg_is_high(r)) return b.set_reg(16 + r - 4, 1, v);
    b.set_reg(r, size, v);
  }
  Temp rm(unsigned size) { return d.mod == 3 ? reg(d.rm, size) : b.load(mem_seg(), ea(), size); }
  // The r/m operand of a read-modify-write instruction: a memory operand is checked for write
  // access before it is read, so a fault reports a write (#PF error code W=1, read-only segment
  // #GP) as the CPU does, even when the page is not present.
  Temp rm_rmw(unsigned size) {
    if (d.mod != 3) b.call(h_probe_write, hp(mem_seg(), size), ea());
    return rm(size);
  }
  void set_rm(unsigned size, Temp v) {
    if (d.mod == 3) set(d.rm, size, v);
    else b.store(mem_seg(), ea(), v, size);
  }
  uint64_t imm_sx(unsigned size) const { return uint64_t(sign_extend(d.imm, d.imm_size)) & mask_of(size); }
  Temp imm(unsigned size) { return b.constant(imm_sx(size)); }

  // --- Stack --------------------------------------------------------------------------------
  Temp rsp() { return b.get_reg(RSP, ssz); }
  // Stores v below sp; returns the new stack pointer (the caller commits it last).
  Temp push_store(Temp sp, Temp v, unsigned size) {
    Temp nsp = b.sub(ssz, sp, b.constant(size));
    b.store(SS, nsp, v, size);
    return nsp;
  }
  void push(Temp v, unsigned size) { b.set_reg(RSP, ssz, push_store(rsp(), v, size)); }
  Temp pop(unsigned size, Temp& nsp) {
    Temp sp = rsp();
    Temp v = b.load(SS, sp, size);
    nsp = b.add(ssz, sp, b.constant(size));
    return v;
  }
  // Push/pop operand size: 16/32 in legacy code, 16/64 in 64-bit code.
  unsigned stack_osz() const { return osz; }

  // --- Control flow -------------------------------------------------------------------------
  uint64_t rel_target() const { return (next + uint64_t(sign_extend(d.imm, d.imm_size))) & mask_of(osz) & ip_mask_for_osz(); }
  uint64_t ip_mask_for_osz() const { return code64() ? ~0ull : mask_of(osz); }
  Temp ip_value(Temp v) { return code64() && osz == 8 ? v : b.zext(osz, v); }

  LiftResult raise(uint8_t vector) {
    b.call(h_raise, uint64_t(vector));
    b.exit();
    return kEnd;
  }
  LiftResult raise(uint8_t vector, uint32_t error) {
    b.call(h_raise, uint64_t(vector) | (1u << 8) | (uint64_t(error) << 16));
    b.exit();
    return kEnd;
  }
  bool privileged() const { return m.cpl != 0; }
  // A helper changed state the block was translated under (mode, segment, RIP): leave.
  LiftResult exit_to(uint64_t target) {
    b.call(h_set_rip, 0, b.constant(target));
    b.exit();
    return kEnd;
  }

  // --- Integer operations -------------------------------------------------------------------
  void alu(unsigned op, unsigned size, bool dest_rm, Temp src) {
    Temp a = dest_rm ? ((op & 7) == 7 ? rm(size) : rm_rmw(size)) : reg(d.reg, size);
    Temp r, cin = kNoTemp;
    CcKind kind;
    switch (op & 7) {
      case 0: r = b.add(size, a, src); kind = kCcAdd; break;
      case 1: r = b.binary(Opc::kOr, size, a, src); kind = kCcLogic; break;
      case 2: cin = b.get_cf(); r = b.add(size, b.add(size, a, src), cin); kind = kCcAdc; break;
      case 3: cin = b.get_cf(); r = b.sub(size, b.sub(size, a, src), cin); kind = kCcSbb; break;
      case 4: r = b.binary(Opc::kAnd, size, a, src); kind = kCcLogic; break;
      case 5: case 7: r = b.sub(size, a, src); kind = kCcSub; break;
      default: r = b.binary(Opc::kXor, size, a, src); kind = kCcLogic; break;
    }
    if ((op & 7) != 7) {
      if (dest_rm) set_rm(size, r);
      else set(d.reg, size, r);
    }
    b.set_flags(kind, size, r, src, cin);
  }

  // imm_reg_count: C0/C1 (imm8 count) with a register destination, whose ROL/ROR OF rule differs.
  // imm_count: the count when it is an immediate (C0/C1/D0/D1), else -1.
  void shift(unsigned op, unsigned size, Temp count_raw, bool imm_reg_count = false, int imm_count = -1) {
    if (imm_count >= 0 && (op == kShl || op == kSal || op == kShr || op == kSar)) {
      // SHL/SHR/SAR by a non-zero immediate: IR ops and lazy flags instead of two helper calls.
      unsigned c = unsigned(imm_count) & (size == 8 ? 0x3f : 0x1f);
      if (c) {
        Temp v = rm_rmw(size);
        Temp ct = b.constant(c);
        Opc o = op == kShr ? Opc::kShr : op == kSar ? Opc::kSar : Opc::kShl;
        Temp r = b.binary(o, size, v, ct);
        set_rm(size, r);
        b.set_flags(op == kShr ? kCcShr : op == kSar ? kCcSar : kCcShl, size, r, v, ct);
        return;
      }
    }
    Temp count = b.binary(Opc::kAnd, 1, count_raw, b.constant(size == 8 ? 0x3f : 0x1f));
    if (imm_count < 0 && (op == kShl || op == kSal || op == kShr || op == kSar)) {
      // SHL/SHR/SAR by CL: IR ops; the flags change only for a non-zero count.
      Temp v = rm_rmw(size);
      Opc o = op == kShr ? Opc::kShr : op == kSar ? Opc::kSar : Opc::kShl;
      Temp r = b.binary(o, size, v, count);
      set_rm(size, r);
      b.set_flags_if(count, op == kShr ? kCcShr : op == kSar ? kCcSar : kCcShl, size, r, v);
      return;
    }
    Temp v = rm_rmw(size);
    Temp r;
    if (imm_count >= 0 && (op == kRol || op == kRor) && (unsigned(imm_count) & (size * 8 - 1))) {
      // ROL/ROR by an immediate: the value in IR ops (the flags stay with the helper).
      unsigned c = unsigned(imm_count) & (size * 8 - 1), left = op == kRol ? c : size * 8 - c;
      r = b.binary(Opc::kOr, size, b.binary(Opc::kShl, size, v, b.constant(left)),
                   b.binary(Opc::kShr, size, v, b.constant(size * 8 - left)));
    } else {
      r = b.call(h_shift_result, hp(op, size), v, count);
    }
    Temp f = b.call(h_shift_flags, hp(op, size, imm_reg_count ? kShiftImmCount : 0), v, count);
    set_rm(size, r);
    b.set_flags(kCcEflags, size, f, f);
  }

  LiftResult bit_count(BitCountOp kind) {  // POPCNT / LZCNT / TZCNT r, r/m
    Temp src = rm(osz);
    Temp r = b.call(h_bitcount, hp(kind, osz), src);
    Temp f = b.call(h_bitcount_flags, hp(kind, osz), src);
    set(d.reg, osz, r);
    b.set_flags(kCcEflags, osz, f, f);
    return LiftResult::kContinue;
  }

  void incdec(bool dec, unsigned size, bool use_rm, unsigned r) {
    Temp a = use_rm ? rm_rmw(size) : reg(r, size);
    Temp cf = b.get_cf();
    Temp res = dec ? b.sub(size, a, b.constant(1)) : b.add(size, a, b.constant(1));
    if (use_rm) set_rm(size, res);
    else set(r, size, res);
    b.set_flags(dec ? kCcDec : kCcInc, size, res, cf);
  }

  LiftResult string_op(StringOp op, unsigned size) {
    uint8_t rep = d.rep;
    if (op != kCmps && op != kScas && rep) rep = 0xf3;  // F2 on MOVS/STOS... acts as REP
    unsigned seg = d.segment != kNoSegment ? d.segment : unsigned(DS);
    Temp done = b.call(h_string, hp(op, size, uint64_t(asz) | (uint64_t(rep) << 8) | (uint64_t(seg) << 16)));
    if (!rep) return kNext;
    b.branch(done, next, rip);  // not done: run the same instruction again after events
    return kEnd;
  }

  // BT/BTS/BTR/BTC. op: 0 BT, 1 BTS, 2 BTR, 3 BTC.
  void bit_test(unsigned op, Temp bit_offset, bool offset_is_imm) {
    unsigned size = osz;
    Temp bits = b.constant(size * 8 - 1);
    Temp bitno = b.binary(Opc::kAnd, size, bit_offset, bits);
    Temp value;
    Temp addr = kNoTemp;
    if (d.mod == 3) {
      value = reg(d.rm, size);
    } else {
      addr = ea();
      if (!offset_is_imm) {  // a register bit offset reaches any byte: signed offset / 8
        Temp off = b.sext(size, bit_offset);
        Temp bytes = b.binary(Opc::kSar, 8, off, b.constant(size == 2 ? 4 : size == 4 ? 5 : 6));
        bytes = b.binary(Opc::kShl, 8, bytes, b.constant(size == 2 ? 1 : size == 4 ? 2 : 3));
        addr = b.add(asz, addr, bytes);
      }
      value = b.load(mem_seg(), addr, size);
    }
    Temp bit = b.binary(Opc::kAnd, 8, b.binary(Opc::kShr, 8, value, bitno), b.constant(1));
    Temp f = b.call(h_bt_flags, 0, bit);
    if (op) {
      Temp mask = b.binary(Opc::kShl, size, b.constant(1), bitno);
      Temp r = op == 1 ? b.binary(Opc::kOr, size, value, mask)
             : op == 2 ? b.binary(Opc::kAnd, size, value, b.unary(Opc::kNot, size, mask))
                       : b.binary(Opc::kXor, size, value, mask);
      if (d.mod == 3) set(d.rm, size, r);
      else b.store(mem_seg(), addr, r, size);
    }
    b.set_flags(kCcEflags, size, f, f);
  }

  LiftResult load_far_pointer(unsigned seg) {
    if (d.mod == 3) return raise(kUD);
    Temp off = b.load(mem_seg(), ea(), osz);
    Temp sel = b.load(mem_seg(), ea_plus(osz), 2);
    b.call(h_load_seg, seg, sel);
    set(d.reg, osz, off);
    if (seg == SS) return exit_to(next);
    return kNext;
  }

  LiftResult pop_segment(unsigned seg) {
    Temp nsp;
    Temp v = pop(stack_osz(), nsp);
    b.call(h_load_seg, seg, b.zext(2, v));
    b.set_reg(RSP, ssz, nsp);
    if (seg == SS) {
      b.call(h_interrupt_shadow, 2);
      return exit_to(next);
    }
    return kNext;
  }

  // A 32/64-bit PUSH of a segment register moves RSP by the operand size but writes only the
  // 16-bit selector: the rest of the slot keeps its old bytes (SDM PUSH: "recent Core and Atom
  // processors perform a 16-bit move, leaving the upper portion of the stack location unmodified").
  LiftResult push_segment(unsigned seg) {
    Temp sel = b.call(h_read_selector, 2 + seg);
    Temp nsp = b.sub(ssz, rsp(), b.constant(stack_osz()));
    b.store(SS, nsp, sel, 2);
    b.set_reg(RSP, ssz, nsp);
    return kNext;
  }

  LiftResult primary();
  LiftResult secondary();
  LiftResult group_0f00();
  LiftResult group_0f01();
  LiftResult descriptor_query(unsigned query);  // LAR, LSL
  // x87 (D8-DF, FWAIT) and FXSAVE/FXRSTOR/FNSAVE/FRSTOR: tcg/lift_x87.cpp.
  LiftResult x87();
  // SSE/SSE2 (0F, 0F 38, 0F 3A maps with 66/F2/F3) and LDMXCSR/STMXCSR: tcg/lift_sse.cpp.
  LiftResult sse();
};

}  // namespace janus::tcg::lift_detail
