#include "cpu/guest_virtual_memory.h"

#include <algorithm>

namespace janus {

namespace {

// Passes reads through and drops the walker's accessed/dirty writes: looking at a guest must not
// change it (cross-check compares memory afterwards).
class ReadOnlyView : public PhysicalMemoryAccess {
 public:
  explicit ReadOnlyView(PhysicalMemoryAccess& inner) : inner_(inner) {}
  bool read_u32(uint64_t gpa, uint32_t& v) override { return inner_.read_u32(gpa, v); }
  bool read_u64(uint64_t gpa, uint64_t& v) override { return inner_.read_u64(gpa, v); }
  bool write_u32(uint64_t, uint32_t) override { return true; }
  bool write_u64(uint64_t, uint64_t) override { return true; }
  bool read_bytes(uint64_t gpa, void* out, size_t len) override { return inner_.read_bytes(gpa, out, len); }

 private:
  PhysicalMemoryAccess& inner_;
};

}  // namespace

bool read_linear(PhysicalMemoryAccess& mem, const CpuState& s, uint64_t linear, void* out, size_t len,
                 uint8_t phys_addr_bits) {
  ReadOnlyView view(mem);
  PagingContext ctx = PagingContext::from(s, false, phys_addr_bits);
  ctx.ac_flag = true;  // an explicit supervisor read with AC=1: SMAP does not apply
  auto* dst = static_cast<uint8_t*>(out);
  while (len > 0) {
    Translation t = translate(view, ctx, linear, AccessKind::kRead);
    if (!t.ok) return false;
    // Stay inside the 4 KiB page even for large pages: simple, and correct for any page size.
    size_t n = std::min<uint64_t>(len, 4096 - (linear & 0xfff));
    if (!view.read_bytes(t.gpa, dst, n)) return false;
    dst += n;
    linear += n;
    len -= n;
  }
  return true;
}

uint64_t linear_rip(const CpuState& s) {
  if (s.in_64bit_code()) return s.rip;
  if (!s.protected_mode() || s.v86_mode()) return (s.seg[CS].base + (s.rip & 0xffff)) & 0xffffffff;
  return (s.seg[CS].base + s.rip) & 0xffffffff;
}

std::string describe_mode(const CpuState& s) {
  if (!s.protected_mode()) return "real mode";
  if (s.long_mode_active()) {
    if (s.seg[CS].l()) return "long mode (64-bit code)";
    return s.seg[CS].db() ? "long mode (compatibility, 32-bit code)" : "long mode (compatibility, 16-bit code)";
  }
  if (s.v86_mode()) return "virtual-8086 mode";
  return s.seg[CS].db() ? "protected mode (32-bit code)" : "protected mode (16-bit code)";
}

}  // namespace janus
