// Cross-check helpers for meeting KVM where a leader run stopped: the follower running exactly
// n iterations of a REP string instruction (accel/cross/rep_string.*), and the privilege level
// a far RET or IRET returns to (accel/cross/return_privilege.*), which decides whether the
// leader may be single-stepped over it. Software CPU only: no KVM needed.
#include <gtest/gtest.h>

#include <vector>

#include "accel/cross/rep_string.h"
#include "accel/cross/return_privilege.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "tcg/tcg_accelerator.h"

using namespace janus;
using namespace janus::cross;

namespace {

class NoIo : public IoHandler {
 public:
  uint64_t pio_read(uint16_t, unsigned) override { return 0; }
  void pio_write(uint16_t, unsigned, uint64_t) override {}
  uint64_t mmio_read(uint64_t, unsigned) override { return 0; }
  void mmio_write(uint64_t, unsigned, uint64_t) override {}
};

class NoIrq : public InterruptSource {
 public:
  bool interrupt_pending() override { return false; }
  int acknowledge_interrupt() override { return -1; }
  uint64_t cr8() override { return 0; }
  void set_cr8(uint64_t) override {}
};

constexpr uint64_t kCode = 0x1000, kSrc = 0x2000, kDst = 0x3000;

// Real mode: `code` at 0:1000, CX = count, SI = 0x2000, DI = 0x3000, single-stepping.
class RepStringRun : public ::testing::Test {
 protected:
  void start(const std::vector<uint8_t>& code, uint16_t count) {
    memory_.write_phys(kCode, code.data(), code.size());
    std::vector<uint8_t> src(256), dst(256);
    for (size_t i = 0; i < src.size(); ++i) src[i] = dst[i] = uint8_t(i * 7 + 1);
    memory_.write_phys(kSrc, src.data(), src.size());
    memory_.write_phys(kDst, dst.data(), dst.size());
    TcgAccelerator tcg(cpuid_);
    cpu_ = tcg.create_vcpu(0, VcpuContext{memory_, io_, irq_, cpuid_, clock_});
    CpuState s = reset_cpu_state();
    for (auto& g : s.seg) g = {0, 0, 0xffff, 0x93, false};
    s.seg[CS] = {0, 0, 0xffff, 0x9b, false};
    s.cr0 = cr0::ET;
    s.rip = kCode;
    s.gpr[RCX] = count;
    s.gpr[RSI] = kSrc;
    s.gpr[RDI] = kDst;
    s.gpr[RSP] = 0x7000;
    cpu_->set_state(s);
    cpu_->set_single_step(true);
    decoded_ = tcg::decode_x86(std::span<const uint8_t>(code.data(), code.size()), tcg::CodeSize::k16);
  }
  CpuState state() { return cpu_->get_state(); }

  CpuidTable cpuid_ = janus_cpuid_template();
  GuestMemory memory_{1ull << 20};
  NoIo io_;
  NoIrq irq_;
  ManualClock clock_;
  std::unique_ptr<Vcpu> cpu_;
  tcg::DecodedInsn decoded_;
};

TEST_F(RepStringRun, MovsStopsAfterExactlyTheIterationsAndKeepsTheRest) {
  start({0xf3, 0xa4}, 100);  // rep movsb
  ASSERT_TRUE(is_rep_string(decoded_));
  EXPECT_EQ(rep_count(decoded_, state()), 100u);
  EXPECT_EQ(run_rep_iterations(*cpu_, decoded_, 30).reason, VcpuExit::Reason::kSingleStep);
  CpuState s = state();
  EXPECT_EQ(s.rip, kCode);  // still inside the instruction
  EXPECT_EQ(s.gpr[RCX], 70u);
  EXPECT_EQ(s.gpr[RSI], kSrc + 30);
  EXPECT_EQ(s.gpr[RDI], kDst + 30);
  // The rest: one ordinary step finishes the instruction as if it had never been split.
  cpu_->run(kNever);
  s = state();
  EXPECT_EQ(s.rip, kCode + 2);
  EXPECT_EQ(s.gpr[RCX], 0u);
  EXPECT_EQ(s.gpr[RDI], kDst + 100);
}

TEST_F(RepStringRun, RepeCmpsEndingOnTheConditionLeavesTheInstruction) {
  start({0xf3, 0xa6}, 100);  // repe cmpsb: the buffers differ first at byte 10
  uint8_t other = 0xee;
  memory_.write_phys(kDst + 10, &other, 1);
  run_rep_iterations(*cpu_, decoded_, 30);
  CpuState s = state();
  EXPECT_EQ(s.rip, kCode + 2);
  EXPECT_EQ(s.gpr[RCX], 89u);  // 11 comparisons done
  EXPECT_FALSE(s.rflags & rflags::ZF);
}

TEST_F(RepStringRun, RepeCmpsEndingOnBothTheConditionAndTheShortenedCount) {
  start({0xf3, 0xa6}, 100);  // the 30th comparison is the first that differs
  uint8_t other = 0xee;
  memory_.write_phys(kDst + 29, &other, 1);
  run_rep_iterations(*cpu_, decoded_, 30);
  CpuState s = state();
  EXPECT_EQ(s.rip, kCode + 2);  // the condition ended it: hardware leaves too
  EXPECT_EQ(s.gpr[RCX], 70u);
}

TEST_F(RepStringRun, RepeCmpsStillEqualAtTheShortenedCountStaysInside) {
  start({0xf3, 0xa6}, 100);  // equal buffers
  run_rep_iterations(*cpu_, decoded_, 30);
  CpuState s = state();
  EXPECT_EQ(s.rip, kCode);
  EXPECT_EQ(s.gpr[RCX], 70u);
}

// ---- return_privilege ----

CpuState protected32() {
  CpuState s = reset_cpu_state();
  s.cr0 = cr0::PE | cr0::ET;
  s.seg[CS] = {0x08, 0, 0xffffffff, 0xc09b, false};
  for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = {0x10, 0, 0xffffffff, 0xc093, false};
  s.gpr[RSP] = 0x8000;
  return s;
}

unsigned privilege_of(const std::vector<uint8_t>& insn, const CpuState& s, GuestMemory& m, tcg::CodeSize cs) {
  tcg::DecodedInsn d = tcg::decode_x86(std::span<const uint8_t>(insn.data(), insn.size()), cs);
  return return_privilege(d, s, m).value_or(99);
}

TEST(ReturnPrivilege, ReadsTheRplOfThePoppedCs) {
  GuestMemory m(1ull << 20);
  CpuState s = protected32();
  m.store<uint32_t>(0x8000, 0x1234);  // EIP
  m.store<uint32_t>(0x8004, 0x0008);  // CS, RPL 0
  EXPECT_EQ(privilege_of({0xcb}, s, m, tcg::CodeSize::k32), 0u);      // retf
  EXPECT_EQ(privilege_of({0xca, 4, 0}, s, m, tcg::CodeSize::k32), 0u);  // retf 4
  EXPECT_EQ(privilege_of({0xcf}, s, m, tcg::CodeSize::k32), 0u);      // iretd
  m.store<uint32_t>(0x8004, 0x001b);  // RPL 3
  EXPECT_EQ(privilege_of({0xcf}, s, m, tcg::CodeSize::k32), 3u);
  m.store<uint16_t>(0x8002, 0x0023);  // 66 retf: CS is the second 16-bit slot
  EXPECT_EQ(privilege_of({0x66, 0xcb}, s, m, tcg::CodeSize::k32), 3u);
  EXPECT_EQ(privilege_of({0xc3}, s, m, tcg::CodeSize::k32), 99u);  // near RET: not asked
  s.rflags |= rflags::NT;                                            // a task-switching IRET
  EXPECT_EQ(privilege_of({0xcf}, s, m, tcg::CodeSize::k32), 99u);
}

TEST(ReturnPrivilege, SixtyFourBitFramesUseTheOperandSize) {
  GuestMemory m(1ull << 20);
  // Identity map of the first 2 MiB: PML4 0x10000 -> PDPT 0x11000 -> PD 0x12000 (one 2 MiB page).
  m.store<uint64_t>(0x10000, 0x11000 | 3);
  m.store<uint64_t>(0x11000, 0x12000 | 3);
  m.store<uint64_t>(0x12000, 0x0 | 0x83);
  CpuState s = protected32();
  s.cr0 |= cr0::PG;
  s.cr3 = 0x10000;
  s.cr4 = cr4::PAE;
  s.efer = efer::LME | efer::LMA;
  s.seg[CS] = {0x10, 0, 0xffffffff, 0xa09b, false};
  m.store<uint64_t>(0x8000, 0x100266);  // RIP
  m.store<uint64_t>(0x8008, 0x10);      // CS, RPL 0: the Linux decompressor's LRETQ
  EXPECT_EQ(privilege_of({0x48, 0xcb}, s, m, tcg::CodeSize::k64), 0u);  // lretq
  EXPECT_EQ(privilege_of({0x48, 0xcf}, s, m, tcg::CodeSize::k64), 0u);  // iretq
  m.store<uint64_t>(0x8008, 0x33);
  EXPECT_EQ(privilege_of({0x48, 0xcf}, s, m, tcg::CodeSize::k64), 3u);
  m.store<uint32_t>(0x8004, 0x2b);  // without REX.W the slots are 32-bit
  EXPECT_EQ(privilege_of({0xcb}, s, m, tcg::CodeSize::k64), 3u);
}

}  // namespace
