#include "tcg/sse_trap_flags.h"

#include <cstring>

namespace janus::tcg {

namespace {

constexpr uint32_t kOE = 8, kUE = 0x10, kPE = 0x20, kFlags = 0x3f, kDAZ = 0x40, kRC = 0x6000, kAllMasks = 0x1f80;

enum class Arith { kAdd, kMul, kDiv, kConvert };

Arith arith_of(HostOp op) {
  using enum HostOp;
  switch (op) {
    case mulps: case mulss: case mulpd: case mulsd: return Arith::kMul;
    case divps: case divss: case divpd: case divsd: return Arith::kDiv;
    case cvtpd2ps: case cvtsd2ss: return Arith::kConvert;
    default: return Arith::kAdd;  // add, sub
  }
}

// A float or double as sign, unbiased exponent and significand with its leading bit explicit
// (denormals normalised), so it can be rebuilt at another exponent exactly.
struct Unpacked {
  bool dbl, sign, zero;
  int exp;
  uint64_t sig;
};

unsigned precision(bool dbl) { return dbl ? 53 : 24; }
int bias(bool dbl) { return dbl ? 1023 : 127; }

Unpacked unpack(uint64_t bits, bool dbl, bool daz) {
  const unsigned p = precision(dbl);
  Unpacked u{dbl, bool(bits >> (dbl ? 63 : 31) & 1), false, 0, 0};
  uint64_t field = (bits >> (p - 1)) & (dbl ? 0x7ff : 0xff);
  uint64_t m = bits & ((1ull << (p - 1)) - 1);
  if (field == 0) {
    if (m == 0 || daz) {
      u.zero = true;
      return u;
    }
    u.exp = 1 - bias(dbl);
    while (!(m >> (p - 1))) {
      m <<= 1;
      --u.exp;
    }
    u.sig = m;
  } else {
    u.exp = int(field) - bias(dbl);
    u.sig = m | (1ull << (p - 1));
  }
  return u;
}

uint64_t pack_at(const Unpacked& u, int exp) {
  const unsigned p = precision(u.dbl);
  return uint64_t(u.sign) << (u.dbl ? 63 : 31) | uint64_t(exp + bias(u.dbl)) << (p - 1) | (u.sig & ((1ull << (p - 1)) - 1));
}

// Whether a lane's result would be inexact with an unbounded exponent: the operands are moved
// near 1.0 by exact power-of-two scalings (both by the same one for add/sub) and the host runs
// the operation again, where it can neither overflow nor underflow.
bool inexact_unbounded(HostOp op, bool in_double, uint64_t a, uint64_t b, uint32_t csr) {
  const bool daz = csr & kDAZ;
  const Arith kind = arith_of(op);
  Unpacked ua = unpack(a, in_double, daz), ub = unpack(b, in_double, daz);
  uint64_t na, nb;
  switch (kind) {
    case Arith::kConvert:
      if (ub.zero) return false;
      na = 0;
      nb = pack_at(ub, 0);
      break;
    case Arith::kMul: case Arith::kDiv:
      if (ua.zero || ub.zero) return false;
      na = pack_at(ua, 0);
      nb = pack_at(ub, 0);
      break;
    case Arith::kAdd: {
      if (ua.zero || ub.zero) return false;  // the other operand is the exact result
      int top = ua.exp > ub.exp ? ua.exp : ub.exp;
      int gap = (ua.exp > ub.exp ? ua.exp - ub.exp : ub.exp - ua.exp);
      if (gap > int(2 * precision(in_double) + 2)) return true;  // the smaller one is all rounding
      na = pack_at(ua, ua.exp - top);
      nb = pack_at(ub, ub.exp - top);
      break;
    }
  }
  XmmBytes d{}, s{};
  const unsigned width = in_double ? 8 : 4;
  std::memcpy(d.data(), &na, width);
  std::memcpy(s.data(), &nb, width);
  return host_binary(op, d, s, (csr & kRC) | kAllMasks) & kPE;
}

bool is_denormal(const XmmBytes& x, unsigned lane, bool dbl) {
  uint64_t v = 0;
  std::memcpy(&v, x.data() + lane * (dbl ? 8 : 4), dbl ? 8 : 4);
  const uint64_t exp_mask = dbl ? 0x7ff0000000000000ull : 0x7f800000u;
  const uint64_t man_mask = dbl ? 0x000fffffffffffffull : 0x007fffffu;
  return (v & exp_mask) == 0 && (v & man_mask) != 0;
}

}  // namespace

uint32_t sse_trap_flags(HostOp op, const XmmBytes& d, const XmmBytes& s, uint32_t csr, uint32_t unmasked) {
  const FpResult fmt = host_result_format(op);
  const bool out_single = fmt == FpResult::kPs || fmt == FpResult::kSs;
  const bool in_double = !out_single || arith_of(op) == Arith::kConvert;
  const bool scalar = fmt == FpResult::kSs || fmt == FpResult::kSd;
  const unsigned in_width = in_double ? 8 : 4;
  const unsigned lanes = scalar ? 1 : 16 / in_width;

  // Each lane alone, the others holding 1.0 (no flags from any of these operations).
  XmmBytes ones{};
  for (unsigned i = 0; i < 16; i += in_width) {
    uint64_t one = in_double ? 0x3ff0000000000000ull : 0x3f800000u;
    std::memcpy(ones.data() + i, &one, in_width);
  }
  uint32_t total = 0;
  for (unsigned lane = 0; lane < lanes; ++lane) {
    XmmBytes ld = scalar ? d : ones, ls = scalar ? s : ones;
    std::memcpy(ld.data() + lane * in_width, d.data() + lane * in_width, in_width);
    std::memcpy(ls.data() + lane * in_width, s.data() + lane * in_width, in_width);
    uint32_t f = host_binary(op, ld, ls, csr) & kFlags;
    bool tiny = (f & kUE) || is_denormal(ld, lane, !out_single);
    bool traps = ((unmasked & kUE) && tiny) || (unmasked & f & kOE);
    if (traps) {
      if (unmasked & kUE && tiny) f |= kUE;
      uint64_t a = 0, b = 0;
      std::memcpy(&a, d.data() + lane * in_width, in_width);
      std::memcpy(&b, s.data() + lane * in_width, in_width);
      f = (f & ~kPE) | (inexact_unbounded(op, in_double, a, b, csr) ? kPE : 0);
    }
    total |= f;
  }
  return total;
}

}  // namespace janus::tcg
