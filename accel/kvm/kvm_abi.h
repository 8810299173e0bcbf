// KVM ioctls whose argument ends in a flexible array, spelled so that C++ gets the kernel's layout.
// In C++, linux/kvm.h's __DECLARE_FLEX_ARRAY (older uapi headers) wraps the array in a struct
// holding an empty struct, which C++ sizes at one byte: struct kvm_cpuid2 becomes 12 bytes and
// struct kvm_msrs moves its entries to offset 16. That changes the ioctl numbers (the kernel
// answers EINVAL) and the entry offsets. These headers have the C layout: entries follow directly.
#pragma once
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace janus {

struct KvmCpuid2Header {  // struct kvm_cpuid2 without its entries[]
  uint32_t nent;
  uint32_t padding;
};
struct KvmMsrsHeader {  // struct kvm_msrs without its entries[]
  uint32_t nmsrs;
  uint32_t pad;
};

// struct kvm_xsave without extra[]: the 4 KiB the original KVM_GET/SET_XSAVE move. With
// KVM_CAP_XSAVE2, KVM_GET_XSAVE2/KVM_SET_XSAVE move as many bytes as that capability reports.
struct KvmXsaveRegion {
  uint32_t region[1024];
};

// KVM_CAP_SYNC_REGS: the register classes Janus asks KVM to copy into kvm_run at every exit
// (kvm_run.kvm_valid_regs), so that reading them after a KVM_RUN costs no ioctl.
constexpr uint64_t kKvmSyncCoreRegs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
// kvm_run has no flexible array before the sync area, so C++ gets the kernel's layout; pin it.
static_assert(offsetof(kvm_run, kvm_valid_regs) == 288 && offsetof(kvm_run, kvm_dirty_regs) == 296 &&
              offsetof(kvm_run, s) == 304);
static_assert(sizeof(kvm_sync_regs) == sizeof(kvm_regs) + sizeof(kvm_sregs) + sizeof(kvm_vcpu_events));

constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmCpuid2Header);
constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmCpuid2Header);
constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, KvmMsrsHeader);
constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmMsrsHeader);
constexpr unsigned long kKvmGetXsave = _IOR(KVMIO, 0xa4, KvmXsaveRegion);
constexpr unsigned long kKvmSetXsave = _IOW(KVMIO, 0xa5, KvmXsaveRegion);
constexpr unsigned long kKvmGetXsave2 = _IOR(KVMIO, 0xcf, KvmXsaveRegion);

// A header followed by n entries in one zeroed, suitably aligned buffer: the ioctl argument.
template <typename Header, typename Entry>
class KvmArrayArg {
 public:
  explicit KvmArrayArg(size_t n)
      : n_(n), storage_(std::make_unique<uint64_t[]>((sizeof(Header) + n * sizeof(Entry) + 7) / 8)) {
    static_assert(sizeof(Header) % alignof(Entry) == 0);
  }
  Header* header() { return reinterpret_cast<Header*>(storage_.get()); }
  Entry* entries() { return reinterpret_cast<Entry*>(reinterpret_cast<char*>(storage_.get()) + sizeof(Header)); }
  std::span<Entry> span() { return {entries(), n_}; }
  void* arg() { return storage_.get(); }

 private:
  size_t n_;
  std::unique_ptr<uint64_t[]> storage_;
};

}  // namespace janus
