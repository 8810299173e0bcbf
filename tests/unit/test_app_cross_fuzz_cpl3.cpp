// Cross-check of 64-bit CPL3 code, where this host's paravirtual KVM runs the guest natively on
// the CPU (the best oracle) but cannot single-step it: the leader runs each fuzz case to its end
// marker in one go and the software CPU follows instruction by instruction; both are compared at
// that natural sync point (full state, I/O, memory). These tests show that such a comparison
// finds a wrong result, that the shrinker's prefix bisection names the instruction, and that a
// diverging case leaves nothing behind that a later case would report again.
#include <gtest/gtest.h>

#include <cstring>

#include "accel/cross/fuzz_runner.h"
#include "accel/kvm/kvm_host_probe.h"

namespace janus::cross {
namespace {

constexpr uint64_t kSeed = 20240601;

#define NEED_KVM()                                                                              \
  do {                                                                                          \
    KvmHostInfo host = probe_kvm_host();                                                        \
    if (!host.usable) GTEST_SKIP() << "KVM NOT AVAILABLE: " << host.reason << " -- SKIPPING";  \
  } while (0)

bool has_field(const Divergence& d, const std::string& name) {
  for (const FieldDiff& f : d.fields)
    if (f.field == name) return true;
  return false;
}

TEST(CrossFuzzCpl3, SixtyFourBitUserCasesAgree) {
  NEED_KVM();
  FuzzRunner runner;
  FuzzFeatures f = FuzzFeatures::from(runner.cpuid());
  uint64_t compared = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    FuzzCase c = generate_case(kSeed, i, FuzzMode::k64Cpl3, 24, f);
    FuzzOutcome o = runner.run(c, true);
    ASSERT_EQ(o.kind, FuzzOutcome::Kind::kAgreed) << "case " << i;
    compared += o.instructions;
  }
  EXPECT_GT(compared, 4000u);
}

// Bit 0 of RAX flipped in the software CPU after its 5th instruction: found at the end of the
// leader's native run, as a difference in rax of exactly that bit, and the shortest diverging
// prefix has 4 body instructions (its end-marker store is the 5th instruction the follower runs).
TEST(CrossFuzzCpl3, InjectedFaultIsFoundAtTheSyncPointAndNamed) {
  NEED_KVM();
  FuzzRunner runner;
  FuzzFeatures f = FuzzFeatures::from(runner.cpuid());
  runner.set_test_fault(5);
  unsigned found = 0, named = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    FuzzCase c = generate_case(kSeed, i, FuzzMode::k64Cpl3, 24, f);
    FuzzOutcome o = runner.run(c, true);
    if (o.kind != FuzzOutcome::Kind::kDiverged) continue;  // a later instruction overwrote RAX
    ++found;
    const Divergence& d = *o.divergence;
    EXPECT_FALSE(d.stretch.empty());  // found at the end of a native run, not by single-stepping
    ShrunkCase s = runner.shrink(c, d);
    ASSERT_TRUE(s.outcome.divergence);
    const std::vector<size_t> at = FuzzRunner::boundaries(c);
    if (s.culprit_rip == fuzz_layout::kCode + at[3] && has_field(*s.outcome.divergence, "rax")) ++named;
  }
  runner.set_test_fault(0);
  EXPECT_GE(found, 10u);
  EXPECT_EQ(named, found);
  // Without the fault the same cases agree.
  for (uint64_t i = 0; i < 20; ++i)
    EXPECT_EQ(runner.run(generate_case(kSeed, i, FuzzMode::k64Cpl3, 24, f), true).kind, FuzzOutcome::Kind::kAgreed);
}

// A diverging case whose follower stored outside the pages install_case() rewrites (0x500): the
// next, correct case must not inherit that difference (it used to be reported by the full RAM
// scan of every later case: the "0x430-0x433" divergences of the CPL3 fuzz runs).
TEST(CrossFuzzCpl3, DivergingCaseDoesNotLeakIntoTheNext) {
  NEED_KVM();
  FuzzRunner runner;
  FuzzFeatures f = FuzzFeatures::from(runner.cpuid());
  FuzzCase c = generate_case(kSeed, 0, FuzzMode::k64Cpl3, 1, f);
  c.code = {0xb0, 0x01,                                      // mov al, 1
            0x88, 0x04, 0x25, 0x00, 0x05, 0x00, 0x00};       // mov [0x500], al
  c.body_bytes = c.code.size();
  c.instructions = 2;
  append_end_marker(c.code, c.mode);
  runner.set_test_fault(1);  // the follower stores 0 there, KVM 1
  FuzzOutcome bad = runner.run(c, true);
  ASSERT_EQ(bad.kind, FuzzOutcome::Kind::kDiverged);
  ASSERT_TRUE(bad.divergence->memory);
  EXPECT_EQ(bad.divergence->memory->gpa, 0x500u);
  runner.set_test_fault(0);
  FuzzOutcome good = runner.run(generate_case(kSeed, 1, FuzzMode::k64Cpl3, 24, f), true);
  EXPECT_EQ(good.kind, FuzzOutcome::Kind::kAgreed);
}

}  // namespace
}  // namespace janus::cross
