#include "tcg/helpers_x87.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "cpu/cpuid.h"
#include "tcg/tcg_cpu.h"
#include "tcg/x87_forms.h"
#include "tcg/x87_host.h"
#include "tcg/x87_state.h"

namespace janus::tcg {

namespace {

using x87::Form;
using x87::FormKind;

// --- Guest memory as byte strings (operands of 2..512 bytes) ---------------------------------

unsigned chunk(unsigned left) { return left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1; }

void read_bytes(TcgCpu& cpu, unsigned seg, uint64_t offset, uint8_t* out, unsigned n) {
  cpu.linear_address(seg, offset, n, false);  // the whole operand within the segment first
  for (unsigned i = 0; i < n;) {
    unsigned c = chunk(n - i);
    uint64_t v = cpu.load(seg, offset + i, c);
    std::memcpy(out + i, &v, c);
    i += c;
  }
}

// Every page is checked writable before the first byte is written (precise faults).
void write_bytes(TcgCpu& cpu, unsigned seg, uint64_t offset, const uint8_t* in, unsigned n) {
  cpu.mmu.probe_write(cpu.linear_address(seg, offset, n, true), n, cpu.user_mode());
  for (unsigned i = 0; i < n;) {
    unsigned c = chunk(n - i);
    uint64_t v = 0;
    std::memcpy(&v, in + i, c);
    cpu.store(seg, offset + i, c, v);
    i += c;
  }
}

// --- Checks every x87 instruction makes ------------------------------------------------------

void check_device_available(TcgCpu& cpu) {
  if (cpu.s.cr0 & (cr0::EM | cr0::TS)) raise_fault(kNM);
}

// A waiting instruction first reports a pending unmasked exception. With CR0.NE=0 a PC signals
// it through FERR# -> IRQ13 instead; Janus does not model that path and behaves as if IGNNE#
// were asserted (the error is ignored, the instruction runs), which it says once on stderr.
void check_pending_exception(TcgCpu& cpu) {
  const FxState& fx = cpu.s.fx;
  if (!(fx.fsw & ~fx.fcw & 0x3f)) return;
  if (cpu.s.cr0 & cr0::NE) raise_fault(kMF);
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    std::fprintf(stderr, "janus: x87 error with CR0.NE=0 ignored (FERR#/IRQ13 reporting is not modelled)\n");
}

bool real_format(const TcgCpu& cpu) { return !cpu.s.protected_mode() || cpu.s.v86_mode(); }

// FIP/FDP: offsets in protected and long mode, linear addresses in real and virtual-8086 mode.
uint64_t instruction_pointer(const TcgCpu& cpu) {
  return real_format(cpu) ? (cpu.s.seg[CS].base + cpu.s.rip) & 0xffffffffull : cpu.s.rip;
}
uint64_t data_pointer(const TcgCpu& cpu, unsigned seg, uint64_t ea) {
  return real_format(cpu) ? (cpu.s.seg[seg].base + ea) & 0xffffffffull : ea;
}

// --- Instructions run on the host FPU ---------------------------------------------------------

uint64_t run_on_host(TcgCpu& cpu, const Form& f, uint8_t opcode, uint8_t modrm, unsigned seg, uint64_t ea) {
  FxState& fx = cpu.s.fx;
  const bool memory = (modrm >> 6) != 3;
  const uint64_t rflags = cpu.rflags();
  x87::HostResult r;
  if (!memory) {
    r = x87::run_register_form(fx, opcode, modrm, rflags);
  } else if (!f.mem_store) {
    uint8_t buf[16] = {};
    read_bytes(cpu, seg, ea, buf, f.mem_size);
    r = x87::run_memory_form(fx, opcode, (modrm >> 3) & 7, buf, rflags);
  } else {
    // A store is suppressed by an unmasked invalid/overflow/underflow exception. Whether the
    // host wrote is seen by running it over two different fillings of the buffer.
    uint8_t buf[16];
    bool stored = false;
    for (uint8_t fill : {0x00, 0xff}) {
      std::memset(buf, fill, sizeof buf);
      r = x87::run_memory_form(fx, opcode, (modrm >> 3) & 7, buf, rflags);
      for (unsigned i = 0; i < f.mem_size; ++i) stored |= buf[i] != fill;
      if (stored) break;
    }
    if (stored) write_bytes(cpu, seg, ea, buf, f.mem_size);
  }
  // Commit (nothing below can fault).
  fx.fcw = r.fcw;
  fx.fsw = r.fsw;
  fx.ftw = r.ftw;
  fx.st = r.st;
  if (r.updated_fip) fx.fip = instruction_pointer(cpu);
  if (r.updated_fop) {  // this CPU records FOP and FDP only for unmasked exceptions
    fx.fop = uint16_t(((opcode & 7) << 8) | modrm);
    if (memory) fx.fdp = data_pointer(cpu, seg, ea);
  }
  return f.sets_eflags ? r.rflags : 0;
}

// --- State save/restore in software ------------------------------------------------------------

x87::EnvFormat env_format(const TcgCpu& cpu, unsigned osz) { return {osz != 2, real_format(cpu)}; }

void fnstenv(TcgCpu& cpu, unsigned seg, uint64_t ea, unsigned osz, bool with_registers) {
  FxState& fx = cpu.s.fx;
  x87::EnvFormat f = env_format(cpu, osz);
  std::array<uint8_t, 28 + 80> img{};
  x87::store_env(fx, f, std::span(img).first(f.size()));
  unsigned n = f.size();
  if (with_registers) {
    for (unsigned i = 0; i < 8; ++i) std::memcpy(img.data() + n + 10 * i, fx.st[i].data(), 10);
    n += 80;
  }
  write_bytes(cpu, seg, ea, img.data(), n);
  if (with_registers) {
    x87::fninit(fx);
  } else {  // FNSTENV masks all exceptions afterwards; nothing is then pending
    fx.fcw |= 0x3f;
    fx.fsw &= ~0x8080;
  }
}

void fldenv(TcgCpu& cpu, unsigned seg, uint64_t ea, unsigned osz, bool with_registers) {
  x87::EnvFormat f = env_format(cpu, osz);
  std::array<uint8_t, 28 + 80> img{};
  unsigned n = f.size() + (with_registers ? 80 : 0);
  read_bytes(cpu, seg, ea, img.data(), n);
  FxState& fx = cpu.s.fx;
  x87::load_env(fx, f, std::span<const uint8_t>(img).first(f.size()));
  if (with_registers) {  // FRSTOR: registers in stack order relative to the new TOP
    for (unsigned i = 0; i < 8; ++i) {
      fx.st[i] = {};
      std::memcpy(fx.st[i].data(), img.data() + f.size() + 10 * i, 10);
    }
  }
}

}  // namespace

uint64_t h_x87(TcgCpu& cpu, uint64_t p, uint64_t ea, uint64_t, uint64_t) {
  const uint8_t opcode = p & 0xff, modrm = (p >> 8) & 0xff;
  const unsigned seg = (p >> 16) & 0xff, osz = (p >> 24) & 0xf;
  const Form f = x87::form_of(opcode, modrm);
  if (f.kind == FormKind::kInvalid) raise_fault(kUD);
  if (f.needs_sse3 && !cpu.ctx.cpuid.leaf1_ecx(cpuid_bits::SSE3)) raise_fault(kUD);
  check_device_available(cpu);
  if (f.waiting) check_pending_exception(cpu);
  FxState& fx = cpu.s.fx;
  switch (f.kind) {
    case FormKind::kHost: return run_on_host(cpu, f, opcode, modrm, seg, ea);
    case FormKind::kNop: return 0;
    case FormKind::kFninit: x87::fninit(fx); return 0;
    case FormKind::kFnclex: fx.fsw &= 0x7f00; return 0;  // flags, SF, ES, B; keeps C0-C3, TOP
    case FormKind::kFnstswAx: return fx.fsw;
    case FormKind::kFnstswMem: cpu.store(seg, ea, 2, fx.fsw); return 0;
    case FormKind::kFnstcw: cpu.store(seg, ea, 2, fx.fcw); return 0;
    case FormKind::kFnstenv: fnstenv(cpu, seg, ea, osz, false); return 0;
    case FormKind::kFnsave: fnstenv(cpu, seg, ea, osz, true); return 0;
    case FormKind::kFldenv: fldenv(cpu, seg, ea, osz, false); return 0;
    case FormKind::kFrstor: fldenv(cpu, seg, ea, osz, true); return 0;
    case FormKind::kInvalid: break;
  }
  raise_fault(kUD);
}

uint64_t h_fwait(TcgCpu& cpu, uint64_t, uint64_t, uint64_t, uint64_t) {
  if ((cpu.s.cr0 & (cr0::MP | cr0::TS)) == (cr0::MP | cr0::TS)) raise_fault(kNM);
  check_pending_exception(cpu);
  return 0;
}

uint64_t h_fxsave(TcgCpu& cpu, uint64_t p, uint64_t ea, uint64_t, uint64_t) {
  const bool restore = p & 1, rex_w = p & 2;
  const unsigned seg = (p >> 8) & 0xff;
  if (cpu.s.cr0 & cr0::EM) raise_fault(kUD);
  if (cpu.s.cr0 & cr0::TS) raise_fault(kNM);
  uint64_t lin = cpu.linear_address(seg, ea, 512, !restore);
  if (lin & 15) raise_fault(kGP, 0);
  // With CR4.OSFXSR=0 the SSE part (MXCSR, XMM) is neither saved nor loaded.
  const bool with_sse = cpu.s.cr4 & cr4::OSFXSR;
  const unsigned xmm_count = cpu.code64() ? 16 : 8;
  alignas(16) std::array<uint8_t, 512> img{};
  if (!restore) {
    x87::store_fxsave(cpu.s.fx, rex_w, xmm_count, img);
    cpu.mmu.probe_write(lin, 512, cpu.user_mode());  // both parts below, before either is written
    if (with_sse) {
      write_bytes(cpu, seg, ea, img.data(), 160 + 16 * xmm_count);
    } else {
      write_bytes(cpu, seg, ea, img.data(), 24);
      write_bytes(cpu, seg, ea + 32, img.data() + 32, 128);
    }
    return 0;
  }
  read_bytes(cpu, seg, ea, img.data(), 160 + 16 * xmm_count);
  if (with_sse) {
    uint32_t mxcsr;
    std::memcpy(&mxcsr, img.data() + 24, 4);
    if (mxcsr & ~x87::kMxcsrMask) raise_fault(kGP, 0);
  }
  x87::load_fxsave(cpu.s.fx, rex_w, with_sse, xmm_count, img);
  return 0;
}

}  // namespace janus::tcg
