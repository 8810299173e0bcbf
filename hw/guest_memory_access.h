// The page walker's view of GuestMemory: page-table entries read and written in place through
// host pointers. Lives in hw/ so that janus_cpu does not depend on janus_hw.
#pragma once
#include "cpu/paging.h"
#include "hw/guest_memory.h"

namespace janus {

class GuestMemoryAccess : public PhysicalMemoryAccess {
 public:
  explicit GuestMemoryAccess(GuestMemory& mem) : mem_(mem) {}
  // False outside RAM/ROM (MMIO and holes hold no page tables Janus can walk).
  bool read_u32(uint64_t gpa, uint32_t& value) override;
  bool read_u64(uint64_t gpa, uint64_t& value) override;
  // Accessed/dirty updates. Writes to ROM are dropped (and succeed), as on hardware.
  bool write_u32(uint64_t gpa, uint32_t value) override;
  bool write_u64(uint64_t gpa, uint64_t value) override;
  bool read_bytes(uint64_t gpa, void* out, size_t len) override;

 private:
  GuestMemory& mem_;
};

}  // namespace janus
