// SSE/SSE2 arithmetic executed by the host CPU itself: each HostOp is the very same instruction,
// run in inline assembly with the guest's MXCSR loaded. Rounding modes, DAZ/FTZ, NaN selection,
// RCPPS/RSQRTPS approximations and the exception flags then match Intel hardware bit for bit,
// which no C++ re-implementation could promise. The host always runs with every exception
// masked; the caller (helpers_sse.cpp) decides from the flags whether the guest takes #XM.
#pragma once
#include <array>
#include <cstdint>

namespace janus::tcg {

using XmmBytes = std::array<uint8_t, 16>;

// The result format an arithmetic op can produce a tiny (denormal) value in, so that an exact
// tiny result can be reported as underflow when the guest unmasked it (masked hardware only
// flags inexact tiny results).
enum class FpResult : uint8_t { kNone, kPs, kSs, kPd, kSd };

// X(name, result format): `name` is the AT&T mnemonic the host runs as `name src, dst`.
#define JANUS_SSE_HOST_BINARY(X)                                                                    \
  X(addps, kPs) X(addss, kSs) X(addpd, kPd) X(addsd, kSd)                                            \
  X(subps, kPs) X(subss, kSs) X(subpd, kPd) X(subsd, kSd)                                            \
  X(mulps, kPs) X(mulss, kSs) X(mulpd, kPd) X(mulsd, kSd)                                            \
  X(divps, kPs) X(divss, kSs) X(divpd, kPd) X(divsd, kSd)                                            \
  X(minps, kNone) X(minss, kNone) X(minpd, kNone) X(minsd, kNone)                                    \
  X(maxps, kNone) X(maxss, kNone) X(maxpd, kNone) X(maxsd, kNone)                                    \
  X(sqrtps, kNone) X(sqrtss, kNone) X(sqrtpd, kNone) X(sqrtsd, kNone)                                \
  X(rcpps, kNone) X(rcpss, kNone) X(rsqrtps, kNone) X(rsqrtss, kNone)                                \
  X(andps, kNone) X(andnps, kNone) X(orps, kNone) X(xorps, kNone)                                    \
  X(cmpeqps, kNone) X(cmpltps, kNone) X(cmpleps, kNone) X(cmpunordps, kNone)                         \
  X(cmpneqps, kNone) X(cmpnltps, kNone) X(cmpnleps, kNone) X(cmpordps, kNone)                        \
  X(cmpeqss, kNone) X(cmpltss, kNone) X(cmpless, kNone) X(cmpunordss, kNone)                         \
  X(cmpneqss, kNone) X(cmpnltss, kNone) X(cmpnless, kNone) X(cmpordss, kNone)                        \
  X(cmpeqpd, kNone) X(cmpltpd, kNone) X(cmplepd, kNone) X(cmpunordpd, kNone)                         \
  X(cmpneqpd, kNone) X(cmpnltpd, kNone) X(cmpnlepd, kNone) X(cmpordpd, kNone)                        \
  X(cmpeqsd, kNone) X(cmpltsd, kNone) X(cmplesd, kNone) X(cmpunordsd, kNone)                         \
  X(cmpneqsd, kNone) X(cmpnltsd, kNone) X(cmpnlesd, kNone) X(cmpordsd, kNone)                        \
  X(cvtps2pd, kNone) X(cvtpd2ps, kPs) X(cvtss2sd, kNone) X(cvtsd2ss, kSs)                            \
  X(cvtdq2ps, kNone) X(cvtps2dq, kNone) X(cvttps2dq, kNone)                                          \
  X(cvtdq2pd, kNone) X(cvtpd2dq, kNone) X(cvttpd2dq, kNone)                                          \
  X(unpcklps, kNone) X(unpckhps, kNone) X(unpcklpd, kNone) X(unpckhpd, kNone)                        \
  X(punpcklbw, kNone) X(punpcklwd, kNone) X(punpckldq, kNone) X(punpcklqdq, kNone)                   \
  X(punpckhbw, kNone) X(punpckhwd, kNone) X(punpckhdq, kNone) X(punpckhqdq, kNone)                   \
  X(packsswb, kNone) X(packssdw, kNone) X(packuswb, kNone)                                           \
  X(paddb, kNone) X(paddw, kNone) X(paddd, kNone) X(paddq, kNone)                                    \
  X(psubb, kNone) X(psubw, kNone) X(psubd, kNone) X(psubq, kNone)                                    \
  X(paddsb, kNone) X(paddsw, kNone) X(paddusb, kNone) X(paddusw, kNone)                              \
  X(psubsb, kNone) X(psubsw, kNone) X(psubusb, kNone) X(psubusw, kNone)                              \
  X(pmullw, kNone) X(pmulhw, kNone) X(pmulhuw, kNone) X(pmuludq, kNone) X(pmaddwd, kNone)            \
  X(pavgb, kNone) X(pavgw, kNone) X(pminub, kNone) X(pmaxub, kNone) X(pminsw, kNone)                 \
  X(pmaxsw, kNone) X(psadbw, kNone)                                                                  \
  X(pcmpeqb, kNone) X(pcmpeqw, kNone) X(pcmpeqd, kNone)                                              \
  X(pcmpgtb, kNone) X(pcmpgtw, kNone) X(pcmpgtd, kNone)                                              \
  X(pand, kNone) X(pandn, kNone) X(por, kNone) X(pxor, kNone)                                        \
  X(psllw, kNone) X(pslld, kNone) X(psllq, kNone) X(psrlw, kNone) X(psrld, kNone) X(psrlq, kNone)    \
  X(psraw, kNone) X(psrad, kNone)

enum class HostOp : uint8_t {
#define JANUS_X(name, fmt) name,
  JANUS_SSE_HOST_BINARY(JANUS_X)
#undef JANUS_X
  kCount
};

// Conversions between an XMM register and a general-purpose register, and the EFLAGS compares.
enum class HostGprOp : uint8_t {
  cvtsi2ss, cvtsi2sd,                                 // xmm <- r32/r64
  cvtss2si, cvttss2si, cvtsd2si, cvttsd2si,           // r32/r64 <- xmm
  comiss, ucomiss, comisd, ucomisd,                   // EFLAGS <- compare
};

FpResult host_result_format(HostOp op);

// Whether `op` neither reads MXCSR nor can set its flags: the bitwise, integer, shuffle and unpack
// ops (DAZ, FTZ and the rounding mode mean nothing to them). These run without the MXCSR round trip.
constexpr bool host_op_ignores_mxcsr(HostOp op) {
  return (op >= HostOp::unpcklps && op < HostOp::kCount) || (op >= HostOp::andps && op <= HostOp::xorps);
}

// Each returns the MXCSR after the instruction; `mxcsr` must have every exception masked and no
// bit outside host_mxcsr_mask().
uint32_t host_binary(HostOp op, XmmBytes& dst, const XmmBytes& src, uint32_t mxcsr);
// An op for which host_op_ignores_mxcsr(op): runs under the host's own MXCSR, which it cannot
// see or change.
void host_binary_plain(HostOp op, XmmBytes& dst, const XmmBytes& src);
// cvtsi2ss/sd: dst's low lane = (wide ? int64 : int32) value.
uint32_t host_from_gpr(HostGprOp op, XmmBytes& dst, uint64_t value, bool wide, uint32_t mxcsr);
// cvt(t)ss2si/sd2si: `out` = the converted low lane (32-bit results zero-extended).
uint32_t host_to_gpr(HostGprOp op, const XmmBytes& src, uint64_t& out, bool wide, uint32_t mxcsr);
// (u)comiss/sd: `eflags` = ZF/PF/CF as the host set them (OF, SF, AF clear).
uint32_t host_compare(HostGprOp op, const XmmBytes& a, const XmmBytes& b, uint64_t& eflags, uint32_t mxcsr);

// The MXCSR bits this host implements (FXSAVE's MXCSR_MASK; 0xffbf when the CPU reports 0, i.e.
// no DAZ). LDMXCSR/FXRSTOR with any other bit set is #GP(0).
uint32_t host_mxcsr_mask();

}  // namespace janus::tcg
