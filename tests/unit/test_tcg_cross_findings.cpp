// Findings of the cross-check fuzz run (docs/cross-check.md, "Host errata"): for every
// instruction where KVM's CPL0 emulator and the software CPU disagreed, the same bytes with the
// same inputs are executed natively by this process (user mode on the host CPU: the ground
// truth) and by the software CPU, which must agree with the hardware. Compatibility-mode
// instructions (AAM/AAD) run natively in the kernel's 32-bit user code segment (selector 0x23).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "tcg_harness.h"

namespace janus::test {
namespace {

// ---- 64-bit: registers rax, rcx, rdx, rdi and flags in, out ----
struct Regs64 {
  uint64_t rax, rcx, rdx, rdi, flags;
};

// rsi = &Regs64: load, run, store (rdi is an operand too).
Bytes runner64(const Bytes& insn, uint8_t last) {
  Bytes b = {0x48, 0x8b, 0x06, 0x48, 0x8b, 0x4e, 0x08, 0x48, 0x8b, 0x56, 0x10, 0x48, 0x8b, 0x7e, 0x18,
             0xff, 0x76, 0x20, 0x9d};
  b.insert(b.end(), insn.begin(), insn.end());
  Bytes tail = {0x9c, 0x8f, 0x46, 0x20, 0x48, 0x89, 0x06, 0x48, 0x89, 0x4e, 0x08, 0x48, 0x89, 0x56, 0x10,
                0x48, 0x89, 0x7e, 0x18, last};
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

class Compare64 {
 public:
  explicit Compare64(const Bytes& insn) : native_(runner64(insn, 0xc3)), code_(m_.place(runner64(insn, 0xf4))) {}
  // Runs natively and on the software CPU; returns {native, tcg}.
  std::pair<Regs64, Regs64> run(const Regs64& in) {
    Regs64 h = in;
    host_.run(native_, nullptr, &h);
    CpuState s = m_.base, out;
    s.rip = code_;
    s.gpr[RSI] = kData;
    m_.put_value<Regs64>(kData, in);
    EXPECT_EQ(m_.run(s, out), kNoFault);
    return {h, m_.get<Regs64>(kData)};
  }

 private:
  static constexpr uint64_t kData = 0x200000;
  TcgMachine m_;
  HostCode host_;
  Bytes native_;
  uint64_t code_;
};

constexpr uint64_t kArith = 0x8d5;

TEST(TcgCrossFindings, Cmpxchg32MatchesHost) {
  // cmpxchg edi, ecx (0f b1 cf): on failure EAX is loaded (RAX zero-extended) and RDI is left
  // alone; on success RDI is written (zero-extended) and RAX left alone.
  Compare64 c({0x0f, 0xb1, 0xcf});
  const uint64_t dests[] = {0xd352e3c459ff55b4ull, 0x4000000000ull, 0xffffffffffffffffull, 0x59ff55b4ull};
  const uint64_t accs[] = {0, 0xffffffff59ff55b4ull, 0xfe77dca8c2178553ull, 0x12345678ffffffffull};
  for (uint64_t d : dests)
    for (uint64_t a : accs) {
      auto [h, g] = c.run({a, 0x1111111122222222ull, 0, d, 0x2});
      SCOPED_TRACE(testing::Message() << std::hex << "rdi=" << d << " rax=" << a);
      EXPECT_EQ(g.rax, h.rax);
      EXPECT_EQ(g.rdi, h.rdi);
      EXPECT_EQ(g.flags & kArith, h.flags & kArith);
    }
}

TEST(TcgCrossFindings, RotateImm8MatchesHost) {
  // ROL/ROR r, imm8 with counts >= 2 leave OF unchanged on this CPU (the CL form does not):
  // KVM's emulator executes the CL form, the erratum rotate-imm8-of-as-cl-form.
  struct Form { const char* name; Bytes prefix; uint8_t op; };
  const Form forms[] = {{"8", {}, 0xc0}, {"16", {0x66}, 0xc1}, {"32", {}, 0xc1}, {"64", {0x48}, 0xc1}};
  const uint64_t values[] = {0, 1, 0x4d, 0x3fff, 0x1fffff, 0x4000, 0x8000000000000001ull, 0x7fffffffffffffffull,
                             0xc0db1801ull};
  int compared = 0;
  for (const Form& f : forms)
    for (uint8_t kind : {0xc0, 0xc8})  // /0 ROL, /1 ROR on AL/AX/EAX/RAX
      for (uint8_t count : {2, 4, 5, 7, 8, 15, 16, 21, 31, 0x35, 0x37, 0x38, 63, 0xff}) {
        Bytes insn = f.prefix;
        insn.insert(insn.end(), {f.op, kind, count});
        Compare64 c(insn);
        for (uint64_t v : values)
          for (uint64_t fin : {0x2ull, 0x8d7ull}) {
            auto [h, g] = c.run({v, 0, 0, 0, fin});
            SCOPED_TRACE(testing::Message() << "rotate " << f.name << " kind " << std::hex << int(kind) << " count "
                                            << int(count) << " value " << v << " flags " << fin);
            ASSERT_EQ(g.rax, h.rax);
            ASSERT_EQ(g.flags & kArith, h.flags & kArith);
            ++compared;
          }
      }
  EXPECT_GT(compared, 1000);
}

// ---- 32-bit compatibility mode (AAM/AAD are invalid in 64-bit code) ----
struct Regs32 {
  uint32_t eax, flags;
};

// Native: a page below 4 GiB holding a 64-bit entry that far-returns to CS 0x23, loads EAX and
// EFLAGS from Regs32, runs the instruction, stores them and far-returns to CS 0x33.
class Compat32 {
 public:
  explicit Compat32(const Bytes& insn) {
    mem_ = static_cast<uint8_t*>(mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
    if (mem_ == MAP_FAILED) return;
    regs_ = reinterpret_cast<Regs32*>(mem_ + 4096);
    const uint32_t base = uint32_t(uintptr_t(mem_)), data = uint32_t(uintptr_t(regs_));
    const uint32_t stack = base + 3 * 4096 - 16;
    Bytes c;
    auto b = [&](std::initializer_list<int> l) { for (int x : l) c.push_back(uint8_t(x)); };
    auto d32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) c.push_back(uint8_t(v >> (8 * i))); };
    b({0x53, 0x55, 0x41, 0x54, 0x49, 0x89, 0xe4});  // push rbx, rbp, r12; mov r12, rsp
    b({0xbc}); d32(stack);                           // mov esp, stack (below 4 GiB)
    b({0x6a, 0x23, 0x68}); size_t to32 = c.size(); d32(0); b({0x48, 0xcb});  // push 0x23; push compat; retfq
    const uint32_t compat = base + uint32_t(c.size());
    std::memcpy(&c[to32], &compat, 4);
    b({0x6a, 0x2b, 0x1f, 0x6a, 0x2b, 0x07});  // ds = es = user data (a 64-bit process has null DS)
    b({0xbe}); d32(data);                     // mov esi, data
    b({0xff, 0x76, 0x04, 0x9d, 0x8b, 0x06});  // push [esi+4]; popfd; mov eax, [esi]
    c.insert(c.end(), insn.begin(), insn.end());
    b({0x9c, 0x8f, 0x46, 0x04, 0x89, 0x06});  // pushfd; pop [esi+4]; mov [esi], eax
    b({0x6a, 0x33, 0x68}); size_t to64 = c.size(); d32(0); b({0xcb});  // push 0x33; push back; retf
    const uint32_t back = base + uint32_t(c.size());
    std::memcpy(&c[to64], &back, 4);
    b({0x4c, 0x89, 0xe4, 0x41, 0x5c, 0x5d, 0x5b, 0xc3});  // mov rsp, r12; pop r12, rbp, rbx; ret
    std::memcpy(mem_, c.data(), c.size());
  }
  ~Compat32() {
    if (mem_ != MAP_FAILED) munmap(mem_, 3 * 4096);
  }
  bool ok() const { return mem_ != MAP_FAILED; }
  Regs32 run(Regs32 in) {
    *regs_ = in;
    reinterpret_cast<void (*)()>(mem_)();
    return *regs_;
  }

 private:
  uint8_t* mem_ = static_cast<uint8_t*>(MAP_FAILED);
  Regs32* regs_ = nullptr;
};

// Whether this kernel runs 32-bit user code (CONFIG_IA32_EMULATION): tried in a child process.
bool compat_mode_available() {
  pid_t pid = fork();
  if (pid == 0) {
    Compat32 c({0x90});
    _exit(c.ok() && c.run({0, 2}).eax == 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The software CPU in 32-bit protected mode: EAX and EFLAGS in, out.
class Tcg32 {
 public:
  explicit Tcg32(const Bytes& insn) {
    Bytes code = insn;
    code.push_back(0xf4);
    code_ = m_.place(code);
  }
  Regs32 run(Regs32 in) {
    CpuState s = reset_cpu_state(), out;
    s.cr0 = cr0::PE | cr0::ET | cr0::NE;
    s.seg[CS] = Segment{0x08, 0, 0xffffffff, 0xc09b, false};
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
    s.gdtr = {0x60000, 23};
    s.idtr = {0, 0};
    s.rip = code_;
    s.gpr[RAX] = in.eax;
    s.gpr[RSP] = 0x90000;
    s.rflags = in.flags;
    s.halted = false;
    m_.vcpu->set_state(s);
    VcpuExit e = m_.vcpu->run(kNever);
    EXPECT_EQ(e.reason, VcpuExit::Reason::kHalted) << e.detail;
    out = m_.vcpu->get_state();
    EXPECT_EQ(out.rip, code_ + code_size_);
    return {uint32_t(out.gpr[RAX]), uint32_t(out.rflags)};
  }
  void set_length(size_t n) { code_size_ = n + 1; }

 private:
  TcgMachine m_;
  uint64_t code_ = 0;
  size_t code_size_ = 0;
};

TEST(TcgCrossFindings, AamAadMatchHost) {
  if (!compat_mode_available()) GTEST_SKIP() << "this kernel does not run 32-bit user code (no native reference)";
  // All AX values with two flag states, for the bases the fuzzer generates (10 and random).
  for (uint8_t op : {0xd4, 0xd5})
    for (uint8_t imm : {10, 1, 0x32, 0x61, 0xd0, 0xff}) {
      const Bytes insn = {op, imm};
      Compat32 native(insn);
      ASSERT_TRUE(native.ok());
      Tcg32 tcg(insn);
      tcg.set_length(insn.size());
      for (uint32_t ax = 0; ax < 0x10000; ax += (imm == 10 ? 1 : 7))
        for (uint32_t fin : {0x2u, 0x8d7u}) {
          const Regs32 in{0xffff0000u | ax, fin};
          const Regs32 h = native.run(in), g = tcg.run(in);
          SCOPED_TRACE(testing::Message() << std::hex << (op == 0xd4 ? "aam " : "aad ") << int(imm) << " eax=" << in.eax
                                          << " flags=" << fin);
          ASSERT_EQ(g.eax, h.eax);
          ASSERT_EQ(g.flags & kArith, h.flags & kArith);
        }
    }
}

}  // namespace
}  // namespace janus::test
