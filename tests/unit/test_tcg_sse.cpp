// SSE/SSE2 on the software CPU against the host CPU running the very same instruction bytes:
// XMM0/XMM1, MXCSR, RAX, EFLAGS and a memory operand are compared over specials (NaN, Inf,
// denormals, signed zeros, integer limits), random bits, every rounding mode, DAZ/FTZ, and
// unmasked exceptions (the host's SIGFPE is the oracle for #XM: its MXCSR at the fault must
// match the guest's, with the destination unchanged). Then the rules the host cannot show in
// user mode: #UD/#NM from CR0/CR4, #GP for misaligned operands and reserved MXCSR bits,
// #UD instead of #XM without CR4.OSXMMEXCPT, precise page-crossing stores.
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "tcg/helpers_sse.h"
#include "tcg/tcg_accelerator.h"
#include "tcg_harness.h"

using namespace janus;
using Bytes = std::vector<uint8_t>;

namespace {

// --- The software CPU's test machine (tests/unit/tcg_harness.h), code at a fixed address ------

using test::kHandlers;
using test::kNoFault;
constexpr uint64_t kCode = 0x100000, kData = 0x2000;
using Machine = test::TcgMachine;

// --- The same bytes on the host -----------------------------------------------------------------

struct alignas(16) Ctx {
  uint8_t x0[16], x1[16];
  uint64_t rax, rcx, flags, rdx;
  uint32_t csr, host_csr;
  uint8_t pad[8];
  uint8_t mem[32];
};
static_assert(offsetof(Ctx, rdx) == 56 && offsetof(Ctx, csr) == 64 && offsetof(Ctx, mem) == 80);

Bytes host_runner(const Bytes& insn) {
  Bytes b = {0x0f, 0xae, 0x5f, 0x44,        // stmxcsr [rdi+68]
             0x0f, 0xae, 0x57, 0x40,        // ldmxcsr [rdi+64]
             0xf3, 0x0f, 0x6f, 0x07,        // movdqu xmm0, [rdi]
             0xf3, 0x0f, 0x6f, 0x4f, 0x10,  // movdqu xmm1, [rdi+16]
             0x48, 0x8b, 0x47, 0x20,        // mov rax, [rdi+32]
             0x48, 0x8b, 0x4f, 0x28,        // mov rcx, [rdi+40]
             0x48, 0x8b, 0x57, 0x38,        // mov rdx, [rdi+56]
             0xff, 0x77, 0x30, 0x9d};       // push qword [rdi+48]; popfq
  b.insert(b.end(), insn.begin(), insn.end());
  Bytes tail = {0x9c, 0x8f, 0x47, 0x30,        // pushfq; pop qword [rdi+48]
                0xf3, 0x0f, 0x7f, 0x07,        // movdqu [rdi], xmm0
                0xf3, 0x0f, 0x7f, 0x4f, 0x10,  // movdqu [rdi+16], xmm1
                0x48, 0x89, 0x47, 0x20,        // mov [rdi+32], rax
                0x48, 0x89, 0x4f, 0x28,        // mov [rdi+40], rcx
                0x0f, 0xae, 0x5f, 0x40,        // stmxcsr [rdi+64]
                0x0f, 0xae, 0x57, 0x44,        // ldmxcsr [rdi+68]
                0xc3};
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

sigjmp_buf g_fpe_jump;
uint32_t g_fpe_mxcsr;
void on_sigfpe(int, siginfo_t*, void* uc) {
  g_fpe_mxcsr = static_cast<ucontext_t*>(uc)->uc_mcontext.fpregs->mxcsr;
  siglongjmp(g_fpe_jump, 1);
}

class HostCode {
 public:
  HostCode() {
    mem_ = static_cast<uint8_t*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    struct sigaction sa = {};
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, &old_);
  }
  ~HostCode() {
    sigaction(SIGFPE, &old_, nullptr);
    munmap(mem_, 4096);
  }
  bool ok() const { return mem_ != MAP_FAILED; }
  void load(const Bytes& code) { std::memcpy(mem_, code.data(), code.size()); }
  // Runs the loaded code on c; returns 19 (#XM) if the instruction raised SIGFPE.
  int run(Ctx& c) {
    if (sigsetjmp(g_fpe_jump, 1)) {
      asm volatile("ldmxcsr %0" : : "m"(c.host_csr));
      c.csr = g_fpe_mxcsr;
      return kXM;
    }
    reinterpret_cast<void (*)(Ctx*)>(mem_)(&c);
    return kNoFault;
  }

 private:
  uint8_t* mem_;
  struct sigaction old_;
};

// --- Inputs ---------------------------------------------------------------------------------------

struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

const uint32_t kFloatSpecials[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x40400000, 0x3eaaaaab, 0x7f7fffff, 0xff7fffff,
    0x00800000, 0x00000001, 0x807fffff, 0x00400000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
    0x7f800001, 0x7fa00000, 0x4f000000, 0xcf000000, 0x5f000000, 0x4effffff, 0x3f000000, 0x3fc00000,
    0x40200000, 0xc0200000, 0x00c00000, 0x7f000000, 0x1e3ce508, 0x0d000000, 0x4b800001, 0x3c23d70a};
const uint64_t kDoubleSpecials[] = {
    0, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff8000000000000ull, 0x4008000000000000ull,
    0x3fd5555555555555ull, 0x7fefffffffffffffull, 0xffefffffffffffffull, 0x0010000000000000ull,
    0x0000000000000001ull, 0x800fffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
    0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff0000000000001ull, 0x7ff4000000000000ull,
    0x41e0000000000000ull, 0xc1e0000000000000ull, 0x43e0000000000000ull, 0x3fe0000000000000ull,
    0x3ff8000000000000ull, 0x4004000000000000ull, 0x36a0000000000000ull, 0x47efffffe0000000ull,
    0x3810000000000000ull, 0x380fffffffffffffull, 0x0018000000000000ull, 0x41dfffffffc00000ull,
    0xc3e0000000000001ull, 0x3ff0000000000001ull, 0x47f0000000000000ull};
const uint64_t kIntSpecials[] = {0, 1, 0xffffffffffffffffull, 0x7fffffff, 0x80000000, 0xffffffff, 0x8000000000000000ull,
                                 0x7fffffffffffffffull, 0x123456789abcdef0ull, 16777217, 0xffffffff80000000ull, 42};

void fill(Rng& r, uint8_t* x) {
  switch (r.next() % 4) {
    case 0:
      for (int i = 0; i < 4; ++i) std::memcpy(x + 4 * i, &kFloatSpecials[r.next() % std::size(kFloatSpecials)], 4);
      break;
    case 1:
      for (int i = 0; i < 2; ++i) std::memcpy(x + 8 * i, &kDoubleSpecials[r.next() % std::size(kDoubleSpecials)], 8);
      break;
    case 2: {  // small shift counts, and words/bytes near the saturation limits
      uint64_t lo = r.next() % 70, hi = r.next() & 0x8080807f7f7fff00ull;
      std::memcpy(x, &lo, 8);
      std::memcpy(x + 8, &hi, 8);
      break;
    }
    default:
      for (int i = 0; i < 2; ++i) {
        uint64_t v = r.next();
        std::memcpy(x + 8 * i, &v, 8);
      }
  }
}

// MXCSR: defaults, the rounding modes, DAZ+FTZ, sticky flags already set, then unmasked
// exceptions one at a time, all of them, and FTZ with underflow unmasked.
const uint32_t kMxcsrs[] = {0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0x1fbf, 0xdfc0, 0x1f00,
                            0x1e80, 0x1d80, 0x1b80, 0x1780, 0x0f80, 0x0000, 0x8780, 0x6000};

// --- Cases ----------------------------------------------------------------------------------------

struct SseCase {
  Bytes insn;            // uses xmm0/xmm1, eax, or [rdx]
  bool mem = false;      // has a memory operand at [rdx]
  bool aligned = false;  // ... that must be 16-byte aligned
};

// prefix 0F op /r with reg = xmm0 and rm = xmm1 or [rdx] (plus imm8 when imm >= 0).
void add_both(std::vector<SseCase>& v, Bytes prefix, uint8_t op, bool aligned, int imm = -1, bool reg_form = true,
              bool mem_form = true) {
  for (bool mem : {false, true}) {
    if ((mem && !mem_form) || (!mem && !reg_form)) continue;
    Bytes b = prefix;
    b.insert(b.end(), {0x0f, op, uint8_t(mem ? 0x02 : 0xc1)});
    if (imm >= 0) b.push_back(uint8_t(imm));
    v.push_back({b, mem, mem && aligned});
  }
}

std::vector<SseCase> all_cases() {
  std::vector<SseCase> v;
  const Bytes np = {}, p66 = {0x66}, f3 = {0xf3}, f2 = {0xf2};
  // Moves.
  for (uint8_t op : {0x10, 0x11}) {
    add_both(v, np, op, false);
    add_both(v, p66, op, false);
    add_both(v, f3, op, false);
    add_both(v, f2, op, false);
  }
  for (uint8_t op : {0x12, 0x16}) add_both(v, np, op, false);
  for (uint8_t op : {0x12, 0x13, 0x16, 0x17}) add_both(v, p66, op, false, -1, false);
  for (uint8_t op : {0x13, 0x17}) add_both(v, np, op, false, -1, false);
  for (uint8_t op : {0x28, 0x29}) {
    add_both(v, np, op, true);
    add_both(v, p66, op, true);
  }
  add_both(v, np, 0x2b, true, -1, false);
  add_both(v, p66, 0x2b, true, -1, false);
  add_both(v, p66, 0xe7, true, -1, false);
  for (uint8_t op : {0x6f, 0x7f}) {
    add_both(v, p66, op, true);
    add_both(v, f3, op, false);
  }
  add_both(v, f3, 0x7e, false);
  add_both(v, p66, 0xd6, false);
  // Float arithmetic, logic, conversions: 51-5F in all four forms where they exist.
  for (uint8_t op = 0x51; op <= 0x5f; ++op) {
    add_both(v, np, op, true);
    if (op != 0x52 && op != 0x53) add_both(v, p66, op, true);
    if (op < 0x54 || op > 0x57) add_both(v, f3, op, op == 0x5b);  // CVTTPS2DQ is packed
    if (op != 0x52 && op != 0x53 && (op < 0x54 || op > 0x57) && op != 0x5b) add_both(v, f2, op, false);
  }
  for (uint8_t op : {0x14, 0x15}) {
    add_both(v, np, op, true);
    add_both(v, p66, op, true);
  }
  add_both(v, p66, 0xe6, true);
  add_both(v, f3, 0xe6, false);
  add_both(v, f2, 0xe6, true);
  for (uint8_t op : {0x2e, 0x2f}) {
    add_both(v, np, op, false);
    add_both(v, p66, op, false);
  }
  for (int imm : {0, 1, 2, 3, 4, 5, 6, 7, 0x0d}) {
    add_both(v, np, 0xc2, true, imm);
    add_both(v, p66, 0xc2, true, imm);
    add_both(v, f3, 0xc2, false, imm);
    add_both(v, f2, 0xc2, false, imm);
  }
  // Shuffles.
  for (int imm : {0x00, 0x1b, 0xe4, 0x93, 0xff, 0x4e}) {
    add_both(v, np, 0xc6, true, imm);
    add_both(v, p66, 0xc6, true, imm);
    add_both(v, p66, 0x70, true, imm);
    add_both(v, f3, 0x70, true, imm);
    add_both(v, f2, 0x70, true, imm);
  }
  // Packed integer: every 66 opcode of 60-6D, 74-76, D1-FE (not D6/D7/E6/E7/F0/F7).
  for (unsigned op = 0x60; op <= 0xfe; ++op) {
    bool integer = (op <= 0x6d) || (op >= 0x74 && op <= 0x76) || op >= 0xd1;
    if (!integer || op == 0xd6 || op == 0xd7 || op == 0xe6 || op == 0xe7 || op == 0xf0 || op == 0xf7) continue;
    add_both(v, p66, uint8_t(op), true);
  }
  // Shifts by imm8 (register only) and PSLLDQ/PSRLDQ.
  for (int imm : {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 200}) {
    for (uint8_t op : {0x71, 0x72})
      for (uint8_t modrm : {0xd0, 0xe0, 0xf0}) v.push_back({{0x66, 0x0f, op, modrm, uint8_t(imm)}});
    for (uint8_t modrm : {0xd0, 0xf0, 0xd8, 0xf8}) v.push_back({{0x66, 0x0f, 0x73, modrm, uint8_t(imm)}});
  }
  // General-purpose register forms.
  for (Bytes p : {f3, f2}) {
    for (bool w : {false, true}) {
      Bytes pre = p;
      if (w) pre.push_back(0x48);
      Bytes cvtsi = pre;
      cvtsi.insert(cvtsi.end(), {0x0f, 0x2a, 0xc0});  // cvtsi2ss/sd xmm0, eax/rax
      v.push_back({cvtsi});
      add_both(v, pre, 0x2a, false, -1, false);       // ... xmm0, [rdx]
      for (uint8_t op : {0x2c, 0x2d}) add_both(v, pre, op, false);  // cvt(t)s*2si eax/rax, xmm1/[rdx]
    }
  }
  for (Bytes pre : {Bytes{0x66}, Bytes{0x66, 0x48}}) {
    Bytes b = pre;
    b.insert(b.end(), {0x0f, 0x6e, 0xc0});  // movd/movq xmm0, eax/rax
    v.push_back({b});
    add_both(v, pre, 0x6e, false, -1, false);
    b = pre;
    b.insert(b.end(), {0x0f, 0x7e, 0xc8});  // movd/movq eax/rax, xmm1
    v.push_back({b});
    add_both(v, pre, 0x7e, false, -1, false);  // movd/movq [rdx], xmm0
  }
  for (int imm : {0, 3, 7, 9}) {
    v.push_back({{0x66, 0x0f, 0xc4, 0xc0, uint8_t(imm)}});          // pinsrw xmm0, eax
    v.push_back({{0x66, 0x0f, 0xc4, 0x02, uint8_t(imm)}, true});    // pinsrw xmm0, [rdx]
    v.push_back({{0x66, 0x0f, 0xc5, 0xc1, uint8_t(imm)}});          // pextrw eax, xmm1
  }
  v.push_back({{0x0f, 0x50, 0xc1}});        // movmskps eax, xmm1
  v.push_back({{0x66, 0x0f, 0x50, 0xc1}});  // movmskpd eax, xmm1
  v.push_back({{0x66, 0x0f, 0xd7, 0xc1}});  // pmovmskb eax, xmm1
  v.push_back({{0x0f, 0xc3, 0x02}, true});        // movnti [rdx], eax
  v.push_back({{0x48, 0x0f, 0xc3, 0x02}, true});  // movnti [rdx], rax
  v.push_back({{0x0f, 0xae, 0x1a}, true});        // stmxcsr [rdx]
  return v;
}

std::string hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    snprintf(buf, sizeof buf, "%02x ", x);
    s += buf;
  }
  return s;
}

}  // namespace

TEST(TcgSse, EveryInstructionMatchesTheHost) {
  HostCode host;
  ASSERT_TRUE(host.ok());
  Machine m;
  std::vector<SseCase> cases = all_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    Bytes code = cases[i].insn;
    code.push_back(0xf4);
    m.put(kCode + 32 * i, code);
  }
  Rng rng;
  int compared = 0, faults = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const SseCase& c = cases[i];
    host.load(host_runner(c.insn));
    for (int round = 0; round < 24; ++round) {
      for (uint32_t csr : kMxcsrs) {
        Ctx in = {};
        fill(rng, in.x0);
        fill(rng, in.x1);
        fill(rng, in.mem);
        fill(rng, in.mem + 16);
        in.rax = kIntSpecials[rng.next() % std::size(kIntSpecials)] ^ (round & 1 ? rng.next() & 0xffff : 0);
        in.rcx = rng.next();
        in.flags = 0x8d7;
        in.csr = csr;
        unsigned offset = c.aligned ? 0 : (round % 3) * 4;

        Ctx h = in;
        h.rdx = uint64_t(h.mem + offset);
        int host_fault = host.run(h);

        CpuState s = m.base, out;
        std::memcpy(s.fx.xmm[0].data(), in.x0, 16);
        std::memcpy(s.fx.xmm[1].data(), in.x1, 16);
        s.fx.mxcsr = csr;
        s.gpr[RAX] = in.rax;
        s.gpr[RCX] = in.rcx;
        s.gpr[RDX] = kData + offset;
        s.rflags = in.flags;
        s.rip = kCode + 32 * i;
        m.put(kData, Bytes(in.mem, in.mem + 32));
        int guest_fault = m.run(s, out);

        SCOPED_TRACE(testing::Message() << hex(c.insn) << " mxcsr=" << std::hex << csr << " round=" << std::dec << round);
        ASSERT_EQ(guest_fault, host_fault);
        EXPECT_EQ(out.fx.mxcsr, h.csr) << "x0 " << hex(Bytes(in.x0, in.x0 + 16)) << " x1 " << hex(Bytes(in.x1, in.x1 + 16))
                                       << " mem " << hex(Bytes(in.mem + offset, in.mem + offset + 16));
        EXPECT_EQ(std::memcmp(out.fx.xmm[0].data(), host_fault == kNoFault ? h.x0 : in.x0, 16), 0)
            << "xmm0 " << hex(Bytes(out.fx.xmm[0].begin(), out.fx.xmm[0].end()));
        EXPECT_EQ(std::memcmp(out.fx.xmm[1].data(), h.x1, 16), 0);
        if (host_fault == kNoFault) {
          EXPECT_EQ(out.gpr[RAX], h.rax);
          EXPECT_EQ(out.rflags & 0x8d5, h.flags & 0x8d5);
        } else {
          ++faults;
          EXPECT_EQ(out.gpr[RAX], in.rax);
        }
        uint8_t gmem[32];
        ASSERT_TRUE(m.mem.read_phys(kData, gmem, 32));
        EXPECT_EQ(std::memcmp(gmem, h.mem, 32), 0);
        if (::testing::Test::HasFailure()) return;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 100000);
  EXPECT_GT(faults, 1000);  // the unmasked-exception MXCSRs really did raise #XM
}

// --- Rules the host cannot show from user mode ----------------------------------------------------

namespace {

// Runs one instruction (at a fresh address each time, so no translation is reused) from the
// base state as changed by `setup`; returns the exception vector taken or kNoFault.
unsigned g_next_slot = 0;  // one for all instantiations below: code is never overwritten

template <typename Setup>
int run_insn(Machine& m, const Bytes& insn, Setup setup, CpuState& out) {
  uint64_t rip = 0x180000 + 32 * g_next_slot++;
  Bytes code = insn;
  code.push_back(0xf4);
  m.put(rip, code);
  CpuState s = m.base;
  s.rip = rip;
  s.rflags = 0x2;
  s.gpr[RDX] = kData;
  for (int i = 0; i < 16; ++i) s.fx.xmm[0][i] = uint8_t(0x11 * i), s.fx.xmm[1][i] = uint8_t(0xf0 - i);
  setup(s);
  return m.run(s, out);
}
int run_insn(Machine& m, const Bytes& insn, CpuState& out) {
  return run_insn(m, insn, [](CpuState&) {}, out);
}

const Bytes kAddps = {0x0f, 0x58, 0xc1};

}  // namespace

TEST(TcgSse, Cr0AndCr4GateEveryInstruction) {
  Machine m;
  CpuState out;
  EXPECT_EQ(run_insn(m, kAddps, out), kNoFault);
  EXPECT_EQ(run_insn(m, kAddps, [](CpuState& s) { s.cr0 |= cr0::EM; }, out), kUD);
  EXPECT_EQ(run_insn(m, kAddps, [](CpuState& s) { s.cr4 &= ~cr4::OSFXSR; }, out), kUD);
  EXPECT_EQ(run_insn(m, kAddps, [](CpuState& s) { s.cr0 |= cr0::TS; }, out), kNM);
  EXPECT_EQ(run_insn(m, kAddps, [](CpuState& s) { s.cr0 |= cr0::TS | cr0::EM; }, out), kUD);  // #UD wins
  EXPECT_EQ(out.fx.xmm[0][1], 0x11);  // untouched
  EXPECT_EQ(run_insn(m, {0x0f, 0xae, 0x12}, [](CpuState& s) { s.cr0 |= cr0::TS; }, out), kNM);  // ldmxcsr [rdx]
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0x6e, 0xc0}, [](CpuState& s) { s.cr0 |= cr0::TS; }, out), kNM);  // movd
  // MOVNTI stores a general-purpose register: no SSE state, so TS does not matter.
  EXPECT_EQ(run_insn(m, {0x0f, 0xc3, 0x02}, [](CpuState& s) { s.cr0 |= cr0::TS; s.gpr[RAX] = 0xabcdef12; }, out), kNoFault);
  EXPECT_EQ(m.get<uint32_t>(kData), 0xabcdef12u);
}

TEST(TcgSse, MisalignedPackedOperandsRaiseGp) {
  Machine m;
  CpuState out;
  auto at = [](uint64_t off) { return [off](CpuState& s) { s.gpr[RDX] = kData + off; }; };
  m.put(kData, Bytes(48, 0x5a));
  EXPECT_EQ(run_insn(m, {0x0f, 0x28, 0x02}, at(8), out), kGP);        // movaps xmm0, [rdx]
  EXPECT_EQ(run_insn(m, {0x0f, 0x28, 0x02}, at(16), out), kNoFault);
  EXPECT_EQ(run_insn(m, {0x0f, 0x10, 0x02}, at(8), out), kNoFault);   // movups
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0x6f, 0x02}, at(4), out), kGP);  // movdqa
  EXPECT_EQ(run_insn(m, {0xf3, 0x0f, 0x6f, 0x02}, at(4), out), kNoFault);  // movdqu
  EXPECT_EQ(run_insn(m, {0x0f, 0x58, 0x02}, at(8), out), kGP);        // addps xmm0, [rdx]
  EXPECT_EQ(run_insn(m, {0xf3, 0x0f, 0x58, 0x02}, at(1), out), kNoFault);  // addss: m32, no rule
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0x70, 0x02, 0x1b}, at(8), out), kGP);  // pshufd
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0xfc, 0x02}, at(8), out), kGP);  // paddb
  EXPECT_EQ(run_insn(m, {0x0f, 0x5a, 0x02}, at(4), out), kNoFault);   // cvtps2pd: m64
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0x7f, 0x02}, at(8), out), kGP);  // movdqa [rdx], xmm0
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0xe7, 0x02}, at(8), out), kGP);  // movntdq
  EXPECT_EQ(run_insn(m, {0x0f, 0x29, 0x02}, at(8), out), kGP);        // movaps store
  uint8_t mem[48];
  ASSERT_TRUE(m.mem.read_phys(kData, mem, 48));
  EXPECT_EQ(std::memcmp(mem, Bytes(48, 0x5a).data(), 48), 0);  // no faulting store wrote anything
}

TEST(TcgSse, UnmaskedExceptionIsUdWithoutOsxmmexcpt) {
  Machine m;
  CpuState out;
  auto divide_by_zero = [](uint32_t cr4_bits) {
    return [cr4_bits](CpuState& s) {
      s.cr4 = (s.cr4 & ~cr4::OSXMMEXCPT) | cr4_bits;
      s.fx.mxcsr = 0x1d80;  // ZM clear
      uint32_t one = 0x3f800000, zero = 0;
      std::memcpy(s.fx.xmm[0].data(), &one, 4);
      std::memcpy(s.fx.xmm[1].data(), &zero, 4);
    };
  };
  const Bytes divss = {0xf3, 0x0f, 0x5e, 0xc1};
  EXPECT_EQ(run_insn(m, divss, divide_by_zero(cr4::OSXMMEXCPT), out), kXM);
  EXPECT_EQ(out.fx.mxcsr, 0x1d84u);
  EXPECT_EQ(out.fx.xmm[0][3], 0x3f);  // destination unchanged
  EXPECT_EQ(run_insn(m, divss, divide_by_zero(0), out), kUD);
  EXPECT_EQ(out.fx.mxcsr, 0x1d84u);
  EXPECT_EQ(out.fx.xmm[0][3], 0x3f);
  // The exception points at the instruction (it restarts after the handler).
  EXPECT_EQ(m.get<uint64_t>(out.gpr[RSP]) & 0xfff00000, 0x100000u);
}

TEST(TcgSse, LdmxcsrAndStmxcsr) {
  Machine m;
  CpuState out;
  const Bytes ldmxcsr = {0x0f, 0xae, 0x12}, stmxcsr = {0x0f, 0xae, 0x1a};
  m.put_value<uint32_t>(kData, 0x7f95);
  EXPECT_EQ(run_insn(m, ldmxcsr, out), kNoFault);
  EXPECT_EQ(out.fx.mxcsr, 0x7f95u);
  m.put_value<uint32_t>(kData, 0x11f80);  // reserved bit 16
  EXPECT_EQ(run_insn(m, ldmxcsr, out), kGP);
  EXPECT_EQ(out.fx.mxcsr, 0x1f80u);
  m.put_value<uint32_t>(kData, 0x1fc0);  // DAZ: allowed exactly when the host has it
  EXPECT_EQ(run_insn(m, ldmxcsr, out), (tcg::sse_mxcsr_mask() & 0x40) ? kNoFault : kGP);
  EXPECT_EQ(run_insn(m, stmxcsr, [](CpuState& s) { s.fx.mxcsr = 0x3fa1; }, out), kNoFault);
  EXPECT_EQ(m.get<uint32_t>(kData), 0x3fa1u);
  EXPECT_EQ(tcg::sse_mxcsr_mask() & 0xffbf, 0xffbfu);
}

TEST(TcgSse, PageCrossingStoreIsPrecise) {
  Machine m;
  m.put_value<uint64_t>(0x82000 + 8, 0);  // 0x200000-0x3fffff not present
  m.put(0x1ffff0, Bytes(16, 0x77));
  CpuState out;
  // movups [rdx], xmm0 with the second half on the missing page.
  EXPECT_EQ(run_insn(m, {0x0f, 0x11, 0x02}, [](CpuState& s) { s.gpr[RDX] = 0x1ffff8; }, out), kPF);
  EXPECT_EQ(out.cr2, 0x200000u);
  EXPECT_EQ(m.get<uint64_t>(0x1ffff8), 0x7777777777777777ull);
}

TEST(TcgSse, MaskmovdquStoresSelectedBytes) {
  Machine m;
  m.put(kData, Bytes(16, 0xee));
  CpuState out;
  auto setup = [](CpuState& s) {
    s.gpr[RDI] = kData;
    for (int i = 0; i < 16; ++i) s.fx.xmm[1][i] = (i % 3 == 0) ? 0x80 : 0x7f;  // bit 7 selects
  };
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0xf7, 0xc1}, setup, out), kNoFault);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(m.get<uint8_t>(kData + i), i % 3 == 0 ? uint8_t(0x11 * i) : 0xee) << i;
  EXPECT_EQ(run_insn(m, {0x66, 0x0f, 0xf7, 0x02}, setup, out), kUD);  // register operands only
}

TEST(TcgSse, EncodingsWithoutAnSseMeaningAreUd) {
  Machine m;
  CpuState out;
  const Bytes invalid[] = {
      {0x0f, 0xfc, 0xc1},              // paddb mm (MMX is not advertised)
      {0x0f, 0x6f, 0xc1},              // movq mm
      {0x0f, 0x2a, 0xc1},              // cvtpi2ps
      {0x66, 0x0f, 0x2d, 0xc1},        // cvtpd2pi
      {0xf2, 0x0f, 0x5b, 0xc1},        // no such form
      {0x66, 0x0f, 0x12, 0xc1},        // movlpd needs memory
      {0x0f, 0x13, 0xc1},              // movlps store needs memory
      {0x0f, 0x50, 0x02},              // movmskps needs a register
      {0x66, 0x0f, 0xc5, 0x02, 0x01},  // pextrw needs a register
      {0x66, 0x0f, 0x71, 0x12, 0x01},  // psrlw imm needs a register
      {0x66, 0x0f, 0x73, 0xc8, 0x01},  // group 14 /1
      {0x0f, 0xc3, 0xc0},              // movnti needs memory
      {0xf3, 0x0f, 0x12, 0xc1},        // movsldup (SSE3)
      {0x66, 0x0f, 0x38, 0x00, 0xc1},  // pshufb (SSSE3)
      {0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x01},  // palignr (SSSE3)
      {0xf0, 0x0f, 0x58, 0x02},        // lock addps
  };
  for (const Bytes& b : invalid) EXPECT_EQ(run_insn(m, b, out), kUD) << hex(b);
}
