#include "hw/guest_memory_access.h"

#include <atomic>
#include <cstring>

namespace janus {

namespace {

// Naturally aligned entries (all real page tables) are loaded and stored atomically, so another
// vCPU thread never sees a torn entry; unaligned ones fall back to memcpy.
template <typename T> T load(const uint8_t* p) {
  if (reinterpret_cast<uintptr_t>(p) % sizeof(T) == 0)
    return std::atomic_ref<T>(*reinterpret_cast<T*>(const_cast<uint8_t*>(p))).load(std::memory_order_relaxed);
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T> void store(uint8_t* p, T v) {
  if (reinterpret_cast<uintptr_t>(p) % sizeof(T) == 0) {
    std::atomic_ref<T>(*reinterpret_cast<T*>(p)).store(v, std::memory_order_relaxed);
    return;
  }
  std::memcpy(p, &v, sizeof v);
}

template <typename T> bool read_entry(const GuestMemory& mem, uint64_t gpa, T& value) {
  const uint8_t* p = mem.host_ptr(gpa, sizeof(T));
  if (!p) return false;
  value = load<T>(p);
  return true;
}

template <typename T> bool write_entry(GuestMemory& mem, uint64_t gpa, T value) {
  const MemoryRegion* r = mem.find(gpa);
  uint8_t* p = mem.host_ptr(gpa, sizeof(T));
  if (!r || !p) return false;
  if (r->readonly) return true;  // ROM ignores the write
  store<T>(p, value);
  return true;
}

}  // namespace

bool GuestMemoryAccess::read_u32(uint64_t gpa, uint32_t& value) { return read_entry(mem_, gpa, value); }
bool GuestMemoryAccess::read_u64(uint64_t gpa, uint64_t& value) { return read_entry(mem_, gpa, value); }
bool GuestMemoryAccess::write_u32(uint64_t gpa, uint32_t value) { return write_entry(mem_, gpa, value); }
bool GuestMemoryAccess::write_u64(uint64_t gpa, uint64_t value) { return write_entry(mem_, gpa, value); }

bool GuestMemoryAccess::read_bytes(uint64_t gpa, void* out, size_t len) {
  return mem_.read_phys(gpa, out, len);
}

}  // namespace janus
