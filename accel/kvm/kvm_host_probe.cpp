#include "accel/kvm/kvm_host_probe.h"

#include <cpuid.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "accel/kvm/kvm_fd.h"

namespace janus {

namespace {

// VMX is CPUID.1:ECX[5] (Intel), SVM is CPUID.80000001h:ECX[2] (AMD).
bool host_has_hardware_virtualization() {
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 5))) return true;
  if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 2))) return true;
  return false;
}

// kvm_pvm runs guest CPL0 in the host kernel's instruction emulator instead of on the CPU.
bool paravirtual_kvm_loaded() {
  struct stat st;
  return ::stat("/sys/module/kvm_pvm", &st) == 0;
}

}  // namespace

KvmHostInfo probe_kvm_host() {
  KvmHostInfo info;
  KvmFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm.valid()) {
    info.reason = std::string("cannot open /dev/kvm: ") + std::strerror(errno);
    return info;
  }
  int version = kvm.try_ioctl(KVM_GET_API_VERSION, 0UL);
  if (version != KVM_API_VERSION) {
    info.reason = "/dev/kvm speaks API version " + std::to_string(version) + ", Janus needs " +
                  std::to_string(KVM_API_VERSION);
    return info;
  }
  info.usable = true;
  bool hardware = host_has_hardware_virtualization();
  bool paravirtual = paravirtual_kvm_loaded();
  info.runs_kernel_mode_natively = hardware && !paravirtual;
  if (info.runs_kernel_mode_natively)
    info.reason = "KVM with hardware virtualization: guest code runs natively";
  else if (paravirtual)
    info.reason = std::string("KVM here is paravirtual (kvm_pvm") + (hardware ? "" : ", no VT-x/AMD-V") +
                  "): kernel-mode code would be emulated by the host kernel";
  else
    info.reason = "no VT-x/AMD-V on this CPU: KVM cannot run kernel-mode guest code natively";
  return info;
}

}  // namespace janus
