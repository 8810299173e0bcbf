#include "tcg/helpers.h"

#include "tcg/tcg_cpu.h"
#include "tcg/helpers_sse.h"
#include "tcg/helpers_x87.h"

namespace janus::tcg {

// Computation, memory through the soft MMU, FPU/SSE state and faults: nothing the run loop has
// to look at between blocks. Also local: helpers that set TcgCpu::loop_check when they do
// something it must see (helper_may_ask_for_loop). Everything else (segment and control
// registers, TLB, events, ports...) is not local.
bool helper_is_local(HelperFn fn) {
  static constexpr HelperFn kLocal[] = {
      h_shift_result, h_shift_flags, h_shiftd_result, h_shiftd_flags, h_mul_wide,    h_imul_overflow,
      h_div,          h_bit_scan,    h_bit_scan_flags, h_bt_flags,    h_bswap,       h_bitcount,
      h_bitcount_flags, h_probe_write, h_cmpxchg8b,    h_cmpxchg16b,  h_decimal,     h_sse,
      h_x87,          h_fwait,       h_pushf_value,    h_set_zf,      h_cpuid,       h_rdtsc,
      h_swapgs,
  };
  for (HelperFn local : kLocal)
    if (fn == local) return true;
  return helper_may_ask_for_loop(fn);
}

bool helper_is_pure(HelperFn fn) {
  return fn == h_shift_flags || fn == h_shiftd_flags || fn == h_bt_flags || fn == h_bit_scan_flags || fn == h_imul_overflow ||
         fn == h_bitcount_flags;
}

bool helper_may_ask_for_loop(HelperFn fn) { return fn == h_flag_op || fn == h_popf || fn == h_string; }

bool helper_may_touch_memory(HelperFn fn) {
  return fn == h_sse || fn == h_x87 || fn == h_cmpxchg8b || fn == h_cmpxchg16b || fn == h_string;
}

}  // namespace janus::tcg
