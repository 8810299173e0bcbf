// The host-errata list of cross-check (accel/cross/host_errata.*): each entry explains exactly the
// divergence it describes (recorded from the fuzz CI run), and nothing next to it: another
// value, another field, natively executed code, or a memory/I/O difference is never explained.
#include <cpuid.h>
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "accel/cross/host_errata.h"
#include "accel/cross/state_compare.h"

namespace janus::cross {
namespace {

struct Case {
  std::vector<uint8_t> bytes;
  CpuState before, leader, follower;
};

CpuState long_mode_kernel() {
  CpuState s = reset_cpu_state();
  s.cr0 = cr0::PE | cr0::PG | cr0::ET | cr0::NE;
  s.cr4 = cr4::PAE;
  s.efer = efer::LME | efer::LMA;
  s.seg[CS] = Segment{0x08, 0, 0xffffffff, 0xa09b, false};
  for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
  s.rip = 0x10000;
  s.rflags = 0x2;
  return s;
}

CpuState protected_mode_kernel() {
  CpuState s = reset_cpu_state();
  s.cr0 = cr0::PE | cr0::ET | cr0::NE;
  s.seg[CS] = Segment{0x48, 0, 0xffffffff, 0xc09b, false};
  for (int i : {DS, ES, SS, FS, GS}) s.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
  s.rip = 0x10000;
  s.rflags = 0x2;
  return s;
}

const char* explain(const Case& c, bool emulated = true, bool other = false) {
  std::vector<FieldDiff> fields = diff_states(normalise_for_compare(c.leader), normalise_for_compare(c.follower));
  StepDifference d{c.bytes.data(), c.bytes.size(), &c.before, &c.leader, &c.follower, &fields, other};
  const HostErratum* e = explain_by_host_erratum(d, emulated);
  return e ? e->name : "";
}

// case 591 of seed 20240601: cmpxchg edi, r10d with rdi=0xd352e3c459ff55b4, rax=0, r10=0.
Case cmpxchg_case() {
  Case c{{0x44, 0x0f, 0xb1, 0xd7}, long_mode_kernel(), {}, {}};
  c.before.gpr[RDI] = 0xd352e3c459ff55b4ull;
  c.follower = c.before;
  c.follower.rip += 4;
  c.follower.gpr[RAX] = 0x59ff55b4;
  c.follower.rflags = 0x2 | rflags::PF;  // flags of the compare: not what this test is about
  c.leader = c.follower;
  c.leader.gpr[RDI] = 0x59ff55b4;
  return c;
}

TEST(CrossErrata, Cmpxchg32FailureExplainedOnlyAsRecorded) {
  Case c = cmpxchg_case();
  EXPECT_STREQ(explain(c), "cmpxchg32-failure-zero-extends-destination");
  EXPECT_STREQ(explain(c, false), "");        // the leader ran it natively
  EXPECT_STREQ(explain(c, true, true), "");   // memory or I/O differs too
  Case wrong = c;
  wrong.leader.gpr[RDI] = 0x59ff55b5;         // not what the erratum predicts
  EXPECT_STREQ(explain(wrong), "");
  Case tcg_bug = c;
  tcg_bug.follower.gpr[RDI] = 0x12345678;     // the follower changed the destination: not hardware
  EXPECT_STREQ(explain(tcg_bug), "");
  Case extra = c;
  extra.leader.gpr[RCX] = 1;                  // a second field differs
  EXPECT_STREQ(explain(extra), "");
  Case success = c;                           // EAX == EDI: the comparison succeeds
  success.before.gpr[RAX] = 0x59ff55b4;
  EXPECT_STREQ(explain(success), "");
}

TEST(CrossErrata, RotateImm8OfExplainedOnlyForImm8Register) {
  // case 93: rol r15b, 0x35 with r15=0x4d, RFLAGS 0x2: hardware CF=1 OF=0; the emulator OF=1.
  Case c{{0x41, 0xc0, 0xc7, 0x35}, long_mode_kernel(), {}, {}};
  c.before.gpr[R15] = 0x4d;
  c.follower = c.before;
  c.follower.rip += 4;
  c.follower.gpr[R15] = 0xa9;
  c.follower.rflags = 0x3;
  c.leader = c.follower;
  c.leader.rflags = 0x803;
  EXPECT_STREQ(explain(c), "rotate-imm8-of-as-cl-form");
  Case cf = c;
  cf.leader.rflags = 0x802;  // CF differs too
  EXPECT_STREQ(explain(cf), "");
  Case one = c;              // count 1 (0x35 & 0x1f = 21 -> 0x21 & 0x1f = 1): OF is defined there
  one.bytes = {0x41, 0xc0, 0xc7, 0x21};
  EXPECT_STREQ(explain(one), "");
  Case rcl = c;              // RCL (/2) is not affected
  rcl.bytes = {0x41, 0xc0, 0xd7, 0x35};
  EXPECT_STREQ(explain(rcl), "");
  Case predicted_wrong = c;  // operand top bits 0,1 -> the CL form sets OF; with 0xcd (1,1) it would not
  predicted_wrong.before.gpr[R15] = 0xcd;
  EXPECT_STREQ(explain(predicted_wrong), "");
}

TEST(CrossErrata, AamAadFlagsExplainedOnlyWithTheEmulatorsValue) {
  // case 58: aad with eax=0xffffff10 in 32-bit code: AL = 0x06; hardware CF=1 PF=1, SF=0; the
  // emulator ORs EAX=0xffff0006 (SF=1, PF of 0x06).
  Case c{{0xd5, 0x0a}, protected_mode_kernel(), {}, {}};
  c.before.gpr[RAX] = 0xffffff10;
  c.follower = c.before;
  c.follower.rip += 2;
  c.follower.gpr[RAX] = 0xffff0006;
  c.follower.rflags = 0x2 | rflags::CF | rflags::PF;
  c.leader = c.follower;
  c.leader.rflags = 0x2 | rflags::SF | rflags::PF;
  EXPECT_STREQ(explain(c), "aam-aad-flags-from-operand-size");
  Case zf = c;                               // the follower's ZF is not AL's
  zf.follower.rflags |= rflags::ZF;
  EXPECT_STREQ(explain(zf), "");
  Case other = c;
  other.leader.rflags = 0x2 | rflags::PF;    // not the emulator's formula (SF of EAX missing)
  EXPECT_STREQ(explain(other), "");
}

TEST(CrossErrata, StiShadowExplainedOnlyWhenIfWasSet) {
  Case c{{0xfb}, protected_mode_kernel(), {}, {}};
  c.before.rflags = 0x202;
  c.follower = c.before;
  c.follower.rip += 1;
  c.leader = c.follower;
  c.leader.events.interrupt_shadow = 1;
  EXPECT_STREQ(explain(c), "sti-shadow-with-if-set");
  Case if_clear = c;                         // IF was 0: the shadow is architectural
  if_clear.before.rflags = 0x2;
  EXPECT_STREQ(explain(if_clear), "");
}

// A CPUID of leaf/subleaf in a 64-bit kernel: the follower returns the table's eax..edx and the
// leader starts out the same (each test then puts host bits into the leader).
Case cpuid_case(uint32_t leaf, uint32_t subleaf, std::array<uint64_t, 4> table) {
  Case c{{0x0f, 0xa2}, long_mode_kernel(), {}, {}};
  c.before.gpr[RAX] = leaf;
  c.before.gpr[RCX] = subleaf;
  c.follower = c.before;
  c.follower.rip += 2;
  c.follower.gpr[RAX] = table[0];
  c.follower.gpr[RBX] = table[1];
  c.follower.gpr[RCX] = table[2];
  c.follower.gpr[RDX] = table[3];
  c.leader = c.follower;
  return c;
}

// The Linux decompressor's CPUID(1) under -accel cross: the leader shows host feature bits, the
// follower the configured table (ecx=0x2000 edx=0x701ab79).
TEST(CrossErrata, CpuidLeaf1ExplainedOnlyWithHostFeatures) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  ASSERT_TRUE(__get_cpuid(1, &eax, &ebx, &ecx, &edx));
  Case c = cpuid_case(1, 0, {0x663, 0, 0x2000, 0x701ab79});
  c.leader.gpr[RCX] = ecx & ~(1u << 31);  // a subset of the host's bits
  c.leader.gpr[RDX] = edx;
  EXPECT_STREQ(explain(c), "cpuid-leaf1-host-features");
  EXPECT_STREQ(explain(c, /*emulated=*/false), "");
  Case leaf7 = c;                            // another leaf
  leaf7.before.gpr[RAX] = 7;
  EXPECT_STREQ(explain(leaf7), "");
  Case rax = c;                              // another field
  rax.leader.gpr[RAX] = 0x664;
  EXPECT_STREQ(explain(rax), "");
  if (ecx != ~0u) {                          // a feature this CPU does not have
    Case extra = c;
    extra.leader.gpr[RCX] |= ~ecx & (0u - ~ecx);
    EXPECT_STREQ(explain(extra), "");
  }
}

// CPUID leaf 7 under -accel cross: the leader shows the host's structured feature bits, the
// follower the table (only ARCH_CAPABILITIES).
TEST(CrossErrata, CpuidLeaf7ExplainedOnlyWithHostFeatures) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  ASSERT_TRUE(__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx));
  Case c = cpuid_case(7, 0, {0, 0, 0, 1u << 29});
  c.leader.gpr[RAX] = eax;
  c.leader.gpr[RBX] = ebx;
  c.leader.gpr[RDX] = edx & ~1u;  // a subset of the host's bits
  EXPECT_STREQ(explain(c), "cpuid-leaf7-host-features");
  EXPECT_STREQ(explain(c, /*emulated=*/false), "");
  Case subleaf = c;                          // another subleaf
  subleaf.before.gpr[RCX] = 1;
  EXPECT_STREQ(explain(subleaf), "");
  Case rsi = c;                              // another field
  rsi.leader.gpr[RSI] = 1;
  EXPECT_STREQ(explain(rsi), "");
  if (ebx != ~0u) {                          // a feature this CPU does not have
    Case extra = c;
    extra.leader.gpr[RBX] |= ~ebx & (0u - ~ebx);
    EXPECT_STREQ(explain(extra), "");
  }
}

TEST(CrossErrata, EveryEntryNamesItsEvidence) {
  ASSERT_EQ(host_errata().size(), 6u);
  for (const HostErratum& e : host_errata()) {
    EXPECT_GT(std::string(e.what).size(), 20u) << e.name;
    EXPECT_GT(std::string(e.evidence).size(), 20u) << e.name;
  }
}

}  // namespace
}  // namespace janus::cross
