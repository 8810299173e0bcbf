#include "tcg/lazy_flags.h"

#include "cpu/cpu_state.h"

namespace janus::tcg {

namespace {

inline uint64_t mask_of(unsigned log2size) { return log2size == 3 ? ~0ull : (1ull << (8u << log2size)) - 1; }
inline uint64_t sign_of(unsigned log2size) { return 1ull << ((8u << log2size) - 1); }
inline int64_t sext_of(uint64_t v, unsigned log2size) {
  unsigned sh = 64 - (8u << log2size);
  return int64_t(v << sh) >> sh;
}

inline uint64_t zsp(uint64_t dst, unsigned l) {
  uint64_t f = 0;
  dst &= mask_of(l);
  if (!dst) f |= rflags::ZF;
  if (dst & sign_of(l)) f |= rflags::SF;
  if (parity_even(dst)) f |= rflags::PF;
  return f;
}

}  // namespace

uint64_t LazyFlags::compute() const {
  unsigned kind = op >> 2, l = op & 3;
  uint64_t m = mask_of(l), sb = sign_of(l);
  uint64_t d = dst & m, s = src & m;
  uint64_t f = 0;
  switch (kind) {
    case kCcEflags:
      return src & kArithFlags;
    case kCcAdd:
    case kCcAdc: {
      uint64_t cin = kind == kCcAdc ? (src2 & 1) : 0;
      uint64_t s1 = (d - s - cin) & m;
      if (cin ? d <= s : d < s) f |= rflags::CF;
      if (~(s1 ^ s) & (s1 ^ d) & sb) f |= rflags::OF;
      if ((s1 ^ s ^ d) & 0x10) f |= rflags::AF;
      return f | zsp(d, l);
    }
    case kCcSub:
    case kCcSbb: {
      uint64_t cin = kind == kCcSbb ? (src2 & 1) : 0;
      uint64_t s1 = (d + s + cin) & m;
      if (cin ? s1 <= s : s1 < s) f |= rflags::CF;
      if ((s1 ^ s) & (s1 ^ d) & sb) f |= rflags::OF;
      if ((s1 ^ s ^ d) & 0x10) f |= rflags::AF;
      return f | zsp(d, l);
    }
    case kCcLogic:
      return zsp(d, l);
    case kCcInc: {
      if (src & 1) f |= rflags::CF;
      if (d == sb) f |= rflags::OF;
      if (((d - 1) ^ d) & 0x10) f |= rflags::AF;
      return f | zsp(d, l);
    }
    case kCcDec: {
      if (src & 1) f |= rflags::CF;
      if (d == sb - 1) f |= rflags::OF;
      if (((d + 1) ^ d) & 0x10) f |= rflags::AF;
      return f | zsp(d, l);
    }
    case kCcMul:
      // Intel: SF and PF from the low half, ZF and AF clear (architecturally undefined).
      if (src) f |= rflags::CF | rflags::OF;
      return f | (zsp(d, l) & ~rflags::ZF);
    // Shifts (the rules of h_shift_flags): CF is the last bit shifted out; OF as the first
    // one-bit step would set it; AF clear.
    case kCcShl: {
      unsigned bits = 8u << l, c = unsigned(src2 & 63);
      if ((s << (c - 1)) & sb) f |= rflags::CF;
      if (((s >> (bits - 1)) ^ (s >> (bits - 2))) & 1) f |= rflags::OF;
      return f | zsp(d, l);
    }
    case kCcShr: {
      unsigned c = unsigned(src2 & 63);
      if ((s >> (c - 1)) & 1) f |= rflags::CF;
      if (s & sb) f |= rflags::OF;
      return f | zsp(d, l);
    }
    case kCcImul: {
      __int128 prod = (__int128)sext_of(src, l) * (__int128)sext_of(src2, l);
      if (prod != (__int128)sext_of(uint64_t(prod), l)) f |= rflags::CF | rflags::OF;
      return f | (zsp(d, l) & ~rflags::ZF);  // as MUL: ZF and AF clear
    }
    case kCcSar: {
      unsigned bits = 8u << l, c = unsigned(src2 & 63);
      if ((uint64_t(int64_t(s << (64 - bits)) >> (64 - bits)) >> (c - 1)) & 1) f |= rflags::CF;
      return f | zsp(d, l);
    }
  }
  return 0;
}

bool LazyFlags::carry() const {
  unsigned kind = op >> 2, l = op & 3;
  uint64_t m = mask_of(l), d = dst & m, s = src & m;
  switch (kind) {
    case kCcAdd: return d < s;
    case kCcSub: return ((d + s) & m) < s;
    case kCcLogic: return false;
    case kCcInc: case kCcDec: return src & 1;
    default: return compute() & rflags::CF;
  }
}

bool LazyFlags::condition(unsigned cc) const {
  unsigned kind = op >> 2, l = op & 3;
  // ZF is (result == 0) and SF its top bit for every kind that keeps a result (MUL clears ZF).
  if ((cc >> 1) == 2 && kind != kCcEflags && kind != kCcMul && kind != kCcImul) return ((dst & mask_of(l)) == 0) != (cc & 1);
  if ((cc >> 1) == 4 && kind != kCcEflags) return bool(dst & sign_of(l)) != (cc & 1);
  // Fast paths for the flags producers that dominate real code: CMP/SUB and TEST/AND.
  if (kind == kCcSub || kind == kCcLogic) {
    uint64_t m = mask_of(l), d = dst & m;
    bool sub = kind == kCcSub;
    uint64_t s1 = (d + src) & m, s = src & m;
    bool r;
    switch (cc >> 1) {
      case 1: r = sub && s1 < s; break;             // B
      case 2: r = d == 0; break;                    // E
      case 3: r = sub ? s1 <= s : d == 0; break;    // BE
      case 4: r = d & sign_of(l); break;            // S
      case 6:                                       // L
        r = sub ? (int64_t(s1 << (63 - ((8u << l) - 1))) < int64_t(s << (63 - ((8u << l) - 1)))) : bool(d & sign_of(l));
        break;
      case 7:                                       // LE
        r = sub ? (int64_t(s1 << (63 - ((8u << l) - 1))) <= int64_t(s << (63 - ((8u << l) - 1))))
                : (d == 0 || (d & sign_of(l)));
        break;
      default: goto slow;
    }
    return (cc & 1) ? !r : r;
  }
slow:
  uint64_t f = compute();
  bool cf = f & rflags::CF, zf = f & rflags::ZF, sf = f & rflags::SF, of = f & rflags::OF, pf = f & rflags::PF;
  bool r = false;
  switch (cc >> 1) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    case 7: r = zf || (sf != of); break;
  }
  return (cc & 1) ? !r : r;
}

}  // namespace janus::tcg
