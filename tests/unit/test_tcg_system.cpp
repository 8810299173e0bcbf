// The software CPU's system architecture: call gates, hardware task switches, debug exceptions,
// descriptor queries (LAR/LSL/VERR/VERW/ARPL), BOUND, branch limits, segment pushes, EXT error
// codes and virtual-8086 mode. Guest code is written in nasm (assembled when the test runs) and
// runs on a small machine whose exception handlers are HLTs: where the CPU halts says which
// vector it took, and the frame on the handler's stack says how.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
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

// Assembles nasm source (flat binary) with a scratch file pair.
Bytes assemble(const std::string& source) {
  char dir[] = "/tmp/janus-sys-XXXXXX";
  if (!mkdtemp(dir)) return {};
  std::string in = std::string(dir) + "/t.asm", out = std::string(dir) + "/t.bin";
  std::ofstream(in) << source;
  std::string cmd = "nasm -f bin -o " + out + " " + in + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream f(out, std::ios::binary);
  Bytes b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::remove(in.c_str());
  std::remove(out.c_str());
  rmdir(dir);
  EXPECT_EQ(rc, 0) << source;
  return b;
}

struct StubIo : IoHandler {
  uint64_t pio_read(uint16_t, unsigned) override { return 0; }
  void pio_write(uint16_t, unsigned, uint64_t) override {}
  uint64_t mmio_read(uint64_t, unsigned) override { return ~0ull; }
  void mmio_write(uint64_t, unsigned, uint64_t) override {}
};

struct StubInterrupts : InterruptSource {
  bool pending = false;
  int vector = 0x20;
  bool interrupt_pending() override { return pending; }
  int acknowledge_interrupt() override {
    pending = false;
    return vector;
  }
  uint64_t cr8() override { return 0; }
  void set_cr8(uint64_t) override {}
};

// Selectors of the machine's GDT.
constexpr uint16_t kCode0 = 0x08, kData0 = 0x10, kCode3 = 0x1b, kData3 = 0x23, kTssA = 0x28, kTssB = 0x30,
                   kGate = 0x38, kSpare = 0x40, kSmallCode = 0x50, kLdt = 0x58;
constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kHandlers = 0x3000, kTssABase = 0x4000, kTssBBase = 0x4100,
                   kCode = 0x10000, kRing0Code = 0x11000;
constexpr int kNoFault = -1;

uint64_t gate_descriptor(uint16_t sel, uint64_t offset, unsigned type, unsigned dpl, unsigned params = 0) {
  return (offset & 0xffff) | (uint64_t(sel) << 16) | (uint64_t(params & 0x1f) << 32) |
         (uint64_t(0x80 | (dpl << 5) | type) << 40) | (((offset >> 16) & 0xffff) << 48);
}

class SysMachine {
 public:
  GuestMemory mem{32ull << 20};
  StubIo io;
  StubInterrupts irq;
  CpuidTable cpuid = janus_cpuid_template();
  ManualClock clock;
  TcgAccelerator accel{cpuid};
  std::unique_ptr<Vcpu> vcpu;

  SysMachine() {
    accel.map_memory(mem);
    vcpu = accel.create_vcpu(0, VcpuContext{mem, io, irq, cpuid, clock});
    for (unsigned v = 0; v < 256; ++v) put_value<uint8_t>(kHandlers + 16 * v, 0xf4);
  }
  void put(uint64_t gpa, const Bytes& b) { ASSERT_TRUE(mem.write_phys(gpa, b.data(), b.size())); }
  template <typename T> void put_value(uint64_t gpa, T v) { mem.store(gpa, v); }
  template <typename T> T get(uint64_t gpa) { return mem.load<T>(gpa); }
  void gdt(uint16_t sel, uint64_t raw) { put_value<uint64_t>(kGdt + (sel & ~7u), raw); }
  void code(uint64_t at, const std::string& body, unsigned bits = 32) {
    put(at, assemble("bits " + std::to_string(bits) + "\norg " + std::to_string(at) + "\n" + body));
  }

  // 32-bit protected mode, no paging, CPL 0: flat code/data at DPL 0 and 3, TSS A loaded
  // (SS0:ESP0 = 0x10:0x9000), TSS B available, an IDT of DPL-3 interrupt gates to HLTs.
  CpuState pm32(uint64_t eip) {
    gdt(0, 0);
    gdt(kCode0, make_descriptor(0, 0xffffffff, 0xc09b));
    gdt(kData0, make_descriptor(0, 0xffffffff, 0xc093));
    gdt(kCode3, make_descriptor(0, 0xffffffff, 0xc0fb));
    gdt(kData3, make_descriptor(0, 0xffffffff, 0xc0f3));
    gdt(kTssA, make_descriptor(kTssABase, 0x67, 0x8b));
    gdt(kTssB, make_descriptor(kTssBBase, 0x67, 0x89));
    gdt(kSmallCode, make_descriptor(0, 0x1ffff, 0x409b));
    gdt(kLdt, make_descriptor(0x5000, 0xf, 0x82));
    put_value<uint32_t>(kTssABase + 4, 0x9000);
    put_value<uint32_t>(kTssABase + 8, kData0);
    for (unsigned v = 0; v < 256; ++v) put_value<uint64_t>(kIdt + 8 * v, gate_descriptor(kCode0, kHandlers + 16 * v, 0xe, 3));
    CpuState s = reset_cpu_state();
    s.cr0 = cr0::PE | cr0::ET;
    s.seg[CS] = SegmentDescriptor{make_descriptor(0, 0xffffffff, 0xc09b)}.to_segment(kCode0);
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = SegmentDescriptor{make_descriptor(0, 0xffffffff, 0xc093)}.to_segment(kData0);
    s.gdtr = {kGdt, 0x7f};
    s.idtr = {kIdt, 0x7ff};
    s.tr = SegmentDescriptor{make_descriptor(kTssABase, 0x67, 0x8b)}.to_segment(kTssA);
    s.ldtr.unusable = true;
    s.ldtr.selector = 0;
    s.rip = eip;
    s.gpr[RSP] = 0x8000;
    return s;
  }
  // The same machine with CPL 3 code and stack.
  CpuState pm32_user(uint64_t eip) {
    CpuState s = pm32(eip);
    s.seg[CS] = SegmentDescriptor{make_descriptor(0, 0xffffffff, 0xc0fb)}.to_segment(kCode3);
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = SegmentDescriptor{make_descriptor(0, 0xffffffff, 0xc0f3)}.to_segment(kData3);
    s.gpr[RSP] = 0x7000;
    return s;
  }

  // 64-bit mode: identity-mapped first GiB, GDT 0x08 code64/0x10 data (DPL 0), 0x18 code64 and
  // 0x20 data (DPL 3), 0x28 a 64-bit TSS (RSP0 = 0x9000), 16-byte IDT gates to the HLTs.
  CpuState long64(uint64_t rip) {
    put_value<uint64_t>(0x80000, 0x81000 | 7);
    put_value<uint64_t>(0x81000, 0x82000 | 7);
    for (uint64_t i = 0; i < 512; ++i) put_value<uint64_t>(0x82000 + 8 * i, (i << 21) | 0x87);
    gdt(0, 0);
    gdt(0x08, 0x00af9b000000ffffull);
    gdt(0x10, 0x00cf93000000ffffull);
    gdt(0x18, 0x00affb000000ffffull);
    gdt(0x20, 0x00cff3000000ffffull);
    gdt(0x28, make_descriptor(kTssABase, 0x67, 0x8b));
    gdt(0x30, 0);
    put_value<uint64_t>(kTssABase + 4, 0x9000);
    for (unsigned v = 0; v < 128; ++v) {
      put_value<uint64_t>(kIdt + 16 * v, gate_descriptor(0x08, kHandlers + 16 * v, 0xe, 3));
      put_value<uint64_t>(kIdt + 16 * v + 8, 0);
    }
    CpuState s = reset_cpu_state();
    s.cr0 = cr0::PE | cr0::PG | cr0::ET;
    s.cr3 = 0x80000;
    s.cr4 = cr4::PAE;
    s.efer = efer::LME | efer::LMA;
    s.seg[CS] = Segment{0x08, 0, 0xffffffff, 0xa09b, false};
    for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
    s.gdtr = {kGdt, 0x7f};
    s.idtr = {kIdt, 0x7ff};
    s.tr = Segment{kTssA, kTssABase, 0x67, 0x8b, false};
    s.rip = rip;
    s.gpr[RSP] = 0x8000;
    return s;
  }

  // Runs until HLT; returns the vector whose handler halted, or kNoFault.
  int run(const CpuState& s, CpuState& out) {
    vcpu->set_state(s);
    VcpuExit e = vcpu->run(kNever);
    EXPECT_EQ(e.reason, VcpuExit::Reason::kHalted) << e.detail;
    out = vcpu->get_state();
    uint64_t at = out.rip - 1;
    if (at >= kHandlers && at < kHandlers + 256 * 16 && at % 16 == 0) return int((at - kHandlers) / 16);
    return kNoFault;
  }
  // The handler's stack, 32- or 64-bit slots from the top.
  uint64_t frame32(const CpuState& s, unsigned i) { return get<uint32_t>(s.seg[SS].base + uint32_t(s.gpr[RSP]) + 4 * i); }
  uint64_t frame64(const CpuState& s, unsigned i) { return get<uint64_t>(s.gpr[RSP] + 8 * i); }
  const tcg::TcgStats& stats() { return *TcgAccelerator::stats_of(*vcpu); }
};

}  // namespace

// --- Call gates -----------------------------------------------------------------------------

TEST(TcgSystem, CallGate32SwitchesStackCopiesParametersAndRetfReturnsOutward) {
  SysMachine m;
  CpuState s = m.pm32_user(kCode);
  m.gdt(kGate, gate_descriptor(kCode0, kRing0Code, 0xc, 3, 2));
  m.code(kCode, "push dword 0x1111\n push dword 0x2222\n call 0x3b:0\n hlt");
  m.code(kRing0Code,
         "mov ebx, [esp+8]\n mov ecx, [esp+12]\n mov edx, [esp+16]\n mov esi, [esp+20]\n mov edi, esp\n"
         "mov eax, [esp+4]\n mov ebp, eax\n mov ax, 0x10\n mov es, ax\n mov eax, 0x600d\n retf 8");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kGP);  // the HLT back at CPL 3
  EXPECT_EQ(out.gpr[RBX], 0x2222u);      // parameters copied in order
  EXPECT_EQ(out.gpr[RCX], 0x1111u);
  EXPECT_EQ(out.gpr[RDX], 0x6ff8u);      // the caller's ESP and SS on the inner stack
  EXPECT_EQ(out.gpr[RSI], kData3);
  EXPECT_EQ(out.gpr[RDI], 0x9000u - 24); // SS0:ESP0 from the TSS
  EXPECT_EQ(out.gpr[RBP], kCode3);       // the caller's CS
  EXPECT_EQ(out.gpr[RAX], 0x600du);
  EXPECT_EQ(out.seg[ES].selector, 0);    // DPL 0 data nulled on the way out to CPL 3
  EXPECT_EQ(out.seg[DS].selector, kData3);
  EXPECT_EQ(m.frame32(out, 2), kCode3);   // #GP from the HLT at CPL 3 ...
  EXPECT_EQ(m.frame32(out, 4), 0x7000u); // ... after RETF 8 released the parameters
  EXPECT_EQ(m.frame32(out, 5), kData3);
}

TEST(TcgSystem, CallGatePrivilegeChecksRaiseGpWithTheRightSelector) {
  {
    SysMachine m;  // gate DPL 0 from CPL 3
    CpuState s = m.pm32_user(kCode);
    m.gdt(kGate, gate_descriptor(kCode0, kRing0Code, 0xc, 0));
    m.code(kCode, "call 0x3b:0");
    CpuState out;
    ASSERT_EQ(m.run(s, out), kGP);
    EXPECT_EQ(m.frame32(out, 0), kGate);
    EXPECT_EQ(m.frame32(out, 1), kCode);
  }
  {
    SysMachine m;  // JMP through a gate may not change privilege
    CpuState s = m.pm32_user(kCode);
    m.gdt(kGate, gate_descriptor(kCode0, kRing0Code, 0xc, 3));
    m.code(kCode, "jmp 0x3b:0");
    CpuState out;
    ASSERT_EQ(m.run(s, out), kGP);
    EXPECT_EQ(m.frame32(out, 0), kCode0);
  }
  {
    SysMachine m;  // not present
    CpuState s = m.pm32_user(kCode);
    m.gdt(kGate, gate_descriptor(kCode0, kRing0Code, 0xc, 3) & ~(1ull << 47));
    m.code(kCode, "call 0x3b:0");
    CpuState out;
    ASSERT_EQ(m.run(s, out), kNP);
    EXPECT_EQ(m.frame32(out, 0), kGate);
  }
}

TEST(TcgSystem, CallGate16PushesWordsAndSamePrivilegeCallKeepsStack) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  m.gdt(kGate, gate_descriptor(kCode0, 0x6000, 0x4, 0));  // a 16-bit gate holds a 16-bit offset
  m.code(kCode, "call 0x38:0\n hlt");
  m.code(0x6000, "mov ebx, esp\n mov ecx, [esp]\n hlt");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[RBX], 0x8000u - 4);  // two 16-bit pushes on the same stack
  EXPECT_EQ(out.gpr[RCX], (uint32_t(kCode0) << 16) | ((kCode + 7) & 0xffff));
  EXPECT_EQ(out.rip, 0x6000u + 6);
}

TEST(TcgSystem, CallGate64FromUserModeAndFarReturn) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.seg[CS] = Segment{0x1b, 0, 0xffffffff, 0xa0fb, false};
  for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x23, 0, 0xffffffff, 0xc0f3, false};
  s.gpr[RSP] = 0x7000;
  uint64_t gate = gate_descriptor(0x08, kRing0Code, 0xc, 3);
  m.gdt(kGate, gate);
  m.gdt(kSpare, 0);  // upper half of the 16-byte gate
  m.code(kCode, "call far [rel farptr]\n hlt\n farptr: dq 0\n dw 0x3b", 64);
  m.code(kRing0Code,
         "mov rbx, [rsp]\n mov rcx, [rsp+8]\n mov rdx, [rsp+16]\n mov rsi, [rsp+24]\n mov rdi, rsp\n"
         "mov ax, ss\n mov r8, rax\n o64 retf", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kGP);  // HLT back at CPL 3
  EXPECT_EQ(out.gpr[RBX], kCode + 7);  // RIP, CS, RSP, SS, 8 bytes each
  EXPECT_EQ(out.gpr[RCX], 0x1bu);
  EXPECT_EQ(out.gpr[RDX], 0x7000u);
  EXPECT_EQ(out.gpr[RSI], 0x23u);
  EXPECT_EQ(out.gpr[RDI], 0x9000u - 32);  // RSP0, not aligned for call gates
  EXPECT_EQ(out.gpr[R8] & 0xffff, 0u);    // SS is a null selector with RPL 0
  EXPECT_EQ(m.frame64(out, 2), 0x1bu);
  EXPECT_EQ(m.frame64(out, 4), 0x7000u);
}

// --- Task switches --------------------------------------------------------------------------

namespace {
void tss32(SysMachine& m, uint64_t base, uint32_t eip, uint32_t esp, uint32_t eax, uint16_t cs = kCode0,
           uint16_t ds = kData0) {
  for (unsigned i = 0; i < 0x68; i += 4) m.put_value<uint32_t>(base + i, 0);
  m.put_value<uint32_t>(base + 0x20, eip);
  m.put_value<uint32_t>(base + 0x24, 0x2);
  m.put_value<uint32_t>(base + 0x28, eax);
  m.put_value<uint32_t>(base + 0x38, esp);
  m.put_value<uint32_t>(base + 0x48, ds);  // ES
  m.put_value<uint32_t>(base + 0x4c, cs);
  m.put_value<uint32_t>(base + 0x50, ds);  // SS
  m.put_value<uint32_t>(base + 0x54, ds);
  m.put_value<uint32_t>(base + 0x58, ds);
  m.put_value<uint32_t>(base + 0x5c, ds);
}
unsigned tss_type(SysMachine& m, uint16_t sel) { return (m.get<uint64_t>(kGdt + sel) >> 40) & 0xf; }
}  // namespace

TEST(TcgSystem, CallToTaskNestsAndIretReturnsAlongTheBackLink) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  s.gpr[RAX] = 0xaaaa;
  tss32(m, kTssBBase, kRing0Code, 0x7800, 0xbbbb);
  m.code(kCode, "call 0x30:0\n mov edi, eax\n hlt");
  // Task B: look at its own state, then return with IRET (NT = 1).
  m.code(kRing0Code, "mov ebx, eax\n pushfd\n pop ecx\n str dx\n mov eax, 0x1234\n iretd");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.rip, kCode + 10);
  EXPECT_EQ(out.gpr[RDI], 0xaaaau);  // task A's EAX came back from its TSS
  EXPECT_EQ(m.get<uint32_t>(kTssBBase + 0x28), 0x1234u);  // task B's EAX saved by the IRET
  EXPECT_EQ(m.get<uint16_t>(kTssBBase), kTssA);            // back-link
  EXPECT_EQ(m.get<uint32_t>(kTssBBase + 0x34), 0xbbbbu);   // EBX: task B's EAX from its TSS
  EXPECT_TRUE(m.get<uint32_t>(kTssBBase + 0x2c) & rflags::NT);   // ECX: B ran with NT set
  EXPECT_FALSE(m.get<uint32_t>(kTssBBase + 0x24) & rflags::NT);  // IRET clears NT in B's image
  EXPECT_EQ(m.get<uint32_t>(kTssBBase + 0x30), kTssB);      // EDX: STR in task B
  EXPECT_EQ(tss_type(m, kTssB), 0x9u);  // B available again, A busy
  EXPECT_EQ(tss_type(m, kTssA), 0xbu);
  EXPECT_EQ(out.tr.selector, kTssA);
  EXPECT_FALSE(out.rflags & rflags::NT);
  EXPECT_TRUE(out.cr0 & cr0::TS);
}

TEST(TcgSystem, JmpThroughTaskGateFreesTheOldTaskAndBusyTargetFaults) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  tss32(m, kTssBBase, kRing0Code, 0x7800, 0xbbbb);
  m.gdt(kSpare, gate_descriptor(kTssB, 0, 0x5, 0));
  m.code(kCode, "jmp 0x40:0\n hlt");
  m.code(kRing0Code, "mov ebx, eax\n jmp 0x28:0");  // the JMP freed task A, so B may jump back
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.rip, kCode + 8);  // task A resumed after its JMP
  EXPECT_EQ(m.get<uint32_t>(kTssBBase + 0x34), 0xbbbbu);  // task B's EBX, saved by its JMP
  EXPECT_EQ(out.tr.selector, kTssA);
  EXPECT_EQ(tss_type(m, kTssB), 0x9u);
  EXPECT_EQ(tss_type(m, kTssA), 0xbu);
  EXPECT_FALSE(out.rflags & rflags::NT);

  SysMachine m2;  // a CALL to the busy current task is #GP(selector)
  CpuState s2 = m2.pm32(kCode);
  m2.code(kCode, "call 0x28:0");
  ASSERT_EQ(m2.run(s2, out), kGP);
  EXPECT_EQ(m2.frame32(out, 0), kTssA);
}

TEST(TcgSystem, ExceptionThroughTaskGatePushesErrorCodeOnTheNewTaskStack) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  tss32(m, kTssBBase, kRing0Code, 0x7800, 0);
  m.put_value<uint64_t>(kIdt + 8 * kGP, gate_descriptor(kTssB, 0, 0x5, 0));
  m.code(kCode, "mov ax, 0x63\n mov ds, ax");  // beyond the GDT limit: #GP(0x60)
  m.code(kRing0Code, "pop ebx\n hlt");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[RBX], 0x60u);
  EXPECT_EQ(out.gpr[RSP], 0x7800u);
  EXPECT_EQ(out.tr.selector, kTssB);
  EXPECT_EQ(m.get<uint32_t>(kTssABase + 0x20), kCode + 4);  // the faulting instruction
  EXPECT_TRUE(out.rflags & rflags::NT);
}

TEST(TcgSystem, TaskSwitchFaultsWithTsErrorCodes) {
  {
    SysMachine m;  // TSS limit below 0x67: #TS(selector)
    CpuState s = m.pm32(kCode);
    m.gdt(kTssB, make_descriptor(kTssBBase, 0x50, 0x89));
    m.code(kCode, "jmp 0x30:0");
    CpuState out;
    ASSERT_EQ(m.run(s, out), kTS);
    EXPECT_EQ(m.frame32(out, 0), kTssB);
  }
  {
    SysMachine m;  // the new task's CS is a data segment: #TS(CS), raised in the new task
    CpuState s = m.pm32(kCode);
    tss32(m, kTssBBase, kRing0Code, 0x7800, 0, kData0);
    m.code(kCode, "jmp 0x30:0");
    CpuState out;
    ASSERT_EQ(m.run(s, out), kTS);
    EXPECT_EQ(m.frame32(out, 0), kData0);
    EXPECT_EQ(out.tr.selector, kTssB);
  }
  {
    SysMachine m;  // IRET with NT whose back-link is not a busy TSS: #TS(back-link)
    CpuState s = m.pm32(kCode);
    s.rflags |= rflags::NT;
    m.put_value<uint16_t>(kTssABase, kTssB);
    m.code(kCode, "iretd");
    CpuState out;
    ASSERT_EQ(m.run(s, out), kTS);
    EXPECT_EQ(m.frame32(out, 0), kTssB);
  }
}

TEST(TcgSystem, LongModeHasNoTaskSwitching) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  m.gdt(kTssB, make_descriptor(kTssBBase, 0x67, 0x89));
  m.code(kCode, "jmp far [rel farptr]\n farptr: dq 0\n dw 0x30", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kGP);
  EXPECT_EQ(m.frame64(out, 0), kTssB);

  s.rflags |= rflags::NT;
  m.code(kCode + 0x100, "iretq", 64);
  s.rip = kCode + 0x100;
  ASSERT_EQ(m.run(s, out), kGP);
  EXPECT_EQ(m.frame64(out, 0), 0u);
  EXPECT_EQ(m.frame64(out, 1), kCode + 0x100);
}

// --- Debug exceptions -----------------------------------------------------------------------

TEST(TcgSystem, SingleStepTrapsAfterTheInstructionFollowingPopf) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  m.code(kCode, "pushfq\n or qword [rsp], 0x100\n popfq\n inc eax\n inc ebx\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kDB);
  EXPECT_EQ(m.frame64(out, 0), kCode + 12);  // after INC EAX: POPF itself did not trap
  EXPECT_EQ(out.gpr[RAX], 1u);
  EXPECT_EQ(out.gpr[RBX], 0u);
  EXPECT_TRUE(m.frame64(out, 2) & rflags::TF);
  EXPECT_FALSE(out.rflags & rflags::TF);
  EXPECT_EQ(out.dr6 & 0xe00f, 0x4000u);  // BS
}

TEST(TcgSystem, MovSsHoldsTheSingleStepTrapForOneInstruction) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.rflags |= rflags::TF;
  s.gpr[RAX] = 0x10;
  m.code(kCode, "mov ss, ax\n inc ebx\n inc ecx\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kDB);
  EXPECT_EQ(m.frame64(out, 0), kCode + 4);  // after INC EBX, not after MOV SS
  EXPECT_EQ(out.gpr[RBX], 1u);
  EXPECT_EQ(out.gpr[RCX], 0u);
  EXPECT_TRUE(out.dr6 & 0x4000);
}

TEST(TcgSystem, SoftwareInterruptsClearTfWithoutASingleStepTrap) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.rflags |= rflags::TF;
  m.code(kCode, "int 0x40", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), 0x40);  // the handler ran (and halted) without a #DB first
  EXPECT_EQ(m.frame64(out, 0), kCode + 2);
  EXPECT_TRUE(m.frame64(out, 2) & rflags::TF);
  EXPECT_FALSE(out.rflags & rflags::TF);
}

TEST(TcgSystem, IretLoadingTfTrapsAfterTheFirstInstructionItReturnsTo) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  m.code(kCode,
         "mov rax, rsp\n push 0x10\n push rax\n push 0x102\n push 0x08\n push target\n iretq\n"
         "target: inc ebx\n inc ecx\n hlt",
         64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kDB);
  EXPECT_EQ(out.gpr[RBX], 1u);
  EXPECT_EQ(out.gpr[RCX], 0u);
}

TEST(TcgSystem, InstructionBreakpointFaultsBeforeTheInstructionAndRfSuppressesIt) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.dr[0] = kCode + 2;
  s.dr7 = 0x401;  // L0, execute, length 1
  m.code(kCode, "inc eax\n inc ebx\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kDB);
  EXPECT_EQ(m.frame64(out, 0), kCode + 2);  // a fault: RIP on the instruction
  EXPECT_EQ(out.gpr[RAX], 1u);
  EXPECT_EQ(out.gpr[RBX], 0u);
  EXPECT_EQ(out.dr6 & 0xf, 1u);
  // Resuming with RF set (as the handler's IRETQ would) runs the instruction once.
  s.rip = kCode + 2;
  s.rflags |= rflags::RF;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[RBX], 1u);
  EXPECT_FALSE(out.rflags & rflags::RF);  // cleared once the instruction completed
}

TEST(TcgSystem, DataBreakpointsTrapAfterTheAccessByKindAndLength) {
  struct Case {
    uint64_t dr1, dr7_bits;  // RW1/LEN1 field
    const char* code;
    uint64_t trap_after;     // bytes of code before the trap, 0: no trap
  };
  // mov eax,[0x5000] is 7 bytes; mov dword [0x5002],1 is 11; inc ecx 2.
  const Case cases[] = {
      {0x5005, 0x1, "mov eax, [0x5000]\n mov dword [0x5002], 1\n inc ecx\n hlt", 18},  // write, len 1
      {0x5003, 0xd, "mov eax, [0x5000]\n mov dword [0x5002], 1\n inc ecx\n hlt", 18},  // write, len 4
      {0x5000, 0xf, "mov eax, [0x5000]\n inc ecx\n hlt", 7},                        // read/write, len 4
      {0x5008, 0x9, "mov eax, [0x500c]\n inc ecx\n hlt", 0},                        // write only: a read
      {0x5008, 0xb, "mov al, [0x500f]\n inc ecx\n hlt", 7},                         // r/w, len 8
      {0x5008, 0x7, "mov al, [0x500f]\n inc ecx\n hlt", 0},                         // r/w, len 2: misses
  };
  for (const Case& c : cases) {
    SysMachine m;
    CpuState s = m.long64(kCode);
    s.dr[1] = c.dr1;
    s.dr7 = 0x400 | (1u << 2) | (c.dr7_bits << 20);
    m.code(kCode, c.code, 64);
    CpuState out;
    SCOPED_TRACE(c.code);
    if (!c.trap_after) {
      EXPECT_EQ(m.run(s, out), kNoFault);
      EXPECT_EQ(out.gpr[RCX], 1u);
      continue;
    }
    ASSERT_EQ(m.run(s, out), kDB);
    EXPECT_EQ(m.frame64(out, 0), kCode + c.trap_after);
    EXPECT_EQ(out.dr6 & 0x400f, 2u);  // B1, not BS
  }
}

TEST(TcgSystem, GeneralDetectFaultsOnMovDrAndClearsGd) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.dr7 = 0x400 | (1u << 13);
  m.code(kCode, "mov rax, dr0\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kDB);
  EXPECT_EQ(m.frame64(out, 0), kCode);
  EXPECT_TRUE(out.dr6 & (1u << 13));
  EXPECT_FALSE(out.dr7 & (1u << 13));
}

TEST(TcgSystem, Int1AndInt3AreTrapsWithTheNextRip) {
  for (auto [insn, vector] : {std::pair{"int1", 1}, std::pair{"int3", 3}}) {
    SysMachine m;
    CpuState s = m.long64(kCode);
    m.code(kCode, std::string(insn) + "\n hlt", 64);
    CpuState out;
    ASSERT_EQ(m.run(s, out), vector);
    EXPECT_EQ(m.frame64(out, 0), kCode + 1);
  }
}

// --- Descriptor queries, ARPL, BOUND --------------------------------------------------------

TEST(TcgSystem, LarLslVerrVerwFollowTypeAndPrivilegeRules) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  m.gdt(kGate, gate_descriptor(kCode0, 0, 0xc, 3));
  m.code(kCode,
         "mov eax, 0x11111111\n lar eax, [sel_data3]\n setz [0x5000]\n"
         "mov ebx, 0x22222222\n mov cx, 0x28\n lar ebx, cx\n setz [0x5001]\n"
         "mov esi, 0x33333333\n mov cx, 0x50\n lsl esi, cx\n setz [0x5002]\n"
         "mov edi, 0x44444444\n mov cx, 0x38\n lsl edi, cx\n setz [0x5003]\n"   // call gate: no limit
         "mov cx, 0x38\n lar edx, cx\n setz [0x5004]\n"
         "mov cx, 0x1b\n verr cx\n setz [0x5005]\n verw cx\n setz [0x5006]\n"
         "mov cx, 0x23\n verw cx\n setz [0x5007]\n"
         "mov cx, 0x7f8\n verr cx\n setz [0x5008]\n"                           // beyond the GDT
         "mov bp, 0x10\n mov cx, 0x23\n arpl bp, cx\n setz [0x5009]\n"
         "mov cx, 0x12\n arpl cx, bp\n setz [0x500a]\n hlt\n"
         "sel_data3: dw 0x23");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[RAX], 0x00c0f300u);
  EXPECT_EQ(out.gpr[RBX], 0x00008b00u);  // busy 32-bit TSS
  EXPECT_EQ(out.gpr[RSI], 0x1ffffu);
  EXPECT_EQ(out.gpr[RDI], 0x44444444u);  // unchanged: ZF = 0
  EXPECT_EQ(out.gpr[RDX], 0x0000ec00u);
  EXPECT_EQ(out.gpr[RBP] & 0xffff, 0x13u);
  EXPECT_EQ(out.gpr[RCX] & 0xffff, 0x13u);
  const uint8_t expect_zf[] = {1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1};
  for (unsigned i = 0; i < sizeof expect_zf; ++i) EXPECT_EQ(m.get<uint8_t>(0x5000 + i), expect_zf[i]) << i;

  // From CPL 3 a DPL 0 segment is invisible.
  CpuState u = m.pm32_user(kCode + 0x800);
  m.code(kCode + 0x800, "mov eax, 0x5555\n mov cx, 0x10\n lar eax, cx\n setz bl\n verr cx\n setz bh\n int 0x40");
  ASSERT_EQ(m.run(u, out), 0x40);
  EXPECT_EQ(out.gpr[RAX], 0x5555u);
  EXPECT_EQ(out.gpr[RBX] & 0xffff, 0u);
}

TEST(TcgSystem, ArplOpcodeIsMovsxdIn64BitCode) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.gpr[RCX] = 0xfffffff0;
  m.code(kCode, "movsxd rax, ecx\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[RAX], 0xfffffffffffffff0ull);
}

TEST(TcgSystem, BoundRaisesBrOutsideTheSignedRange) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  m.put_value<int32_t>(0x5000, -10);
  m.put_value<int32_t>(0x5004, 20);
  s.gpr[RAX] = uint32_t(-10);
  m.code(kCode, "bound eax, [0x5000]\n mov eax, 21\n bound eax, [0x5000]\n hlt");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kBR);
  EXPECT_EQ(m.frame32(out, 0), kCode + 11);  // a fault: EIP on the second BOUND
}

// --- Smaller fixes --------------------------------------------------------------------------

TEST(TcgSystem, NearBranchBeyondTheCsLimitFaultsAtTheBranch) {
  for (const char* branch : {"jmp 0x20000", "jz 0x20000", "call 0x20000", "push 0x20000\n ret"}) {
    SysMachine m;
    CpuState s = m.pm32(kCode);
    s.seg[CS] = SegmentDescriptor{make_descriptor(0, 0x1ffff, 0x409b)}.to_segment(kSmallCode);
    m.code(kCode, std::string("xor eax, eax\n ") + branch);
    CpuState out;
    SCOPED_TRACE(branch);
    ASSERT_EQ(m.run(s, out), kGP);
    uint64_t at = std::string(branch).starts_with("push") ? kCode + 7 : kCode + 2;
    EXPECT_EQ(m.frame32(out, 1), at);
    // Only the #GP frame (error, EIP, CS, EFLAGS) is on the stack: CALL pushed nothing, RET popped nothing.
    EXPECT_EQ(out.gpr[RSP], 0x8000u - 16 - (std::string(branch).starts_with("push") ? 4 : 0));
  }
}

TEST(TcgSystem, PushSegmentWithWideOperandWritesOnlyTheSelector) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  m.put_value<uint32_t>(0x7ffc, 0xdeadbeef);
  m.code(kCode, "push ds\n hlt");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[RSP], 0x7ffcu);
  EXPECT_EQ(m.get<uint32_t>(0x7ffc), 0xdead0010u);

  CpuState l = m.long64(kCode + 0x100);
  m.put_value<uint64_t>(0x7ff8, 0x1122334455667788ull);
  m.code(kCode + 0x100, "push fs\n hlt", 64);
  ASSERT_EQ(m.run(l, out), kNoFault);
  EXPECT_EQ(out.gpr[RSP], 0x7ff8u);
  EXPECT_EQ(m.get<uint64_t>(0x7ff8), 0x1122334455660010ull);
}

TEST(TcgSystem, ErrorCodesCarryExtForHardwareEventsOnly) {
  SysMachine m;
  CpuState s = m.pm32(kCode);
  m.put_value<uint64_t>(kIdt + 8 * 0x20, gate_descriptor(kCode0, kHandlers + 16 * 0x20, 0xe, 3) & ~(1ull << 47));
  s.rflags |= rflags::IF;
  m.irq.pending = true;
  m.code(kCode, "nop\n hlt");
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNP);
  EXPECT_EQ(m.frame32(out, 0), (0x20u << 3) | 2 | 1);  // IDT, EXT

  s.rflags &= ~rflags::IF;
  m.code(kCode + 0x100, "int 0x20");
  s.rip = kCode + 0x100;
  ASSERT_EQ(m.run(s, out), kNP);
  EXPECT_EQ(m.frame32(out, 0), (0x20u << 3) | 2);  // INT n: no EXT

  m.put_value<uint64_t>(kIdt + 8 * 1, gate_descriptor(kCode0, kHandlers + 16, 0xe, 0) & ~(1ull << 47));
  m.code(kCode + 0x200, "int1");
  s.rip = kCode + 0x200;
  ASSERT_EQ(m.run(s, out), kNP);
  EXPECT_EQ(m.frame32(out, 0), (1u << 3) | 2 | 1);  // INT1 counts as external (and ignores DPL)
}

TEST(TcgSystem, RdtscpAndCmpxchg16bAreAdvertisedAndMisalignedCmpxchg16bFaults) {
  SysMachine m;
  EXPECT_TRUE(m.cpuid.ext1_edx(cpuid_bits::RDTSCP));
  EXPECT_TRUE(m.cpuid.query(1, 0).ecx & cpuid_bits::CX16);
  CpuState s = m.long64(kCode);
  s.msr.tsc_aux = 0x77;
  // rdtscp (3 bytes), mov rdi,rsp (3), and rdi,-16 (4), or rdi,8 (4): cmpxchg16b at +14.
  m.code(kCode, "rdtscp\n mov rdi, rsp\n and rdi, -16\n or rdi, 8\n cmpxchg16b [rdi]\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kGP);  // m128 must be 16-byte aligned
  EXPECT_EQ(m.frame64(out, 0), 0u);        // error code 0
  EXPECT_EQ(m.frame64(out, 1), kCode + 14);
  EXPECT_EQ(out.gpr[RCX], 0x77u);
  EXPECT_EQ(m.stats().undefined_opcodes, 0u);
}

// IA32_TSC_ADJUST on a clock that stands still, so every TSC value is exact: writing the MSR
// moves the TSC by the change, writing the TSC moves the MSR by as much as the TSC moved.
TEST(TcgSystem, TscAdjustAndTscMoveTogether) {
  SysMachine m;
  CpuState s = m.long64(kCode);
  s.tsc = 1000;
  m.code(kCode,
         "mov ecx, 0x3b\n mov eax, 500\n xor edx, edx\n wrmsr\n"  // adjust 0 -> 500: TSC 1500
         "rdtsc\n mov r8d, eax\n"
         "mov ecx, 0x10\n mov eax, 200\n wrmsr\n"                   // TSC 1500 -> 200: adjust -800
         "mov ecx, 0x3b\n rdmsr\n shl rdx, 32\n or rax, rdx\n mov r9, rax\n hlt",
         64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kNoFault);
  EXPECT_EQ(out.gpr[R8], 1500u);
  EXPECT_EQ(out.gpr[R9], uint64_t(500 - 1300));
  EXPECT_EQ(out.msr.tsc_adjust, uint64_t(-800));
  EXPECT_EQ(out.tsc, 200u);
}

TEST(TcgSystem, TscAdjustRaisesGpWithoutItsCpuidBit) {
  SysMachine m;
  m.cpuid.find(7, 0)->regs.ebx &= ~cpuid_bits::TSC_ADJUST;
  CpuState s = m.long64(kCode);
  m.code(kCode, "mov ecx, 0x3b\n rdmsr\n hlt", 64);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kGP);
  EXPECT_EQ(m.frame64(out, 0), 0u);         // error code 0
  EXPECT_EQ(m.frame64(out, 1), kCode + 5);  // at the RDMSR, after the 5-byte MOV
}

// --- Virtual-8086 mode ----------------------------------------------------------------------

namespace {
CpuState v86_state(SysMachine& m, unsigned iopl) {
  CpuState s = m.pm32(0);
  s.rflags = rflags::FIXED1 | rflags::VM | (uint64_t(iopl) << 12);
  s.seg[CS] = real_mode_segment(0x2000, 0xf3);
  s.seg[SS] = real_mode_segment(0x3000, 0xf3);
  s.seg[DS] = real_mode_segment(0x1234, 0xf3);
  s.seg[ES] = real_mode_segment(0x2345, 0xf3);
  s.seg[FS] = real_mode_segment(0x3456, 0xf3);
  s.seg[GS] = real_mode_segment(0x4567, 0xf3);
  s.rip = 0;
  s.gpr[RSP] = 0x100;
  return s;
}
}  // namespace

TEST(TcgSystem, V86IoplSensitiveInstructionsFaultToTheMonitor) {
  for (const char* insn : {"cli", "sti", "pushf", "popf", "int 0x40", "iret"}) {
    SysMachine m;
    CpuState s = v86_state(m, 0);
    m.code(0x20000, insn, 16);
    CpuState out;
    SCOPED_TRACE(insn);
    ASSERT_EQ(m.run(s, out), kGP);
    EXPECT_EQ(m.frame32(out, 0), 0u);
    EXPECT_EQ(m.frame32(out, 1), 0u);          // IP of the instruction
    EXPECT_EQ(m.frame32(out, 2), 0x2000u);     // CS
    EXPECT_TRUE(m.frame32(out, 3) & rflags::VM);
    EXPECT_EQ(m.frame32(out, 4), 0x100u);      // SP, SS
    EXPECT_EQ(m.frame32(out, 5), 0x3000u);
    EXPECT_EQ(m.frame32(out, 6), 0x2345u);     // ES DS FS GS
    EXPECT_EQ(m.frame32(out, 7), 0x1234u);
    EXPECT_EQ(m.frame32(out, 8), 0x3456u);
    EXPECT_EQ(m.frame32(out, 9), 0x4567u);
    EXPECT_EQ(out.gpr[RSP], 0x9000u - 40);
    EXPECT_EQ(out.seg[DS].selector, 0);        // zeroed for the protected-mode handler
    EXPECT_EQ(out.seg[GS].selector, 0);
    EXPECT_FALSE(out.rflags & rflags::VM);
  }
}

TEST(TcgSystem, V86IntWithIopl3UsesTheIdtAndIretReturnsToV86) {
  SysMachine m;
  CpuState s = v86_state(m, 3);
  m.put_value<uint64_t>(kIdt + 8 * 0x40, gate_descriptor(kCode0, kRing0Code, 0xe, 3));
  m.code(kRing0Code, "mov ebx, [esp]\n mov ecx, [esp+24]\n iretd");
  m.code(0x20000, "int 0x40\n mov ax, 0x1234\n hlt", 16);
  CpuState out;
  ASSERT_EQ(m.run(s, out), kGP);  // the HLT back in virtual-8086 mode
  EXPECT_EQ(out.gpr[RBX], 2u);        // return IP
  EXPECT_EQ(out.gpr[RCX], 0x1234u);   // DS in the frame
  EXPECT_EQ(out.gpr[RAX] & 0xffff, 0x1234u);
  EXPECT_EQ(m.frame32(out, 1), 5u);
  EXPECT_TRUE(m.frame32(out, 3) & rflags::VM);
  EXPECT_EQ(m.frame32(out, 7), 0x1234u);  // DS restored by IRETD
}
