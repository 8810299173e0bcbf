#include "tcg/tcg_cpu.h"

#include "hw/clock.h"
#include "tcg/debug_events.h"

namespace janus::tcg {

TcgCpu::TcgCpu(VcpuContext c) : ctx(c), mmu(s, c.memory, c.io, c.cpuid) {}

uint64_t TcgCpu::linear_address(unsigned seg, uint64_t offset, unsigned size, bool write) {
  const Segment& sg = s.seg[seg];
  const uint8_t vector = seg == SS ? kSS : kGP;
  if (code64()) {
    uint64_t linear = (seg >= FS ? sg.base : 0) + offset;
    if (!is_canonical(linear) || !is_canonical(linear + size - 1)) raise_fault(vector, 0);
    return linear;
  }
  if (s.protected_mode() && !s.v86_mode()) {
    if (sg.unusable) raise_fault(vector, 0);
    bool code = sg.attr & 0x8;
    if (write && (code || !(sg.attr & 0x2))) raise_fault(vector, 0);
    if (!write && code && !(sg.attr & 0x2)) raise_fault(vector, 0);  // execute-only code
    if (!code && (sg.attr & 0x4)) {  // expand-down: valid offsets are (limit, top]
      uint64_t top = sg.db() ? 0xffffffffull : 0xffff;
      if (offset <= sg.limit || offset + size - 1 > top) raise_fault(vector, 0);
      return (sg.base + offset) & 0xffffffffull;
    }
  }
  if (offset + size - 1 > sg.limit) raise_fault(vector, 0);
  return (sg.base + offset) & 0xffffffffull;
}

uint64_t TcgCpu::load(unsigned seg, uint64_t offset, unsigned size) {
  uint64_t linear = linear_address(seg, offset, size, false);
  uint64_t v = mmu.read(linear, size, user_mode());
  if (data_watch) note_data_access(*this, linear, size, false);
  return v;
}

void TcgCpu::store(unsigned seg, uint64_t offset, unsigned size, uint64_t value) {
  uint64_t linear = linear_address(seg, offset, size, true);
  mmu.write(linear, size, value, user_mode());
  if (data_watch) note_data_access(*this, linear, size, true);
}

uint64_t TcgCpu::tsc() const { return ctx.clock.now_ns() * (kTscHz / 1'000'000'000ull) + tsc_offset; }
void TcgCpu::set_tsc(uint64_t value) { tsc_offset = int64_t(value - ctx.clock.now_ns() * (kTscHz / 1'000'000'000ull)); }

}  // namespace janus::tcg
