#include "cpu/cpu_state.h"

namespace janus {

CpuState reset_cpu_state() {
  CpuState s;
  for (auto& sg : s.seg) sg = Segment{0, 0, 0xffff, 0x93, false};
  s.seg[CS] = Segment{0xf000, 0xffff0000ull, 0xffff, 0x9b, false};
  s.ldtr = Segment{0, 0, 0xffff, 0x82, false};
  s.tr = Segment{0, 0, 0xffff, 0x8b, false};
  s.rip = 0xfff0;
  s.gpr[RDX] = 0x600;  // processor signature family 6 (what the reset value carries)
  return s;
}

}  // namespace janus
