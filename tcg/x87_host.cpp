#include "tcg/x87_host.h"

#include <cstring>

// The trampoline and the instruction stubs, in assembly because the guest's FPU state must be
// live in the host FPU across exactly one instruction: nothing compiled may run in between.
//
// janus_x87_host_exec(guest_image rdi, host_save rsi, stub rdx, mem rcx, rflags r8) -> rflags
//   saves the host FPU/SSE state, loads the guest image, runs the stub with rdi = mem and the
//   guest's arithmetic flags in RFLAGS, captures RFLAGS, saves the result into the guest image
//   and restores the host state. Everything it clobbers is caller-saved in the SysV ABI.
// Stubs are 8 bytes each: endbr64 (a NOP unless indirect-branch tracking is on), the two
// instruction bytes, ret, int3. Register forms: 8 opcodes x 64 ModRM values C0..FF. Memory
// forms: 8 opcodes x 8 reg values with ModRM 00 reg 111 = [rdi].
asm(R"(
    .text
    .p2align 4
    .globl janus_x87_host_exec
    .hidden janus_x87_host_exec
    .type janus_x87_host_exec, @function
janus_x87_host_exec:
    fxsave64 (%rsi)
    fxrstor64 (%rdi)
    push %rdi
    push %rsi
    mov %rcx, %rdi
    push %r8
    popfq
    call *%rdx
    pushfq
    pop %rax
    pop %rsi
    pop %rdi
    fxsave64 (%rdi)
    fxrstor64 (%rsi)
    ret
    .size janus_x87_host_exec, .-janus_x87_host_exec

    .p2align 4
    .globl janus_x87_register_stubs
    .hidden janus_x87_register_stubs
janus_x87_register_stubs:
    .set janus_x87_op, 0xd8
    .rept 8
    .set janus_x87_modrm, 0xc0
    .rept 64
    endbr64
    .byte janus_x87_op, janus_x87_modrm
    ret
    int3
    .set janus_x87_modrm, janus_x87_modrm + 1
    .endr
    .set janus_x87_op, janus_x87_op + 1
    .endr

    .globl janus_x87_memory_stubs
    .hidden janus_x87_memory_stubs
janus_x87_memory_stubs:
    .set janus_x87_op, 0xd8
    .rept 8
    .set janus_x87_reg, 0
    .rept 8
    endbr64
    .byte janus_x87_op, (janus_x87_reg << 3) | 7
    ret
    int3
    .set janus_x87_reg, janus_x87_reg + 1
    .endr
    .set janus_x87_op, janus_x87_op + 1
    .endr
)");

extern "C" {
uint64_t janus_x87_host_exec(void* guest_image, void* host_save, const void* stub, void* mem, uint64_t rflags);
extern const uint8_t janus_x87_register_stubs[];
extern const uint8_t janus_x87_memory_stubs[];
}

namespace janus::tcg::x87 {

namespace {

constexpr unsigned kStubSize = 8;
constexpr uint16_t kExceptionFlags = 0x3f;
constexpr uint16_t kSummaryBits = 0x8080;  // B (busy, mirrors ES) and ES (error summary)
constexpr uint64_t kArithFlags = 0x8d5;

template <typename T> void put(HostImage& img, unsigned at, T v) { std::memcpy(img.bytes + at, &v, sizeof v); }
template <typename T> T get(const HostImage& img, unsigned at) {
  T v;
  std::memcpy(&v, img.bytes + at, sizeof v);
  return v;
}

uint32_t host_mxcsr() {
  uint32_t v;
  asm volatile("stmxcsr %0" : "=m"(v));
  return v;
}

HostResult run(const FxState& fx, const void* stub, uint8_t* mem, uint64_t rflags) {
  // Exceptions that are flagged and unmasked would be taken by the host's next waiting
  // instruction (SIGFPE): hide them for the run and merge them back afterwards.
  uint16_t pending = fx.fsw & ~fx.fcw & kExceptionFlags;
  bool strip = pending || (fx.fsw & kSummaryBits);
  uint16_t fsw_in = strip ? uint16_t(fx.fsw & ~pending & ~kSummaryBits) : fx.fsw;

  HostImage img{}, host{};
  put<uint16_t>(img, 0, fx.fcw);
  put<uint16_t>(img, 2, fsw_in);
  put<uint8_t>(img, 4, fx.ftw);
  put<uint32_t>(img, 24, host_mxcsr());  // the host's own: a guest value could #GP the host
  for (unsigned i = 0; i < 8; ++i) std::memcpy(img.bytes + 32 + 16 * i, fx.st[i].data(), 10);
  // FOP and FIP start at zero so that their change shows what the instruction recorded.

  uint64_t flags_in = (rflags & kArithFlags) | 0x202;
  uint64_t flags_out = janus_x87_host_exec(&img, &host, stub, mem, flags_in);

  HostResult r;
  r.fcw = get<uint16_t>(img, 0);
  r.fsw = get<uint16_t>(img, 2);
  r.ftw = get<uint8_t>(img, 4);
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(r.st[i].data(), img.bytes + 32 + 16 * i, 10);  // bytes 10..15 stay zero
  }
  r.updated_fop = get<uint16_t>(img, 6) != 0;  // stub ModRMs are never 0: FOP != 0 if stored
  r.updated_fip = get<uint64_t>(img, 8) != 0;
  r.rflags = flags_out;
  if (strip) {
    r.fsw |= pending;
    if (r.fsw & ~r.fcw & kExceptionFlags) r.fsw |= kSummaryBits;
    else r.fsw &= ~kSummaryBits;
  }
  return r;
}

}  // namespace

HostResult run_register_form(const FxState& fx, uint8_t opcode, uint8_t modrm, uint64_t rflags) {
  const uint8_t* stub = janus_x87_register_stubs + kStubSize * ((opcode - 0xd8u) * 64 + (modrm & 0x3fu));
  uint8_t unused[16] = {};
  return run(fx, stub, unused, rflags);
}

HostResult run_memory_form(const FxState& fx, uint8_t opcode, unsigned reg, uint8_t* mem, uint64_t rflags) {
  const uint8_t* stub = janus_x87_memory_stubs + kStubSize * ((opcode - 0xd8u) * 8 + (reg & 7u));
  return run(fx, stub, mem, rflags);
}

}  // namespace janus::tcg::x87
