#include "tcg/helpers_sse.h"

#include <cstring>

#include "tcg/sse_host.h"
#include "tcg/sse_trap_flags.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

namespace {

namespace mxcsr_bits {
constexpr uint32_t kIE = 1, kDE = 2, kZE = 4, kOE = 8, kUE = 0x10, kPE = 0x20, kFlags = 0x3f, kPrecomputation = kIE | kDE | kZE;
constexpr uint32_t kUM = 0x800, kAllMasks = 0x1f80, kFTZ = 0x8000;
}  // namespace mxcsr_bits

// SSE instructions need CR0.EM = 0 and CR4.OSFXSR = 1 (#UD) and CR0.TS = 0 (#NM), in that order.
void check_sse_enabled(const CpuState& s) {
  if (!(s.cr0 & (cr0::EM | cr0::TS)) && (s.cr4 & cr4::OSFXSR)) [[likely]] return;
  if (s.cr0 & cr0::EM) raise_fault(kUD);
  if (!(s.cr4 & cr4::OSFXSR)) raise_fault(kUD);
  if (s.cr0 & cr0::TS) raise_fault(kNM);
}

uint64_t read_u64(const XmmBytes& x, unsigned byte) {
  uint64_t v;
  std::memcpy(&v, x.data() + byte, 8);
  return v;
}
void write_u64(XmmBytes& x, unsigned byte, uint64_t v) { std::memcpy(x.data() + byte, &v, 8); }

// Copies an operand of 2, 4, 8 or 16 bytes with constant-size copies (a variable-size memcpy
// becomes a slow REP MOVS here).
inline void copy_operand(uint8_t* to, const uint8_t* from, unsigned size) {
  switch (size) {
    case 16: std::memcpy(to, from, 16); return;
    case 8: std::memcpy(to, from, 8); return;
    case 4: std::memcpy(to, from, 4); return;
    case 2: std::memcpy(to, from, 2); return;
    default: for (unsigned i = 0; i < size; ++i) to[i] = from[i]; return;
  }
}

// The linear address of a memory operand, with segment checks and the 16-byte alignment rule.
uint64_t operand_linear(TcgCpu& cpu, const SseInsn& in, uint64_t offset, unsigned size, bool write) {
  uint64_t linear = cpu.linear_address(in.seg, offset, size, write);
  if (in.aligned && (linear & 15)) raise_fault(kGP, 0);
  return linear;
}

// Reads in.mem_size bytes into the low bytes of a zeroed register image.
XmmBytes read_operand(TcgCpu& cpu, const SseInsn& in, uint64_t offset) {
  XmmBytes x{};
  unsigned size = in.mem_size;
  uint64_t linear = operand_linear(cpu, in, offset, size, false);
  bool user = cpu.user_mode();
  if (const uint8_t* p = cpu.mmu.read_ptr(linear, size, user)) [[likely]] {  // RAM, one page
    if (size == 16) {
      std::memcpy(x.data(), p, 16);
    } else {  // built in a register: a narrow store into the zeroed image would stall its reload
      uint64_t v = 0;
      copy_operand(reinterpret_cast<uint8_t*>(&v), p, size);
      write_u64(x, 0, v);
    }
    return x;
  }
  if (size == 16) {
    write_u64(x, 0, cpu.mmu.read(linear, 8, user));
    write_u64(x, 8, cpu.mmu.read((linear + 8) & cpu.linear_mask(), 8, user));
  } else {
    write_u64(x, 0, cpu.mmu.read(linear, size, user));
  }
  return x;
}

// Writes `size` bytes of `x` from byte `from`; both halves of a 16-byte store are probed first so
// that a fault on the second page leaves memory untouched.
void write_operand(TcgCpu& cpu, const SseInsn& in, uint64_t offset, const XmmBytes& x, unsigned from, unsigned size) {
  uint64_t linear = operand_linear(cpu, in, offset, size, true);
  bool user = cpu.user_mode();
  if (uint8_t* p = cpu.mmu.write_ptr(linear, size, user)) [[likely]] {  // writable RAM, one page
    copy_operand(p, x.data() + from, size);
    return;
  }
  if (size == 16) {
    // Probe the first byte, and the start of the next page when the store crosses into one (the
    // address a page fault reports).
    cpu.mmu.probe_write(linear, 1, user);
    uint64_t last = (linear + 15) & cpu.linear_mask();
    if ((last ^ linear) & ~0xfffull) cpu.mmu.probe_write(last & ~0xfffull, 1, user);
    cpu.mmu.write(linear, 8, read_u64(x, 0), user);
    cpu.mmu.write((linear + 8) & cpu.linear_mask(), 8, read_u64(x, 8), user);
  } else {
    uint64_t v = 0;
    copy_operand(reinterpret_cast<uint8_t*>(&v), x.data() + from, size);
    cpu.mmu.write(linear, size, v, user);
  }
}

XmmBytes source(TcgCpu& cpu, const SseInsn& in, uint64_t offset) {
  return in.mem ? read_operand(cpu, in, offset) : cpu.s.fx.xmm[in.rm];
}

// The MXCSR the host runs under: the guest's control bits with every exception masked (the
// helper raises the guest's exceptions itself). FTZ only applies to masked underflow, so it is
// dropped when the guest unmasked underflow.
uint32_t host_csr(uint32_t guest) {
  using namespace mxcsr_bits;
  uint32_t csr = (guest & host_mxcsr_mask() & ~kFlags) | kAllMasks;
  if (!(guest & kUM)) csr &= ~kFTZ;
  return csr;
}

// Merges the flags one instruction raised into the guest MXCSR, or takes the SIMD floating-point
// exception if any of them is unmasked: #XM with CR4.OSXMMEXCPT, else #UD. Pre-computation
// exceptions (invalid, denormal, divide by zero) that are unmasked stop the instruction before
// the post-computation ones (overflow, underflow, precision) are looked at. The destination is
// never written when this throws.
void take_fp_flags(TcgCpu& cpu, uint32_t flags) {
  using namespace mxcsr_bits;
  uint32_t& csr = cpu.s.fx.mxcsr;
  uint32_t unmasked = ~(csr >> 7) & kFlags;
  uint32_t pre = flags & kPrecomputation;
  if (pre & unmasked) {
    csr |= pre;
  } else {
    csr |= flags & kFlags;
    if (!(flags & unmasked)) return;
  }
  raise_fault((cpu.s.cr4 & cr4::OSXMMEXCPT) ? kXM : kUD);
}

XmmBytes shuffle(SseShuffle op, const XmmBytes& d, const XmmBytes& s, uint8_t imm) {
  XmmBytes r{};
  auto dword = [](const XmmBytes& x, unsigned i) { return x.data() + 4 * i; };
  auto word = [](const XmmBytes& x, unsigned i) { return x.data() + 2 * i; };
  auto out = [&r](unsigned byte) { return r.data() + byte; };
  switch (op) {
    case SseShuffle::kShufps:
      std::memcpy(out(0), dword(d, imm & 3), 4);
      std::memcpy(out(4), dword(d, (imm >> 2) & 3), 4);
      std::memcpy(out(8), dword(s, (imm >> 4) & 3), 4);
      std::memcpy(out(12), dword(s, (imm >> 6) & 3), 4);
      break;
    case SseShuffle::kShufpd:
      write_u64(r, 0, read_u64(d, 8 * (imm & 1)));
      write_u64(r, 8, read_u64(s, 8 * ((imm >> 1) & 1)));
      break;
    case SseShuffle::kPshufd:
      for (unsigned i = 0; i < 4; ++i) std::memcpy(out(4 * i), dword(s, (imm >> (2 * i)) & 3), 4);
      break;
    case SseShuffle::kPshufhw:
      write_u64(r, 0, read_u64(s, 0));
      for (unsigned i = 0; i < 4; ++i) std::memcpy(out(8 + 2 * i), word(s, 4 + ((imm >> (2 * i)) & 3)), 2);
      break;
    case SseShuffle::kPshuflw:
      for (unsigned i = 0; i < 4; ++i) std::memcpy(out(2 * i), word(s, (imm >> (2 * i)) & 3), 2);
      write_u64(r, 8, read_u64(s, 8));
      break;
  }
  return r;
}

uint64_t move_mask(unsigned which, const XmmBytes& x) {
  uint64_t m = 0;
  if (which == 0) {
    for (unsigned i = 0; i < 4; ++i) m |= uint64_t(x[4 * i + 3] >> 7) << i;
  } else if (which == 1) {
    for (unsigned i = 0; i < 2; ++i) m |= uint64_t(x[8 * i + 7] >> 7) << i;
  } else {
    for (unsigned i = 0; i < 16; ++i) m |= uint64_t(x[i] >> 7) << i;
  }
  return m;
}

void slice_move(TcgCpu& cpu, const SseInsn& in, uint64_t offset) {
  SseMove mv = SseMove::unpack(in.sub);
  auto& xmm = cpu.s.fx.xmm;
  if (mv.store && in.mem) {
    write_operand(cpu, in, offset, xmm[in.reg], mv.src_off, mv.width);
    return;
  }
  XmmBytes& dst = mv.store ? xmm[in.rm] : xmm[in.reg];
  if (mv.width == 16) {  // MOVAPS/MOVUPS/MOVDQA/MOVDQU: the whole register
    dst = mv.store ? xmm[in.reg] : source(cpu, in, offset);
    return;
  }
  XmmBytes src = mv.store ? xmm[in.reg] : source(cpu, in, offset);
  unsigned src_off = in.mem ? 0 : mv.src_off;  // a memory source is just the slice
  XmmBytes r = mv.zero ? XmmBytes{} : dst;
  copy_operand(r.data() + mv.dst_off, src.data() + src_off, mv.width);
  dst = r;
}

uint64_t gpr_source(TcgCpu& cpu, const SseInsn& in, uint64_t offset, uint64_t reg_value) {
  return in.mem ? read_u64(read_operand(cpu, in, offset), 0) : reg_value;
}

void mask_move(TcgCpu& cpu, const SseInsn& in, uint64_t rdi) {
  const XmmBytes data = cpu.s.fx.xmm[in.reg], mask = cpu.s.fx.xmm[in.rm];
  uint64_t addr_mask = in.imm >= 8 ? ~0ull : (1ull << (8 * in.imm)) - 1;  // imm = address size
  bool user = cpu.user_mode();
  uint64_t linear[16];
  for (unsigned i = 0; i < 16; ++i) {  // every selected byte is checked before any is written
    if (!(mask[i] & 0x80)) continue;
    linear[i] = cpu.linear_address(in.seg, (rdi + i) & addr_mask, 1, true);
    cpu.mmu.probe_write(linear[i], 1, user);
  }
  for (unsigned i = 0; i < 16; ++i)
    if (mask[i] & 0x80) cpu.mmu.write(linear[i], 1, data[i], user);
}

}  // namespace

uint32_t sse_mxcsr_mask() { return host_mxcsr_mask(); }

uint64_t h_sse(TcgCpu& cpu, uint64_t p, uint64_t a, uint64_t b, uint64_t) {
  const SseInsn in = SseInsn::unpack(p);
  CpuState& s = cpu.s;
  check_sse_enabled(s);
  auto& xmm = s.fx.xmm;
  switch (in.kind) {
    case SseKind::kHost: {
      HostOp op = HostOp(in.sub);
      XmmBytes src = source(cpu, in, a);
      if (host_op_ignores_mxcsr(op)) {  // integer, bitwise, shuffles: no MXCSR, no #XM
        host_binary_plain(op, xmm[in.reg], src);
        return 0;
      }
      XmmBytes dst = xmm[in.reg];
      const uint32_t run_csr = host_csr(s.fx.mxcsr);
      uint32_t flags = host_binary(op, dst, src, run_csr) & mxcsr_bits::kFlags;
      uint32_t unmasked = ~(s.fx.mxcsr >> 7) & mxcsr_bits::kFlags;
      FpResult fmt = host_result_format(op);
      if (fmt != FpResult::kNone && (unmasked & (mxcsr_bits::kOE | mxcsr_bits::kUE)) &&
          !(flags & unmasked & mxcsr_bits::kPrecomputation))
        flags = sse_trap_flags(op, xmm[in.reg], src, run_csr, unmasked);
      take_fp_flags(cpu, flags);
      xmm[in.reg] = dst;
      return 0;
    }
    case SseKind::kHostImmCount: {
      XmmBytes count{};
      count[0] = in.imm;
      host_binary_plain(HostOp(in.sub), xmm[in.rm], count);  // integer shifts: no MXCSR
      return 0;
    }
    case SseKind::kFromGpr: {
      uint64_t v = gpr_source(cpu, in, a, b);
      XmmBytes dst = xmm[in.reg];
      uint32_t csr = host_from_gpr(HostGprOp(in.sub), dst, v, in.wide, host_csr(s.fx.mxcsr));
      take_fp_flags(cpu, csr & mxcsr_bits::kFlags);
      xmm[in.reg] = dst;
      return 0;
    }
    case SseKind::kToGpr: {
      uint64_t out;
      uint32_t csr = host_to_gpr(HostGprOp(in.sub), source(cpu, in, a), out, in.wide, host_csr(s.fx.mxcsr));
      take_fp_flags(cpu, csr & mxcsr_bits::kFlags);
      return out;
    }
    case SseKind::kCompareFlags: {
      uint64_t flags;
      uint32_t csr = host_compare(HostGprOp(in.sub), xmm[in.reg], source(cpu, in, a), flags, host_csr(s.fx.mxcsr));
      take_fp_flags(cpu, csr & mxcsr_bits::kFlags);
      return flags;
    }
    case SseKind::kMove:
      slice_move(cpu, in, a);
      return 0;
    case SseKind::kMoveFromGpr: {
      XmmBytes r{};
      write_u64(r, 0, gpr_source(cpu, in, a, b) & (in.wide ? ~0ull : 0xffffffffull));
      xmm[in.reg] = r;
      return 0;
    }
    case SseKind::kMoveToGpr: {
      uint64_t v = read_u64(xmm[in.reg], 0) & (in.wide ? ~0ull : 0xffffffffull);
      if (in.mem) write_operand(cpu, in, a, xmm[in.reg], 0, in.wide ? 8 : 4);
      return v;
    }
    case SseKind::kShuffle: {
      XmmBytes r = shuffle(SseShuffle(in.sub), xmm[in.reg], source(cpu, in, a), in.imm);
      xmm[in.reg] = r;
      return 0;
    }
    case SseKind::kByteShift: {
      const XmmBytes v = xmm[in.rm];
      XmmBytes r{};
      unsigned n = in.imm;
      for (unsigned i = 0; i < 16; ++i) {
        if (in.sub == 0 && i >= n) r[i] = v[i - n];
        if (in.sub == 1 && i + n < 16) r[i] = v[i + n];
      }
      xmm[in.rm] = r;
      return 0;
    }
    case SseKind::kExtractWord: {
      const XmmBytes& v = xmm[in.rm];
      unsigned i = in.imm & 7;
      return uint64_t(v[2 * i]) | uint64_t(v[2 * i + 1]) << 8;
    }
    case SseKind::kInsertWord: {
      uint64_t w = gpr_source(cpu, in, a, b);
      unsigned i = in.imm & 7;
      xmm[in.reg][2 * i] = uint8_t(w);
      xmm[in.reg][2 * i + 1] = uint8_t(w >> 8);
      return 0;
    }
    case SseKind::kMoveMask:
      return move_mask(in.sub, xmm[in.rm]);
    case SseKind::kMaskMove:
      mask_move(cpu, in, a);
      return 0;
    case SseKind::kLdmxcsr: {
      uint32_t v = uint32_t(read_u64(read_operand(cpu, in, a), 0));
      if (v & ~host_mxcsr_mask()) raise_fault(kGP, 0);
      s.fx.mxcsr = v;
      return 0;
    }
    case SseKind::kStmxcsr: {
      XmmBytes v{};
      std::memcpy(v.data(), &s.fx.mxcsr, 4);
      write_operand(cpu, in, a, v, 0, 4);
      return 0;
    }
  }
  return 0;
}

}  // namespace janus::tcg
