// The interpreter's block-level rewrites (register forwarding, fused register writes, dead flags,
// conditions read from the block's own SetFlags, dead values, folded displacements, elided
// instruction boundaries) must not change what a block computes: random straight-line integer
// and SSE code runs once in whole blocks and once one instruction per block (single-step, where
// none of the rewrites reach across instructions); registers (XMM too), flags and memory must
// agree. The same programs check the LLVM tier's compiled blocks (and its inline SSE).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "tcg/interpreter.h"
#include "tcg/tcg_accelerator.h"
#include "tcg/translator.h"

using namespace janus;
using Bytes = std::vector<uint8_t>;

namespace {

struct NullIo : IoHandler {
  uint64_t pio_read(uint16_t, unsigned) override { return 0; }
  void pio_write(uint16_t, unsigned, uint64_t) override {}
  uint64_t mmio_read(uint64_t, unsigned) override { return ~0ull; }
  void mmio_write(uint64_t, unsigned, uint64_t) override {}
};

struct NoInterrupts : InterruptSource {
  bool interrupt_pending() override { return false; }
  int acknowledge_interrupt() override { return -1; }
  uint64_t cr8() override { return 0; }
  void set_cr8(uint64_t) override {}
};

constexpr uint64_t kCode = 0x100000, kData = 0x300000;

struct Machine {
  GuestMemory mem{8ull << 20};
  NullIo io;
  NoInterrupts irq;
  CpuidTable cpuid = janus_cpuid_template();
  ManualClock clock;
  TcgAccelerator accel{cpuid};
  std::unique_ptr<Vcpu> vcpu;

  Machine(const Bytes& code, const std::vector<uint64_t>& regs, const Bytes& xmm, const Bytes& data) {
    accel.map_memory(mem);
    vcpu = accel.create_vcpu(0, VcpuContext{mem, io, irq, cpuid, clock});
    mem.write_phys(kCode, code.data(), code.size());
    mem.write_phys(kData, data.data(), data.size());
    // 64-bit mode, the first GiB identity-mapped in 2 MiB pages.
    mem.store<uint64_t>(0x60008, 0x00af9b000000ffffull);
    mem.store<uint64_t>(0x60010, 0x00cf93000000ffffull);
    mem.store<uint64_t>(0x80000, 0x81000 | 7);
    mem.store<uint64_t>(0x81000, 0x82000 | 7);
    for (uint64_t i = 0; i < 512; ++i) mem.store<uint64_t>(0x82000 + 8 * i, (i << 21) | 0x87);
    CpuState s = reset_cpu_state();
    s.cr0 = cr0::PE | cr0::PG | cr0::ET;
    s.cr3 = 0x80000;
    s.cr4 = cr4::PAE | cr4::OSFXSR;
    s.efer = efer::LME | efer::LMA;
    s.seg[CS] = Segment{0x08, 0, 0xffffffff, 0xa09b, false};
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
    s.gdtr = {0x60000, 23};
    s.rip = kCode;
    for (unsigned r = 0; r < 16; ++r) s.gpr[r] = regs[r];
    s.gpr[RSP] = 0x90000;
    s.gpr[RDI] = kData + 0x80;
    s.rflags = 0x2 | (regs[RSP] & 0x8d5);  // random arithmetic flags in
    for (unsigned r = 0; r < 16; ++r) std::memcpy(s.fx.xmm[r].data(), xmm.data() + 16 * r, 16);
    vcpu->set_state(s);
  }
};

// Registers a generated instruction may write: not RSP (stack) nor RDI (the data pointer).
constexpr unsigned kRegs[] = {0, 1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  Bytes program(unsigned n) {
    Bytes b;
    for (unsigned i = 0; i < n; ++i) insn(b);
    b.push_back(0xf4);  // hlt
    return b;
  }

 private:
  unsigned pick(unsigned n) { return unsigned(rng_() % n); }
  unsigned reg() { return kRegs[pick(sizeof kRegs / sizeof kRegs[0])]; }
  int8_t disp() { return int8_t(int(pick(16)) * 8 - 64 + int(pick(8))); }  // [rdi-64, rdi+64)

  // Prefixes and REX for an operand size (1, 2, 4, 8), ModRM reg field r and r/m register rm.
  void prefix(Bytes& b, unsigned size, unsigned r, unsigned rm, bool force_rex = false) {
    if (size == 2) b.push_back(0x66);
    uint8_t rex = 0x40 | (size == 8 ? 8 : 0) | ((r & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0);
    if (rex != 0x40 || size == 1 || force_rex) b.push_back(rex);  // REX: byte regs are SPL.., not AH..
  }
  void modrm_reg(Bytes& b, unsigned r, unsigned rm) { b.push_back(uint8_t(0xc0 | ((r & 7) << 3) | (rm & 7))); }
  void modrm_mem(Bytes& b, unsigned r) {  // [rdi + disp8]
    b.push_back(uint8_t(0x40 | ((r & 7) << 3) | 7));
    b.push_back(uint8_t(disp()));
  }
  unsigned size() {
    static constexpr unsigned kSizes[] = {8, 8, 8, 4, 4, 4, 2, 1};
    return kSizes[pick(8)];
  }

  // SSE forms (tcg/jit_sse.cpp inlines most): operands, as ModRM reg / rm.
  enum Operands : uint8_t {
    kXX,      // xmm, xmm or memory
    kXMem,    // xmm, memory only
    kXG,      // xmm, general register or memory (MOVD/MOVQ 66 0F 6E / 7E)
    kGX,      // general register, xmm (PMOVMSKB, MOVMSKPS/PD, PEXTRW)
    kGXMem,   // general register, xmm or memory (CVT(T)SD2SI, CVT(T)SS2SI)
    kShiftX,  // group 71/72/73: /n on an xmm, imm8
  };
  struct SseForm {
    uint8_t prefix, opcode;
    Operands operands;
    bool aligned;  // a memory operand must be 16-byte aligned
    bool imm;
  };
  static constexpr SseForm kSseForms[] = {
      {0x66, 0x6f, kXX, true, false}, {0xf3, 0x6f, kXX, false, false}, {0x66, 0x7f, kXX, true, false},
      {0xf3, 0x7f, kXX, false, false}, {0x00, 0x10, kXX, false, false}, {0x00, 0x11, kXX, false, false},
      {0x00, 0x28, kXX, true, false},  {0x00, 0x29, kXX, true, false},  {0x66, 0x10, kXX, false, false},
      {0xf3, 0x10, kXX, false, false}, {0xf3, 0x11, kXX, false, false}, {0xf2, 0x10, kXX, false, false},
      {0xf2, 0x11, kXX, false, false}, {0x00, 0x12, kXX, false, false}, {0x00, 0x16, kXX, false, false},
      {0x00, 0x13, kXMem, false, false}, {0x00, 0x17, kXMem, false, false}, {0x66, 0x12, kXMem, false, false},
      {0x66, 0x13, kXMem, false, false}, {0x66, 0x16, kXMem, false, false}, {0x66, 0x17, kXMem, false, false},
      {0x66, 0xd6, kXX, false, false}, {0xf3, 0x7e, kXX, false, false}, {0x66, 0x6e, kXG, false, false},
      {0x66, 0x7e, kXG, false, false}, {0x66, 0x74, kXX, true, false}, {0x66, 0x75, kXX, true, false},
      {0x66, 0x76, kXX, true, false},  {0x66, 0x64, kXX, true, false},  {0x66, 0x65, kXX, true, false},
      {0x66, 0x66, kXX, true, false},  {0x66, 0xdb, kXX, true, false},  {0x66, 0xdf, kXX, true, false},
      {0x66, 0xeb, kXX, true, false},  {0x66, 0xef, kXX, true, false},  {0x66, 0xfc, kXX, true, false},
      {0x66, 0xfd, kXX, true, false},  {0x66, 0xfe, kXX, true, false},  {0x66, 0xd4, kXX, true, false},
      {0x66, 0xf8, kXX, true, false},  {0x66, 0xf9, kXX, true, false},  {0x66, 0xfa, kXX, true, false},
      {0x66, 0xfb, kXX, true, false},  {0x66, 0xd8, kXX, true, false},  {0x66, 0xd9, kXX, true, false},
      {0x66, 0xdc, kXX, true, false},  {0x66, 0xdd, kXX, true, false},  {0x66, 0xe8, kXX, true, false},
      {0x66, 0xe9, kXX, true, false},  {0x66, 0xec, kXX, true, false},  {0x66, 0xed, kXX, true, false},
      {0x66, 0xda, kXX, true, false},  {0x66, 0xde, kXX, true, false},  {0x66, 0xea, kXX, true, false},
      {0x66, 0xee, kXX, true, false},  {0x66, 0xd5, kXX, true, false},  {0x66, 0xe0, kXX, true, false},
      {0x66, 0xe3, kXX, true, false},  {0x66, 0x60, kXX, true, false},  {0x66, 0x61, kXX, true, false},
      {0x66, 0x62, kXX, true, false},  {0x66, 0x68, kXX, true, false},  {0x66, 0x69, kXX, true, false},
      {0x66, 0x6a, kXX, true, false},  {0x66, 0x6c, kXX, true, false},  {0x66, 0x6d, kXX, true, false},
      {0x00, 0x54, kXX, true, false},  {0x00, 0x55, kXX, true, false},  {0x00, 0x56, kXX, true, false},
      {0x00, 0x57, kXX, true, false},  {0x66, 0x57, kXX, true, false},  {0x00, 0x14, kXX, true, false},
      {0x00, 0x15, kXX, true, false},  {0x66, 0x14, kXX, true, false},  {0x66, 0x15, kXX, true, false},
      {0x66, 0x70, kXX, true, true},   {0xf3, 0x70, kXX, true, true},   {0xf2, 0x70, kXX, true, true},
      {0x00, 0xc6, kXX, true, true},   {0x66, 0xc6, kXX, true, true},   {0x66, 0xd7, kGX, false, false},
      {0x00, 0x50, kGX, false, false}, {0x66, 0x50, kGX, false, false}, {0x66, 0xc5, kGX, false, true},
      {0x66, 0x71, kShiftX, false, true}, {0x66, 0x72, kShiftX, false, true}, {0x66, 0x73, kShiftX, false, true},
      // Scalar floating point: compares, conversions from and to integers.
      {0x66, 0x2e, kXX, false, false}, {0x66, 0x2f, kXX, false, false}, {0x00, 0x2e, kXX, false, false},
      {0x00, 0x2f, kXX, false, false}, {0xf2, 0x2a, kXG, false, false}, {0xf3, 0x2a, kXG, false, false},
      {0xf2, 0x2c, kGXMem, false, false}, {0xf2, 0x2d, kGXMem, false, false}, {0xf3, 0x2c, kGXMem, false, false},
      {0xf3, 0x2d, kGXMem, false, false}, {0xf2, 0x58, kXX, false, false}, {0xf2, 0x5c, kXX, false, false},
      {0xf3, 0x58, kXX, false, false}, {0xf3, 0x5c, kXX, false, false},
  };

  void sse(Bytes& b) {
    const SseForm& f = kSseForms[pick(sizeof kSseForms / sizeof kSseForms[0])];
    unsigned r = pick(16), rm = pick(16);
    bool mem = f.operands == kXMem || ((f.operands == kXX || f.operands == kXG || f.operands == kGXMem) && pick(3) == 0);
    bool wide = (f.operands == kXG || f.operands == kGXMem) && pick(2);
    if (f.operands == kGX || f.operands == kGXMem) r = reg();
    if (f.operands == kXG && !mem) rm = reg();
    if (f.operands == kShiftX) {  // /2 /4 /6 (and /3 /7 for 73): the register is ModRM.rm
      static constexpr unsigned kShifts[] = {2, 4, 6, 2, 3, 6, 7};
      r = f.opcode == 0x73 ? kShifts[3 + pick(4)] : kShifts[pick(3)];
      if (f.opcode == 0x72 && r == 6 && pick(2)) r = 4;
    }
    if (f.prefix) b.push_back(f.prefix);
    uint8_t rex = 0x40 | (wide ? 8 : 0) | ((r & 8) ? 4 : 0) | (!mem && (rm & 8) ? 1 : 0);
    if (rex != 0x40) b.push_back(rex);
    b.insert(b.end(), {0x0f, f.opcode});
    if (mem) {  // [rdi + disp8], 16-byte aligned when the form needs it
      b.push_back(uint8_t(0x40 | ((r & 7) << 3) | 7));
      b.push_back(uint8_t(f.aligned ? int(pick(8)) * 16 - 64 : disp()));
    } else {
      modrm_reg(b, r, rm);
    }
    if (f.imm) b.push_back(uint8_t(f.operands == kShiftX && pick(2) ? pick(80) : rng_()));
  }

  void insn(Bytes& b) {
    unsigned kind = pick(29), sz = size(), r = reg(), rm = reg();
    unsigned w = sz == 1 ? 0 : 1;
    switch (kind) {
      case 0: case 1: case 2:  // ALU r/m, r (reg or memory)
        prefix(b, sz, r, kind == 2 ? 0 : rm);
        b.push_back(uint8_t(pick(8) * 8 + w));
        if (kind == 2) modrm_mem(b, r); else modrm_reg(b, r, rm);
        break;
      case 3:  // ALU r, [mem]
        prefix(b, sz, r, 0);
        b.push_back(uint8_t(pick(8) * 8 + 2 + w));
        modrm_mem(b, r);
        break;
      case 4:  // ALU r/m, imm8
        prefix(b, sz, 0, rm);
        b.push_back(sz == 1 ? 0x80 : 0x83);
        modrm_reg(b, pick(8), rm);
        b.push_back(uint8_t(rng_()));
        break;
      case 5:  // INC/DEC/NOT/NEG
        prefix(b, sz, 0, rm);
        if (pick(2)) { b.push_back(sz == 1 ? 0xfe : 0xff); modrm_reg(b, pick(2), rm); }
        else { b.push_back(sz == 1 ? 0xf6 : 0xf7); modrm_reg(b, 2 + pick(2), rm); }
        break;
      case 6: case 7: {  // shifts and rotates by imm8, 1 or CL
        static constexpr unsigned kOps[] = {0, 1, 4, 5, 7, 4, 5, 7};
        unsigned op = kOps[pick(8)], form = pick(3);
        prefix(b, sz, 0, rm);
        b.push_back(uint8_t((form == 0 ? 0xc0 : form == 1 ? 0xd0 : 0xd2) + w));
        modrm_reg(b, op, rm);
        if (form == 0) b.push_back(uint8_t(pick(3) ? pick(sz * 8) : rng_()));
        break;
      }
      case 8: {  // IMUL r, r/m (, imm8)
        if (sz == 1) sz = 4;
        prefix(b, sz, r, rm);
        if (pick(2)) { b.insert(b.end(), {0x0f, 0xaf}); modrm_reg(b, r, rm); }
        else { b.push_back(0x6b); modrm_reg(b, r, rm); b.push_back(uint8_t(rng_())); }
        break;
      }
      case 9:  // SETcc r8
        prefix(b, 1, 0, rm, true);
        b.insert(b.end(), {0x0f, uint8_t(0x90 + pick(16))});
        modrm_reg(b, 0, rm);
        break;
      case 10:  // CMOVcc r, r/m
        if (sz == 1) sz = 8;
        prefix(b, sz, r, rm);
        b.insert(b.end(), {0x0f, uint8_t(0x40 + pick(16))});
        modrm_reg(b, r, rm);
        break;
      case 11: case 12:  // MOV r, r / r, [mem] / [mem], r
        prefix(b, sz, r, kind == 11 ? rm : 0);
        if (kind == 11) { b.push_back(uint8_t(0x88 + w)); modrm_reg(b, r, rm); }
        else { b.push_back(uint8_t((pick(2) ? 0x88 : 0x8a) + w)); modrm_mem(b, r); }
        break;
      case 13:  // MOVZX/MOVSX r, r8/r16, MOVSXD
        if (pick(3) == 0) { prefix(b, 8, r, rm); b.push_back(0x63); modrm_reg(b, r, rm); break; }
        prefix(b, sz == 1 ? 4 : sz, r, rm, true);
        b.insert(b.end(), {0x0f, uint8_t(0xb6 + pick(2) + 8 * pick(2))});
        modrm_reg(b, r, rm);
        break;
      case 14: {  // LEA r, [rdi + index*scale + disp8]
        unsigned index = reg(), osz = sz == 1 ? 8 : sz;
        if (osz == 2) b.push_back(0x66);
        b.push_back(uint8_t(0x40 | (osz == 8 ? 8 : 0) | ((r & 8) ? 4 : 0) | ((index & 8) ? 2 : 0)));
        b.push_back(0x8d);
        b.push_back(uint8_t(0x44 | ((r & 7) << 3)));
        b.push_back(uint8_t((pick(4) << 6) | ((index & 7) << 3) | 7));
        b.push_back(uint8_t(disp()));
        break;
      }
      case 15:  // XCHG r, r/m / XADD / CMPXCHG (register forms)
        prefix(b, sz, r, rm);
        switch (pick(3)) {
          case 0: b.push_back(uint8_t(0x86 + w)); break;
          case 1: b.insert(b.end(), {0x0f, uint8_t(0xc0 + w)}); break;
          default: b.insert(b.end(), {0x0f, uint8_t(0xb0 + w)}); break;
        }
        modrm_reg(b, r, rm);
        break;
      case 16:  // TEST r/m, r
        prefix(b, sz, r, rm);
        b.push_back(uint8_t(0x84 + w));
        modrm_reg(b, r, rm);
        break;
      case 17:  // Jcc +0 (ends the block either way; flags cross into the next block)
        b.insert(b.end(), {uint8_t(0x70 + pick(16)), 0x00});
        break;
      case 18:  // ADC/SBB r, r right after a flag producer
        prefix(b, sz, r, rm);
        b.push_back(uint8_t((pick(2) ? 0x10 : 0x18) + w));
        modrm_reg(b, r, rm);
        break;
      case 19:  // MOV r, imm32 / imm64
        if (pick(2)) { prefix(b, 8, 0, rm); b.push_back(uint8_t(0xb8 + (rm & 7))); for (int i = 0; i < 8; ++i) b.push_back(uint8_t(rng_())); }
        else { prefix(b, 4, 0, rm); b.push_back(uint8_t(0xb8 + (rm & 7))); for (int i = 0; i < 4; ++i) b.push_back(uint8_t(rng_())); }
        break;
      case 20:  // ALU [mem], imm8 (read-modify-write)
        prefix(b, sz, 0, 0);
        b.push_back(sz == 1 ? 0x80 : 0x83);
        modrm_mem(b, pick(8));
        b.push_back(uint8_t(rng_()));
        break;
      case 22: case 23: case 24: case 25:
        sse(b);
        break;
      case 27: {  // POPCNT / TZCNT / LZCNT r, r/m
        if (sz == 1) sz = 4;
        if (sz == 2) b.push_back(0x66);
        b.push_back(0xf3);
        uint8_t rex = 0x40 | (sz == 8 ? 8 : 0) | ((r & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0);
        if (rex != 0x40) b.push_back(rex);
        static constexpr uint8_t kOps[] = {0xb8, 0xbc, 0xbd};
        b.insert(b.end(), {0x0f, kOps[pick(3)]});
        modrm_reg(b, r, rm);
        break;
      }
      case 28: {  // DIV / IDIV r/m, set up so the quotient fits (no #DE)
        const unsigned osz = sz == 8 ? 8 : 4;
        unsigned d = reg();
        while (d == RAX || d == RDX) d = reg();
        prefix(b, osz, 0, d);  // or d, 1: never zero
        b.insert(b.end(), {0x83, uint8_t(0xc8 | (d & 7)), 0x01});
        if (pick(2)) {  // DIV with rDX = d / 2 < d: the full double-width dividend
          prefix(b, osz, d, RDX);  // mov rdx, d
          b.push_back(0x89);
          modrm_reg(b, d, RDX);
          prefix(b, osz, 0, RDX);  // shr rdx, 1
          b.push_back(0xd1);
          modrm_reg(b, 5, RDX);
          prefix(b, osz, 0, d);
          b.push_back(0xf7);
          modrm_reg(b, 6, d);
        } else {  // CQO/CDQ, IDIV
          if (osz == 8) b.push_back(0x48);
          b.push_back(0x99);
          prefix(b, osz, 0, d);
          b.push_back(0xf7);
          modrm_reg(b, 7, d);
        }
        break;
      }
      case 26:  // MUL / IMUL r/m (one operand: rDX:rAX)
        prefix(b, sz, 0, rm);
        b.push_back(sz == 1 ? 0xf6 : 0xf7);
        modrm_reg(b, 4 + pick(2), rm);
        break;
      default: {  // SHL/SHR/SAR [mem] by imm8 / CL
        static constexpr unsigned kOps[] = {4, 5, 7};
        bool imm = pick(2);
        prefix(b, sz, 0, 0);
        b.push_back(uint8_t((imm ? 0xc0 : 0xd2) + w));
        modrm_mem(b, kOps[pick(3)]);
        if (imm) b.push_back(uint8_t(pick(sz * 8)));
        break;
      }
    }
  }

  std::mt19937 rng_;
};

struct Result {
  CpuState s;
  Bytes data;
  uint64_t retired = 0;  // instructions the (last) run retired
};

// kCompiled: quick code from the baseline compiler, then LLVM's optimised code (the default
// tiers); kLlvmQuick: LLVM's quick code instead; kBaseline: baseline code only, never optimised.
enum class Mode { kWhole, kSingle, kCompiled, kLlvmQuick, kBaseline };

// A program and what it starts with: general registers, XMM registers (16 x 16 bytes), data.
struct Case {
  Bytes code, data;
  std::vector<uint64_t> regs;
  Bytes xmm = Bytes(256);
};

// Runs the program to its HLT. The compiled modes compile every block after its first run
// (on this thread), then the program runs again from the start in compiled code.
// A machine whose compiled tier compiles every block after one run and (but kBaseline) optimises
// it after two compiled runs, on this thread, verifying each LLVM function (the tier reads
// these at creation).
std::unique_ptr<Machine> machine(const Case& c, Mode mode) {
  static const char* const kJitSettings[][2] = {
      {"JANUS_JIT_THRESHOLD", "1"}, {"JANUS_JIT_TIERUP", "2"}, {"JANUS_JIT_SYNC", "1"}, {"JANUS_JIT_VERIFY", "1"}};
  if (mode == Mode::kCompiled || mode == Mode::kLlvmQuick || mode == Mode::kBaseline)
    for (auto& [name, value] : kJitSettings) setenv(name, value, 1);
  if (mode == Mode::kLlvmQuick) setenv("JANUS_JIT_BASELINE", "0", 1);
  if (mode == Mode::kBaseline) setenv("JANUS_JIT_TIERUP", "4000000000", 1);
  auto m = std::make_unique<Machine>(c.code, c.regs, c.xmm, c.data);
  for (auto& [name, value] : kJitSettings) unsetenv(name);
  unsetenv("JANUS_JIT_BASELINE");
  return m;
}
std::unique_ptr<Machine> machine(const Case& c, bool compiled) { return machine(c, compiled ? Mode::kCompiled : Mode::kWhole); }

Result run(const Case& c, Mode mode) {
  const Bytes& data = c.data;
  std::unique_ptr<Machine> owner = machine(c, mode);
  Machine& m = *owner;
  const CpuState start = m.vcpu->get_state();
  m.vcpu->set_single_step(mode == Mode::kSingle);
  auto to_hlt = [&] {
    for (int i = 0; i < 100000; ++i) {
      VcpuExit e = m.vcpu->run(kNever);
      if (e.reason == VcpuExit::Reason::kHalted || e.reason == VcpuExit::Reason::kShutdown) break;
      EXPECT_TRUE(e.reason == VcpuExit::Reason::kSingleStep || e.reason == VcpuExit::Reason::kKicked);
    }
  };
  uint64_t before = TcgAccelerator::stats_of(*m.vcpu)->instructions;
  to_hlt();
  if (mode != Mode::kWhole && mode != Mode::kSingle) {
    // Runs 2 and 3 use the quick code (which asks for the optimised code on its second run),
    // run 4 the optimised code (but kBaseline); each must give the same result.
    const uint64_t compiled_before = TcgAccelerator::stats_of(*m.vcpu)->compiled_runs;
    for (int again = 0; again < 3; ++again) {
      m.mem.write_phys(kData, data.data(), data.size());
      m.vcpu->set_state(start);
      before = TcgAccelerator::stats_of(*m.vcpu)->instructions;
      to_hlt();
    }
    EXPECT_GT(TcgAccelerator::stats_of(*m.vcpu)->compiled_runs, compiled_before) << "the later runs must use compiled code";
    const tcg::TcgStats& st = *TcgAccelerator::stats_of(*m.vcpu);
    if (mode == Mode::kBaseline) {
      EXPECT_EQ(st.blocks_optimised, 0u) << "baseline code only";
      EXPECT_EQ(st.blocks_baseline, st.blocks_compiled);
    } else {
      EXPECT_GT(st.blocks_optimised, 0u) << "and the optimised code";
      EXPECT_EQ(st.blocks_baseline, mode == Mode::kCompiled ? st.blocks_compiled : 0u) << "the quick code's compiler";
    }
  }
  Result r{m.vcpu->get_state(), Bytes(data.size()), TcgAccelerator::stats_of(*m.vcpu)->instructions - before};
  m.mem.read_phys(kData, r.data.data(), r.data.size());
  return r;
}

void expect_same(const Bytes& code, const Result& a, const Result& b, uint32_t seed) {
  for (unsigned r = 0; r < 16; ++r) ASSERT_EQ(a.s.gpr[r], b.s.gpr[r]) << "seed " << seed << " gpr " << r;
  for (unsigned r = 0; r < 16; ++r) ASSERT_EQ(a.s.fx.xmm[r], b.s.fx.xmm[r]) << "seed " << seed << " xmm " << r;
  ASSERT_EQ(a.s.fx.mxcsr, b.s.fx.mxcsr) << "seed " << seed;
  ASSERT_EQ(a.s.rflags & 0x8d5, b.s.rflags & 0x8d5) << "seed " << seed;
  ASSERT_EQ(a.s.rip, b.s.rip) << "seed " << seed;
  ASSERT_EQ(a.s.rip, kCode + code.size()) << "seed " << seed << ": the program must run to its HLT";
  ASSERT_EQ(a.data, b.data) << "seed " << seed;
  // Compiled code counts what it retires down from its chain budget: the sum must be exact.
  ASSERT_EQ(a.retired, b.retired) << "seed " << seed << ": instructions retired";
}

Case make_case(uint32_t seed) {
  Generator g(seed);
  std::mt19937_64 rng(seed * 7919u);
  Case c{g.program(12 + seed % 40), Bytes(256), std::vector<uint64_t>(16)};
  for (auto& r : c.regs) r = rng() >> (rng() % 64);
  for (auto& d : c.data) d = uint8_t(rng());
  for (auto& x : c.xmm) x = uint8_t(rng() % 3 == 0 ? 0 : rng());  // equal bytes now and then (PCMPEQ)
  // Small integers as doubles or floats in some low lanes: exact conversions, ordered compares.
  for (unsigned r = 0; r < 16; ++r) {
    const int v = int(rng() % 64) - 32;
    if (rng() % 2) {
      const double d = rng() % 4 ? double(v) : double(v) + 0.5;
      std::memcpy(&c.xmm[16 * r], &d, 8);
    } else if (rng() % 2) {
      const float f = float(v);
      std::memcpy(&c.xmm[16 * r], &f, 4);
    }
  }
  // And in some general registers, small signed integers (exact CVTSI2SS/SD).
  for (unsigned r = 0; r < 16; ++r)
    if (rng() % 3 == 0) c.regs[r] = uint64_t(int64_t(rng() % 2000) - 1000);
  return c;
}

// Random programs 1..seeds run in `mode` and one instruction per block must end alike.
void expect_agrees_with_single_steps(Mode mode, uint32_t seeds) {
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    Case c = make_case(seed);
    expect_same(c.code, run(c, mode), run(c, Mode::kSingle), seed);
  }
}

}  // namespace

TEST(TcgThreaded, WholeBlocksAgreeWithSingleInstructions) {
  expect_agrees_with_single_steps(Mode::kWhole, 400);
}

// The LLVM tier lowers the same IR with its own rewrites (inline conditions and rotate flags,
// inline TLB, chaining): compiled blocks must agree with single-stepped interpretation.
TEST(TcgThreaded, CompiledBlocksAgreeWithSingleInstructions) {
  expect_agrees_with_single_steps(Mode::kCompiled, 300);
}

// LLVM's own quick code (JANUS_JIT_BASELINE=0) before the optimised code.
TEST(TcgThreaded, LlvmQuickBlocksAgreeWithSingleInstructions) {
  expect_agrees_with_single_steps(Mode::kLlvmQuick, 150);
}

// The baseline compiler turns the threaded code into machine code op by op (inline TLB,
// conditions from the block's flags, chaining): its code alone must agree too.
TEST(TcgThreaded, BaselineBlocksAgreeWithSingleInstructions) {
  expect_agrees_with_single_steps(Mode::kBaseline, 600);
}

// Self-modifying code in a hot loop: after 2900 iterations the loop rewrites the immediate of
// its own first instruction. Compiled code (quick and optimised) must stop at the store's
// instruction boundary and run the new code, as the interpreter does.
TEST(TcgThreaded, CompiledLoopSeesItsOwnCodeChange) {
  const Bytes code = {
      0xb8, 0x01, 0x00, 0x00, 0x00,              // top: mov eax, 1 (the immediate is rewritten)
      0x01, 0xc3,                                // add ebx, eax
      0xff, 0xca,                                // dec edx
      0x83, 0xfa, 0x64,                          // cmp edx, 100
      0x75, 0x07,                                // jne next
      0xc6, 0x05, 0xec, 0xff, 0xff, 0xff, 0x02,  // mov byte [rel top+1], 2
      0x85, 0xd2,                                // next: test edx, edx
      0x75, 0xe7,                                // jnz top
      0xf4,                                      // hlt
  };
  std::vector<uint64_t> regs(16, 0);
  regs[RDX] = 3000;
  // One run: with every block compiled after its first run and optimised after two compiled
  // runs, the rewrite happens in optimised code. (run() would repeat the program, whose code
  // it cannot restore behind the software CPU's back.)
  const Case loop{code, Bytes(16), regs};
  Result interpreted = run(loop, Mode::kWhole);
  EXPECT_EQ(interpreted.s.gpr[RBX], 2900u * 1 + 100u * 2);
  std::unique_ptr<Machine> owner = machine(loop, true);
  Machine& m = *owner;
  for (int i = 0; i < 1000; ++i)
    if (m.vcpu->run(kNever).reason == VcpuExit::Reason::kHalted) break;
  const CpuState s = m.vcpu->get_state();
  const tcg::TcgStats& st = *TcgAccelerator::stats_of(*m.vcpu);
  EXPECT_EQ(s.gpr[RBX], 2900u * 1 + 100u * 2);
  EXPECT_EQ(s.rip, kCode + code.size());
  EXPECT_GT(st.compiled_instructions, 2000u * 5) << "the loop must have run compiled";
  EXPECT_GT(st.blocks_optimised, 0u);
  EXPECT_GE(st.blocks_invalidated, 1u);
}

// Links between compiled blocks on different pages hold only while the page is mapped where the
// target was translated from: a loop calls a function on another page, which the guest remaps
// (page table store and INVLPG) to other code part way through. The call's link (and the
// return's) must not run the old code afterwards.
TEST(TcgThreaded, CompiledLinkFollowsRemappedPage) {
  const Bytes code = {
      0xb9, 0xb8, 0x0b, 0x00, 0x00,                                      // mov ecx, 3000
      0xe8, 0xf6, 0xff, 0x0f, 0x00,                                      // loop: call 0x200000
      0x01, 0xc3,                                                        // add ebx, eax
      0x83, 0xf9, 0x64,                                                  // cmp ecx, 100
      0x75, 0x14,                                                        // jne skip
      0x48, 0xc7, 0x04, 0x25, 0x00, 0x40, 0x08, 0x00, 0x07, 0x10, 0x40, 0x00,  // mov qword [0x84000], 0x401007
      0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x20, 0x00,                    // invlpg [0x200000]
      0xff, 0xc9,                                                        // skip: dec ecx
      0x75, 0xdc,                                                        // jnz loop
      0xf4,                                                              // hlt
  };
  constexpr uint64_t kPageTable = 0x84000, kOld = 0x400000, kNew = 0x401000;
  const Bytes old_function = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3};  // mov eax, 1; ret
  const Bytes new_function = {0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3};  // mov eax, 2; ret
  uint64_t retired[2] = {};
  for (bool compiled : {false, true}) {
    std::unique_ptr<Machine> owner = machine(Case{code, Bytes(16), std::vector<uint64_t>(16, 0)}, compiled);
    Machine& m = *owner;
    // 2-4 MiB in 4 KiB pages, identity-mapped except 0x200000 -> kOld.
    m.mem.store<uint64_t>(0x82008, kPageTable | 7);
    for (uint64_t i = 0; i < 512; ++i) m.mem.store<uint64_t>(kPageTable + 8 * i, (0x200000 + (i << 12)) | 7);
    m.mem.store<uint64_t>(kPageTable, kOld | 7);
    m.mem.write_phys(kOld, old_function.data(), old_function.size());
    m.mem.write_phys(kNew, new_function.data(), new_function.size());
    for (int i = 0; i < 100000; ++i)
      if (m.vcpu->run(kNever).reason == VcpuExit::Reason::kHalted) break;
    const CpuState s = m.vcpu->get_state();
    EXPECT_EQ(s.rip, kCode + code.size());
    EXPECT_EQ(s.gpr[RBX], 2901u * 1 + 99u * 2) << (compiled ? "compiled" : "interpreted");
    if (compiled) EXPECT_GT(TcgAccelerator::stats_of(*m.vcpu)->compiled_instructions, 2000u * 5) << "the loop must have run compiled";
    retired[compiled] = TcgAccelerator::stats_of(*m.vcpu)->instructions;
  }
  // mov ecx; 3000 x (call, mov, ret, add, cmp, jne, dec, jnz); the store and INVLPG once; HLT.
  EXPECT_EQ(retired[0], 1u + 3000u * 8 + 2 + 1);
  EXPECT_EQ(retired[1], retired[0]) << "compiled code must count every instruction it retires";
}

// A RET with more targets than a block has links (a function called from three places): the
// third target comes from the jump cache, which compiled code probes itself. Every return must
// land where its call came from, and every instruction must be counted.
TEST(TcgThreaded, CompiledReturnToManyCallSites) {
  const Bytes code = {
      0xb9, 0xb8, 0x0b, 0x00, 0x00,  // mov ecx, 3000
      0xb8, 0x01, 0x00, 0x00, 0x00,  // loop: mov eax, 1
      0xe8, 0x19, 0x00, 0x00, 0x00,  // call f
      0xb8, 0x02, 0x00, 0x00, 0x00,  // mov eax, 2
      0xe8, 0x0f, 0x00, 0x00, 0x00,  // call f
      0xb8, 0x04, 0x00, 0x00, 0x00,  // mov eax, 4
      0xe8, 0x05, 0x00, 0x00, 0x00,  // call f
      0xff, 0xc9,                    // dec ecx
      0x75, 0xde,                    // jnz loop
      0xf4,                          // hlt
      0x01, 0xc3,                    // f: add ebx, eax
      0xc3,                          // ret
  };
  uint64_t retired[2] = {};
  for (bool compiled : {false, true}) {
    std::unique_ptr<Machine> owner = machine(Case{code, Bytes(16), std::vector<uint64_t>(16, 0)}, compiled);
    Machine& m = *owner;
    for (int i = 0; i < 100000; ++i)
      if (m.vcpu->run(kNever).reason == VcpuExit::Reason::kHalted) break;
    const CpuState s = m.vcpu->get_state();
    EXPECT_EQ(s.rip, kCode + 0x28);
    EXPECT_EQ(s.gpr[RBX], 3000u * 7) << (compiled ? "compiled" : "interpreted");
    if (compiled) EXPECT_GT(TcgAccelerator::stats_of(*m.vcpu)->compiled_instructions, 2000u * 14) << "the loop must have run compiled";
    retired[compiled] = TcgAccelerator::stats_of(*m.vcpu)->instructions;
  }
  EXPECT_EQ(retired[0], 1u + 3000u * 14 + 1);
  EXPECT_EQ(retired[1], retired[0]) << "compiled code must count every instruction it retires";
}

// Flags helpers whose flags nothing reads are not called: a ROL whose flags the next ROL
// overwrites unread, itself overwritten by an ADD, needs neither helper (ChaCha20 and BLAKE2s in
// the kernel's boot are made of such runs). A load in between can fault, and the exception must
// see the flags, so there the first ROL's helper stays.
TEST(TcgThreaded, UnreadRotateFlagsCallNoHelper) {
  auto helper_calls = [](const Bytes& code) {
    Machine m(code, std::vector<uint64_t>(16, 0), Bytes(256), Bytes(256));
    tcg::TcgCpu cpu(VcpuContext{m.mem, m.io, m.irq, m.cpuid, m.clock});
    const CpuState s = m.vcpu->get_state();
    cpu.s = s;
    cpu.set_rflags(s.rflags);
    cpu.paging_changed(false);
    const tcg::BlockMode mode = tcg::block_mode_of(cpu.s);
    tcg::Translator translator(cpu);
    auto block = translator.translate(tcg::BlockKey{kCode, kCode, 0, mode.key()}, kCode, mode, tcg::kMaxBlockInstructions);
    tcg::Interpreter().execute(cpu, *block);  // builds the threaded code
    return std::count(block->code.kinds.begin(), block->code.kinds.end(), tcg::ThreadedKind::Call);
  };
  EXPECT_EQ(helper_calls({0xc1, 0xc0, 0x0c,  // rol eax, 12
                          0xc1, 0xc3, 0x07,  // rol ebx, 7
                          0x01, 0xd1,        // add ecx, edx
                          0xeb, 0x00}),      // jmp $+2
            0);
  EXPECT_EQ(helper_calls({0xc1, 0xc0, 0x0c,  // rol eax, 12
                          0x8b, 0x0f,        // mov ecx, [rdi]
                          0xc1, 0xc3, 0x07,  // rol ebx, 7
                          0x01, 0xd1,        // add ecx, edx
                          0xeb, 0x00}),      // jmp $+2
            1);
}
