#include "app/stats_report.h"

#include <cinttypes>
#include <cstdio>

#include "tcg/tcg_accelerator.h"

namespace janus {

std::string vcpu_stats_line(const Vcpu& vcpu, double seconds) {
  char line[768];
  if (const tcg::TcgStats* st = TcgAccelerator::stats_of(vcpu)) {
    // Million guest instructions per second of wall time over the whole run loop (HLT
    // sleeps and device work included: a guest that halts a lot shows a low figure).
    const double mips = seconds > 0 ? double(st->instructions) / seconds / 1e6 : 0.0;
    std::snprintf(line, sizeof line,
                  "janus: stats: tcg %" PRIu64 " instructions in %.3f s (%.1f M/s; vCPU thread CPU %.3f s), %" PRIu64
                  " blocks translated, %" PRIu64 " run from the run loop (%" PRIu64 " in compiled code, which retired %" PRIu64 " instructions), %" PRIu64 " compiled (%" PRIu64 " by the baseline compiler, %" PRIu64 " again optimised; %.2f s: %.2f optimising, %.2f generating code), %" PRIu64 " invalidated, %" PRIu64
                  " undefined opcodes, %" PRIu64 " exceptions, %" PRIu64 " interrupts\n",
                  st->instructions, seconds, mips, double(st->vcpu_thread_ns) / 1e9, st->blocks_translated, st->blocks_executed, st->compiled_runs, st->compiled_instructions,
                  st->blocks_compiled, st->blocks_baseline, st->blocks_optimised, double(st->jit_compile_ns) / 1e9, double(st->jit_optimise_ns) / 1e9, double(st->jit_codegen_ns) / 1e9, st->blocks_invalidated, st->undefined_opcodes, st->exceptions, st->interrupts);
  } else {
    std::snprintf(line, sizeof line, "janus: stats: this backend keeps no counters; ran %.3f s\n", seconds);
  }
  return line;
}

void print_vcpu_stats(const Vcpu& vcpu, double seconds) {
  std::fputs(vcpu_stats_line(vcpu, seconds).c_str(), stderr);
}

}  // namespace janus
