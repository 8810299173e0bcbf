// SSE/SSE2 instructions of the 0F map (selected by the 66/F3/F2 mandatory prefix) and
// LDMXCSR/STMXCSR. Each becomes one h_sse call (tcg/helpers_sse.h) that checks CR0/CR4, reads
// and writes the XMM registers, MXCSR and memory; a general-purpose result or EFLAGS comes back
// as the call's value and is committed here, after the call (precise faults).
// Not here: the 0F 38 / 0F 3A maps (SSSE3/SSE4 are not advertised), the MMX forms (no 66 prefix
// on integer opcodes; CVTPI2PS...) and SSE3 (MOVDDUP, LDDQU...): all #UD, reported once.
// PREFETCHh, the fences and CLFLUSH are in lifter.cpp (no SSE state involved).
#include <array>

#include "tcg/helpers_sse.h"
#include "tcg/lifter_internal.h"
#include "tcg/sse_host.h"

namespace janus::tcg::lift_detail {

namespace {

// Mandatory prefix as an index: none, 66, F3, F2.
enum Prefix : unsigned { kNp, k66, kF3, kF2 };

unsigned prefix_index(uint8_t mandatory) {
  switch (mandatory) {
    case 0x66: return k66;
    case 0xf3: return kF3;
    case 0xf2: return kF2;
    default: return kNp;
  }
}

constexpr HostOp kNone = HostOp::kCount;
using HostForms = std::array<HostOp, 4>;  // indexed by Prefix

// The opcodes whose operation the host executes directly (xmm, xmm/mem), by mandatory prefix.
HostForms host_forms(uint8_t opcode) {
  using enum HostOp;
  switch (opcode) {
    case 0x14: return {unpcklps, unpcklpd, kNone, kNone};
    case 0x15: return {unpckhps, unpckhpd, kNone, kNone};
    case 0x51: return {sqrtps, sqrtpd, sqrtss, sqrtsd};
    case 0x52: return {rsqrtps, kNone, rsqrtss, kNone};
    case 0x53: return {rcpps, kNone, rcpss, kNone};
    // The bitwise PS and PD forms compute the same bits.
    case 0x54: return {andps, andps, kNone, kNone};
    case 0x55: return {andnps, andnps, kNone, kNone};
    case 0x56: return {orps, orps, kNone, kNone};
    case 0x57: return {xorps, xorps, kNone, kNone};
    case 0x58: return {addps, addpd, addss, addsd};
    case 0x59: return {mulps, mulpd, mulss, mulsd};
    case 0x5a: return {cvtps2pd, cvtpd2ps, cvtss2sd, cvtsd2ss};
    case 0x5b: return {cvtdq2ps, cvtps2dq, cvttps2dq, kNone};
    case 0x5c: return {subps, subpd, subss, subsd};
    case 0x5d: return {minps, minpd, minss, minsd};
    case 0x5e: return {divps, divpd, divss, divsd};
    case 0x5f: return {maxps, maxpd, maxss, maxsd};
    case 0xe6: return {kNone, cvttpd2dq, cvtdq2pd, cvtpd2dq};
    default: break;
  }
  // Packed integer opcodes exist only with 66 (without it they are MMX, not advertised).
  HostOp op = kNone;
  switch (opcode) {
    case 0x60: op = punpcklbw; break; case 0x61: op = punpcklwd; break; case 0x62: op = punpckldq; break;
    case 0x63: op = packsswb; break; case 0x64: op = pcmpgtb; break; case 0x65: op = pcmpgtw; break;
    case 0x66: op = pcmpgtd; break; case 0x67: op = packuswb; break; case 0x68: op = punpckhbw; break;
    case 0x69: op = punpckhwd; break; case 0x6a: op = punpckhdq; break; case 0x6b: op = packssdw; break;
    case 0x6c: op = punpcklqdq; break; case 0x6d: op = punpckhqdq; break; case 0x74: op = pcmpeqb; break;
    case 0x75: op = pcmpeqw; break; case 0x76: op = pcmpeqd; break; case 0xd1: op = psrlw; break;
    case 0xd2: op = psrld; break; case 0xd3: op = psrlq; break; case 0xd4: op = paddq; break;
    case 0xd5: op = pmullw; break; case 0xd8: op = psubusb; break; case 0xd9: op = psubusw; break;
    case 0xda: op = pminub; break; case 0xdb: op = pand; break; case 0xdc: op = paddusb; break;
    case 0xdd: op = paddusw; break; case 0xde: op = pmaxub; break; case 0xdf: op = pandn; break;
    case 0xe0: op = pavgb; break; case 0xe1: op = psraw; break; case 0xe2: op = psrad; break;
    case 0xe3: op = pavgw; break; case 0xe4: op = pmulhuw; break; case 0xe5: op = pmulhw; break;
    case 0xe8: op = psubsb; break; case 0xe9: op = psubsw; break; case 0xea: op = pminsw; break;
    case 0xeb: op = por; break; case 0xec: op = paddsb; break; case 0xed: op = paddsw; break;
    case 0xee: op = pmaxsw; break; case 0xef: op = pxor; break; case 0xf1: op = psllw; break;
    case 0xf2: op = pslld; break; case 0xf3: op = psllq; break; case 0xf4: op = pmuludq; break;
    case 0xf5: op = pmaddwd; break; case 0xf6: op = psadbw; break; case 0xf8: op = psubb; break;
    case 0xf9: op = psubw; break; case 0xfa: op = psubd; break; case 0xfb: op = psubq; break;
    case 0xfc: op = paddb; break; case 0xfd: op = paddw; break; case 0xfe: op = paddd; break;
    default: break;
  }
  return {kNone, op, kNone, kNone};
}

// Bytes a host op reads from a memory source: the scalar lane, half a register for the
// widening conversions, else the whole (16-byte aligned) register.
unsigned host_mem_size(HostOp op) {
  using enum HostOp;
  if (op >= cmpeqss && op <= cmpordss) return 4;
  if (op >= cmpeqsd && op <= cmpordsd) return 8;
  switch (op) {
    case addss: case subss: case mulss: case divss: case minss: case maxss: case sqrtss: case rcpss:
    case rsqrtss: case cvtss2sd:
      return 4;
    case addsd: case subsd: case mulsd: case divsd: case minsd: case maxsd: case sqrtsd: case cvtsd2ss:
    case cvtps2pd: case cvtdq2pd:
      return 8;
    default:
      return 16;
  }
}

// CMPccPS/SS/PD/SD: the predicate (imm8 bits 2:0) picks one of eight host ops.
HostOp compare_op(unsigned prefix, uint8_t imm) {
  static constexpr HostOp kFirst[4] = {HostOp::cmpeqps, HostOp::cmpeqpd, HostOp::cmpeqss, HostOp::cmpeqsd};
  return HostOp(unsigned(kFirst[prefix]) + (imm & 7));
}

}  // namespace

LiftResult Lifter::sse() {
  if (d.map != OpcodeMap::k0F) return kUnimpl;  // 0F 38 / 0F 3A: SSSE3 and later
  const uint8_t op = d.opcode;
  const unsigned pfx = prefix_index(d.mandatory_prefix);
  const bool mem = d.mod != 3;
  const unsigned gsz = d.rex_w() ? 8 : 4;  // general-purpose operand size of MOVD/CVTSI2SS...

  SseInsn in;
  in.reg = d.reg;
  in.rm = d.rm;
  in.mem = mem;
  in.seg = mem_seg();
  in.imm = uint8_t(d.imm);
  in.wide = d.rex_w();

  auto call = [&](Temp gpr = kNoTemp) { return b.call(h_sse, in.pack(), mem ? ea() : kNoTemp, gpr); };
  auto host = [&](HostOp h) {
    in.kind = SseKind::kHost;
    in.sub = uint8_t(h);
    in.mem_size = uint8_t(host_mem_size(h));
    in.aligned = in.mem_size == 16;
    call();
    return kNext;
  };
  auto move = [&](SseMove mv, bool aligned) {
    in.kind = SseKind::kMove;
    in.sub = mv.pack();
    in.mem_size = mv.width;
    in.aligned = aligned;
    call();
    return kNext;
  };
  auto to_gpr = [&](SseKind kind, uint8_t sub, unsigned mem_size, unsigned dest, unsigned size) {
    in.kind = kind;
    in.sub = sub;
    in.mem_size = uint8_t(mem_size);
    b.set_reg(dest, size, call());
    return kNext;
  };

  switch (op) {
    case 0x10: case 0x11: {  // MOVUPS MOVUPD MOVSS MOVSD
      SseMove mv{.store = op == 0x11};
      if (pfx == kF3 || pfx == kF2) {
        mv.width = pfx == kF3 ? 4 : 8;
        mv.zero = mem && !mv.store;  // a load from memory clears the rest; register moves merge
      }
      return move(mv, false);
    }
    case 0x12: case 0x16: {  // MOVLPS/MOVHLPS, MOVLPD; MOVHPS/MOVLHPS, MOVHPD
      if (pfx >= kF3) return kUnimpl;  // MOVSLDUP/MOVDDUP/MOVSHDUP: SSE3
      if (pfx == k66 && !mem) return raise(kUD);
      SseMove mv{.width = 8};
      if (mem) mv.dst_off = op == 0x16 ? 8 : 0;
      else if (op == 0x12) mv.src_off = 8;  // MOVHLPS
      else mv.dst_off = 8;                  // MOVLHPS
      return move(mv, false);
    }
    case 0x13: case 0x17:  // MOVLPS/MOVLPD m64, xmm; MOVHPS/MOVHPD m64, xmm
      if (pfx >= kF3) return kUnimpl;
      if (!mem) return raise(kUD);
      return move(SseMove{.width = 8, .src_off = uint8_t(op == 0x17 ? 8 : 0), .store = true}, false);
    case 0x28: case 0x29:  // MOVAPS MOVAPD
      if (pfx >= kF3) return kUnimpl;
      return move(SseMove{.store = op == 0x29}, true);
    case 0x2b:  // MOVNTPS MOVNTPD (the non-temporal hint means nothing here)
      if (pfx >= kF3) return kUnimpl;
      if (!mem) return raise(kUD);
      return move(SseMove{.store = true}, true);
    case 0x2a:  // CVTSI2SS CVTSI2SD (CVTPI2PS/PD: MMX)
      if (pfx < kF3) return kUnimpl;
      in.kind = SseKind::kFromGpr;
      in.sub = uint8_t(pfx == kF3 ? HostGprOp::cvtsi2ss : HostGprOp::cvtsi2sd);
      in.mem_size = uint8_t(gsz);
      call(mem ? kNoTemp : b.get_reg(d.rm, gsz));
      return kNext;
    case 0x2c: case 0x2d: {  // CVT(T)SS2SI CVT(T)SD2SI (the PI forms: MMX)
      if (pfx < kF3) return kUnimpl;
      HostGprOp g = pfx == kF3 ? (op == 0x2c ? HostGprOp::cvttss2si : HostGprOp::cvtss2si)
                               : (op == 0x2c ? HostGprOp::cvttsd2si : HostGprOp::cvtsd2si);
      return to_gpr(SseKind::kToGpr, uint8_t(g), pfx == kF3 ? 4 : 8, d.reg, gsz);
    }
    case 0x2e: case 0x2f: {  // UCOMISS UCOMISD COMISS COMISD
      if (pfx >= kF3) return kUnimpl;
      HostGprOp g = pfx == kNp ? (op == 0x2e ? HostGprOp::ucomiss : HostGprOp::comiss)
                               : (op == 0x2e ? HostGprOp::ucomisd : HostGprOp::comisd);
      in.kind = SseKind::kCompareFlags;
      in.sub = uint8_t(g);
      in.mem_size = pfx == kNp ? 4 : 8;
      Temp f = call();
      b.set_flags(kCcEflags, 4, f, f);
      return kNext;
    }
    case 0x50:  // MOVMSKPS MOVMSKPD
      if (pfx >= kF3) return kUnimpl;
      if (mem) return raise(kUD);
      return to_gpr(SseKind::kMoveMask, pfx == kNp ? 0 : 1, 0, d.reg, 4);
    case 0x6e:  // MOVD/MOVQ xmm, r/m32/64
      if (pfx != k66) return kUnimpl;
      in.kind = SseKind::kMoveFromGpr;
      in.mem_size = uint8_t(gsz);
      call(mem ? kNoTemp : b.get_reg(d.rm, gsz));
      return kNext;
    case 0x7e:
      if (pfx == kF3) return move(SseMove{.width = 8, .zero = true}, false);  // MOVQ xmm, xmm/m64
      if (pfx != k66) return kUnimpl;
      in.kind = SseKind::kMoveToGpr;  // MOVD/MOVQ r/m32/64, xmm
      in.mem_size = uint8_t(gsz);
      if (mem) {
        call();
        return kNext;
      }
      return to_gpr(SseKind::kMoveToGpr, 0, gsz, d.rm, gsz);
    case 0x6f: case 0x7f:  // MOVDQA MOVDQU
      if (pfx != k66 && pfx != kF3) return kUnimpl;
      return move(SseMove{.store = op == 0x7f}, pfx == k66);
    case 0xd6:  // MOVQ xmm/m64, xmm (F3/F2: MOVQ2DQ/MOVDQ2Q, MMX)
      if (pfx != k66) return kUnimpl;
      return move(SseMove{.width = 8, .zero = true, .store = true}, false);
    case 0xe7:  // MOVNTDQ
      if (pfx != k66) return kUnimpl;
      if (!mem) return raise(kUD);
      return move(SseMove{.store = true}, true);
    case 0x70: case 0xc6: {  // PSHUFD PSHUFHW PSHUFLW; SHUFPS SHUFPD
      SseShuffle s;
      if (op == 0xc6 && pfx <= k66) s = pfx == kNp ? SseShuffle::kShufps : SseShuffle::kShufpd;
      else if (op == 0x70 && pfx != kNp) s = pfx == k66 ? SseShuffle::kPshufd : pfx == kF3 ? SseShuffle::kPshufhw : SseShuffle::kPshuflw;
      else return kUnimpl;
      in.kind = SseKind::kShuffle;
      in.sub = uint8_t(s);
      in.mem_size = 16;
      in.aligned = true;
      call();
      return kNext;
    }
    case 0x71: case 0x72: case 0x73: {  // shifts of xmm by imm8 (groups 12-14)
      if (pfx != k66) return kUnimpl;
      if (mem) return raise(kUD);
      using enum HostOp;
      static constexpr HostOp kShifts[3][8] = {
          {kNone, kNone, psrlw, kNone, psraw, kNone, psllw, kNone},
          {kNone, kNone, psrld, kNone, psrad, kNone, pslld, kNone},
          {kNone, kNone, psrlq, kNone, kNone, kNone, psllq, kNone},
      };
      unsigned r = d.reg & 7;
      if (op == 0x73 && (r == 3 || r == 7)) {  // PSRLDQ PSLLDQ
        in.kind = SseKind::kByteShift;
        in.sub = r == 3 ? 1 : 0;
      } else {
        HostOp h = kShifts[op - 0x71][r];
        if (h == kNone) return kUnimpl;
        in.kind = SseKind::kHostImmCount;
        in.sub = uint8_t(h);
      }
      call();
      return kNext;
    }
    case 0xc2:  // CMPPS CMPPD CMPSS CMPSD
      return host(compare_op(pfx, in.imm));
    case 0xc3:  // MOVNTI: a plain general-purpose store, no SSE state involved
      if (pfx != kNp) return kUnimpl;
      if (!mem) return raise(kUD);
      b.store(mem_seg(), ea(), b.get_reg(d.reg, gsz), gsz);
      return kNext;
    case 0xc4:  // PINSRW xmm, r32/m16, imm8
      if (pfx != k66) return kUnimpl;
      in.kind = SseKind::kInsertWord;
      in.mem_size = 2;
      call(mem ? kNoTemp : b.get_reg(d.rm, 2));
      return kNext;
    case 0xc5:  // PEXTRW r32, xmm, imm8
      if (pfx != k66) return kUnimpl;
      if (mem) return raise(kUD);
      return to_gpr(SseKind::kExtractWord, 0, 0, d.reg, 4);
    case 0xd7:  // PMOVMSKB r32, xmm
      if (pfx != k66) return kUnimpl;
      if (mem) return raise(kUD);
      return to_gpr(SseKind::kMoveMask, 2, 0, d.reg, 4);
    case 0xf7: {  // MASKMOVDQU xmm, xmm: byte stores to DS:rDI (segment override allowed)
      if (pfx != k66) return kUnimpl;
      if (mem) return raise(kUD);
      in.kind = SseKind::kMaskMove;
      in.seg = data_seg();
      in.imm = uint8_t(asz);
      b.call(h_sse, in.pack(), b.get_reg(RDI, asz));
      return kNext;
    }
    case 0xae:  // LDMXCSR / STMXCSR m32 (lifter.cpp sends only these, with a memory operand)
      if (pfx >= kF3) return kUnimpl;
      in.kind = (d.reg & 7) == 2 ? SseKind::kLdmxcsr : SseKind::kStmxcsr;
      in.mem_size = 4;
      call();
      return kNext;
    default: {
      HostOp h = host_forms(op)[pfx];
      if (h == kNone) return kUnimpl;
      return host(h);
    }
  }
}

}  // namespace janus::tcg::lift_detail
