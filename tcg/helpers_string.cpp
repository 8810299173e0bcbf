// String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) with REP/REPE/REPNE, and port I/O with
// the IOPL / TSS I/O-permission-bitmap check. A REP instruction runs in slices: after each slice
// it returns 0 and the block branches back to the same instruction, so events are taken at an
// iteration boundary with RIP still on the instruction and the registers describing the progress.
#include <cstring>

#include "tcg/helpers.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

namespace {
constexpr unsigned kIterationsPerSlice = 4096;

void advance(CpuState& s, unsigned r, unsigned asz, int64_t step) {
  write_gpr(s, r, asz, (s.gpr[r] + uint64_t(step)) & size_mask_bytes(asz));
}

// STOSW/D/Q's fill: `len` bytes (whole elements) of the low `size` bytes of v, repeated. The
// pattern repeats every 8 bytes whatever the element size, so it is stored a qword at a time.
void fill_elements(uint8_t* d, uint64_t len, uint64_t v, unsigned size) {
  const uint64_t pattern = size == 2 ? (v & 0xffff) * 0x0001000100010001ull
                           : size == 4 ? (v & 0xffffffffull) * 0x0000000100000001ull
                                       : v;
  if (pattern == (pattern & 0xff) * 0x0101010101010101ull) {  // zeroing, mostly
    std::memset(d, int(pattern & 0xff), len);
    return;
  }
  uint64_t k = 0;
  for (; k + 8 <= len; k += 8) std::memcpy(d + k, &pattern, 8);
  std::memcpy(d + k, &pattern, len - k);  // whole elements of the pattern's start
}

// REP MOVS/STOS forwards (DF=0) over RAM the TLB already maps for fast access: copies or fills
// up to `max` whole elements that stay within one page on each side in one go and advances
// RSI/RDI/RCX as that many iterations would. Returns the count done (0: take one element the
// ordinary way, which walks/faults/handles MMIO and code pages as usual).
uint64_t bulk_string(TcgCpu& cpu, unsigned op, unsigned size, unsigned asz, unsigned seg, uint64_t max) {
  CpuState& s = cpu.s;
  const uint64_t amask = size_mask_bytes(asz);
  const uint64_t di = s.gpr[RDI] & amask, si = s.gpr[RSI] & amask;
  uint64_t n = std::min<uint64_t>(s.gpr[RCX] & amask, max);
  // No address-size wrap-around inside the run.
  n = std::min<uint64_t>(n, (amask - di) / size + 1);
  if (op == kMovs) n = std::min<uint64_t>(n, (amask - si) / size + 1);
  if (n < 2) return 0;
  const bool user = cpu.user_mode();
  uint64_t dlin, slin = 0, len;
  uint8_t* d;
  const uint8_t* src = nullptr;
  try {  // any segment fault is left to the element-by-element path, at the element that faults
    dlin = cpu.linear_address(ES, di, size, true);
    n = std::min<uint64_t>(n, (4096 - (dlin & 0xfff)) / size);
    if (op == kMovs) {
      slin = cpu.linear_address(seg, si, size, false);
      n = std::min<uint64_t>(n, (4096 - (slin & 0xfff)) / size);
    }
    if (n < 2) return 0;
    len = n * size;
    cpu.linear_address(ES, di + len - size, size, true);
    if (op == kMovs) cpu.linear_address(seg, si + len - size, size, false);
  } catch (const GuestFault&) {
    return 0;
  }
  d = cpu.mmu.write_span(dlin, unsigned(len), user);
  if (!d) return 0;
  if (op == kMovs) {
    src = cpu.mmu.read_span(slin, unsigned(len), user);
    if (!src) return 0;
    if (d < src + len && src < d + len) {
      // Overlap: element by element, as the instruction does (a forward overlap repeats data).
      for (uint64_t k = 0; k < len; k += size) std::memmove(d + k, src + k, size);
    } else {
      std::memcpy(d, src, len);
    }
    write_gpr(s, RSI, asz, (si + len) & amask);
  } else if (size == 1) {
    std::memset(d, int(s.gpr[RAX] & 0xff), len);
  } else {
    fill_elements(d, len, s.gpr[RAX], size);
  }
  write_gpr(s, RDI, asz, (di + len) & amask);
  write_gpr(s, RCX, asz, ((s.gpr[RCX] & amask) - n) & amask);
  return n;
}
}  // namespace

void check_io_permission(TcgCpu& cpu, uint16_t port, unsigned size) {
  const CpuState& s = cpu.s;
  if (!s.protected_mode()) return;
  if (!s.v86_mode() && cpu.cpl() <= ((s.rflags >> 12) & 3)) return;
  // The TSS I/O permission bitmap: every bit for [port, port+size) must be clear.
  const Segment& tr = s.tr;
  if (tr.unusable || (tr.type() != 0x9 && tr.type() != 0xb) || tr.limit < 0x67) raise_fault(kGP, 0);
  uint64_t io_base = cpu.read_system(tr.base + 0x66, 2);
  uint64_t byte = io_base + (port >> 3);
  if (byte + 1 > tr.limit) raise_fault(kGP, 0);
  uint64_t bits = cpu.read_system(tr.base + byte, 2);
  uint64_t mask = ((1u << size) - 1) << (port & 7);
  if (bits & mask) raise_fault(kGP, 0);
}

uint64_t h_in(TcgCpu& cpu, uint64_t p, uint64_t port, uint64_t, uint64_t) {
  unsigned size = hp_size(p);
  check_io_permission(cpu, uint16_t(port), size);
  return cpu.ctx.io.pio_read(uint16_t(port), size) & size_mask_bytes(size);
}

uint64_t h_out(TcgCpu& cpu, uint64_t p, uint64_t port, uint64_t value, uint64_t) {
  unsigned size = hp_size(p);
  check_io_permission(cpu, uint16_t(port), size);
  cpu.ctx.io.pio_write(uint16_t(port), size, value & size_mask_bytes(size));
  return 0;
}

static uint64_t string_iterations(TcgCpu& cpu, uint64_t p);  // below: the instruction itself

// The run loop must look after a pause for events, a port access or a device (MMIO) access.
uint64_t h_string(TcgCpu& cpu, uint64_t p, uint64_t, uint64_t, uint64_t) {
  const uint64_t mmio_before = cpu.mmu.mmio_accesses();
  const unsigned op = hp_op(p);
  uint64_t done = string_iterations(cpu, p);
  if (!done || op == kIns || op == kOuts || cpu.mmu.mmio_accesses() != mmio_before) cpu.loop_check = true;
  return done;
}

static uint64_t string_iterations(TcgCpu& cpu, uint64_t p) {
  CpuState& s = cpu.s;
  const unsigned op = hp_op(p), size = hp_size(p);
  const uint64_t extra = hp_extra(p);
  const unsigned asz = extra & 0xff, rep = (extra >> 8) & 0xff, seg = (extra >> 16) & 0xff;
  const uint64_t amask = size_mask_bytes(asz);
  const int64_t step = (s.rflags & rflags::DF) ? -int64_t(size) : int64_t(size);
  const uint16_t port = uint16_t(s.gpr[RDX]);
  if (op == kIns || op == kOuts) check_io_permission(cpu, port, size);

  for (unsigned i = 0;; ++i) {
    if (rep) {
      if ((s.gpr[RCX] & amask) == 0) {
        // With 32-bit addressing and a zero count nothing iterates, yet this Intel CPU still
        // writes ECX (clearing bits 63:32), and REP MOVS/STOS also ESI/EDI; LODS/CMPS/SCAS
        // leave ESI/EDI alone (tests/guest/cpu_string.asm, checked on hardware).
        if (i == 0 && asz == 4) {
          write_gpr(s, RCX, 4, s.gpr[RCX]);
          if (op == kMovs) write_gpr(s, RSI, 4, s.gpr[RSI]);
          if (op == kMovs || op == kStos) write_gpr(s, RDI, 4, s.gpr[RDI]);
        }
        return 1;
      }
      if (i == kIterationsPerSlice) return 0;
      if ((op == kMovs || op == kStos) && step > 0 && !cpu.data_watch) {
        if (uint64_t n = bulk_string(cpu, op, size, asz, seg, kIterationsPerSlice - i)) {
          i += unsigned(n) - 1;
          continue;
        }
      }
    }
    uint64_t si = s.gpr[RSI] & amask, di = s.gpr[RDI] & amask;
    switch (op) {
      case kMovs:
        cpu.store(ES, di, size, cpu.load(seg, si, size));
        advance(s, RSI, asz, step);
        advance(s, RDI, asz, step);
        break;
      case kStos:
        cpu.store(ES, di, size, s.gpr[RAX]);
        advance(s, RDI, asz, step);
        break;
      case kLods: {
        uint64_t v = cpu.load(seg, si, size);
        write_gpr(s, RAX, size, v);
        advance(s, RSI, asz, step);
        break;
      }
      case kCmps: case kScas: {
        uint64_t a = op == kCmps ? cpu.load(seg, si, size) : s.gpr[RAX] & size_mask_bytes(size);
        uint64_t b = cpu.load(ES, di, size);
        cpu.cc.op = cc_op(kCcSub, size);
        cpu.cc.dst = (a - b) & size_mask_bytes(size);
        cpu.cc.src = b;
        if (op == kCmps) advance(s, RSI, asz, step);
        advance(s, RDI, asz, step);
        break;
      }
      case kIns: {
        // Check the destination before reading the port: a port read has side effects.
        uint64_t lin = cpu.linear_address(ES, di, size, true);
        cpu.mmu.probe_write(lin, size, cpu.user_mode());
        uint64_t v = cpu.ctx.io.pio_read(port, size);
        cpu.store(ES, di, size, v);
        advance(s, RDI, asz, step);
        break;
      }
      case kOuts:
        cpu.ctx.io.pio_write(port, size, cpu.load(seg, si, size));
        advance(s, RSI, asz, step);
        break;
    }
    if (!rep) return 1;
    write_gpr(s, RCX, asz, (s.gpr[RCX] - 1) & amask);
    if ((op == kCmps || op == kScas)) {
      bool zf = cpu.cc.condition(4);
      if ((rep == 0xf3 && !zf) || (rep == 0xf2 && zf)) return 1;
    }
  }
}

}  // namespace janus::tcg
