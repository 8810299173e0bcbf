#include "tcg/soft_mmu.h"

#include <cstddef>
#include <cstring>

#include "cpu/exceptions.h"
#include "hw/io_bus.h"

namespace janus::tcg {

SoftMmu::SoftMmu(const CpuState& state, GuestMemory& memory, IoHandler& io, const CpuidTable& cpuid)
    : state_(state), memory_(memory), walker_memory_(memory), io_(io) {
  pse_ = cpuid.leaf1_edx(cpuid_bits::PSE);
  uint32_t bits = cpuid.query(0x80000008, 0).eax & 0xff;
  if (bits >= 32 && bits <= 52) phys_bits_ = uint8_t(bits);
}

uint64_t SoftMmu::load_host(const uint8_t* p, unsigned size) {
  switch (size) {
    case 1: return *p;
    case 2: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case 8: { uint64_t v; std::memcpy(&v, p, 8); return v; }
    default: { uint64_t v = 0; std::memcpy(&v, p, size); return v; }
  }
}

void SoftMmu::store_host(uint8_t* p, unsigned size, uint64_t v) {
  switch (size) {
    case 1: *p = uint8_t(v); return;
    case 2: { uint16_t x = uint16_t(v); std::memcpy(p, &x, 2); return; }
    case 4: { uint32_t x = uint32_t(v); std::memcpy(p, &x, 4); return; }
    default: std::memcpy(p, &v, size); return;
  }
}

SoftMmu::TlbLayout SoftMmu::tlb_layout() const {
  auto at = [this](const void* p) { return size_t(static_cast<const char*>(p) - reinterpret_cast<const char*>(this)); };
  return {{at(&tlb_[0][0]), at(&tlb_[1][0])}, sizeof(TlbEntry), offsetof(TlbEntry, tag_read), offsetof(TlbEntry, tag_write),
          offsetof(TlbEntry, addend),  offsetof(TlbEntry, tag_checked), offsetof(TlbEntry, exec_checked),
          offsetof(TlbEntry, phys_page)};
}

SoftMmu::TlbEntry& SoftMmu::lookup(uint64_t linear, bool user) {
  TlbEntry& e = entry(linear, user);
  const uint64_t page = linear & ~0xfffull;
  if (e.tag_checked != page)
    for (TlbEntry& v : victim_[user])
      if (v.tag_checked == page) {
        std::swap(e, v);
        break;
      }
  return e;
}

uint8_t* SoftMmu::read_span(uint64_t linear, unsigned size, bool user) {
  if (uint8_t* p = read_ptr(linear, size, user)) return p;
  lookup(linear, user);
  return read_ptr(linear, size, user);
}

uint8_t* SoftMmu::write_span(uint64_t linear, unsigned size, bool user) {
  if (uint8_t* p = write_ptr(linear, size, user)) return p;
  lookup(linear, user);
  return write_ptr(linear, size, user);
}

uint64_t SoftMmu::fill(uint64_t linear, AccessKind kind, bool user) {
  ++misses_;
  uint64_t page = linear & ~0xfffull;
  uint64_t phys;
  bool global = false;
  // A page already writable and dirty can take writes without another walk: the walk would
  // find nothing to change. Tagging it on a read fill saves the store after a load its walk.
  bool write_ready = true;
  if (!(state_.cr0 & cr0::PG)) {
    phys = linear;
  } else {
    PagingContext ctx = PagingContext::from(state_, user, phys_bits_);
    ctx.pse_enabled_by_cpuid = pse_;
    Translation t = translate(walker_memory_, ctx, linear, kind);
    if (!t.ok) throw GuestFault{kPF, true, t.error_code, linear};
    phys = t.gpa;
    global = t.global;
    write_ready = t.writable && t.dirty;
    if (t.page_size > 4096) has_large_pages_ = true;
  }
  uint64_t phys_page = phys & ~0xfffull;
  TlbEntry& e = entry(linear, user);
  if (e.tag_checked != page || e.phys_page != phys_page) {
    if (e.tag_checked != kNoTag && e.tag_checked != page) victim_[user][victim_next_[user]++ % kVictims] = e;
    e = TlbEntry{};
  }
  e.tag_checked = page;
  e.phys_page = phys_page;
  e.global = global;
  const MemoryRegion* region = memory_.find(phys_page);
  e.host = region && region->contains(phys_page + 4095) ? region->host + (phys_page - region->gpa) : nullptr;
  e.addend = e.host ? reinterpret_cast<uint64_t>(e.host) - page : 0;
  e.readonly = region && region->readonly;
  bool writable_now = kind == AccessKind::kWrite || (kind == AccessKind::kRead && write_ready);
  if (writable_now) e.write_checked = true;
  if (kind == AccessKind::kExecute) e.exec_checked = true;
  if (kind != AccessKind::kExecute) e.read_checked = true;
  // No fast tag for a non-canonical page: a fast hit then proves the address canonical.
  if (e.host && is_canonical(page)) {
    if (kind == AccessKind::kExecute) e.tag_exec = page;
    else if (fast_data_) e.tag_read = page;
    if (fast_data_ && writable_now && !e.readonly && !(observer_ && observer_->is_code_page(phys_page))) e.tag_write = page;
  }
  return phys;
}

uint64_t SoftMmu::read_page(uint64_t linear, unsigned size, bool user) {
  TlbEntry& e = lookup(linear, user);
  uint64_t phys = (e.tag_checked == (linear & ~0xfffull) && e.read_checked) ? e.phys_page | (linear & 0xfff)
                                                                             : fill(linear, AccessKind::kRead, user);
  TlbEntry& f = entry(linear, user);
  if (f.host) return load_host(f.host + (phys & 0xfff), size);
  return read_phys(phys, size);
}

void SoftMmu::write_page(uint64_t linear, unsigned size, uint64_t value, bool user) {
  TlbEntry& e = lookup(linear, user);
  uint64_t phys = (e.tag_checked == (linear & ~0xfffull) && e.write_checked) ? e.phys_page | (linear & 0xfff)
                                                                              : fill(linear, AccessKind::kWrite, user);
  write_phys(phys, size, value);
  // The page may have stopped holding code (its blocks died): give it back its fast write tag.
  TlbEntry& f = entry(linear, user);
  const uint64_t page = linear & ~0xfffull;
  if (fast_data_ && f.tag_checked == page && f.write_checked && f.host && !f.readonly && f.tag_write != page && is_canonical(page) &&
      !(observer_ && observer_->is_code_page(f.phys_page)))
    f.tag_write = page;
}

uint64_t SoftMmu::read_phys(uint64_t gpa, unsigned size) {
  if (uint8_t* p = memory_.host_ptr(gpa, size)) return load_host(p, size);
  ++mmio_accesses_;
  if (size == 1 || size == 2 || size == 4 || size == 8) return io_.mmio_read(gpa, size) & size_mask(size);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= (io_.mmio_read(gpa + i, 1) & 0xff) << (8 * i);
  return v;
}

void SoftMmu::write_phys(uint64_t gpa, unsigned size, uint64_t value) {
  if (const MemoryRegion* r = memory_.find(gpa); r && r->contains(gpa + size - 1)) {
    if (r->readonly) return;  // ROM: writes vanish
    store_host(r->host + (gpa - r->gpa), size, value);
    if (observer_ && observer_->is_code_page(gpa & ~0xfffull)) observer_->code_written(gpa, size);
    return;
  }
  ++mmio_accesses_;
  if (size == 1 || size == 2 || size == 4 || size == 8) return io_.mmio_write(gpa, size, value & size_mask(size));
  for (unsigned i = 0; i < size; ++i) io_.mmio_write(gpa + i, 1, (value >> (8 * i)) & 0xff);
}

uint64_t SoftMmu::read_slow(uint64_t linear, unsigned size, bool user) {
  unsigned off = linear & 0xfff;
  if (off + size <= 4096) return read_page(linear, size, user);
  unsigned first = 4096 - off;
  uint64_t next = (linear + first) & linear_mask();
  uint64_t lo = read_page(linear, first, user);
  uint64_t hi = read_page(next, size - first, user);
  return lo | (hi << (8 * first));
}

void SoftMmu::write_slow(uint64_t linear, unsigned size, uint64_t value, bool user) {
  unsigned off = linear & 0xfff;
  if (off + size <= 4096) return write_page(linear, size, value, user);
  unsigned first = 4096 - off;
  uint64_t next = (linear + first) & linear_mask();
  // Both pages must be writable before either is written (precise #PF).
  probe_write(next, 1, user);
  write_page(linear, first, value, user);
  write_page(next, size - first, value >> (8 * first), user);
}

void SoftMmu::probe_write(uint64_t linear, unsigned size, bool user) {
  uint64_t last = (linear + size - 1) & linear_mask();
  for (uint64_t a : {linear, last}) {
    TlbEntry& e = lookup(a, user);
    if (!(e.tag_checked == (a & ~0xfffull) && e.write_checked)) fill(a, AccessKind::kWrite, user);
  }
}

uint64_t SoftMmu::translate_code(uint64_t linear, bool user) {
  TlbEntry& e = lookup(linear, user);
  if (e.tag_checked == (linear & ~0xfffull) && e.exec_checked) return e.phys_page | (linear & 0xfff);
  return fill(linear, AccessKind::kExecute, user);
}

unsigned SoftMmu::fetch_code(uint64_t linear, uint8_t* out, unsigned max, bool user, bool& faulted, GuestFault& fault) {
  faulted = false;
  unsigned n = 0;
  while (n < max) {
    uint64_t a = (linear + n) & linear_mask();
    uint64_t phys;
    try {
      phys = translate_code(a, user);
    } catch (const GuestFault& f) {
      faulted = true;
      fault = f;
      return n;
    }
    unsigned chunk = std::min<unsigned>(max - n, 4096 - (a & 0xfff));
    for (unsigned i = 0; i < chunk; ++i) out[n + i] = uint8_t(read_phys(phys + i, 1));
    n += chunk;
  }
  return n;
}

void SoftMmu::flush_all() {
  for (auto& t : tlb_)
    for (auto& e : t) e = TlbEntry{};
  for (auto& t : victim_)
    for (auto& e : t) e = TlbEntry{};
  has_large_pages_ = false;
}

void SoftMmu::flush_non_global() {
  for (auto& t : tlb_)
    for (auto& e : t)
      if (!e.global) e = TlbEntry{};
  for (auto& t : victim_)
    for (auto& e : t)
      if (!e.global) e = TlbEntry{};
}

void SoftMmu::flush_page(uint64_t linear) {
  // A 4 KiB entry may stand for part of a large page; INVLPG of any address in it must drop all.
  if (has_large_pages_) return flush_all();
  uint64_t page = linear & ~0xfffull;
  for (auto& t : tlb_) {
    TlbEntry& e = t[(linear >> 12) & (kTlbSize - 1)];
    if (e.tag_checked == page) e = TlbEntry{};
  }
  for (auto& t : victim_)
    for (auto& e : t)
      if (e.tag_checked == page) e = TlbEntry{};
}

void SoftMmu::protect_code_page(uint64_t phys_page) {
  for (auto& t : tlb_)
    for (auto& e : t)
      if (e.phys_page == phys_page) e.tag_write = kNoTag;
  for (auto& t : victim_)
    for (auto& e : t)
      if (e.phys_page == phys_page) e.tag_write = kNoTag;
}

}  // namespace janus::tcg
