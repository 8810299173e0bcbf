// The one-line failure report a KVM vCPU gives: location, mode, CPL and bytes.
#include <gtest/gtest.h>

#include <linux/kvm.h>

#include "accel/kvm/kvm_failure_report.h"
#include "cpu/guest_virtual_memory.h"

using namespace janus;

TEST(KvmFailureReport, LongModeWithBytes) {
  CpuState s = reset_cpu_state();
  s.cr0 = cr0::PE | cr0::PG | cr0::ET;
  s.efer = efer::LME | efer::LMA;
  s.seg[CS] = {0x08, 0, 0xffffffff, 0xa09b, false};
  s.seg[SS] = {0x10, 0, 0xffffffff, 0xc093, false};
  s.rip = 0x101234;
  const uint8_t bytes[] = {0x48, 0x0f, 0xc7, 0x0e};
  std::string d = describe_guest_failure("KVM emulation failure", s, std::span<const uint8_t>(bytes));
  EXPECT_EQ(d, "KVM emulation failure at 0008:0000000000101234 (linear 0x101234), long mode (64-bit code), CPL 0, "
               "bytes: 48 0f c7 0e");
}

TEST(KvmFailureReport, RealModeLinearAddressAndMissingBytes) {
  CpuState s = reset_cpu_state();
  std::string d = describe_guest_failure("KVM entry failure", s, std::nullopt);
  EXPECT_EQ(d, "KVM entry failure at f000:000000000000fff0 (linear 0xfffffff0), real mode, CPL 0, bytes unavailable");
}

TEST(KvmFailureReport, ModesAndPrivilege) {
  CpuState s = reset_cpu_state();
  s.cr0 = cr0::PE | cr0::ET;
  s.seg[CS] = {0x1b, 0x10000, 0xffffffff, 0xc0fb, false};
  s.seg[SS] = {0x23, 0, 0xffffffff, 0xc0f3, false};
  s.rip = 0xfffffff0;  // wraps at 4 GiB outside 64-bit code
  EXPECT_EQ(describe_mode(s), "protected mode (32-bit code)");
  EXPECT_EQ(linear_rip(s), 0xfff0u);
  EXPECT_NE(describe_guest_failure("x", s, std::nullopt).find("CPL 3"), std::string::npos);
  s.seg[CS].attr = 0x009b;
  EXPECT_EQ(describe_mode(s), "protected mode (16-bit code)");
  s.rflags |= rflags::VM;
  EXPECT_EQ(describe_mode(s), "virtual-8086 mode");
  s.rflags &= ~rflags::VM;
  s.efer = efer::LME | efer::LMA;
  s.cr0 |= cr0::PG;
  s.seg[CS].attr = 0xc09b;
  EXPECT_EQ(describe_mode(s), "long mode (compatibility, 32-bit code)");
  EXPECT_EQ(internal_error_name(KVM_INTERNAL_ERROR_EMULATION), "emulation failure");
  EXPECT_NE(internal_error_name(99).find("99"), std::string::npos);
}
