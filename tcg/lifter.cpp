#include "tcg/lifter.h"

#include "tcg/lifter_internal.h"

namespace janus::tcg {

namespace lift_detail {

// A near branch whose target lies beyond the CS limit faults at the branch itself, with RIP
// still on it (SDM: JMP/Jcc/CALL/RET "#GP(0) if the target is beyond the code segment limit").
// 64-bit code has no limit; real and virtual-8086 code wraps IP at 64 KiB inside a 64 KiB limit.
static void near_branch_limit(IrBuilder& b, const BlockMode& m, Temp target, Temp taken = kNoTemp) {
  if (!m.protected_mode || m.v86 || m.code == CodeSize::k64) return;
  b.call(h_near_branch_limit, 0, target, taken == kNoTemp ? b.constant(1) : taken);
}

LiftResult Lifter::primary() {
  const uint8_t op = d.opcode;
  const unsigned bsz = (op & 1) ? osz : 1;  // byte/full-size pairs

  if (op < 0x40 && (op & 7) < 6) {  // ADD OR ADC SBB AND SUB XOR CMP
    unsigned alu_op = op >> 3;
    switch (op & 7) {
      case 0: case 1: alu(alu_op, bsz, true, reg(d.reg, bsz)); return kNext;
      case 2: case 3: alu(alu_op, bsz, false, rm(bsz)); return kNext;
      case 4: case 5: {
        Temp a = reg(RAX, bsz);
        Temp src = imm(bsz);
        // Reuse alu() with the accumulator as a register destination.
        Temp r, cin = kNoTemp;
        CcKind kind;
        switch (alu_op) {
          case 0: r = b.add(bsz, a, src); kind = kCcAdd; break;
          case 1: r = b.binary(Opc::kOr, bsz, a, src); kind = kCcLogic; break;
          case 2: cin = b.get_cf(); r = b.add(bsz, b.add(bsz, a, src), cin); kind = kCcAdc; break;
          case 3: cin = b.get_cf(); r = b.sub(bsz, b.sub(bsz, a, src), cin); kind = kCcSbb; break;
          case 4: r = b.binary(Opc::kAnd, bsz, a, src); kind = kCcLogic; break;
          case 5: case 7: r = b.sub(bsz, a, src); kind = kCcSub; break;
          default: r = b.binary(Opc::kXor, bsz, a, src); kind = kCcLogic; break;
        }
        if (alu_op != 7) b.set_reg(RAX, bsz, r);
        b.set_flags(kind, bsz, r, src, cin);
        return kNext;
      }
    }
  }

  switch (op) {
    case 0x06: return push_segment(ES);
    case 0x0e: return push_segment(CS);
    case 0x16: return push_segment(SS);
    case 0x1e: return push_segment(DS);
    case 0x07: return pop_segment(ES);
    case 0x17: return pop_segment(SS);
    case 0x1f: return pop_segment(DS);
    case 0x27: case 0x2f: case 0x37: case 0x3f: case 0xd4: case 0xd5: {
      unsigned which = op == 0x27 ? 0 : op == 0x2f ? 1 : op == 0x37 ? 2 : op == 0x3f ? 3 : op == 0xd4 ? 4 : 5;
      b.call(h_decimal, which, b.constant(d.imm & 0xff));
      return kNext;
    }
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      incdec(false, osz, false, op & 7);
      return kNext;
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
      incdec(true, osz, false, op & 7);
      return kNext;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: {
      unsigned r = (op & 7) | (d.rex & 1 ? 8 : 0);
      push(b.get_reg(r, stack_osz()), stack_osz());
      return kNext;
    }
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      unsigned r = (op & 7) | (d.rex & 1 ? 8 : 0);
      Temp nsp;
      Temp v = pop(stack_osz(), nsp);
      b.set_reg(RSP, ssz, nsp);
      b.set_reg(r, stack_osz(), v);  // POP rSP: the loaded value wins
      return kNext;
    }
    case 0x60: b.call(h_pusha, hp(0, osz)); return kNext;
    case 0x61: b.call(h_popa, hp(0, osz)); return kNext;
    case 0x62: {  // BOUND (64-bit code: 62 is EVEX, refused by the decoder)
      if (d.mod == 3) return raise(kUD);
      Temp lower = b.load(mem_seg(), ea(), osz);
      Temp upper = b.load(mem_seg(), ea_plus(osz), osz);
      b.call(h_bound, hp(0, osz), reg(d.reg, osz), lower, upper);
      return kNext;
    }
    case 0x63:
      if (!code64()) {  // ARPL r/m16, r16: raise the RPL of the destination to the source's
        if (!m.protected_mode || m.v86) return raise(kUD);
        Temp dst = rm(2), src = reg(d.reg, 2);
        Temp three = b.constant(3);
        Temp src_rpl = b.binary(Opc::kAnd, 2, src, three);
        Temp raise_rpl = b.cmp(CmpKind::kLtu, 2, b.binary(Opc::kAnd, 2, dst, three), src_rpl);
        Temp adjusted = b.binary(Opc::kOr, 2, b.binary(Opc::kAnd, 2, dst, b.constant(0xfffc)), src_rpl);
        set_rm(2, b.select(raise_rpl, adjusted, dst));
        b.call(h_set_zf, 0, raise_rpl);
        return kNext;
      }
      set(d.reg, osz, osz == 8 ? b.sext(4, rm(4)) : rm(osz == 2 ? 2 : 4));  // MOVSXD
      return kNext;
    case 0x68: case 0x6a:
      push(imm(stack_osz()), stack_osz());
      return kNext;
    case 0x69: case 0x6b: {
      Temp a = rm(osz);
      Temp c = imm(osz);
      Temp r = b.binary(Opc::kMul, osz, a, c);
      set(d.reg, osz, r);
      b.set_flags(kCcImul, osz, r, a, c);  // overflow computed lazily from the operands
      return kNext;
    }
    case 0x6c: case 0x6d: return string_op(kIns, bsz == 1 ? 1 : (osz == 8 ? 4 : osz));
    case 0x6e: case 0x6f: return string_op(kOuts, bsz == 1 ? 1 : (osz == 8 ? 4 : osz));
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
    {
      Temp c = b.cond(op & 0xf);
      near_branch_limit(b, m, b.constant(rel_target()), c);
      b.branch(c, rel_target(), next);
      return kEnd;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: {
      unsigned size = op == 0x81 || op == 0x83 ? osz : 1;
      alu(d.reg & 7, size, true, imm(size));
      return kNext;
    }
    case 0x84: case 0x85: {
      Temp r = b.binary(Opc::kAnd, bsz, rm(bsz), reg(d.reg, bsz));
      b.set_flags(kCcLogic, bsz, r);
      return kNext;
    }
    case 0x86: case 0x87: {
      Temp a = rm_rmw(bsz);
      Temp r = reg(d.reg, bsz);
      set_rm(bsz, r);
      set(d.reg, bsz, a);
      return kNext;
    }
    case 0x88: case 0x89: set_rm(bsz, reg(d.reg, bsz)); return kNext;
    case 0x8a: case 0x8b: set(d.reg, bsz, rm(bsz)); return kNext;
    case 0x8c: {
      if ((d.reg & 7) > GS) return raise(kUD);
      Temp sel = b.call(h_read_selector, 2 + (d.reg & 7));
      if (d.mod == 3) set(d.rm, osz, sel);
      else b.store(mem_seg(), ea(), sel, 2);
      return kNext;
    }
    case 0x8d:
      if (d.mod == 3) return raise(kUD);
      set(d.reg, osz, b.zext(osz, ea()));
      return kNext;
    case 0x8e: {
      unsigned seg = d.reg & 7;
      if (seg == CS || seg > GS) return raise(kUD);
      b.call(h_load_seg, seg, rm(2));
      if (seg == SS) {
        b.call(h_interrupt_shadow, 2);
        return exit_to(next);
      }
      return kNext;
    }
    case 0x8f: {
      if ((d.reg & 7) != 0) return kUnimpl;
      Temp nsp;
      Temp v = pop(stack_osz(), nsp);
      if (d.mod == 3) {
        b.set_reg(RSP, ssz, nsp);
        set(d.rm, stack_osz(), v);
      } else {
        set_rm(stack_osz(), v);
        b.set_reg(RSP, ssz, nsp);
      }
      return kNext;
    }
    case 0x90:
      if (!(d.rex & 1)) return kNext;  // NOP / PAUSE
      [[fallthrough]];
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      unsigned r = (op & 7) | (d.rex & 1 ? 8 : 0);
      Temp a = b.get_reg(RAX, osz), c = b.get_reg(r, osz);
      b.set_reg(RAX, osz, c);
      b.set_reg(r, osz, a);
      return kNext;
    }
    case 0x98: b.set_reg(RAX, osz, b.sext(osz / 2, b.get_reg(RAX, osz / 2))); return kNext;
    case 0x99: {
      Temp a = b.sext(osz, b.get_reg(RAX, osz));
      b.set_reg(RDX, osz, b.binary(Opc::kSar, 8, a, b.constant(63)));
      return kNext;
    }
    case 0x9a: {
      b.call(h_far_call, hp(0, osz), b.constant(d.imm2), b.constant(d.imm), b.constant(next));
      b.exit();
      return kEnd;
    }
    case 0x9b: return x87();  // FWAIT
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: return x87();
    case 0x9c: push(b.call(h_pushf_value, hp(0, stack_osz())), stack_osz()); return kNext;
    case 0x9d: {
      Temp nsp;
      Temp v = pop(stack_osz(), nsp);
      b.call(h_popf, hp(0, stack_osz()), v);
      b.set_reg(RSP, ssz, nsp);
      return exit_to(next);  // IF/TF may have changed: let the loop look at events
    }
    case 0x9e:  // SAHF (valid in 64-bit code: the CPUID table has LAHF_LM)
      b.call(h_flag_op, kSahf, b.get_reg(16 + 0, 1));
      return kNext;
    case 0x9f: b.set_reg(16 + 0, 1, b.call(h_flag_op, kLahf)); return kNext;
    case 0xa0: case 0xa1: {
      Temp addr = b.constant(d.imm & mask_of(asz));
      b.set_reg(RAX, bsz, b.load(data_seg(), addr, bsz));
      return kNext;
    }
    case 0xa2: case 0xa3: {
      Temp addr = b.constant(d.imm & mask_of(asz));
      b.store(data_seg(), addr, b.get_reg(RAX, bsz), bsz);
      return kNext;
    }
    case 0xa4: case 0xa5: return string_op(kMovs, bsz);
    case 0xa6: case 0xa7: return string_op(kCmps, bsz);
    case 0xaa: case 0xab: return string_op(kStos, bsz);
    case 0xac: case 0xad: return string_op(kLods, bsz);
    case 0xae: case 0xaf: return string_op(kScas, bsz);
    case 0xa8: case 0xa9: {
      Temp r = b.binary(Opc::kAnd, bsz, b.get_reg(RAX, bsz), imm(bsz));
      b.set_flags(kCcLogic, bsz, r);
      return kNext;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: {
      unsigned r = (op & 7) | (d.rex & 1 ? 8 : 0);
      set(r, 1, b.constant(d.imm & 0xff));
      return kNext;
    }
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      unsigned r = (op & 7) | (d.rex & 1 ? 8 : 0);
      b.set_reg(r, osz, b.constant(d.imm & mask_of(osz)));
      return kNext;
    }
    case 0xc0: case 0xc1: shift(d.reg & 7, bsz, b.constant(d.imm), d.mod == 3, int(d.imm & 0xff)); return kNext;
    case 0xd0: case 0xd1: shift(d.reg & 7, bsz, b.constant(1), false, 1); return kNext;
    case 0xd2: case 0xd3: shift(d.reg & 7, bsz, b.get_reg(RCX, 1)); return kNext;
    case 0xc2: case 0xc3: {
      Temp nsp;
      Temp v = pop(osz, nsp);
      if (op == 0xc2) nsp = b.add(ssz, nsp, b.constant(d.imm));
      Temp target = ip_value(v);
      near_branch_limit(b, m, target);
      b.set_reg(RSP, ssz, nsp);
      b.jmp_indirect(target);
      return kEnd;
    }
    case 0xc4: return load_far_pointer(ES);
    case 0xc5: return load_far_pointer(DS);
    case 0xc6: case 0xc7:
      if ((d.reg & 7) != 0) return kUnimpl;  // XABORT/XBEGIN (no RTM)
      set_rm(bsz, imm(bsz));
      return kNext;
    case 0xc8:
      b.call(h_enter, hp(0, stack_osz()), b.constant(d.imm & 0xffff), b.constant(d.imm2 & 0x1f));
      return kNext;
    case 0xc9: {
      Temp bp = b.get_reg(RBP, ssz);
      Temp v = b.load(SS, bp, stack_osz());
      Temp nsp = b.add(ssz, bp, b.constant(stack_osz()));
      b.set_reg(RSP, ssz, nsp);
      b.set_reg(RBP, stack_osz(), v);
      return kNext;
    }
    case 0xca: case 0xcb:
      b.call(h_far_ret, hp(0, osz, op == 0xca ? (d.imm & 0xffff) : 0));
      b.exit();
      return kEnd;
    case 0xcc: b.call(h_int, hp(3, 1), b.constant(next)); b.exit(); return kEnd;
    case 0xcd: b.call(h_int, hp(d.imm & 0xff, 0), b.constant(next)); b.exit(); return kEnd;
    case 0xce: b.call(h_int, hp(4, 2), b.constant(next)); b.exit(); return kEnd;
    case 0xf1: b.call(h_int, hp(1, 3), b.constant(next)); b.exit(); return kEnd;
    case 0xcf: b.call(h_iret, hp(0, osz), b.constant(next)); b.exit(); return kEnd;
    case 0xd6: b.set_reg(RAX, 1, b.call(h_flag_op, kSalc)); return kNext;
    case 0xd7: {
      Temp addr = b.add(asz, b.get_reg(RBX, asz), b.get_reg(RAX, 1));
      b.set_reg(RAX, 1, b.load(data_seg(), addr, 1));
      return kNext;
    }
    case 0xe0: case 0xe1: case 0xe2: {
      Temp cnt = b.sub(asz, b.get_reg(RCX, asz), b.constant(1));
      Temp c = b.cmp(CmpKind::kNe, asz, cnt, b.constant(0));
      if (op != 0xe2) {
        Temp zf = b.cond(op == 0xe1 ? 4 : 5);  // LOOPE: ZF=1, LOOPNE: ZF=0
        c = b.binary(Opc::kAnd, 1, c, zf);
      }
      near_branch_limit(b, m, b.constant(rel_target()), c);
      b.set_reg(RCX, asz, cnt);
      b.branch(c, rel_target(), next);
      return kEnd;
    }
    case 0xe3:
    {
      Temp c = b.cmp(CmpKind::kEq, asz, b.get_reg(RCX, asz), b.constant(0));
      near_branch_limit(b, m, b.constant(rel_target()), c);
      b.branch(c, rel_target(), next);
    }
      return kEnd;
    case 0xe4: case 0xe5: case 0xec: case 0xed: {
      unsigned size = (op & 1) ? (osz == 8 ? 4 : osz) : 1;
      Temp port = op < 0xe8 ? b.constant(d.imm & 0xff) : b.get_reg(RDX, 2);
      b.set_reg(RAX, size, b.call(h_in, hp(0, size), port));
      return kNext;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {
      unsigned size = (op & 1) ? (osz == 8 ? 4 : osz) : 1;
      Temp port = op < 0xe8 ? b.constant(d.imm & 0xff) : b.get_reg(RDX, 2);
      b.call(h_out, hp(0, size), port, b.get_reg(RAX, size));
      return kNext;
    }
    case 0xe8: {
      near_branch_limit(b, m, b.constant(rel_target()));
      push(b.constant(next), osz);
      b.jmp(rel_target());
      return kEnd;
    }
    case 0xe9: case 0xeb:
      near_branch_limit(b, m, b.constant(rel_target()));
      b.jmp(rel_target());
      return kEnd;
    case 0xea:
      b.call(h_far_jmp, hp(0, osz), b.constant(d.imm2), b.constant(d.imm), b.constant(next));
      b.exit();
      return kEnd;
    case 0xf4:
      if (privileged()) return raise(kGP, 0);
      b.call(h_hlt, 0, b.constant(next));
      b.exit();
      return kEnd;
    case 0xf5: b.call(h_flag_op, kCmc); return kNext;
    case 0xf8: b.call(h_flag_op, kClc); return kNext;
    case 0xf9: b.call(h_flag_op, kStc); return kNext;
    case 0xfc: b.call(h_flag_op, kCld); return kNext;
    case 0xfd: b.call(h_flag_op, kStd); return kNext;
    case 0xfa: b.call(h_flag_op, kCli); return kNext;
    case 0xfb: b.call(h_flag_op, kSti); return exit_to(next);
    case 0xf6: case 0xf7: {
      switch (d.reg & 7) {
        case 0: case 1: {
          Temp r = b.binary(Opc::kAnd, bsz, rm(bsz), imm(bsz));
          b.set_flags(kCcLogic, bsz, r);
          return kNext;
        }
        case 2: set_rm(bsz, b.unary(Opc::kNot, bsz, rm_rmw(bsz))); return kNext;
        case 3: {
          Temp a = rm_rmw(bsz);
          Temp r = b.unary(Opc::kNeg, bsz, a);
          set_rm(bsz, r);
          b.set_flags(kCcSub, bsz, r, a);
          return kNext;
        }
        case 4: case 5: b.call(h_mul_wide, hp((d.reg & 7) == 5, bsz), rm(bsz)); return kNext;
        default: b.call(h_div, hp((d.reg & 7) == 7, bsz), rm(bsz)); return kNext;
      }
    }
    case 0xfe:
      if ((d.reg & 7) > 1) return kUnimpl;
      incdec(d.reg & 1, 1, true, 0);
      return kNext;
    case 0xff:
      switch (d.reg & 7) {
        case 0: case 1: incdec(d.reg & 1, osz, true, 0); return kNext;
        case 2: {
          Temp target = ip_value(rm(osz));
          near_branch_limit(b, m, target);
          push(b.constant(next), osz);
          b.jmp_indirect(target);
          return kEnd;
        }
        case 3: case 5: {
          if (d.mod == 3) return raise(kUD);
          Temp off = b.load(mem_seg(), ea(), osz);
          Temp sel = b.load(mem_seg(), ea_plus(osz), 2);
          if ((d.reg & 7) == 3) b.call(h_far_call, hp(0, osz), sel, off, b.constant(next));
          else b.call(h_far_jmp, hp(0, osz), sel, off, b.constant(next));
          b.exit();
          return kEnd;
        }
        case 4: {
          Temp target = ip_value(rm(osz));
          near_branch_limit(b, m, target);
          b.jmp_indirect(target);
          return kEnd;
        }
        case 6: push(rm(stack_osz()), stack_osz()); return kNext;
        default: return raise(kUD);
      }
    default:
      return kUnimpl;
  }
}

LiftResult Lifter::group_0f00() {
  if (!m.protected_mode || m.v86) return raise(kUD);
  switch (d.reg & 7) {
    case 0: case 1: {
      Temp sel = b.call(h_read_selector, (d.reg & 7));
      if (d.mod == 3) set(d.rm, osz, sel);
      else b.store(mem_seg(), ea(), sel, 2);
      return kNext;
    }
    case 2: case 3:
      if (privileged()) return raise(kGP, 0);
      b.call((d.reg & 7) == 2 ? h_lldt : h_ltr, 0, rm(2));
      return kNext;
    case 4: case 5: {  // VERR/VERW: ZF only
      Temp r = b.call(h_descriptor_query, (d.reg & 7) == 4 ? kVerr : kVerw, rm(2));
      b.call(h_set_zf, 0, b.binary(Opc::kShr, 8, r, b.constant(32)));
      return kNext;
    }
    default:
      return kUnimpl;
  }
}

// LAR/LSL: the access rights or limit of a descriptor, written only when ZF comes out set.
LiftResult Lifter::descriptor_query(unsigned query) {
  if (!m.protected_mode || m.v86) return raise(kUD);
  Temp r = b.call(h_descriptor_query, query, rm(2));
  Temp ok = b.binary(Opc::kShr, 8, r, b.constant(32));
  Temp value = b.zext(4, r);
  if (osz == 2) set(d.reg, 2, b.select(ok, value, b.get_reg(d.reg, 2)));
  else b.set_reg(d.reg, 8, b.select(ok, value, b.get_reg(d.reg, 8)));
  b.call(h_set_zf, 0, ok);
  return kNext;
}

LiftResult Lifter::group_0f01() {
  unsigned r = d.reg & 7;
  if (d.mod == 3) {
    switch (d.modrm) {
      case 0xf8:
        if (!code64()) return raise(kUD);
        if (privileged()) return raise(kGP, 0);
        b.call(h_swapgs, 0);
        return kNext;
      case 0xf9: b.call(h_rdtsc, 1); return kNext;
      default: break;
    }
    if (r == 4) { set(d.rm, osz, b.call(h_smsw, 0)); return kNext; }
    if (r == 6) {
      if (privileged()) return raise(kGP, 0);
      b.call(h_lmsw, 0, reg(d.rm, 2));
      return exit_to(next);
    }
    return kUnimpl;
  }
  switch (r) {
    case 0: case 1:
      b.call(h_descriptor_table, hp(r == 0 ? kSgdt : kSidt, osz, mem_seg()), ea());
      return kNext;
    case 2: case 3:
      if (privileged()) return raise(kGP, 0);
      b.call(h_descriptor_table, hp(r == 2 ? kLgdt : kLidt, osz, mem_seg()), ea());
      return kNext;
    case 4: b.store(mem_seg(), ea(), b.call(h_smsw, 0), 2); return kNext;
    case 6:
      if (privileged()) return raise(kGP, 0);
      b.call(h_lmsw, 0, b.load(mem_seg(), ea(), 2));
      return exit_to(next);
    case 7:
      if (privileged()) return raise(kGP, 0);
      b.call(h_invlpg, mem_seg(), ea());
      return exit_to(next);
    default:
      return kUnimpl;
  }
}

LiftResult Lifter::secondary() {
  const uint8_t op = d.opcode;
  switch (op) {
    case 0x00: return group_0f00();
    case 0x01: return group_0f01();
    case 0x02: return descriptor_query(kLar);
    case 0x03: return descriptor_query(kLsl);
    case 0x05:
      if (!code64()) return raise(kUD);
      b.call(h_syscall, 0, b.constant(next));
      b.exit();
      return kEnd;
    case 0x07:
      if (!code64() && !m.long_mode) return raise(kUD);
      b.call(h_sysret, hp(0, osz));
      b.exit();
      return kEnd;
    case 0x06:
      if (privileged()) return raise(kGP, 0);
      b.call(h_clts, 0);
      return kNext;
    case 0x08: case 0x09:
      if (privileged()) return raise(kGP, 0);
      return kNext;  // caches are coherent in an emulator
    case 0x0b: return raise(kUD);  // UD2
    case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      return kNext;  // prefetch and hint NOPs
    case 0x20: case 0x21: case 0x22: case 0x23: {
      if (privileged()) return raise(kGP, 0);
      unsigned n = d.reg;
      unsigned size = code64() ? 8 : 4;
      bool is_cr = op == 0x20 || op == 0x22;
      if (is_cr && !(n == 0 || n == 2 || n == 3 || n == 4 || n == 8)) return raise(kUD);
      if (!is_cr && n > 7) return raise(kUD);
      if (op == 0x20 || op == 0x21) {
        b.set_reg(d.rm, size, b.call(is_cr ? h_read_cr : h_read_dr, n));
        return kNext;
      }
      b.call(is_cr ? h_write_cr : h_write_dr, n, b.get_reg(d.rm, size));
      return exit_to(next);
    }
    case 0x30:
      if (privileged()) return raise(kGP, 0);
      b.call(h_wrmsr, 0);
      return exit_to(next);
    case 0x31: b.call(h_rdtsc, 0); return kNext;
    case 0x32:
      if (privileged()) return raise(kGP, 0);
      b.call(h_rdmsr, 0);
      return kNext;
    case 0x34: b.call(h_sysenter, 0); b.exit(); return kEnd;
    case 0x35: b.call(h_sysexit, hp(0, osz)); b.exit(); return kEnd;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      Temp v = rm(osz);
      Temp c = b.cond(op & 0xf);
      set(d.reg, osz, b.select(c, v, reg(d.reg, osz)));
      return kNext;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      Temp c = b.cond(op & 0xf);
      near_branch_limit(b, m, b.constant(rel_target()), c);
      b.branch(c, rel_target(), next);
      return kEnd;
    }
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
      set_rm(1, b.cond(op & 0xf));
      return kNext;
    case 0xa0: return push_segment(FS);
    case 0xa8: return push_segment(GS);
    case 0xa1: return pop_segment(FS);
    case 0xa9: return pop_segment(GS);
    case 0xa2: b.call(h_cpuid, 0); return kNext;
    case 0xa3: bit_test(0, reg(d.reg, osz), false); return kNext;
    case 0xab: bit_test(1, reg(d.reg, osz), false); return kNext;
    case 0xb3: bit_test(2, reg(d.reg, osz), false); return kNext;
    case 0xbb: bit_test(3, reg(d.reg, osz), false); return kNext;
    case 0xba:
      if ((d.reg & 7) < 4) return raise(kUD);
      bit_test((d.reg & 7) - 4, b.constant(d.imm & 0xff), true);
      return kNext;
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      bool left = op < 0xa8;
      Temp count = (op & 1) ? b.get_reg(RCX, 1) : b.constant(d.imm);
      count = b.binary(Opc::kAnd, 1, count, b.constant(osz == 8 ? 0x3f : 0x1f));
      Temp dst = rm_rmw(osz), src = reg(d.reg, osz);
      Temp r = b.call(h_shiftd_result, hp(left, osz), dst, src, count);
      Temp f = b.call(h_shiftd_flags, hp(left, osz), dst, src, count);
      set_rm(osz, r);
      b.set_flags(kCcEflags, osz, f, f);
      return kNext;
    }
    case 0xae:
      if (d.mod == 3) {
        if (d.modrm >= 0xe8) return kNext;  // LFENCE/MFENCE/SFENCE
        return kUnimpl;
      }
      if ((d.reg & 7) == 7 && !d.opsize_prefix) {  // CLFLUSH: checked like a byte read
        b.load(mem_seg(), ea(), 1);
        return kNext;
      }
      if ((d.reg & 7) == 2 || (d.reg & 7) == 3) return sse();  // LDMXCSR/STMXCSR
      return x87();  // FXSAVE/FXRSTOR
    case 0xaf: {
      Temp a = reg(d.reg, osz), c = rm(osz);
      Temp r = b.binary(Opc::kMul, osz, a, c);
      set(d.reg, osz, r);
      b.set_flags(kCcImul, osz, r, a, c);  // overflow computed lazily from the operands
      return kNext;
    }
    case 0xb0: case 0xb1: {
      unsigned size = op == 0xb0 ? 1 : osz;
      Temp dst = rm_rmw(size);
      Temp acc = b.get_reg(RAX, size);
      Temp eq = b.cmp(CmpKind::kEq, size, dst, acc);
      Temp src = reg(d.reg, size);
      // Intel writes only the register that changes: on success the destination (memory is
      // always written), on failure the accumulator; a 32-bit write zero-extends only that one.
      if (size == 4) {
        if (d.mod == 3) b.set_reg(d.rm, 8, b.select(eq, src, b.get_reg(d.rm, 8)));
        else set_rm(size, b.select(eq, src, dst));
        b.set_reg(RAX, 8, b.select(eq, b.get_reg(RAX, 8), dst));
      } else if (d.mod == 3) {
        // Accumulator first: with the accumulator as destination, success stores the source.
        b.set_reg(RAX, size, b.select(eq, acc, dst));
        set_rm(size, b.select(eq, src, dst));
      } else {
        set_rm(size, b.select(eq, src, dst));  // the store first: it may fault
        b.set_reg(RAX, size, b.select(eq, acc, dst));
      }
      b.set_flags(kCcSub, size, b.sub(size, acc, dst), dst);
      return kNext;
    }
    case 0xb2: return load_far_pointer(SS);
    case 0xb4: return load_far_pointer(FS);
    case 0xb5: return load_far_pointer(GS);
    case 0xb6: case 0xb7: set(d.reg, osz, rm(op == 0xb6 ? 1 : 2)); return kNext;
    case 0xbe: case 0xbf: {
      unsigned from = op == 0xbe ? 1 : 2;
      set(d.reg, osz, b.sext(from, rm(from)));
      return kNext;
    }
    case 0xb8:  // F3 0F B8: POPCNT (without F3 it is JMPE, which x86-64 CPUs do not have)
      if (d.rep != 0xf3) return raise(kUD);
      return bit_count(kPopcnt);
    case 0xbc: case 0xbd: {
      // F3 0F BD is LZCNT (CPUID ABM). F3 0F BC is TZCNT: BMI1 is not advertised, but CPUs that
      // have it (the KVM oracle's host, any VM on one) run TZCNT whatever CPUID says, so do we.
      if (d.rep == 0xf3) return bit_count(op == 0xbd ? kLzcnt : kTzcnt);
      // A zero source leaves the whole destination untouched (even bits 63:32 of a 32-bit one).
      Temp src = rm(osz);
      Temp old = b.get_reg(d.reg, 8);
      Temp r = b.call(h_bit_scan, hp(op == 0xbd, osz), src, old);
      Temp f = b.call(h_bit_scan_flags, hp(op == 0xbd, osz), src, r);
      b.set_reg(d.reg, osz == 2 ? 2 : 8, r);
      b.set_flags(kCcEflags, osz, f, f);
      return kNext;
    }
    case 0xc0: case 0xc1: {
      unsigned size = op == 0xc0 ? 1 : osz;
      Temp a = rm_rmw(size), r = reg(d.reg, size);
      Temp sum = b.add(size, a, r);
      if (d.mod == 3) {  // source first: XADD of a register with itself leaves the sum
        set(d.reg, size, a);
        set_rm(size, sum);
      } else {
        set_rm(size, sum);  // the store first: it may fault
        set(d.reg, size, a);
      }
      b.set_flags(kCcAdd, size, sum, r);
      return kNext;
    }
    case 0xc7:
      if ((d.reg & 7) != 1 || d.mod == 3) return kUnimpl;
      if (d.rex_w()) {  // CMPXCHG16B
        b.call(h_cmpxchg16b, mem_seg(), ea());
        return kNext;
      }
      b.call(h_cmpxchg8b, mem_seg(), ea());
      return kNext;
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      unsigned r = (op & 7) | (d.rex & 1 ? 8 : 0);
      b.set_reg(r, osz, b.call(h_bswap, hp(0, osz), b.get_reg(r, osz)));
      return kNext;
    }
    default:
      return sse();  // the rest of the 0F map is SSE/SSE2
  }
}

}  // namespace lift_detail

LiftResult lift_instruction(IrBuilder& b, const DecodedInsn& d, const BlockMode& mode, uint64_t rip) {
  size_t mark = b.mark();
  LiftResult r = lift_detail::Lifter(b, d, mode, rip).lift();
  if (r == LiftResult::kUnimplemented) b.rewind(mark);
  return r;
}

}  // namespace janus::tcg
