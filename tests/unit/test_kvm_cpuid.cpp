// The guest CPUID rule under KVM: template leaves only, feature registers ANDed with what KVM
// supports, identity values (vendor, brand, family, leaf counts) kept.
#include <gtest/gtest.h>

#include <fcntl.h>

#include "accel/kvm/kvm_cpuid.h"

using namespace janus;

namespace {

kvm_cpuid_entry2 host_entry(uint32_t fn, uint32_t idx, bool indexed, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = idx;
  e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = a;
  e.ebx = b;
  e.ecx = c;
  e.edx = d;
  return e;
}

}  // namespace

TEST(KvmCpuid, FeatureBitsAreAndedIdentityIsKept) {
  CpuidTable tmpl({
      {0, 0, false, {0xd, 0x756e6547, 0x6c65746e, 0x49656e69}},
      {1, 0, false, {0x000006f1, 0x00010800, 0x0000ffff, 0xf0f0f0f0}},
      {7, 0, true, {0, 0xffffffff, 0xffffffff, 0xffffffff}},
      {0x80000000, 0, false, {0x80000008, 0, 0, 0}},
      {0x80000001, 0, false, {0x1234, 0x5678, 0xff, 0xff00}},
      {0x80000008, 0, false, {0x3028, 0, 0, 0}},
  });
  std::vector<kvm_cpuid_entry2> host = {
      host_entry(0, 0, false, 0x1f, 0x68747541, 0x444d4163, 0x69746e65),  // AuthenticAMD, more leaves
      host_entry(1, 0, false, 0x00a20f12, 0x12345678, 0x0000f00f, 0xffff0000),
      host_entry(7, 0, true, 2, 0x00000101, 0x4, 0x80000000),
      host_entry(7, 1, true, 0, 0, 0, 0),
      host_entry(0x80000001, 0, false, 0xa20f12, 0, 0x0f, 0xf000),
      host_entry(0x80000008, 0, false, 0x3030, 0, 0, 0),
      host_entry(0x40000000, 0, false, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
  };
  CpuidTable out = intersect_cpuid(tmpl, host);
  ASSERT_EQ(out.entries().size(), tmpl.entries().size());  // no host-only leaves appear
  EXPECT_EQ(out.query(0, 0), tmpl.query(0, 0));          // vendor and max leaf from the template
  CpuidResult l1 = out.query(1, 0);
  EXPECT_EQ(l1.eax, 0x000006f1u);  // family/model/stepping: template
  EXPECT_EQ(l1.ebx, 0x00010800u);
  EXPECT_EQ(l1.ecx, 0x0000f00fu);
  EXPECT_EQ(l1.edx, 0xf0f00000u);
  CpuidResult l7 = out.query(7, 0);
  EXPECT_EQ(l7.eax, 0u);  // max subleaf: template
  EXPECT_EQ(l7.ebx, 0x101u);
  EXPECT_EQ(l7.ecx, 0x4u);
  EXPECT_EQ(l7.edx, 0x80000000u);
  CpuidResult e1 = out.query(0x80000001, 0);
  EXPECT_EQ(e1.eax, 0x1234u);
  EXPECT_EQ(e1.ebx, 0x5678u);
  EXPECT_EQ(e1.ecx, 0x0fu);
  EXPECT_EQ(e1.edx, 0xf000u);
  EXPECT_EQ(out.query(0x80000008, 0).eax, 0x3028u);  // address sizes: the Janus model's
}

// The invariant-TSC bit stays only where the host (KVM) reports it.
TEST(KvmCpuid, InvariantTscFollowsTheHost) {
  CpuidTable tmpl({{0x80000000, 0, false, {0x80000008, 0, 0, 0}}, {0x80000007, 0, false, {0, 0, 0, 1u << 8}}});
  const std::vector<kvm_cpuid_entry2> with = {host_entry(0x80000007, 0, false, 0, 0, 0, 0x100)};
  const std::vector<kvm_cpuid_entry2> without = {host_entry(0x80000007, 0, false, 0, 0, 0, 0x0ff)};
  EXPECT_EQ(intersect_cpuid(tmpl, with).query(0x80000007, 0).edx, 0x100u);
  EXPECT_EQ(intersect_cpuid(tmpl, without).query(0x80000007, 0).edx, 0u);
  EXPECT_EQ(intersect_cpuid(tmpl, {}).query(0x80000007, 0).edx, 0u);
}

TEST(KvmCpuid, FeatureLeafMissingOnTheHostTurnsItsFeaturesOff) {
  CpuidTable tmpl({{0, 0, false, {7, 0, 0, 0}}, {7, 0, true, {0, 0xff, 0xff, 0xff}}});
  CpuidTable out = intersect_cpuid(tmpl, {});
  EXPECT_EQ(out.query(7, 0), (CpuidResult{0, 0, 0, 0}));
}

TEST(KvmCpuid, PerVcpuEntriesCarryTheApicIdAndIndexFlag) {
  CpuidTable tmpl({{1, 0, false, {0x6f1, 0x00010800, 0, 0}}, {7, 0, true, {0, 1, 2, 3}}});
  std::vector<kvm_cpuid_entry2> e = to_kvm_cpuid_entries(tmpl, 3);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].ebx, 0x03010800u);
  EXPECT_EQ(e[0].flags, 0u);
  EXPECT_EQ(e[1].function, 7u);
  EXPECT_EQ(e[1].flags, uint32_t(KVM_CPUID_FLAG_SIGNIFCANT_INDEX));
  EXPECT_EQ(e[1].edx, 3u);
}

TEST(KvmCpuid, JanusTemplateAgainstThisHostsKvm) {
  KvmFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm.valid()) GTEST_SKIP() << "KVM NOT AVAILABLE: cannot open /dev/kvm: " << std::strerror(errno);
  std::vector<kvm_cpuid_entry2> host = kvm_supported_cpuid(kvm);
  ASSERT_FALSE(host.empty());
  CpuidTable tmpl = janus_cpuid_template();
  CpuidTable out = intersect_cpuid(tmpl, host);
  EXPECT_EQ(out.query(0, 0), tmpl.query(0, 0));
  EXPECT_EQ(out.query(0x80000002, 0), tmpl.query(0x80000002, 0));
  // Every bit the guest sees is one KVM supports.
  const kvm_cpuid_entry2* h1 = nullptr;
  for (const auto& e : host)
    if (e.function == 1) h1 = &e;
  ASSERT_NE(h1, nullptr);
  EXPECT_EQ(out.query(1, 0).edx & ~h1->edx, 0u);
  EXPECT_EQ(out.query(1, 0).ecx & ~h1->ecx, 0u);
  // A 64-bit capable host keeps long mode and SSE2.
  EXPECT_TRUE(out.ext1_edx(cpuid_bits::LM));
  EXPECT_TRUE(out.leaf1_edx(cpuid_bits::SSE2));
}
