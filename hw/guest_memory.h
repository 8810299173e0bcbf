// Guest physical memory: RAM and ROM regions backed by host mappings, shared by both backends.
// KVM registers each region as a memory slot; the software CPU's TLB points into them.
// Addresses in no region are MMIO and go to the MMIO bus.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace janus {

struct MemoryRegion {
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint8_t* host = nullptr;
  bool readonly = false;  // ROM: guest writes are dropped
  std::string name;
  bool contains(uint64_t a) const { return a - gpa < size; }
};

class GuestMemory {
 public:
  // Allocates ram_bytes of RAM laid out as a PC: below the VGA hole, from 0xC0000 to the PCI hole,
  // and the rest above 4 GiB. Throws std::runtime_error if the host cannot provide it.
  explicit GuestMemory(uint64_t ram_bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // Maps a read-only copy of image at gpa (firmware). Overlapping RAM is cut out of the RAM region.
  void add_rom(uint64_t gpa, std::span<const uint8_t> image, std::string name);

  uint64_t ram_size() const { return ram_size_; }
  uint64_t low_ram_end() const { return low_ram_end_; }  // end of RAM below 4 GiB
  const std::vector<MemoryRegion>& regions() const { return regions_; }
  const MemoryRegion* find(uint64_t gpa) const;

  // Host pointer for [gpa, gpa+len) if it lies inside one region (RAM or ROM), else nullptr.
  uint8_t* host_ptr(uint64_t gpa, uint64_t len = 1) const;

  // Copies for loaders and tools; return false if any byte is outside RAM/ROM.
  // write_phys writes ROM too (loaders fill firmware); guests cannot.
  bool read_phys(uint64_t gpa, void* out, uint64_t len) const;
  bool write_phys(uint64_t gpa, const void* data, uint64_t len);

  template <typename T> T load(uint64_t gpa) const { T v{}; read_phys(gpa, &v, sizeof v); return v; }
  template <typename T> bool store(uint64_t gpa, const T& v) { return write_phys(gpa, &v, sizeof v); }

 private:
  void add_region(MemoryRegion r);
  void cut_ram(uint64_t start, uint64_t end);

  uint64_t ram_size_ = 0;
  uint64_t low_ram_end_ = 0;
  uint8_t* ram_ = nullptr;
  std::vector<std::pair<uint8_t*, uint64_t>> mappings_;  // host mmaps to release
  std::vector<MemoryRegion> regions_;                     // sorted by gpa, non-overlapping
};

}  // namespace janus
