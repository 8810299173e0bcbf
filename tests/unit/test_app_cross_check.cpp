// Cross-check mode: the I/O replayer, the documented state normalisation, and lockstep runs of
// a real guest on KVM (leader) and the software CPU (follower), including a fault injected into
// the software CPU that must be caught at exactly the instruction it corrupts.
#include <gtest/gtest.h>

#include <vector>

#include "accel/cross/cross_checker.h"
#include "accel/cross/divergence_report.h"
#include "accel/kvm/kvm_accelerator.h"
#include "accel/kvm/kvm_host_probe.h"
#include "hw/clock.h"
#include "tcg/tcg_accelerator.h"
#include "tcg/tcg_vcpu.h"

using namespace janus;
using namespace janus::cross;

namespace {

class FixedIo : public IoHandler {
 public:
  uint64_t pio_read(uint16_t port, unsigned) override { return 0x40 + port; }
  void pio_write(uint16_t, unsigned, uint64_t v) override { written.push_back(v); }
  uint64_t mmio_read(uint64_t, unsigned) override { return 0; }
  void mmio_write(uint64_t, unsigned, uint64_t) override {}
  std::vector<uint64_t> written;
};

class QuietIrq : public InterruptSource {
 public:
  bool interrupt_pending() override { return false; }
  int acknowledge_interrupt() override { return -1; }
  uint64_t cr8() override { return 0; }
  void set_cr8(uint64_t) override {}
};

TEST(CrossReplayIo, ReturnsTheLeadersValuesAndFlagsADifferentAccess) {
  FixedIo device;
  RecordingIo rec(device);
  EXPECT_EQ(rec.pio_read(0x60, 1), 0xa0u);
  rec.pio_write(0x80, 1, 7);
  ReplayIo replay;
  replay.load(rec.take());
  EXPECT_EQ(replay.pio_read(0x60, 1), 0xa0u);
  EXPECT_TRUE(replay.mismatch().empty());
  replay.pio_write(0x80, 1, 8);  // a different value written
  EXPECT_NE(replay.mismatch().find("port write 0x80 size 1 value 0x7"), std::string::npos) << replay.mismatch();
  EXPECT_TRUE(device.written.size() == 1);  // the follower never reaches the device
}

TEST(CrossNormalise, AccessedBitAndUnusableSegmentsOnlyNoOtherField) {
  CpuState a = reset_cpu_state(), b = a;
  a.cr0 |= cr0::PE;
  b.cr0 |= cr0::PE;
  a.seg[DS] = {0x10, 0, 0xffffffff, 0xc093, false};
  b.seg[DS] = {0x10, 0, 0xffffffff, 0xc092, false};  // accessed bit clear: rule 2
  a.seg[ES] = {0, 0x1234, 0, 0, true};
  b.seg[ES] = {0, 0, 0xffff, 0x93, true};             // unusable: rule 3
  a.tsc = 1;
  b.tsc = 99;                                          // rule 1
  EXPECT_TRUE(diff_states(normalise_for_compare(a), normalise_for_compare(b)).empty());
  b.gpr[RAX] = 1;
  b.seg[DS].base = 0x1000;
  auto d = diff_states(normalise_for_compare(a), normalise_for_compare(b));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].field, "rax");
  EXPECT_EQ(d[1].field, "ds.base");
}

// Real mode (this host's KVM single-steps it in its instruction emulator).
const std::vector<uint8_t> kProgram = {
    0xb8, 0x34, 0x12,  // 1 mov ax, 0x1234
    0x05, 0x11, 0x11,  // 2 add ax, 0x1111
    0x89, 0xc3,        // 3 mov bx, ax
    0xd1, 0xe3,        // 4 shl bx, 1
    0x31, 0xc9,        // 5 xor cx, cx
    0x41,              // 6 inc cx
    0xe6, 0x80,        // 7 out 0x80, al
    0xe4, 0x60,        // 8 in al, 0x60
    0xa3, 0x00, 0x01,  // 9 mov [0x100], ax
    0xf4,              // 10 hlt
};

class CrossLockstep : public ::testing::Test {
 protected:
  void SetUp() override {
    KvmHostInfo host = probe_kvm_host();
    if (!host.usable) GTEST_SKIP() << "KVM NOT AVAILABLE: " << host.reason;
    kvm_ = std::make_unique<KvmAccelerator>(janus_cpuid_template());
    leader_mem_ = std::make_unique<GuestMemory>(2ull << 20);
    leader_mem_->write_phys(0x1000, kProgram.data(), kProgram.size());
    follower_mem_ = clone_guest_memory(*leader_mem_);
    kvm_->map_memory(*leader_mem_);
    leader_ = kvm_->create_vcpu(0, VcpuContext{*leader_mem_, rec_, lirq_, kvm_->cpuid(), clock_});
    TcgAccelerator tcg(kvm_->cpuid());
    follower_ = tcg.create_vcpu(0, VcpuContext{*follower_mem_, replay_, firq_, kvm_->cpuid(), fclock_});
  }
  // Another program at 0x1000 in both RAMs (before start()).
  void load(const std::vector<uint8_t>& code) {
    leader_mem_->write_phys(0x1000, code.data(), code.size());
    follower_mem_->write_phys(0x1000, code.data(), code.size());
  }
  void start() {
    checker_ = std::make_unique<CrossChecker>(CrossParts{*leader_, *follower_, *leader_mem_, *follower_mem_, rec_, replay_,
                                                         lirq_, firq_, clock_, false});
    CpuState s = reset_cpu_state();
    for (auto& g : s.seg) g = {0, 0, 0xffff, 0x93, false};
    s.seg[CS] = {0, 0, 0xffff, 0x9b, false};
    s.cr0 = cr0::ET;
    s.rip = 0x1000;
    s.gpr[RSP] = 0x7000;
    s.gpr[RDX] = 0;
    checker_->set_state(s);
  }
  CrossChecker::Status run_to_end() {
    for (int i = 0; i < 400; ++i) {
      CrossChecker::Result r = checker_->step();
      if (r.status != CrossChecker::Status::kAgreed) return r.status;
    }
    return CrossChecker::Status::kAgreed;
  }

  std::unique_ptr<KvmAccelerator> kvm_;
  std::unique_ptr<GuestMemory> leader_mem_, follower_mem_;
  FixedIo device_;
  QuietIrq irq_;
  RecordingIo rec_{device_};
  ReplayIo replay_;
  LeaderInterrupts lirq_{irq_};
  FollowerInterrupts firq_{irq_};
  HostClock clock_;
  ManualClock fclock_;
  std::unique_ptr<Vcpu> leader_, follower_;
  std::unique_ptr<CrossChecker> checker_;
};

TEST_F(CrossLockstep, AgreeingBackendsRunToTheHalt) {
  start();
  EXPECT_EQ(run_to_end(), CrossChecker::Status::kHalted);
  EXPECT_FALSE(checker_->divergence());
  EXPECT_EQ(checker_->instructions(), 10u);
  EXPECT_EQ(device_.written, std::vector<uint64_t>{0x45});  // the OUT happened once, by the leader
  EXPECT_TRUE(checker_->check_all_memory());
  EXPECT_EQ(follower_mem_->load<uint16_t>(0x100), 0x23a0u);  // AL from the replayed IN: 0x40 + 0x60
}

TEST_F(CrossLockstep, AnInjectedSoftwareCpuFaultIsCaughtAtThatInstruction) {
  static_cast<tcg::TcgVcpu&>(*follower_).inject_test_fault(5);
  start();
  EXPECT_EQ(run_to_end(), CrossChecker::Status::kDiverged);
  ASSERT_TRUE(checker_->divergence());
  Divergence d = *checker_->divergence();
  EXPECT_EQ(d.step, 5u);
  EXPECT_EQ(d.insn.rip, 0x100au);
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].field, "rax");
  EXPECT_EQ(d.fields[0].leader, "0x2345");
  EXPECT_EQ(d.fields[0].follower, "0x2344");
  disassemble(d);
  EXPECT_EQ(d.insn.disassembly, "xor cx, cx");
  std::string text = format_text(d);
  EXPECT_NE(text.find("DIVERGENCE at instruction 5"), std::string::npos) << text;
  EXPECT_NE(text.find("real mode, CPL 0"), std::string::npos) << text;
  std::string json = format_json(d);
  EXPECT_NE(json.find("\"step\": 5"), std::string::npos) << json;
  EXPECT_EQ(d.history.size(), 5u);
}

// After plain instructions only the leader's core state is read (KVM_CAP_SYNC_REGS makes that
// free); its extended part is read whole after instructions that may change it (HLT here), every
// kWholeStateInterval instructions, and compared whole at the end.
TEST_F(CrossLockstep, PlainInstructionsReadOnlyTheLeadersCore) {
  std::vector<uint8_t> code(300, 0x40);  // inc ax x300
  code.push_back(0xf4);                  // hlt
  load(code);
  start();
  EXPECT_EQ(run_to_end(), CrossChecker::Status::kHalted);
  EXPECT_FALSE(checker_->divergence());
  EXPECT_EQ(checker_->instructions(), 301u);
  EXPECT_LE(checker_->whole_state_reads(), 3u);  // set_state, after the HLT
  EXPECT_TRUE(checker_->check_all_memory());
  EXPECT_EQ(checker_->leader_state().gpr[RAX] & 0xffff, 300u);
}

// WRMSR changes the extended state: the leader's is read after it and compared with the follower's.
TEST_F(CrossLockstep, WrmsrIsComparedWithTheLeadersWholeState) {
  load({
      0x66, 0xb9, 0x74, 0x01, 0x00, 0x00,  // mov ecx, 0x174 (IA32_SYSENTER_CS)
      0x66, 0x31, 0xd2,                    // xor edx, edx
      0x66, 0xb8, 0x10, 0x00, 0x00, 0x00,  // mov eax, 0x10
      0x0f, 0x30,                          // wrmsr
      0x40,                                // inc ax
      0xf4,                                // hlt
  });
  start();
  const uint64_t reads_at_start = checker_->whole_state_reads();
  EXPECT_EQ(run_to_end(), CrossChecker::Status::kHalted);
  ASSERT_FALSE(checker_->divergence()) << format_text(*checker_->divergence());
  EXPECT_GE(checker_->whole_state_reads(), reads_at_start + 2);  // after WRMSR and after HLT
  EXPECT_EQ(checker_->leader_state().msr.sysenter_cs, 0x10u);
}

// The safety net: a change to the leader's extended state that no rule asked to read (made here
// behind the checker's back) is still found by the periodic whole read, with a note that it may
// predate the instruction shown.
TEST_F(CrossLockstep, AnExtendedStateChangeTheRuleMissedIsFoundByThePeriodicRead) {
  std::vector<uint8_t> code(CrossChecker::kWholeStateInterval + 100, 0x40);  // inc ax ...
  code.push_back(0xf4);
  load(code);
  start();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(checker_->step().status, CrossChecker::Status::kAgreed);
  CpuState tampered = leader_->get_state();
  tampered.msr.sysenter_cs = 0x99;
  leader_->set_state(tampered);
  leader_->set_single_step(true);
  CrossChecker::Status status = CrossChecker::Status::kAgreed;
  for (size_t i = 0; i < code.size() && status == CrossChecker::Status::kAgreed; ++i) status = checker_->step().status;
  ASSERT_EQ(status, CrossChecker::Status::kDiverged);
  const Divergence& d = *checker_->divergence();
  EXPECT_LE(d.step, CrossChecker::kWholeStateInterval + 1);
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].field, "msr.sysenter_cs");
  EXPECT_EQ(d.fields[0].leader, "0x99");
  EXPECT_NE(d.state_note.find("last read after instruction"), std::string::npos) << d.state_note;
  EXPECT_NE(format_text(d).find("note: the leader's x87/SSE, MSR"), std::string::npos);
}

}  // namespace
