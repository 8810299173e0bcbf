// An address space of devices: one instance for port I/O (16-bit addresses), one for MMIO.
// Accesses to unmapped addresses behave as an open bus: reads return all ones, writes vanish.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hw/io_device.h"

namespace janus {

class IoBus {
 public:
  struct Mapping {
    uint64_t base;
    uint64_t length;
    IoDevice* device;
    std::string name;
  };

  explicit IoBus(std::string name) : name_(std::move(name)) {}

  // Maps [base, base+length) to device; throws std::invalid_argument on overlap.
  void map(uint64_t base, uint64_t length, IoDevice& device, std::string name);
  const Mapping* find(uint64_t addr) const;

  uint64_t read(uint64_t addr, unsigned size);
  void write(uint64_t addr, unsigned size, uint64_t value);

  const std::vector<Mapping>& mappings() const { return mappings_; }
  uint64_t unmapped_accesses() const { return unmapped_accesses_; }

 private:
  std::string name_;
  std::vector<Mapping> mappings_;  // sorted by base
  uint64_t unmapped_accesses_ = 0;
};

inline uint64_t size_mask(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

}  // namespace janus
