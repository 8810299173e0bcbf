#include "accel/kvm/kvm_accelerator.h"

#include <fcntl.h>
#include <linux/kvm.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "accel/kvm/kvm_abi.h"
#include "accel/kvm/kvm_cpuid.h"
#include "accel/kvm/kvm_vcpu.h"
#include "hw/guest_memory.h"

namespace janus {

namespace {

// Intel VMX needs three pages for the real-mode TSS and one for the identity page table it uses
// to run unpaged protected mode; both must be outside RAM and ROM. They sit just below a 256 KiB
// BIOS at 0xfffc0000. (Candidates for hw/pc_layout.h.)
constexpr uint64_t kKvmTssAddr = 0xfffbd000;
constexpr uint64_t kKvmIdentityMapAddr = 0xfffbc000;

struct RequiredCap {
  int cap;
  const char* name;
};
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
    {KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS"},
    {KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM"},
    {KVM_CAP_SET_GUEST_DEBUG, "KVM_CAP_SET_GUEST_DEBUG"},
    {KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ"},
};

KvmFd open_dev_kvm() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("cannot open /dev/kvm: ") + std::strerror(errno));
  return KvmFd(fd);
}

}  // namespace

KvmAccelerator::KvmAccelerator(const CpuidTable& tmpl) : kvm_(open_dev_kvm()) {
  int version = kvm_.ioctl("KVM_GET_API_VERSION", KVM_GET_API_VERSION);
  if (version != KVM_API_VERSION)
    throw std::runtime_error("KVM_GET_API_VERSION returned " + std::to_string(version) + ", Janus needs " +
                             std::to_string(KVM_API_VERSION));
  for (const auto& c : kRequiredCaps)
    if (kvm_.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, c.cap) <= 0)
      throw std::runtime_error(std::string("KVM lacks ") + c.name);
  vcpu_config_.has_xcrs = kvm_.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
  // KVM_CAP_SYNC_REGS answers with the register classes kvm_run can carry (0 without it).
  const uint64_t sync_regs = uint64_t(kvm_.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS));
  vcpu_config_.has_sync_regs = (sync_regs & kKvmSyncCoreRegs) == kKvmSyncCoreRegs;

  size_t run_size = size_t(kvm_.ioctl("KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE));
  if (run_size < sizeof(kvm_run))
    throw std::runtime_error("KVM_GET_VCPU_MMAP_SIZE returned " + std::to_string(run_size) + " bytes");
  vcpu_config_.run_mmap_size = run_size;

  vm_ = KvmFd(kvm_.ioctl("KVM_CREATE_VM", KVM_CREATE_VM, 0UL));
  if (kvm_.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
    // On the VM fd, KVM_CAP_XSAVE2 answers with the XSAVE image size (0 if unsupported).
    int xsave2 = vm_.try_ioctl(KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_XSAVE2));
    vcpu_config_.has_xsave2 = xsave2 > 0;
    vcpu_config_.xsave_bytes = std::max<size_t>(sizeof(KvmXsaveRegion), xsave2 > 0 ? size_t(xsave2) : 0);
  }
  vm_.ioctl("KVM_SET_TSS_ADDR", KVM_SET_TSS_ADDR, static_cast<unsigned long>(kKvmTssAddr));
  if (kvm_.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
    uint64_t identity_map = kKvmIdentityMapAddr;
    vm_.ioctl("KVM_SET_IDENTITY_MAP_ADDR", KVM_SET_IDENTITY_MAP_ADDR, &identity_map);
  }

  cpuid_ = intersect_cpuid(tmpl, kvm_supported_cpuid(kvm_));
}

void KvmAccelerator::map_memory(GuestMemory& memory) {
  for (const MemoryRegion& r : memory.regions()) {
    kvm_userspace_memory_region slot{};
    slot.slot = next_slot_;
    slot.flags = r.readonly ? KVM_MEM_READONLY : 0;
    slot.guest_phys_addr = r.gpa;
    slot.memory_size = r.size;
    slot.userspace_addr = reinterpret_cast<uint64_t>(r.host);
    int rc = vm_.try_ioctl(KVM_SET_USER_MEMORY_REGION, &slot);
    if (rc < 0)
      throw std::runtime_error("KVM_SET_USER_MEMORY_REGION for " + r.name + " failed: " + std::strerror(-rc));
    ++next_slot_;
  }
}

std::unique_ptr<Vcpu> KvmAccelerator::create_vcpu(unsigned index, VcpuContext context) {
  return std::make_unique<KvmVcpu>(vm_, index, vcpu_config_, cpuid_, context);
}

uint64_t KvmAccelerator::tsc_hz() const {
  return uint64_t(vm_.ioctl("KVM_GET_TSC_KHZ", KVM_GET_TSC_KHZ)) * 1000;
}

}  // namespace janus
