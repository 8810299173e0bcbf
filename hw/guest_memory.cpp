#include "hw/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "hw/pc_layout.h"

namespace janus {

namespace {

uint8_t* map_anonymous(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("cannot allocate " + std::to_string(bytes >> 20) + " MiB of guest memory");
  return static_cast<uint8_t*>(p);
}

}  // namespace

GuestMemory::GuestMemory(uint64_t ram_bytes) : ram_size_(ram_bytes) {
  ram_ = map_anonymous(ram_bytes);
  mappings_.push_back({ram_, ram_bytes});
  madvise(ram_, ram_bytes, MADV_MERGEABLE);
  uint64_t low = std::min(ram_bytes, layout::kPciHoleStart);
  low_ram_end_ = low;
  // The VGA window 0xA0000-0xBFFFF is never RAM; the RAM behind it simply goes unused.
  add_region({0, std::min(low, layout::kVgaHoleStart), ram_, false, "ram-low"});
  if (low > layout::kVgaHoleEnd)
    add_region({layout::kVgaHoleEnd, low - layout::kVgaHoleEnd, ram_ + layout::kVgaHoleEnd, false, "ram"});
  if (ram_bytes > low)
    add_region({layout::k4GiB, ram_bytes - low, ram_ + low, false, "ram-high"});
}

GuestMemory::~GuestMemory() {
  for (auto [p, n] : mappings_) munmap(p, n);
}

void GuestMemory::add_region(MemoryRegion r) {
  regions_.push_back(std::move(r));
  std::sort(regions_.begin(), regions_.end(), [](const MemoryRegion& a, const MemoryRegion& b) { return a.gpa < b.gpa; });
}

// Removes [start, end) from RAM regions, splitting a region when the cut falls in its middle.
void GuestMemory::cut_ram(uint64_t start, uint64_t end) {
  std::vector<MemoryRegion> out;
  for (auto& r : regions_) {
    uint64_t rend = r.gpa + r.size;
    if (r.readonly || end <= r.gpa || rend <= start) { out.push_back(r); continue; }
    if (r.gpa < start) out.push_back({r.gpa, start - r.gpa, r.host, false, r.name});
    if (end < rend) out.push_back({end, rend - end, r.host + (end - r.gpa), false, r.name});
  }
  regions_ = std::move(out);
}

void GuestMemory::add_rom(uint64_t gpa, std::span<const uint8_t> image, std::string name) {
  for (const auto& r : regions_)
    if (r.readonly && gpa < r.gpa + r.size && r.gpa < gpa + image.size())
      throw std::invalid_argument("ROM " + name + " overlaps ROM " + r.name);
  uint64_t bytes = (image.size() + 0xfff) & ~0xfffull;
  uint8_t* p = map_anonymous(bytes);
  mappings_.push_back({p, bytes});
  std::memcpy(p, image.data(), image.size());
  cut_ram(gpa, gpa + bytes);
  add_region({gpa, bytes, p, true, std::move(name)});
}

const MemoryRegion* GuestMemory::find(uint64_t gpa) const {
  auto it = std::upper_bound(regions_.begin(), regions_.end(), gpa,
                             [](uint64_t a, const MemoryRegion& r) { return a < r.gpa; });
  if (it == regions_.begin()) return nullptr;
  --it;
  return it->contains(gpa) ? &*it : nullptr;
}

uint8_t* GuestMemory::host_ptr(uint64_t gpa, uint64_t len) const {
  const MemoryRegion* r = find(gpa);
  if (!r || len > r->size - (gpa - r->gpa)) return nullptr;
  return r->host + (gpa - r->gpa);
}

bool GuestMemory::read_phys(uint64_t gpa, void* out, uint64_t len) const {
  auto* dst = static_cast<uint8_t*>(out);
  while (len) {
    const MemoryRegion* r = find(gpa);
    if (!r) return false;
    uint64_t n = std::min(len, r->size - (gpa - r->gpa));
    std::memcpy(dst, r->host + (gpa - r->gpa), n);
    dst += n; gpa += n; len -= n;
  }
  return true;
}

bool GuestMemory::write_phys(uint64_t gpa, const void* data, uint64_t len) {
  auto* src = static_cast<const uint8_t*>(data);
  while (len) {
    const MemoryRegion* r = find(gpa);
    if (!r) return false;
    uint64_t n = std::min(len, r->size - (gpa - r->gpa));
    std::memcpy(r->host + (gpa - r->gpa), src, n);
    src += n; gpa += n; len -= n;
  }
  return true;
}

}  // namespace janus
