#include "hw/boot/boot_memory.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace janus {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

[[noreturn]] void throw_outside(uint64_t gpa, uint64_t length, std::string_view what) {
  throw std::runtime_error("cannot place " + std::string(what) + " at " + range_text(gpa, length) +
                           ": outside guest RAM");
}

}  // namespace

std::string range_text(uint64_t gpa, uint64_t length) {
  return hex(gpa) + ".." + hex(gpa + (length ? length - 1 : 0));
}

bool range_is_ram(const GuestMemory& mem, uint64_t gpa, uint64_t length) {
  if (gpa + length < gpa) return false;  // wraps around the address space
  while (length) {
    const MemoryRegion* r = mem.find(gpa);
    if (!r || r->readonly) return false;
    uint64_t n = std::min(length, r->size - (gpa - r->gpa));
    gpa += n;
    length -= n;
  }
  return true;
}

void write_guest(GuestMemory& mem, uint64_t gpa, std::span<const uint8_t> data, std::string_view what) {
  if (!range_is_ram(mem, gpa, data.size()) || !mem.write_phys(gpa, data.data(), data.size()))
    throw_outside(gpa, data.size(), what);
}

void zero_guest(GuestMemory& mem, uint64_t gpa, uint64_t length, std::string_view what) {
  if (!range_is_ram(mem, gpa, length)) throw_outside(gpa, length, what);
  static const std::vector<uint8_t> zeros(1 << 16, 0);
  while (length) {
    uint64_t n = std::min<uint64_t>(length, zeros.size());
    mem.write_phys(gpa, zeros.data(), n);
    gpa += n;
    length -= n;
  }
}

}  // namespace janus
