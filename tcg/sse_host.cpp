#include "tcg/sse_host.h"

#include <cstring>

namespace janus::tcg {

namespace {

// A 128-bit value the compiler keeps in an XMM register for the "x" asm constraint.
typedef long long Vec __attribute__((vector_size(16)));

Vec to_vec(const XmmBytes& b) {
  Vec v;
  std::memcpy(&v, b.data(), 16);
  return v;
}
void from_vec(XmmBytes& b, Vec v) { std::memcpy(b.data(), &v, 16); }

// The guest MXCSR is loaded, the instruction runs, the resulting MXCSR is stored and the host's
// own MXCSR restored, all in one asm statement so that no compiler-generated SSE code can run
// under the guest's rounding mode in between.
#define JANUS_UNDER_MXCSR(body, ...)                                                    \
  do {                                                                                  \
    uint32_t host_csr;                                                                  \
    asm volatile("stmxcsr %[host]\n\tldmxcsr %[csr]\n\t" body                           \
                 "\n\tstmxcsr %[csr]\n\tldmxcsr %[host]"                                \
                 : [csr] "+m"(mxcsr), [host] "=m"(host_csr), __VA_ARGS__);              \
  } while (0)

}  // namespace

FpResult host_result_format(HostOp op) {
  static constexpr FpResult kFormats[] = {
#define JANUS_X(name, fmt) FpResult::fmt,
      JANUS_SSE_HOST_BINARY(JANUS_X)
#undef JANUS_X
  };
  return kFormats[unsigned(op)];
}

uint32_t host_binary(HostOp op, XmmBytes& dst, const XmmBytes& src, uint32_t mxcsr) {
  Vec d = to_vec(dst), s = to_vec(src);
  switch (op) {
#define JANUS_X(name, fmt)                                                              \
  case HostOp::name:                                                                    \
    JANUS_UNDER_MXCSR(#name " %[s], %[d]", [d] "+x"(d) : [s] "x"(s));                   \
    break;
    JANUS_SSE_HOST_BINARY(JANUS_X)
#undef JANUS_X
    case HostOp::kCount: break;
  }
  from_vec(dst, d);
  return mxcsr;
}

void host_binary_plain(HostOp op, XmmBytes& dst, const XmmBytes& src) {
  Vec d = to_vec(dst), s = to_vec(src);
  switch (op) {
#define JANUS_X(name, fmt)                                                              \
  case HostOp::name:                                                                    \
    if constexpr (host_op_ignores_mxcsr(HostOp::name)) asm(#name " %[s], %[d]" : [d] "+x"(d) : [s] "x"(s)); \
    break;
    JANUS_SSE_HOST_BINARY(JANUS_X)
#undef JANUS_X
    case HostOp::kCount: break;
  }
  from_vec(dst, d);
}

uint32_t host_from_gpr(HostGprOp op, XmmBytes& dst, uint64_t value, bool wide, uint32_t mxcsr) {
  Vec d = to_vec(dst);
  if (op == HostGprOp::cvtsi2ss) {
    if (wide) JANUS_UNDER_MXCSR("cvtsi2ssq %q[g], %[d]", [d] "+x"(d) : [g] "r"(value));
    else JANUS_UNDER_MXCSR("cvtsi2ssl %k[g], %[d]", [d] "+x"(d) : [g] "r"(value));
  } else {
    if (wide) JANUS_UNDER_MXCSR("cvtsi2sdq %q[g], %[d]", [d] "+x"(d) : [g] "r"(value));
    else JANUS_UNDER_MXCSR("cvtsi2sdl %k[g], %[d]", [d] "+x"(d) : [g] "r"(value));
  }
  from_vec(dst, d);
  return mxcsr;
}

uint32_t host_to_gpr(HostGprOp op, const XmmBytes& src, uint64_t& out, bool wide, uint32_t mxcsr) {
  Vec s = to_vec(src);
  uint64_t r = 0;
#define JANUS_CVT(name)                                                                        \
  if (wide) JANUS_UNDER_MXCSR(#name " %[s], %q[r]", [r] "=r"(r) : [s] "x"(s));                \
  else JANUS_UNDER_MXCSR(#name " %[s], %k[r]", [r] "=r"(r) : [s] "x"(s));                     \
  break;
  switch (op) {
    case HostGprOp::cvtss2si: JANUS_CVT(cvtss2si)
    case HostGprOp::cvttss2si: JANUS_CVT(cvttss2si)
    case HostGprOp::cvtsd2si: JANUS_CVT(cvtsd2si)
    case HostGprOp::cvttsd2si: JANUS_CVT(cvttsd2si)
    default: break;
  }
#undef JANUS_CVT
  out = wide ? r : r & 0xffffffffull;
  return mxcsr;
}

uint32_t host_compare(HostGprOp op, const XmmBytes& a, const XmmBytes& b, uint64_t& eflags, uint32_t mxcsr) {
  Vec x = to_vec(a), y = to_vec(b);
  uint8_t zf = 0, pf = 0, cf = 0;
#define JANUS_CMP(name)                                                                        \
  JANUS_UNDER_MXCSR(#name " %[y], %[x]\n\tsetz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]",             \
                    [zf] "=q"(zf), [pf] "=q"(pf), [cf] "=q"(cf) : [x] "x"(x), [y] "x"(y) : "cc"); \
  break;
  switch (op) {
    case HostGprOp::comiss: JANUS_CMP(comiss)
    case HostGprOp::ucomiss: JANUS_CMP(ucomiss)
    case HostGprOp::comisd: JANUS_CMP(comisd)
    case HostGprOp::ucomisd: JANUS_CMP(ucomisd)
    default: break;
  }
#undef JANUS_CMP
  eflags = (zf ? 0x40u : 0) | (pf ? 0x04u : 0) | (cf ? 0x01u : 0);
  return mxcsr;
}

uint32_t host_mxcsr_mask() {
  static const uint32_t mask = [] {
    alignas(16) uint8_t area[512] = {};
    asm volatile("fxsave %0" : "=m"(area));
    uint32_t m;
    std::memcpy(&m, area + 28, 4);
    return m ? m : 0xffbfu;
  }();
  return mask;
}

}  // namespace janus::tcg
