// probe_kvm_host() agrees with what the host itself says about /dev/kvm, VT-x/AMD-V and kvm_pvm.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "accel/kvm/kvm_host_probe.h"

using namespace janus;

namespace {

bool cpuinfo_has_flag(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0 && (line + " ").find(" " + flag + " ") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(KvmHostProbe, AgreesWithTheHost) {
  KvmHostInfo info = probe_kvm_host();
  EXPECT_FALSE(info.reason.empty());
  EXPECT_EQ(info.reason.find('\n'), std::string::npos);  // one line for the CLI

  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  bool opens = fd >= 0;
  if (fd >= 0) ::close(fd);
  if (!opens) {
    EXPECT_FALSE(info.usable);
    EXPECT_NE(info.reason.find("/dev/kvm"), std::string::npos) << info.reason;
    GTEST_SKIP() << "KVM NOT AVAILABLE: " << info.reason;
  }
  EXPECT_TRUE(info.usable) << info.reason;

  struct stat st;
  bool pvm = ::stat("/sys/module/kvm_pvm", &st) == 0;
  bool hardware = cpuinfo_has_flag("vmx") || cpuinfo_has_flag("svm");
  EXPECT_EQ(info.runs_kernel_mode_natively, hardware && !pvm) << info.reason;
  if (pvm) {
    EXPECT_NE(info.reason.find("kvm_pvm"), std::string::npos) << info.reason;
  }
  std::printf("    host: %s\n", info.reason.c_str());
}
