// The software CPU end to end: guest code in a GuestMemory, stub I/O and interrupt controller,
// run until HLT, check registers, flags and memory. Arithmetic/shift flags are compared against
// the host CPU (an Intel x86-64) executing the very same instruction bytes natively.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"
#include "cpu/descriptors.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "tcg/tcg_accelerator.h"

using namespace janus;
using Bytes = std::vector<uint8_t>;

namespace {

struct StubIo : IoHandler {
  std::vector<std::pair<uint16_t, uint64_t>> port_writes;
  uint64_t pio_read(uint16_t, unsigned) override { return 0x5a; }
  void pio_write(uint16_t port, unsigned, uint64_t v) override { port_writes.push_back({port, v}); }
  uint64_t mmio_read(uint64_t, unsigned) override { return ~0ull; }
  void mmio_write(uint64_t, unsigned, uint64_t) override {}
};

struct StubInterrupts : InterruptSource {
  bool pending = false;
  int vector = 0x20;
  int acks = 0;
  uint64_t tpr = 0;
  bool interrupt_pending() override { return pending; }
  int acknowledge_interrupt() override {
    ++acks;
    pending = false;
    return vector;
  }
  uint64_t cr8() override { return tpr; }
  void set_cr8(uint64_t v) override { tpr = v; }
};

class Machine {
 public:
  GuestMemory mem{32ull << 20};
  StubIo io;
  StubInterrupts irq;
  CpuidTable cpuid = janus_cpuid_template();
  ManualClock clock;
  TcgAccelerator accel{cpuid};
  std::unique_ptr<Vcpu> vcpu;

  Machine() {
    accel.map_memory(mem);
    vcpu = accel.create_vcpu(0, VcpuContext{mem, io, irq, cpuid, clock});
  }
  void put(uint64_t gpa, const Bytes& b) { ASSERT_TRUE(mem.write_phys(gpa, b.data(), b.size())); }
  template <typename T> void put_value(uint64_t gpa, T v) { mem.store(gpa, v); }
  template <typename T> T get(uint64_t gpa) { return mem.load<T>(gpa); }
  void ivt(uint8_t vector, uint16_t seg, uint16_t off) { put_value<uint32_t>(vector * 4u, (uint32_t(seg) << 16) | off); }

  void start_real(uint16_t ip) {
    CpuState s = reset_cpu_state();
    s.seg[CS] = real_mode_segment(0, 0x9b);
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = real_mode_segment(0);
    s.rip = ip;
    s.gpr[RSP] = 0x7000;
    s.gpr[RDX] = 0;
    vcpu->set_state(s);
  }

  // 64-bit mode, identity-mapped first GiB in 2 MiB pages, IDT at 0x61000.
  void start_long(uint64_t rip) {
    put_value<uint64_t>(0x60000, 0);
    put_value<uint64_t>(0x60008, 0x00af9b000000ffffull);  // 64-bit code
    put_value<uint64_t>(0x60010, 0x00cf93000000ffffull);  // data
    put_value<uint64_t>(0x80000, 0x81000 | 7);
    put_value<uint64_t>(0x81000, 0x82000 | 7);
    for (uint64_t i = 0; i < 512; ++i) put_value<uint64_t>(0x82000 + 8 * i, (i << 21) | 0x87);
    CpuState s = reset_cpu_state();
    s.cr0 = cr0::PE | cr0::PG | cr0::ET;
    s.cr3 = 0x80000;
    s.cr4 = cr4::PAE;
    s.efer = efer::LME | efer::LMA;
    s.seg[CS] = Segment{0x08, 0, 0xffffffff, 0xa09b, false};
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
    s.gdtr = {0x60000, 23};
    s.idtr = {0x61000, 0xfff};
    s.rip = rip;
    s.gpr[RSP] = 0x90000;
    vcpu->set_state(s);
  }
  void idt64(uint8_t vector, uint64_t handler) {
    uint64_t lo = (handler & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | (((handler >> 16) & 0xffff) << 48);
    put_value<uint64_t>(0x61000 + 16 * vector, lo);
    put_value<uint64_t>(0x61000 + 16 * vector + 8, handler >> 32);
  }

  VcpuExit run() { return vcpu->run(kNever); }
  CpuState state() { return vcpu->get_state(); }
  const tcg::TcgStats& stats() { return *TcgAccelerator::stats_of(*vcpu); }
};

// --- Flags against the host ------------------------------------------------------------------

struct Regs {
  uint64_t rax, rcx, rdx, flags;
};

// mov rax,[rdi]; mov rcx,[rdi+8]; mov rdx,[rdi+16]; push [rdi+24]; popfq; <insn>;
// pushfq; pop [rdi+24]; mov [rdi],rax; mov [rdi+8],rcx; mov [rdi+16],rdx; ret|hlt
Bytes runner(const Bytes& insn, uint8_t last) {
  Bytes b = {0x48, 0x8b, 0x07, 0x48, 0x8b, 0x4f, 0x08, 0x48, 0x8b, 0x57, 0x10, 0xff, 0x77, 0x18, 0x9d};
  b.insert(b.end(), insn.begin(), insn.end());
  Bytes tail = {0x9c, 0x8f, 0x47, 0x18, 0x48, 0x89, 0x07, 0x48, 0x89, 0x4f, 0x08, 0x48, 0x89, 0x57, 0x10, last};
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

class HostCode {
 public:
  HostCode() {
    mem_ = static_cast<uint8_t*>(mmap(nullptr, kSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  }
  ~HostCode() { munmap(mem_, kSize); }
  bool ok() const { return mem_ != MAP_FAILED; }
  void run(const Bytes& code, Regs& r) {
    std::memcpy(mem_, code.data(), code.size());
    reinterpret_cast<void (*)(Regs*)>(mem_)(&r);
  }

 private:
  static constexpr size_t kSize = 4096;
  uint8_t* mem_;
};

struct FlagCase {
  const char* name;
  Bytes insn;
  bool divide = false;  // needs rdx = 0 and rcx != 0
};

}  // namespace

TEST(TcgExecution, ArithmeticAndShiftFlagsMatchHost) {
  HostCode host;
  ASSERT_TRUE(host.ok());
  std::vector<FlagCase> cases = {
      {"add eax,ecx", {0x01, 0xc8}}, {"add rax,rcx", {0x48, 0x01, 0xc8}}, {"add al,cl", {0x00, 0xc8}},
      {"add ax,cx", {0x66, 0x01, 0xc8}}, {"adc eax,ecx", {0x11, 0xc8}}, {"adc rax,rcx", {0x48, 0x11, 0xc8}},
      {"adc al,cl", {0x10, 0xc8}}, {"sub eax,ecx", {0x29, 0xc8}}, {"sub rax,rcx", {0x48, 0x29, 0xc8}},
      {"sub al,cl", {0x28, 0xc8}}, {"sub ax,cx", {0x66, 0x29, 0xc8}}, {"sbb eax,ecx", {0x19, 0xc8}},
      {"sbb al,cl", {0x18, 0xc8}}, {"and eax,ecx", {0x21, 0xc8}}, {"or eax,ecx", {0x09, 0xc8}},
      {"xor eax,ecx", {0x31, 0xc8}}, {"cmp eax,ecx", {0x39, 0xc8}}, {"cmp al,cl", {0x38, 0xc8}},
      {"test eax,ecx", {0x85, 0xc8}}, {"inc eax", {0xff, 0xc0}}, {"dec eax", {0xff, 0xc8}},
      {"inc al", {0xfe, 0xc0}}, {"dec ax", {0x66, 0xff, 0xc8}}, {"neg eax", {0xf7, 0xd8}},
      {"neg al", {0xf6, 0xd8}}, {"not eax", {0xf7, 0xd0}}, {"shl eax,cl", {0xd3, 0xe0}},
      {"shr eax,cl", {0xd3, 0xe8}}, {"sar eax,cl", {0xd3, 0xf8}}, {"rol eax,cl", {0xd3, 0xc0}},
      {"ror eax,cl", {0xd3, 0xc8}}, {"rcl eax,cl", {0xd3, 0xd0}}, {"rcr eax,cl", {0xd3, 0xd8}},
      {"shl al,cl", {0xd2, 0xe0}}, {"shr al,cl", {0xd2, 0xe8}}, {"sar al,cl", {0xd2, 0xf8}},
      {"rol al,cl", {0xd2, 0xc0}}, {"ror al,cl", {0xd2, 0xc8}}, {"rcl al,cl", {0xd2, 0xd0}},
      {"rcr al,cl", {0xd2, 0xd8}}, {"shl ax,cl", {0x66, 0xd3, 0xe0}}, {"rcr ax,cl", {0x66, 0xd3, 0xd8}},
      {"shl rax,cl", {0x48, 0xd3, 0xe0}}, {"sar rax,cl", {0x48, 0xd3, 0xf8}}, {"rol rax,cl", {0x48, 0xd3, 0xc0}},
      {"rcl rax,cl", {0x48, 0xd3, 0xd0}}, {"shl eax,1", {0xd1, 0xe0}}, {"sar eax,1", {0xd1, 0xf8}},
      {"shld eax,edx,cl", {0x0f, 0xa5, 0xd0}}, {"shrd eax,edx,cl", {0x0f, 0xad, 0xd0}},
      {"shld ax,dx,cl", {0x66, 0x0f, 0xa5, 0xd0}}, {"shrd ax,dx,cl", {0x66, 0x0f, 0xad, 0xd0}},
      {"shld rax,rdx,cl", {0x48, 0x0f, 0xa5, 0xd0}}, {"imul eax,ecx", {0x0f, 0xaf, 0xc1}},
      {"imul rax,rcx", {0x48, 0x0f, 0xaf, 0xc1}}, {"imul eax,ecx,7", {0x6b, 0xc1, 0x07}},
      {"mul ecx", {0xf7, 0xe1}}, {"imul ecx", {0xf7, 0xe9}}, {"mul cl", {0xf6, 0xe1}},
      {"mul rcx", {0x48, 0xf7, 0xe1}}, {"bsf eax,ecx", {0x0f, 0xbc, 0xc1}}, {"bsr eax,ecx", {0x0f, 0xbd, 0xc1}},
      {"bt eax,ecx", {0x0f, 0xa3, 0xc8}}, {"bts eax,ecx", {0x0f, 0xab, 0xc8}}, {"btr rax,rcx", {0x48, 0x0f, 0xb3, 0xc8}},
      {"btc eax,ecx", {0x0f, 0xbb, 0xc8}}, {"xadd eax,ecx", {0x0f, 0xc1, 0xc8}},
      {"cmpxchg ecx,edx", {0x0f, 0xb1, 0xd1}}, {"cmovl eax,ecx", {0x0f, 0x4c, 0xc1}}, {"setbe al", {0x0f, 0x96, 0xc0}},
      {"sahf", {0x9e}}, {"lahf", {0x9f}}, {"cwd", {0x66, 0x99}}, {"cdqe", {0x48, 0x98}}, {"bswap eax", {0x0f, 0xc8}},
      {"div ecx", {0xf7, 0xf1}, true}, {"div cl", {0xf6, 0xf1}, true},
  };
  const uint64_t values[] = {0, 1, 2, 7, 0x0f, 0x10, 0x1f, 0x20, 0x21, 0x3f, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                             0x7fffffff, 0x80000000, 0xffffffff, 0x123456789abcdef0ull, 0x8000000000000000ull,
                             0xffffffffffffffffull, 0x00000001fffffffeull};
  Machine m;
  const uint64_t code_base = 0x100000, data = 0x200000;
  for (size_t i = 0; i < cases.size(); ++i) m.put(code_base + i * 0x80, runner(cases[i].insn, 0xf4));
  int compared = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const FlagCase& c = cases[i];
    Bytes native = runner(c.insn, 0xc3);
    for (uint64_t a : values)
      for (uint64_t b : values)
        for (uint64_t fin : {0x2ull, 0x8d7ull}) {
          Regs in{a, b, 0xfedcba9876543210ull, fin};
          if (c.divide) {
            if ((b & 0xff) == 0 || (c.insn[0] == 0xf6 && (a & 0xffff) / (b & 0xff) > 0xff)) continue;
            if (c.insn[0] == 0xf7 && (b & 0xffffffff) == 0) continue;
            in.rdx = 0;
          }
          Regs h = in;
          host.run(native, h);
          m.start_long(code_base + i * 0x80);
          CpuState s = m.state();
          s.gpr[RDI] = data;
          m.vcpu->set_state(s);
          m.put_value<Regs>(data, in);
          VcpuExit e = m.run();
          ASSERT_EQ(e.reason, VcpuExit::Reason::kHalted) << c.name << " " << e.detail;
          Regs g = m.get<Regs>(data);
          SCOPED_TRACE(testing::Message() << c.name << " a=" << std::hex << a << " b=" << b << " flags_in=" << fin);
          EXPECT_EQ(g.rax, h.rax);
          EXPECT_EQ(g.rcx, h.rcx);
          EXPECT_EQ(g.rdx, h.rdx);
          EXPECT_EQ(g.flags & 0x8d5, h.flags & 0x8d5);
          if (::testing::Test::HasFailure()) return;
          ++compared;
        }
  }
  EXPECT_GT(compared, 20000);
}

TEST(TcgExecution, RealModeSegmentArithmeticWrapsAt64K) {
  Machine m;
  m.put(0x7c00, {0xb8, 0x00, 0x10, 0x8e, 0xd8, 0xbb, 0xfe, 0xff, 0xbe, 0x04, 0x00, 0x8a, 0x00, 0xf4});
  m.put_value<uint8_t>(0x10002, 0x77);  // DS:((0xfffe + 4) & 0xffff)
  m.put_value<uint8_t>(0x20002, 0x55);  // where a non-wrapping sum would land
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  EXPECT_EQ(m.state().gpr[RAX] & 0xff, 0x77u);
  EXPECT_EQ(m.state().rip, 0x7c0eu);
}

TEST(TcgExecution, SwitchToProtectedMode) {
  Machine m;
  m.put(0x7c00, {0x0f, 0x01, 0x16, 0x00, 0x7d,               // lgdt [0x7d00]
                 0x0f, 0x20, 0xc0,                           // mov eax, cr0
                 0x66, 0x83, 0xc8, 0x01,                     // or eax, 1
                 0x0f, 0x22, 0xc0,                           // mov cr0, eax
                 0x66, 0xea, 0x17, 0x7c, 0x00, 0x00, 0x08, 0x00,  // jmp dword 0x08:0x7c17
                 0x66, 0xb8, 0x10, 0x00,                     // mov ax, 0x10
                 0x8e, 0xd8, 0x8e, 0xd0,                     // mov ds, ax; mov ss, ax
                 0xbc, 0x00, 0x90, 0x00, 0x00,               // mov esp, 0x9000
                 0xc7, 0x05, 0x00, 0x50, 0x00, 0x00, 0xef, 0xbe, 0xad, 0xde,  // mov dword [0x5000], 0xdeadbeef
                 0xf4});
  m.put(0x7d00, {0x17, 0x00, 0x00, 0x7e, 0x00, 0x00});
  m.put_value<uint64_t>(0x7e00, 0);
  m.put_value<uint64_t>(0x7e08, 0x00cf9a000000ffffull);
  m.put_value<uint64_t>(0x7e10, 0x00cf92000000ffffull);
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  CpuState s = m.state();
  EXPECT_EQ(m.get<uint32_t>(0x5000), 0xdeadbeefu);
  EXPECT_TRUE(s.protected_mode());
  EXPECT_EQ(s.seg[CS].selector, 0x08);
  EXPECT_TRUE(s.seg[CS].db());
  EXPECT_EQ(s.seg[SS].selector, 0x10);
  EXPECT_EQ(s.gpr[RSP], 0x9000u);
  // The accessed bit was set in the data descriptor.
  EXPECT_TRUE(m.get<uint64_t>(0x7e10) & (1ull << 40));
}

TEST(TcgExecution, LongModePageFaultIsPreciseWithCr2AndErrorCode) {
  for (bool write : {false, true}) {
    Machine m;
    m.idt64(14, 0x101000);
    // handler: pop rbx (error code); mov rcx, cr2; mov rdx, [rsp] (faulting RIP); hlt
    m.put(0x101000, {0x5b, 0x0f, 0x20, 0xd1, 0x48, 0x8b, 0x14, 0x24, 0xf4});
    Bytes access = write ? Bytes{0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40}
                         : Bytes{0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40};
    Bytes code = {0x48, 0xc7, 0xc0, 0x11, 0x11, 0x00, 0x00};  // mov rax, 0x1111
    code.insert(code.end(), access.begin(), access.end());
    code.push_back(0xf4);
    m.put(0x100000, code);
    m.start_long(0x100000);
    ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
    CpuState s = m.state();
    EXPECT_EQ(s.gpr[RBX], write ? 2u : 0u);  // not present, supervisor, read/write
    EXPECT_EQ(s.gpr[RCX], 0x40000000u);
    EXPECT_EQ(s.cr2, 0x40000000u);
    EXPECT_EQ(s.gpr[RDX], 0x100007u);  // the faulting instruction, to restart it
    EXPECT_EQ(s.gpr[RAX], 0x1111u);    // nothing of the faulting instruction was committed
  }
}

// A read-modify-write instruction on a not-present page faults as a write (error code W=1), as
// the CPU does (found by cross-check against native CPL3 execution); a CMP of the same memory
// is a read.
TEST(TcgExecution, ReadModifyWriteFaultsReportAWrite) {
  struct Case { Bytes access; uint64_t error; };
  for (const Case& c : {Case{{0x48, 0x01, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40}, 2},   // add [0x40000000], rax
                        Case{{0x48, 0xff, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40}, 2},   // inc qword [0x40000000]
                        Case{{0x48, 0xd1, 0x24, 0x25, 0x00, 0x00, 0x00, 0x40}, 2},   // shl qword [0x40000000], 1
                        Case{{0x48, 0x39, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40}, 0}}) {  // cmp [0x40000000], rax
    Machine m;
    m.idt64(14, 0x101000);
    m.put(0x101000, {0x5b, 0x0f, 0x20, 0xd1, 0x48, 0x8b, 0x14, 0x24, 0xf4});
    Bytes code = c.access;
    code.push_back(0xf4);
    m.put(0x100000, code);
    m.start_long(0x100000);
    ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
    EXPECT_EQ(m.state().gpr[RBX], c.error) << "opcode " << std::hex << int(c.access[1]);
    EXPECT_EQ(m.state().cr2, 0x40000000u);
  }
}

TEST(TcgExecution, LongModeMemoryAndCalls) {
  Machine m;
  // mov rax, imm64; push rax; call +3 (to f); hlt; ... f: pop rbx; pop rcx; ret? keep simple:
  // mov rax, 0x1122334455667788; mov [0x300000], rax; mov rbx, [0x300000]; lea rcx, [rip+0]; hlt
  m.put(0x100000, {0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,   // mov rax, imm64
                   0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,               // mov [0x300000], rax
                   0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x30, 0x00,               // mov rbx, [0x300000]
                   0xe8, 0x01, 0x00, 0x00, 0x00,                                  // call +1
                   0xf4,                                                          // hlt (after ret)
                   0x48, 0x8d, 0x0d, 0x00, 0x00, 0x00, 0x00,                      // lea rcx, [rip]
                   0xc3});                                                        // ret
  m.start_long(0x100000);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  CpuState s = m.state();
  EXPECT_EQ(s.gpr[RBX], 0x1122334455667788ull);
  EXPECT_EQ(m.get<uint64_t>(0x300000), 0x1122334455667788ull);
  EXPECT_EQ(s.gpr[RCX], 0x100027u);
  EXPECT_EQ(s.rip, 0x100020u);
  EXPECT_EQ(s.gpr[RSP], 0x90000u);
}

TEST(TcgExecution, DivideErrorInRealMode) {
  Machine m;
  m.ivt(0, 0, 0x7e00);
  m.put(0x7e00, {0x5b, 0xf4});  // pop bx (faulting IP); hlt
  m.put(0x7c00, {0xb8, 0x10, 0x00, 0x31, 0xc9, 0xf7, 0xf1, 0xf4});  // mov ax,16; xor cx,cx; div cx
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  CpuState s = m.state();
  EXPECT_EQ(s.gpr[RBX] & 0xffff, 0x7c05u);
  EXPECT_EQ(s.gpr[RAX] & 0xffff, 0x10u);
  EXPECT_GE(m.stats().exceptions, 1u);
}

TEST(TcgExecution, ExternalInterruptFromController) {
  Machine m;
  m.ivt(0x20, 0, 0x7e00);
  m.put(0x7e00, {0xb0, 0x99, 0xf4});  // mov al, 0x99; hlt
  m.put(0x7c00, {0xfb, 0xeb, 0xfe});  // sti; jmp $
  m.start_real(0x7c00);
  m.irq.pending = true;
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  EXPECT_EQ(m.state().gpr[RAX] & 0xff, 0x99u);
  EXPECT_EQ(m.irq.acks, 1);
}

TEST(TcgExecution, HltWaitsThenResumesAfterInterrupt) {
  Machine m;
  m.ivt(0x20, 0, 0x7e00);
  m.put(0x7e00, {0xb3, 0x01, 0xcf});              // mov bl, 1; iret
  m.put(0x7c00, {0xfb, 0xf4, 0xb0, 0x42, 0xf4});  // sti; hlt; mov al, 0x42; hlt
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);  // still nothing pending: stays halted
  EXPECT_EQ(m.state().rip, 0x7c02u);
  m.irq.pending = true;
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  CpuState s = m.state();
  EXPECT_EQ(s.gpr[RBX] & 0xff, 1u);
  EXPECT_EQ(s.gpr[RAX] & 0xff, 0x42u);
  EXPECT_EQ(s.rip, 0x7c05u);
}

TEST(TcgExecution, RepMovsb) {
  Machine m;
  Bytes src(100);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 7 + 3);
  m.put(0x1000, src);
  m.put(0x7c00, {0xbe, 0x00, 0x10, 0xbf, 0x00, 0x20, 0xb9, 0x64, 0x00, 0xfc, 0xf3, 0xa4, 0xf4});
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  CpuState s = m.state();
  for (size_t i = 0; i < src.size(); ++i) ASSERT_EQ(m.get<uint8_t>(0x2000 + i), src[i]) << i;
  EXPECT_EQ(m.get<uint8_t>(0x2000 + 100), 0u);
  EXPECT_EQ(s.gpr[RCX] & 0xffff, 0u);
  EXPECT_EQ(s.gpr[RSI] & 0xffff, 0x1064u);
  EXPECT_EQ(s.gpr[RDI] & 0xffff, 0x2064u);
}

TEST(TcgExecution, StoreIntoRunningBlockIsSeen) {
  Machine m;
  // mov byte [0x7c06], 0x42 overwrites the immediate of the next instruction, mov al, 0x11.
  m.put(0x7c00, {0xc6, 0x06, 0x06, 0x7c, 0x42, 0xb0, 0x11, 0xf4});
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  EXPECT_EQ(m.state().gpr[RAX] & 0xff, 0x42u);
  EXPECT_GE(m.stats().blocks_invalidated, 1u);
  EXPECT_GE(m.stats().blocks_translated, 2u);  // the block was translated again after the store
}

TEST(TcgExecution, UnimplementedInstructionRaisesUd) {
  Machine m;
  m.ivt(6, 0, 0x7e00);
  m.put(0x7e00, {0x5b, 0xf4});                    // pop bx; hlt
  m.put(0x7c00, {0x0f, 0x38, 0x00, 0xc1, 0xf4});  // pshufb mm0, mm1 (no SSSE3 yet)
  m.start_real(0x7c00);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  EXPECT_EQ(m.state().gpr[RBX] & 0xffff, 0x7c00u);
  EXPECT_EQ(m.stats().undefined_opcodes, 1u);
}

TEST(TcgExecution, TripleFaultShutsDown) {
  Machine m;
  m.put(0x7c00, {0xcc});  // int3 with an empty IVT
  m.start_real(0x7c00);
  CpuState s = m.state();
  s.idtr = {0, 0};
  m.vcpu->set_state(s);
  EXPECT_EQ(m.run().reason, VcpuExit::Reason::kShutdown);
}

TEST(TcgExecution, SingleStepAndExitRequests) {
  Machine m;
  m.put(0x7c00, {0x90, 0x40, 0xeb, 0xfe});  // nop; inc ax; jmp $
  m.start_real(0x7c00);
  m.vcpu->set_single_step(true);
  EXPECT_EQ(m.run().reason, VcpuExit::Reason::kSingleStep);
  EXPECT_EQ(m.state().rip, 0x7c01u);
  EXPECT_EQ(m.run().reason, VcpuExit::Reason::kSingleStep);
  EXPECT_EQ(m.state().rip, 0x7c02u);
  EXPECT_EQ(m.state().gpr[RAX] & 0xffff, 1u);
  m.vcpu->set_single_step(false);
  m.vcpu->request_exit();
  EXPECT_EQ(m.run().reason, VcpuExit::Reason::kKicked);
  m.clock.set(1000);
  EXPECT_EQ(m.vcpu->run(500).reason, VcpuExit::Reason::kKicked);  // deadline already passed
  EXPECT_EQ(m.state().rip, 0x7c02u);
}

// IA32_ARCH_CAPABILITIES (advertised in CPUID 7.EDX[29]) reads the software CPU's "not affected"
// bits (so Linux runs without page-table isolation or buffer clearing) and is read-only.
TEST(TcgExecution, ArchCapabilitiesMsrIsReadOnly) {
  Machine m;
  m.idt64(13, 0x101000);
  m.put(0x101000, {0xf4});  // #GP handler: hlt
  // mov ecx, 0x10a; rdmsr; mov rbx, rdx; mov rsi, rax; wrmsr; hlt
  m.put(0x100000, {0xb9, 0x0a, 0x01, 0x00, 0x00, 0x0f, 0x32, 0x48, 0x89, 0xd3, 0x48, 0x89, 0xc6, 0x0f, 0x30, 0xf4});
  m.start_long(0x100000);
  ASSERT_EQ(m.run().reason, VcpuExit::Reason::kHalted);
  CpuState s = m.state();
  EXPECT_EQ((s.gpr[RBX] << 32) | (s.gpr[RSI] & 0xffffffff), kSoftwareCpuArchCapabilities);
  EXPECT_EQ(kSoftwareCpuArchCapabilities & 1, 1u);  // RDCL_NO
  EXPECT_EQ(s.rip, 0x101001u) << "WRMSR to it raises #GP";
}
