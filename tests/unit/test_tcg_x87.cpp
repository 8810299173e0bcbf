// x87 on the software CPU against the host CPU running the very same instruction bytes: both
// load one FPU state with FXRSTOR64, run the instruction (memory operand at [rsi], EFLAGS and
// RAX live), and store the result with FXSAVE64; the images (registers, TOP, tags, FSW, FCW,
// FOP), the memory operand, RAX and EFLAGS must be equal over specials (signed zeros,
// denormals, pseudo-denormals, unnormals, infinities, QNaN/SNaN), rounding and precision
// control, unmasked exceptions, stack underflow and overflow. Then what the host cannot show in
// user mode: #NM from CR0, #MF at the next waiting instruction, FXSAVE alignment and MXCSR
// checks, and the FNSAVE/FRSTOR/FNSTENV images.
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>

#include <array>
#include <cstring>

#include "tcg/x87_forms.h"
#include "tcg/x87_state.h"
#include "tests/unit/tcg_harness.h"

using namespace janus;
using namespace janus::test;
namespace x87 = janus::tcg::x87;

namespace {

constexpr uint64_t kCode = 0x100000, kImage = 0x200000, kOperand = 0x201000;
constexpr unsigned kRaxSlot = 488, kFlagsSlot = 496;  // in the image's software-available bytes

struct alignas(64) Image {
  uint8_t b[512];
};

struct F80 {
  uint64_t mant;
  uint16_t exp;
};

const F80 kValues[] = {
    {0, 0},                                  // +0
    {0, 0x8000},                             // -0
    {1ull << 63, 0x3fff},                    // 1
    {0xc000000000000000ull, 0xbfff},         // -1.5
    {0xc90fdaa22168c235ull, 0x4000},         // pi
    {0xcccccccccccccccdull, 0x3ffb},         // 0.1
    {1ull << 63, 0x3ffe},                    // 0.5
    {0xa000000000000000ull, 0xbffd},         // -0.3125
    {1ull << 63, 0x4045},                    // 2^70
    {0xffffffffffffffffull, 0x7ffe},         // largest finite
    {1ull << 63, 0x0001},                    // smallest normal
    {0x0000000000000123ull, 0x0000},         // denormal
    {1ull << 63, 0x0000},                    // pseudo-denormal
    {0x4000000000000000ull, 0x4000},         // unnormal
    {1ull << 63, 0x7fff},                    // +inf
    {1ull << 63, 0xffff},                    // -inf
    {0xc000000000000001ull, 0x7fff},         // QNaN
    {0xa000000000000000ull, 0x7fff},         // SNaN
    {0xc000000000000000ull, 0xffff},         // indefinite
    {0xb8aa3b295c17f0bcull, 0x3fff},         // log2(e)
};
const F80 kSecond[] = {{1ull << 63, 0x3fff}, {0xc000000000000000ull, 0xc000}, {0, 0x8000},
                       {1ull << 63, 0x7fff}, {0xc000000000000001ull, 0x7fff}, {0x0000000000000123ull, 0},
                       {0xd000000000000000ull, 0x4002}};

// (FCW, stack depth): rounding and precision control, all exceptions unmasked, underflow
// (depth 0/1: ST0/ST1 empty) and overflow (depth 8: full).
struct Scenario {
  uint16_t fcw;
  unsigned depth;
};
const Scenario kScenarios[] = {{0x037f, 2}, {0x0f7f, 2}, {0x077f, 2}, {0x0b7f, 2}, {0x007f, 2},
                               {0x027f, 2}, {0x0360, 2}, {0x037f, 1}, {0x0360, 1}, {0x037f, 8},
                               {0x0360, 8}, {0x037f, 0}};

void put_f80(uint8_t* p, F80 v) {
  std::memcpy(p, &v.mant, 8);
  std::memcpy(p + 8, &v.exp, 2);
}

uint32_t host_mxcsr() {
  uint32_t v;
  asm volatile("stmxcsr %0" : "=m"(v));
  return v;
}

// FXSAVE64 image with `depth` valid registers at the top of the stack.
Image make_image(const Scenario& sc, F80 st0, F80 st1, uint64_t flags) {
  Image img{};
  unsigned top = (8 - sc.depth) & 7;
  uint16_t fsw = uint16_t(top << 11);
  uint8_t ftw = 0;
  for (unsigned i = 0; i < sc.depth; ++i) ftw |= uint8_t(1u << ((top + i) & 7));
  std::memcpy(img.b, &sc.fcw, 2);
  std::memcpy(img.b + 2, &fsw, 2);
  img.b[4] = ftw;
  uint32_t csr = host_mxcsr();
  std::memcpy(img.b + 24, &csr, 4);
  put_f80(img.b + 32, st0);
  put_f80(img.b + 48, st1);
  for (unsigned i = 2; i < 8; ++i) put_f80(img.b + 32 + 16 * i, F80{(0xa0ull + i) << 56, uint16_t(0x4000 + i)});
  uint64_t rax = 0x1111222233334444ull;
  std::memcpy(img.b + kRaxSlot, &rax, 8);
  std::memcpy(img.b + kFlagsSlot, &flags, 8);
  return img;
}

// fxrstor64 [rdi]; push [rdi+496]; popfq; mov rax,[rdi+488]; <insn>; pushfq; pop [rdi+496];
// mov [rdi+488],rax; fxsave64 [rdi]; fninit; ret|hlt
Bytes runner(const Bytes& insn, uint8_t last) {
  Bytes b = {0x48, 0x0f, 0xae, 0x0f, 0xff, 0xb7, 0xf0, 0x01, 0x00, 0x00, 0x9d, 0x48, 0x8b, 0x87, 0xe8, 0x01, 0x00, 0x00};
  b.insert(b.end(), insn.begin(), insn.end());
  Bytes tail = {0x9c, 0x8f, 0x87, 0xf0, 0x01, 0x00, 0x00, 0x48, 0x89, 0x87, 0xe8, 0x01, 0x00, 0x00,
                0x48, 0x0f, 0xae, 0x07, 0xdb, 0xe3, last};
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}
constexpr unsigned kInsnOffset = 18;

enum class Operand { kNone, kM16i, kM32i, kM64i, kM32f, kM64f, kM80f, kBcd, kCw, kStore };

std::vector<std::array<uint8_t, 16>> operands(Operand kind) {
  std::vector<std::array<uint8_t, 16>> out;
  auto add = [&](const void* p, size_t n) {
    std::array<uint8_t, 16> a{};
    std::memcpy(a.data(), p, n);
    out.push_back(a);
  };
  switch (kind) {
    case Operand::kNone: case Operand::kStore: {
      std::array<uint8_t, 16> a;
      a.fill(0xcc);
      out.push_back(a);
      break;
    }
    case Operand::kM16i: for (uint16_t v : {0, 1, 0xffff, 0x7fff, 0x8000, 1234}) add(&v, 2); break;
    case Operand::kM32i: for (uint32_t v : {0u, 7u, 0xffffffffu, 0x7fffffffu, 0x80000000u}) add(&v, 4); break;
    case Operand::kM64i: for (uint64_t v : {0ull, 3ull, ~0ull, 0x8000000000000000ull, 0x123456789abcdefull}) add(&v, 8); break;
    case Operand::kM32f:
      for (uint32_t v : {0x00000000u, 0x80000000u, 0x3f800000u, 0x00000001u, 0x7f800000u, 0x7fc00000u, 0x7f800001u, 0x7f7fffffu, 0x3eaaaaabu})
        add(&v, 4);
      break;
    case Operand::kM64f:
      for (uint64_t v : {0ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 1ull, 0x7ff0000000000000ull, 0x7ff8000000000000ull,
                         0x7ff0000000000001ull, 0x7fefffffffffffffull, 0x3fd5555555555555ull})
        add(&v, 8);
      break;
    case Operand::kM80f:
      for (const F80& v : kValues) {
        uint8_t t[10];
        put_f80(t, v);
        add(t, 10);
      }
      break;
    case Operand::kBcd: {
      uint8_t a[10] = {0x21, 0x43, 0x65, 0x87, 0x09, 0, 0, 0, 0, 0x80}, z[10] = {}, bad[10] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
      add(a, 10), add(z, 10), add(bad, 10);
      break;
    }
    case Operand::kCw: for (uint16_t v : {0x037f, 0x0000, 0xffff, 0x0c7f}) add(&v, 2); break;
  }
  return out;
}

struct Case {
  Bytes insn;
  Operand operand;
};

Operand memory_operand(uint8_t opcode, unsigned reg) {
  x87::Form f = x87::form_of(opcode, uint8_t((reg << 3) | 6));
  if (f.mem_store || f.kind != x87::FormKind::kHost) return Operand::kStore;
  switch (opcode) {
    case 0xd8: return Operand::kM32f;
    case 0xda: return Operand::kM32i;
    case 0xdc: return Operand::kM64f;
    case 0xde: return Operand::kM16i;
    case 0xd9: return reg == 5 ? Operand::kCw : Operand::kM32f;
    case 0xdb: return reg == 5 ? Operand::kM80f : Operand::kM32i;
    case 0xdd: return Operand::kM64f;
    default: return reg == 4 ? Operand::kBcd : reg == 5 ? Operand::kM64i : Operand::kM16i;
  }
}

std::vector<Case> host_cases(bool with_sse3) {
  std::vector<Case> cases;
  for (uint8_t op = 0xd8; op != 0xe0; ++op) {
    for (unsigned reg = 0; reg < 8; ++reg) {  // memory forms at [rsi]
      x87::Form f = x87::form_of(op, uint8_t((reg << 3) | 6));
      bool word_store = f.kind == x87::FormKind::kFnstcw || f.kind == x87::FormKind::kFnstswMem;
      if ((f.kind != x87::FormKind::kHost && !word_store) || (f.needs_sse3 && !with_sse3)) continue;
      cases.push_back({{op, uint8_t((reg << 3) | 6)}, memory_operand(op, reg)});
    }
    for (unsigned m = 0xc0; m < 0x100; ++m) {  // register forms with ST(1) (and every unary one)
      x87::Form f = x87::form_of(op, uint8_t(m));
      if (f.kind == x87::FormKind::kInvalid) continue;
      if ((m & 7) != 1 && !(op == 0xd9 && m >= 0xd0) && !(op == 0xdb && m >= 0xe0 && m < 0xe8) && !(op == 0xdf && m == 0xe0)) continue;
      cases.push_back({{op, uint8_t(m)}, Operand::kNone});
    }
  }
  return cases;
}

}  // namespace

// Every x87 register form the table calls valid runs on this host, every other one raises #UD
// (SIGILL): the table is what keeps the host-execution helper from running an invalid opcode.
sigjmp_buf g_ill_jump;
void on_sigill(int) { siglongjmp(g_ill_jump, 1); }

TEST(TcgX87, OpcodeTableMatchesHost) {
  HostCode host;
  ASSERT_TRUE(host.ok());
  struct sigaction sa{}, old{};
  sa.sa_handler = on_sigill;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGILL, &sa, &old);
  alignas(64) static uint8_t buf[1024];
  int checked = 0;
  for (unsigned op = 0xd8; op < 0xe0; ++op)
    for (unsigned m = 0; m < 0x100; ++m) {
      if ((m >> 6) != 3 && ((m >> 6) != 0 || (m & 7) != 7)) continue;  // memory forms: [rdi]
      std::memset(buf, 0, sizeof buf);
      // fninit; <op m>; fninit; ret
      Bytes code = {0xdb, 0xe3, uint8_t(op), uint8_t(m), 0xdb, 0xe3, 0xc3};
      volatile bool faulted = false;
      if (sigsetjmp(g_ill_jump, 1) == 0) host.run(code, buf);
      else faulted = true;
      asm volatile("fninit");
      bool valid = x87::form_of(uint8_t(op), uint8_t(m)).kind != x87::FormKind::kInvalid;
      EXPECT_EQ(valid, !faulted) << std::hex << op << " " << m;
      ++checked;
    }
  sigaction(SIGILL, &old, nullptr);
  EXPECT_EQ(checked, 8 * (8 + 64));
}

TEST(TcgX87, InstructionsMatchHost) {
  TcgMachine m;
  HostCode host;
  ASSERT_TRUE(host.ok());
  bool sse3 = m.cpuid.leaf1_ecx(cpuid_bits::SSE3);
  std::vector<Case> cases = host_cases(sse3);
  ASSERT_GT(cases.size(), 100u);
  for (size_t i = 0; i < cases.size(); ++i) m.put(kCode + i * 0x80, runner(cases[i].insn, 0xf4));
  int compared = 0;
  alignas(16) static uint8_t host_operand[16];
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    Bytes native = runner(c.insn, 0xc3);
    bool reg_form = c.operand == Operand::kNone;
    for (const Scenario& sc : kScenarios)
      for (const F80& a : kValues)
        for (const F80& b2 : kSecond) {
          if (!reg_form && &b2 != &kSecond[0]) continue;  // memory forms: ST1 fixed
          for (const auto& opnd : operands(c.operand))
            for (uint64_t flags : {0x2ull, 0x8d7ull}) {
              if (!(c.insn[0] == 0xda || c.insn[0] == 0xdb) && flags != 0x2) continue;  // FCMOV, FCOMI
              Image himg = make_image(sc, a, b2, flags), gimg = himg;
              std::memcpy(host_operand, opnd.data(), 16);
              host.run(native, himg.b, host_operand);

              CpuState s = m.base;
              s.rip = kCode + i * 0x80;
              s.gpr[RDI] = kImage;
              s.gpr[RSI] = kOperand;
              m.put_bytes(kImage, gimg.b, 512);
              m.put_bytes(kOperand, opnd.data(), 16);
              CpuState out;
              int vec = m.run(s, out);
              SCOPED_TRACE(testing::Message() << std::hex << "insn " << int(c.insn[0]) << " " << int(c.insn[1]) << " fcw "
                                              << sc.fcw << " depth " << sc.depth << " st0 " << a.exp << ":" << a.mant
                                              << " st1 " << b2.exp << ":" << b2.mant << " operand " << *(uint64_t*)opnd.data());
              ASSERT_EQ(vec, kNoFault);
              m.get_bytes(kImage, gimg.b, 512);
              uint8_t guest_operand[16];
              m.get_bytes(kOperand, guest_operand, 16);
              // FIP is the host's code address there; compare it relative to the code.
              uint64_t hfip, gfip, hfdp, gfdp;
              std::memcpy(&hfip, himg.b + 8, 8), std::memcpy(&gfip, gimg.b + 8, 8);
              std::memcpy(&hfdp, himg.b + 16, 8), std::memcpy(&gfdp, gimg.b + 16, 8);
              EXPECT_EQ(hfip != 0, gfip != 0);
              if (gfip) EXPECT_EQ(gfip, s.rip + kInsnOffset);
              EXPECT_EQ(hfdp == 0, gfdp == 0);
              if (hfdp) {
                EXPECT_EQ(hfdp, uint64_t(reinterpret_cast<uintptr_t>(host_operand)));
                EXPECT_EQ(gfdp, kOperand);
              }
              EXPECT_EQ(0, std::memcmp(himg.b, gimg.b, 8)) << "FCW/FSW/FTW/FOP";
              EXPECT_EQ(0, std::memcmp(himg.b + 24, gimg.b + 24, 160 - 24)) << "MXCSR/registers";
              EXPECT_EQ(0, std::memcmp(himg.b + kRaxSlot, gimg.b + kRaxSlot, 8)) << "RAX";
              uint64_t hf, gf;
              std::memcpy(&hf, himg.b + kFlagsSlot, 8), std::memcpy(&gf, gimg.b + kFlagsSlot, 8);
              EXPECT_EQ(hf & 0x8d5, gf & 0x8d5) << "EFLAGS";
              EXPECT_EQ(0, std::memcmp(host_operand, guest_operand, 16)) << "memory operand";
              if (::testing::Test::HasFailure()) {
                uint16_t hs, gs;
                std::memcpy(&hs, himg.b + 2, 2), std::memcpy(&gs, gimg.b + 2, 2);
                ADD_FAILURE() << std::hex << "host fsw " << hs << " guest fsw " << gs;
                return;
              }
              ++compared;
            }
        }
  }
  EXPECT_GT(compared, 50000);
}

// --- What the host cannot show in user mode ---------------------------------------------------

namespace {

// Runs `code` (ending in HLT) in long mode with the given CR0; RBX holds the code's address.
int run_code(TcgMachine& m, const Bytes& code, uint64_t cr0_set, uint64_t cr0_clear, CpuState& out) {
  CpuState s = m.base;
  s.cr0 = (s.cr0 | cr0_set) & ~cr0_clear;
  s.rip = s.gpr[RBX] = m.place(code);
  s.gpr[RDI] = kImage;
  s.gpr[RSI] = kOperand;
  return m.run(s, out);
}

}  // namespace

TEST(TcgX87, DeviceNotAvailableFromCr0) {
  TcgMachine m;
  CpuState out;
  const Bytes fld1 = {0xd9, 0xe8, 0xf4};
  EXPECT_EQ(run_code(m, fld1, cr0::TS, 0, out), kNM);
  EXPECT_EQ(out.fx.ftw, 0);  // nothing executed
  EXPECT_EQ(run_code(m, fld1, cr0::EM, 0, out), kNM);
  EXPECT_EQ(run_code(m, {0xdb, 0xe3, 0xf4}, cr0::TS, 0, out), kNM);  // even FNINIT
  EXPECT_EQ(run_code(m, fld1, 0, 0, out), kNoFault);
  EXPECT_EQ(out.fx.ftw, 0x80);
  // FWAIT: #NM only with both MP and TS.
  EXPECT_EQ(run_code(m, {0x9b, 0xf4}, cr0::TS, cr0::MP, out), kNoFault);
  EXPECT_EQ(run_code(m, {0x9b, 0xf4}, cr0::TS | cr0::MP, 0, out), kNM);
  EXPECT_EQ(run_code(m, {0x9b, 0xf4}, cr0::EM, cr0::MP, out), kNoFault);
  // FXSAVE: #NM with TS, #UD with EM (SDM FXSAVE exceptions).
  const Bytes fxsave = {0x48, 0x0f, 0xae, 0x07, 0xf4};
  EXPECT_EQ(run_code(m, fxsave, cr0::TS, 0, out), kNM);
  EXPECT_EQ(run_code(m, fxsave, cr0::EM, 0, out), kUD);
  EXPECT_EQ(run_code(m, fxsave, 0, 0, out), kNoFault);
}

TEST(TcgX87, UnmaskedExceptionRaisesMfAtNextWaitingInstruction) {
  TcgMachine m;
  CpuState out;
  m.put_value<uint16_t>(kOperand, 0x037b);  // ZE unmasked
  // fldcw [rsi]; fld1; fldz; fdivp (1/0: ZE, pending); fnstsw ax (no wait); fld1 (#MF here)
  Bytes code = {0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xdf, 0xe0, 0xd9, 0xe8, 0xf4};
  ASSERT_EQ(run_code(m, code, 0, 0, out), kMF);
  EXPECT_EQ(m.get<uint64_t>(0x90000 - 40), out.gpr[RBX] + 10);  // the faulting RIP: fld1, restartable
  EXPECT_EQ(out.gpr[RAX] & 0xffff, 0xb084u);  // B|ES, ZE; TOP 6: no pop (unmasked exception)
  EXPECT_EQ(out.fx.fsw, 0xb084);
  EXPECT_EQ(out.fx.fop, 0x6f9);  // recorded because the exception was unmasked
  EXPECT_EQ(out.fx.fip, out.gpr[RBX] + 6);
  // FWAIT reports it too; FNCLEX clears it and FNINIT does not wait.
  code = {0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b, 0xf4};
  EXPECT_EQ(run_code(m, code, 0, 0, out), kMF);
  code = {0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xdb, 0xe2, 0xd9, 0xe8, 0x9b, 0xf4};
  EXPECT_EQ(run_code(m, code, 0, 0, out), kNoFault);
  code = {0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xdb, 0xe3, 0xf4};
  EXPECT_EQ(run_code(m, code, 0, 0, out), kNoFault);
  EXPECT_EQ(out.fx.fsw, 0);
  // CR0.NE=0: no #MF (documented: IGNNE# behaviour, no IRQ13); the instruction runs.
  code = {0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xd9, 0xe8, 0xf4};
  EXPECT_EQ(run_code(m, code, 0, cr0::NE, out), kNoFault);
  EXPECT_EQ(out.fx.fsw & 0xb8ff, 0xa884);  // still pending, TOP 5
  EXPECT_EQ(out.fx.ftw, 0xe0);
}

TEST(TcgX87, StackOverflowGivesIndefiniteAndC1) {
  TcgMachine m;
  CpuState out;
  Bytes code;
  for (int i = 0; i < 9; ++i) code.insert(code.end(), {0xd9, 0xe8});  // 9 x fld1
  code.push_back(0xf4);
  ASSERT_EQ(run_code(m, code, 0, 0, out), kNoFault);
  EXPECT_EQ(out.fx.fsw, 0x3a41);  // TOP 7, C1 (overflow), SF, IE
  EXPECT_EQ(out.fx.ftw, 0xff);
  const uint8_t indefinite[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};
  EXPECT_EQ(0, std::memcmp(out.fx.st[0].data(), indefinite, 10));
}

TEST(TcgX87, FxsaveAlignmentAndMxcsrChecks) {
  TcgMachine m;
  CpuState out;
  // fxsave64 [rdi+8]: misaligned -> #GP(0)
  EXPECT_EQ(run_code(m, {0x48, 0x0f, 0xae, 0x47, 0x08, 0xf4}, 0, 0, out), kGP);
  // fxrstor64 [rdi] with MXCSR bit 16 set -> #GP(0); with a valid MXCSR it loads.
  Image img{};
  uint32_t bad = 0x11f80, good = 0x1f80 | 0x40;  // DAZ is accepted (MXCSR_MASK 0xffff)
  std::memcpy(img.b + 24, &bad, 4);
  m.put_bytes(kImage, img.b, 512);
  EXPECT_EQ(run_code(m, {0x48, 0x0f, 0xae, 0x0f, 0xf4}, 0, 0, out), kGP);
  std::memcpy(img.b + 24, &good, 4);
  img.b[0] = 0x7f, img.b[1] = 0x03;
  m.put_bytes(kImage, img.b, 512);
  EXPECT_EQ(run_code(m, {0x48, 0x0f, 0xae, 0x0f, 0xf4}, 0, 0, out), kNoFault);
  EXPECT_EQ(out.fx.mxcsr, good);
  // FISTTP is SSE3: #UD unless CPUID says SSE3.
  if (!m.cpuid.leaf1_ecx(cpuid_bits::SSE3)) EXPECT_EQ(run_code(m, {0xd9, 0xe8, 0xdb, 0x0e, 0xf4}, 0, 0, out), kUD);
  // FXSAVE writes bytes 0..415 only (416..511 are software's).
  std::vector<uint8_t> fill(512, 0xaa);
  m.put_bytes(kImage, fill.data(), 512);
  ASSERT_EQ(run_code(m, {0xd9, 0xe8, 0x48, 0x0f, 0xae, 0x07, 0xf4}, 0, 0, out), kNoFault);
  m.get_bytes(kImage, fill.data(), 512);
  EXPECT_EQ(fill[415], 0);
  EXPECT_EQ(fill[416], 0xaa);
  EXPECT_EQ(fill[511], 0xaa);
}

// FNSTENV/FNSAVE (32- and 16-bit protected-mode formats) against the host's bytes (the pointer
// fields, which hold host addresses there, excepted), and FRSTOR/FLDENV back.
TEST(TcgX87, FnsaveAndFnstenvImagesMatchHostAndRestore) {
  TcgMachine m;
  HostCode host;
  ASSERT_TRUE(host.ok());
  struct Variant {
    Bytes store;
    unsigned size;
    std::vector<unsigned> pointer_bytes;  // FIP and FDP fields
  };
  const Variant variants[] = {
      {{0xdd, 0x36}, 108, {12, 13, 14, 15, 20, 21, 22, 23}},  // fnsave [rsi]
      {{0xd9, 0x36}, 28, {12, 13, 14, 15, 20, 21, 22, 23}},   // fnstenv [rsi]
      {{0x66, 0xdd, 0x36}, 94, {6, 7, 10, 11}},               // o16 fnsave [rsi]
      {{0x66, 0xd9, 0x36}, 14, {6, 7, 10, 11}},               // o16 fnstenv [rsi]
  };
  // A state with TOP 5, a zero, a denormal, an empty slot, C-bits and an unmasked pending flag.
  Scenario sc{0x0362, 3};
  for (const Variant& v : variants) {
    Image himg = make_image(sc, kValues[11], kValues[0], 2), gimg = himg;
    uint16_t fsw;
    std::memcpy(&fsw, himg.b + 2, 2);
    fsw |= 0x4500 | 0x0004;  // C3 C2 C0, ZE (unmasked by FCW 0x0362 -> pending, no-wait store)
    std::memcpy(himg.b + 2, &fsw, 2), std::memcpy(gimg.b + 2, &fsw, 2);
    alignas(16) static uint8_t host_area[128];
    std::memset(host_area, 0xcc, sizeof host_area);
    host.run(runner(v.store, 0xc3), himg.b, host_area);

    uint64_t at = m.place(runner(v.store, 0xf4));
    std::vector<uint8_t> area(128, 0xcc);
    m.put_bytes(kOperand, area.data(), area.size());
    m.put_bytes(kImage, gimg.b, 512);
    CpuState s = m.base, out;
    s.rip = at, s.gpr[RDI] = kImage, s.gpr[RSI] = kOperand;
    ASSERT_EQ(m.run(s, out), kNoFault);
    m.get_bytes(kOperand, area.data(), area.size());
    for (unsigned b : v.pointer_bytes) area[b] = host_area[b];
    SCOPED_TRACE(testing::Message() << "variant size " << v.size);
    EXPECT_EQ(0, std::memcmp(area.data(), host_area, 128));
    for (unsigned i = 0; i < 128; ++i)
      if (area[i] != host_area[i]) ADD_FAILURE() << std::hex << "byte " << i << " guest " << int(area[i]) << " host " << int(host_area[i]);
    // The state after (FNSAVE re-initialises, FNSTENV masks exceptions).
    m.get_bytes(kImage, gimg.b, 512);
    EXPECT_EQ(0, std::memcmp(himg.b, gimg.b, 6));
    EXPECT_EQ(0, std::memcmp(himg.b + 32, gimg.b + 32, 128));

    // Restore (FRSTOR / FLDENV with the same operand size) and compare with the original.
    if (v.size == 108 || v.size == 94) {
      Bytes restore = v.store;
      restore.back() = 0x26;  // /4: frstor [rsi]
      Bytes code = restore;
      code.insert(code.end(), {0x48, 0x0f, 0xae, 0x07, 0xf4});  // fxsave64 [rdi]
      s.rip = m.place(code);
      ASSERT_EQ(m.run(s, out), kNoFault);
      m.get_bytes(kImage, gimg.b, 512);
      Image orig = make_image(sc, kValues[11], kValues[0], 2);
      uint16_t derived = fsw | 0x8080;  // ES and B follow from the pending unmasked ZE
      std::memcpy(orig.b + 2, &derived, 2);
      EXPECT_EQ(0, std::memcmp(orig.b, gimg.b, 6));
      EXPECT_EQ(0, std::memcmp(orig.b + 32, gimg.b + 32, 128));
    }
  }
}

TEST(TcgX87, RealModeEnvironmentRoundTrip) {
  FxState fx{};
  fx.fcw = 0x027f;
  fx.fsw = 0x3000 | 0x0100;
  fx.ftw = 0xa0;
  fx.fip = 0x12345;
  fx.fdp = 0xabcde;
  fx.fop = 0x5e1;
  for (bool op32 : {false, true}) {
    x87::EnvFormat f{op32, true};
    std::array<uint8_t, 28> img{};
    x87::store_env(fx, f, img);
    if (!op32) {  // 16-bit real mode: IP 15..0, IP 19..16 | FOP, DP 15..0, DP 19..16
      EXPECT_EQ(img[6] | (img[7] << 8), 0x2345);
      EXPECT_EQ(img[8] | (img[9] << 8), 0x15e1);
      EXPECT_EQ(img[12] | (img[13] << 8), 0xa000);
    }
    FxState back{};
    back.st = fx.st;
    x87::load_env(back, f, img);
    EXPECT_EQ(back.fcw, fx.fcw);
    EXPECT_EQ(back.fsw, fx.fsw);
    EXPECT_EQ(back.ftw, fx.ftw);
    EXPECT_EQ(back.fip, fx.fip);
    EXPECT_EQ(back.fdp, fx.fdp);
    EXPECT_EQ(back.fop, fx.fop);
  }
}
