// Which instructions make the cross-check read the leader's extended state (x87/SSE, MSRs, debug
// registers, XCR0, MP state) after them (accel/cross/extended_state.*). No KVM needed.
#include <gtest/gtest.h>

#include <vector>

#include "accel/cross/extended_state.h"

using namespace janus;
using namespace janus::cross;

namespace {

CpuState long_mode() {
  CpuState s;
  s.cr0 = cr0::PE | cr0::PG;
  s.efer = efer::LME | efer::LMA;
  return s;
}

bool may_change(std::vector<uint8_t> bytes, const CpuState& before = long_mode(),
                tcg::CodeSize size = tcg::CodeSize::k64) {
  return may_change_extended_state(tcg::decode_x86(bytes, size), before);
}

}  // namespace

TEST(ExtendedState, IntegerAndSystemInstructionsLeaveItAlone) {
  const std::vector<std::vector<uint8_t>> plain = {
      {0x48, 0x01, 0xd8},              // add rax, rbx
      {0xf3, 0x48, 0xa5},              // rep movsq
      {0x48, 0xc1, 0xc0, 0x35},        // rol rax, 0x35
      {0x0f, 0xa2},                    // cpuid
      {0x0f, 0x31},                    // rdtsc
      {0x0f, 0x32},                    // rdmsr
      {0x0f, 0x01, 0x15, 0, 0, 0, 0},  // lgdt [rip]
      {0x0f, 0x01, 0xd0},              // xgetbv
      {0x0f, 0xae, 0xe8},              // lfence
      {0xf3, 0x48, 0x0f, 0xae, 0xd8},  // wrgsbase rax
      {0x0f, 0xae, 0x38},              // clflush [rax]
      {0x48, 0x0f, 0xc7, 0x0e},        // cmpxchg16b [rsi]
      {0xe6, 0x80},                    // out 0x80, al
      {0xcd, 0x80},                    // int 0x80 (a task gate shows as a TR change)
      {0x48, 0xcf},                    // iretq
      {0x0f, 0x05},                    // syscall (reads MSRs, writes none)
  };
  for (const auto& b : plain) EXPECT_FALSE(may_change(b)) << "first bytes 0x" << std::hex << int(b[0]) << " 0x" << int(b[1]);
}

TEST(ExtendedState, StateInstructionsMayChangeIt) {
  const std::vector<std::vector<uint8_t>> changing = {
      {0xdb, 0xe3},                    // fninit
      {0xd9, 0xe8},                    // fld1
      {0x9b},                          // fwait
      {0x0f, 0x28, 0xc1},              // movaps xmm0, xmm1
      {0x66, 0x0f, 0xef, 0xc0},        // pxor xmm0, xmm0
      {0x0f, 0x77},                    // emms
      {0x0f, 0xae, 0x10},              // ldmxcsr [rax]
      {0x0f, 0xae, 0x08},              // fxrstor [rax]
      {0x0f, 0xae, 0x28},              // xrstor [rax]
      {0x0f, 0xc7, 0x18},              // xrstors [rax]
      {0x66, 0x0f, 0x38, 0x00, 0xc1},  // pshufb xmm0, xmm1
      {0x0f, 0x30},                    // wrmsr
      {0x0f, 0x01, 0xf8},              // swapgs
      {0x0f, 0x01, 0xd1},              // xsetbv
      {0x0f, 0x01, 0xc9},              // mwait
      {0x0f, 0x23, 0xc0},              // mov dr0, rax
      {0x0f, 0x21, 0xf8},              // mov rax, dr7
      {0x0f, 0x22, 0xd8},              // mov cr3, rax (control register writes are read whole)
      {0xf1},                          // icebp: #DB writes DR6
      {0xf4},                          // hlt: MP state
      {0xc5, 0xf8, 0x77},              // vzeroupper (VEX: not decoded, so read whole)
      {0x0f, 0xff},                    // ud0 / unknown 0F opcodes
  };
  for (const auto& b : changing) EXPECT_TRUE(may_change(b)) << "first bytes 0x" << std::hex << int(b[0]) << " 0x" << int(b.size() > 1 ? b[1] : 0);
}

TEST(ExtendedState, AnyInstructionWhileADebugTrapCanHappen) {
  const std::vector<uint8_t> add = {0x48, 0x01, 0xd8};
  CpuState s = long_mode();
  s.rflags |= rflags::TF;  // the guest's own single-stepping: #DB after every instruction
  EXPECT_TRUE(may_change(add, s));
  s = long_mode();
  s.dr7 = 0x400 | 0x2;  // G0: a breakpoint may hit
  EXPECT_TRUE(may_change(add, s));
  s.dr7 = 0x400 | (1u << 13);  // GD
  EXPECT_TRUE(may_change(add, s));
  s.dr7 = 0x400;
  EXPECT_FALSE(may_change(add, s));
  EXPECT_TRUE(may_change({}));      // nothing readable at RIP
  EXPECT_TRUE(may_change({0x0f}));  // cut short
}

TEST(ExtendedState, FieldNames) {
  for (const char* f : {"fx.fcw", "st3", "xmm15", "dr0", "dr6", "xcr0", "msr.star", "msr.kernel_gs_base", "tsc", "halted"})
    EXPECT_TRUE(is_extended_field(f)) << f;
  for (const char* f : {"rax", "rip", "rflags", "ds.base", "cr0", "cr8", "efer", "msr.apic_base", "events.nmi_pending", "tr.attr"})
    EXPECT_FALSE(is_extended_field(f)) << f;
}
