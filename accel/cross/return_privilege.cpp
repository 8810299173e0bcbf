#include "accel/cross/return_privilege.h"

#include "cpu/guest_virtual_memory.h"
#include "hw/guest_memory_access.h"

namespace janus::cross {

std::optional<unsigned> return_privilege(const tcg::DecodedInsn& d, const CpuState& s, GuestMemory& memory) {
  if (d.status != tcg::DecodeStatus::kOk || d.map != tcg::OpcodeMap::kPrimary) return std::nullopt;
  if (d.opcode != 0xca && d.opcode != 0xcb && d.opcode != 0xcf) return std::nullopt;
  if (!s.protected_mode() || s.v86_mode()) return std::nullopt;
  // IRET with NT outside long mode is a task switch: the new CS comes from a TSS.
  if (d.opcode == 0xcf && (s.rflags & rflags::NT) && !s.long_mode_active()) return std::nullopt;
  // Stack slot size = operand size: REX.W 8, 66 2, else 4 (far RET and IRET default to 32 bits,
  // also in 64-bit code).
  const bool code64 = s.in_64bit_code();
  const bool code32 = code64 || s.seg[CS].db();
  unsigned slot = (code64 && (d.rex & 8)) ? 8 : (d.opsize_prefix ? (code32 ? 2 : 4) : (code32 ? 4 : 2));
  // CS follows the return address in both frames.
  const uint64_t sp = s.gpr[RSP] + slot;
  uint64_t linear;
  if (code64) linear = sp;
  else linear = (s.seg[SS].base + (s.seg[SS].db() ? sp & 0xffffffffull : sp & 0xffff)) & 0xffffffffull;
  uint16_t cs = 0;
  GuestMemoryAccess mem(memory);
  if (!read_linear(mem, s, linear, &cs, sizeof cs)) return std::nullopt;
  return cs & 3u;
}

}  // namespace janus::cross
