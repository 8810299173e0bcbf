// Shifts, rotates, multiplication, division, bit scans: values and flags exactly as this Intel
// host produces them, including the architecturally undefined flags (see docs/tcg-ir.md):
// OF of multi-bit shifts/rotates is the OF of the first one-bit step, AF of shifts is 0, MUL/IMUL
// set SF/PF from the low half and clear ZF/AF, BSF/BSR set ZF from the source and PF from the
// bit index (zero for a zero source) and clear the rest, BT changes only CF, AAD sets CF/AF/OF
// as the byte addition AL + AH*imm8 does and AAM clears them (tests/unit/test_tcg_cross_findings.cpp).
#include "cpu/exceptions.h"
#include "tcg/helpers.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

namespace {

inline uint64_t sext(uint64_t v, unsigned size) {
  switch (size) {
    case 1: return uint64_t(int64_t(int8_t(v)));
    case 2: return uint64_t(int64_t(int16_t(v)));
    case 4: return uint64_t(int64_t(int32_t(v)));
    default: return v;
  }
}
inline uint64_t bit(uint64_t v, unsigned n) { return (v >> n) & 1; }

uint64_t szp(uint64_t r, unsigned size) {
  uint64_t m = size_mask_bytes(size);
  r &= m;
  uint64_t f = 0;
  if (!r) f |= rflags::ZF;
  if (r >> (size * 8 - 1) & 1) f |= rflags::SF;
  if (parity_even(r)) f |= rflags::PF;
  return f;
}

uint64_t rotate_through_carry(uint64_t v, unsigned bits, unsigned count, bool left, uint64_t& cf) {
  for (unsigned i = 0; i < count; ++i) {
    if (left) {
      uint64_t out = bit(v, bits - 1);
      v = ((v << 1) | cf) & size_mask_bytes(bits / 8);
      cf = out;
    } else {
      uint64_t out = v & 1;
      v = (v >> 1) | (cf << (bits - 1));
      cf = out;
    }
  }
  return v;
}

}  // namespace

uint64_t h_shift_result(TcgCpu& cpu, uint64_t p, uint64_t value, uint64_t count, uint64_t) {
  unsigned size = hp_size(p), bits = size * 8;
  uint64_t m = size_mask_bytes(size), v = value & m;
  if (!count) return v;
  switch (hp_op(p)) {
    case kRol: { unsigned c = count % bits; return c ? ((v << c) | (v >> (bits - c))) & m : v; }
    case kRor: { unsigned c = count % bits; return c ? ((v >> c) | (v << (bits - c))) & m : v; }
    case kRcl: case kRcr: {
      uint64_t cf = cpu.cc.carry();
      return rotate_through_carry(v, bits, count % (bits + 1), hp_op(p) == kRcl, cf);
    }
    case kShl: case kSal: return count >= 64 ? 0 : (v << count) & m;
    case kShr: return count >= 64 ? 0 : v >> count;
    default: return (uint64_t(int64_t(sext(v, size)) >> std::min<uint64_t>(count, 63))) & m;
  }
}

uint64_t h_shift_flags(TcgCpu& cpu, uint64_t p, uint64_t value, uint64_t count, uint64_t) {
  unsigned size = hp_size(p), bits = size * 8;
  uint64_t old = cpu.cc.compute();
  if (!count) return old;
  uint64_t m = size_mask_bytes(size), v = value & m;
  uint64_t r = h_shift_result(cpu, p, value, count, 0);
  uint64_t cf = 0, of = 0;
  switch (hp_op(p)) {
    case kRol: case kRor: {
      cf = hp_op(p) == kRol ? r & 1 : bit(r, bits - 1);
      // OF is defined only for 1-bit rotates. This Intel CPU sets it from the operand's top
      // bits (ROL: bits n-1 ^ n-2; ROR: n-1 ^ 0) for CL counts and memory destinations, but
      // leaves it unchanged for an imm8 count of 2 or more on a register (tests/guest/cpu_shift.asm).
      if ((hp_extra(p) & kShiftImmCount) && count >= 2) of = (old >> 11) & 1;
      else of = hp_op(p) == kRol ? bit(v, bits - 1) ^ bit(v, bits - 2) : bit(v, 0) ^ bit(v, bits - 1);
      return (old & ~(rflags::CF | rflags::OF)) | cf | (of << 11);
    }
    case kRcl: case kRcr: {
      unsigned c = count % (bits + 1);
      if (!c) return old;
      uint64_t cin = old & 1;
      cf = cin;
      rotate_through_carry(v, bits, c, hp_op(p) == kRcl, cf);
      of = hp_op(p) == kRcl ? bit(v, bits - 1) ^ bit(v, bits - 2) : bit(v, bits - 1) ^ cin;
      return (old & ~(rflags::CF | rflags::OF)) | cf | (of << 11);
    }
    case kShl: case kSal:
      cf = count > 64 ? 0 : bit(v << (count - 1), bits - 1);
      of = bit(v, bits - 1) ^ bit(v, bits - 2);
      break;
    case kShr:
      cf = count > 64 ? 0 : bit(v >> (count - 1), 0);
      of = bit(v, bits - 1);
      break;
    default:
      cf = bit(uint64_t(int64_t(sext(v, size)) >> std::min<uint64_t>(count - 1, 63)), 0);
      of = 0;
      break;
  }
  return szp(r, size) | cf | (of << 11);
}

uint64_t h_shiftd_result(TcgCpu&, uint64_t p, uint64_t dest, uint64_t src, uint64_t count) {
  unsigned size = hp_size(p), bits = size * 8;
  bool left = hp_op(p);
  uint64_t m = size_mask_bytes(size), d = dest & m, s = src & m;
  if (!count) return d;
  if (size == 2) {  // counts above 16 shift through dest:src:dest, as Intel hardware does
    unsigned __int128 x = (unsigned __int128)d << 32 | (unsigned __int128)s << 16 | d;
    return left ? uint64_t((x << count) >> 32) & 0xffff : uint64_t(x >> count) & 0xffff;
  }
  return left ? ((d << count) | (s >> (bits - count))) & m : ((d >> count) | (s << (bits - count))) & m;
}

uint64_t h_shiftd_flags(TcgCpu& cpu, uint64_t p, uint64_t dest, uint64_t src, uint64_t count) {
  unsigned size = hp_size(p), bits = size * 8;
  bool left = hp_op(p);
  uint64_t old = cpu.cc.compute();
  if (!count) return old;
  uint64_t m = size_mask_bytes(size), d = dest & m, s = src & m;
  uint64_t r = h_shiftd_result(cpu, p, dest, src, count);
  uint64_t cf, of;
  if (size == 2) {
    unsigned __int128 x = (unsigned __int128)d << 32 | (unsigned __int128)s << 16 | d;
    cf = left ? uint64_t(x >> (48 - count)) & 1 : uint64_t(x >> (count - 1)) & 1;
  } else {
    cf = left ? bit(d, bits - count) : bit(d, count - 1);
  }
  of = left ? bit(d, bits - 1) ^ bit(d, bits - 2) : (s & 1) ^ bit(d, bits - 1);
  return szp(r, size) | cf | (of << 11);
}

uint64_t h_mul_wide(TcgCpu& cpu, uint64_t p, uint64_t src, uint64_t, uint64_t) {
  bool is_signed = hp_op(p);
  unsigned size = hp_size(p), bits = size * 8;
  CpuState& s = cpu.s;
  uint64_t m = size_mask_bytes(size);
  uint64_t a = s.gpr[RAX] & m, b = src & m;
  uint64_t lo, hi;
  bool significant;
  if (is_signed) {
    __int128 prod = (__int128)int64_t(sext(a, size)) * (__int128)int64_t(sext(b, size));
    lo = uint64_t(prod) & m;
    hi = size == 8 ? uint64_t(prod >> 64) : uint64_t(prod >> bits) & m;
    significant = prod != (__int128)int64_t(sext(lo, size));
  } else {
    unsigned __int128 prod = (unsigned __int128)a * b;
    lo = uint64_t(prod) & m;
    hi = size == 8 ? uint64_t(prod >> 64) : uint64_t(prod >> bits) & m;
    significant = hi != 0;
  }
  if (size == 1) {
    write_gpr(s, RAX, 2, lo | (hi << 8));
  } else {
    write_gpr(s, RAX, size, lo);
    write_gpr(s, RDX, size, hi);
  }
  cpu.cc.op = cc_op(kCcMul, size);
  cpu.cc.dst = lo;
  cpu.cc.src = significant;
  return 0;
}

uint64_t h_imul_overflow(TcgCpu&, uint64_t p, uint64_t a, uint64_t b, uint64_t) {
  unsigned size = hp_size(p);
  __int128 prod = (__int128)int64_t(sext(a, size)) * (__int128)int64_t(sext(b, size));
  return prod != (__int128)int64_t(sext(uint64_t(prod), size));
}

uint64_t h_div(TcgCpu& cpu, uint64_t p, uint64_t divisor, uint64_t, uint64_t) {
  bool is_signed = hp_op(p);
  unsigned size = hp_size(p), bits = size * 8;
  CpuState& s = cpu.s;
  uint64_t m = size_mask_bytes(size);
  uint64_t dv = divisor & m;
  if (!dv) raise_fault(kDE);
  uint64_t lo = size == 1 ? s.gpr[RAX] & 0xff : s.gpr[RAX] & m;
  uint64_t hi = size == 1 ? (s.gpr[RAX] >> 8) & 0xff : s.gpr[RDX] & m;
  uint64_t q, r;
  if (is_signed) {
    __int128 dividend = size == 8 ? (__int128)((unsigned __int128)hi << 64 | lo)
                                  : (__int128)int64_t(sext((hi << bits) | lo, size * 2));
    __int128 d = int64_t(sext(dv, size));
    __int128 qq = dividend / d, rr = dividend % d;
    if (qq != (__int128)int64_t(sext(uint64_t(qq) & m, size))) raise_fault(kDE);
    q = uint64_t(qq) & m;
    r = uint64_t(rr) & m;
  } else {
    unsigned __int128 dividend = (unsigned __int128)hi << bits | lo;
    if (size == 8) dividend = (unsigned __int128)hi << 64 | lo;
    unsigned __int128 qq = dividend / dv;
    if (qq > m) raise_fault(kDE);
    q = uint64_t(qq);
    r = uint64_t(dividend % dv);
  }
  if (size == 1) {
    write_gpr(s, RAX, 2, q | (r << 8));
  } else {
    write_gpr(s, RAX, size, q);
    write_gpr(s, RDX, size, r);
  }
  return 0;
}

uint64_t h_bit_scan(TcgCpu&, uint64_t p, uint64_t src, uint64_t old_dest, uint64_t) {
  unsigned size = hp_size(p);
  uint64_t v = src & size_mask_bytes(size);
  if (!v) return old_dest;
  return hp_op(p) ? 63 - __builtin_clzll(v) : __builtin_ctzll(v);
}

uint64_t h_bit_scan_flags(TcgCpu&, uint64_t p, uint64_t src, uint64_t result, uint64_t) {
  // With a zero source the destination keeps its value, but the flags see a zero result.
  bool zero = !(src & size_mask_bytes(hp_size(p)));
  uint64_t f = parity_even(zero ? 0 : result) ? rflags::PF : 0;
  return zero ? f | rflags::ZF : f;
}

uint64_t h_bt_flags(TcgCpu& cpu, uint64_t, uint64_t bitval, uint64_t, uint64_t) {
  return (cpu.cc.compute() & ~rflags::CF) | (bitval & 1);
}

uint64_t h_bswap(TcgCpu&, uint64_t p, uint64_t v, uint64_t, uint64_t) {
  switch (hp_size(p)) {
    case 8: return __builtin_bswap64(v);
    case 4: return __builtin_bswap32(uint32_t(v));
    default: return 0;  // BSWAP r16 is undefined; Intel hardware leaves zero
  }
}

uint64_t h_decimal(TcgCpu& cpu, uint64_t p, uint64_t imm, uint64_t, uint64_t) {
  CpuState& s = cpu.s;
  uint64_t f = cpu.cc.compute();
  uint8_t al = s.gpr[RAX] & 0xff, ah = (s.gpr[RAX] >> 8) & 0xff;
  bool cf = f & rflags::CF, af = f & rflags::AF, of = false;
  switch (hp_op(p)) {
    case 0: case 1: {  // DAA / DAS
      bool sub = hp_op(p) == 1;
      uint8_t old_al = al;
      bool old_cf = cf;
      cf = false;
      if ((al & 0xf) > 9 || af) {
        cf = old_cf || (sub ? al < 6 : al > 0xf9);
        al = sub ? al - 6 : al + 6;
        af = true;
      } else {
        af = false;
      }
      if (old_al > 0x99 || old_cf) {
        al = sub ? al - 0x60 : al + 0x60;
        cf = true;
      }
      break;
    }
    case 2: case 3: {  // AAA / AAS
      uint16_t ax = s.gpr[RAX] & 0xffff;
      if ((al & 0xf) > 9 || af) {
        if (hp_op(p) == 2) ax += 0x106;
        else { ax -= 6; ax -= 0x100; }
        af = cf = true;
      } else {
        af = cf = false;
      }
      ah = ax >> 8;
      al = ax & 0xf;
      break;
    }
    case 4:  // AAM
      if (!(imm & 0xff)) raise_fault(kDE);
      ah = al / uint8_t(imm);
      al = al % uint8_t(imm);
      cf = af = false;
      break;
    default: {  // AAD: the undefined CF/AF/OF are those of the byte ADD AL + (AH * imm) on Intel
      const uint8_t a = al, b = uint8_t(ah * uint8_t(imm));
      al = uint8_t(a + b);
      ah = 0;
      cf = unsigned(a) + b > 0xff;
      af = (a ^ b ^ al) & 0x10;
      of = (~(a ^ b) & (a ^ al) & 0x80) != 0;
      break;
    }
  }
  write_gpr(s, RAX, 2, uint64_t(al) | (uint64_t(ah) << 8));
  uint64_t nf = szp(al, 1) | (cf ? rflags::CF : 0) | (af ? rflags::AF : 0) | (of ? rflags::OF : 0);
  cpu.cc.set_eflags(nf);
  return 0;
}

}  // namespace janus::tcg
