#include "hw/io_bus.h"

#include <algorithm>
#include <stdexcept>

namespace janus {

void IoBus::map(uint64_t base, uint64_t length, IoDevice& device, std::string name) {
  if (length == 0) throw std::invalid_argument(name_ + ": empty mapping for " + name);
  for (const auto& m : mappings_)
    if (base < m.base + m.length && m.base < base + length)
      throw std::invalid_argument(name_ + ": " + name + " overlaps " + m.name);
  mappings_.push_back({base, length, &device, std::move(name)});
  std::sort(mappings_.begin(), mappings_.end(), [](const Mapping& a, const Mapping& b) { return a.base < b.base; });
}

const IoBus::Mapping* IoBus::find(uint64_t addr) const {
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), addr,
                             [](uint64_t a, const Mapping& m) { return a < m.base; });
  if (it == mappings_.begin()) return nullptr;
  --it;
  return addr - it->base < it->length ? &*it : nullptr;
}

uint64_t IoBus::read(uint64_t addr, unsigned size) {
  if (const Mapping* m = find(addr)) return m->device->read(addr - m->base, size) & size_mask(size);
  ++unmapped_accesses_;
  return size_mask(size);
}

void IoBus::write(uint64_t addr, unsigned size, uint64_t value) {
  if (const Mapping* m = find(addr)) {
    m->device->write(addr - m->base, size, value & size_mask(size));
    return;
  }
  ++unmapped_accesses_;
}

}  // namespace janus
