// The software CPU's MMU: linear address -> guest physical -> host memory or MMIO.
// A per-vCPU TLB (one per privilege: supervisor, user) caches the page walk of cpu/paging.h as a
// host pointer per page and access kind. Anything that must take the slow path simply has no
// tag for that kind: MMIO, ROM writes, writes to pages holding translated code.
#pragma once
#include <array>
#include <algorithm>
#include <cstdint>

#include "accel/vcpu.h"
#include "cpu/paging.h"
#include "hw/guest_memory.h"
#include "hw/guest_memory_access.h"
#include "tcg/guest_fault.h"

namespace janus::tcg {

// Told about writes to physical pages that hold translated code (self-modifying code).
class CodeWriteObserver {
 public:
  virtual ~CodeWriteObserver() = default;
  virtual bool is_code_page(uint64_t phys_page) const = 0;
  virtual void code_written(uint64_t phys_addr, unsigned size) = 0;
};

class SoftMmu {
 public:
  static constexpr unsigned kTlbBits = 10;  // 4 MiB of reach per privilege: strided loops miss far less
  static constexpr unsigned kTlbSize = 1u << kTlbBits;
  static constexpr uint64_t kNoTag = ~0ull;

  SoftMmu(const CpuState& state, GuestMemory& memory, IoHandler& io, const CpuidTable& cpuid);

  void set_code_observer(CodeWriteObserver* o) { observer_ = o; }

  // Linear-address accesses; throw GuestFault (#PF with cr2/error code).
  uint64_t read(uint64_t linear, unsigned size, bool user) {
    const TlbEntry& e = entry(linear, user);
    if (e.tag_read == (linear & ~0xfffull) && (linear & 0xfff) + size <= 4096) return load_host(e.host + (linear & 0xfff), size);
    return read_slow(linear, size, user);
  }
  void write(uint64_t linear, unsigned size, uint64_t value, bool user) {
    const TlbEntry& e = entry(linear, user);
    if (e.tag_write == (linear & ~0xfffull) && (linear & 0xfff) + size <= 4096) return store_host(e.host + (linear & 0xfff), size, value);
    write_slow(linear, size, value, user);
  }
  // The TLB hit path alone: the host address of [linear, linear+size) when one fast entry covers
  // it, else null (the caller takes its checked slow path). A hit implies a canonical page (and
  // no armed data breakpoint: set_fast_data).
  uint8_t* read_ptr(uint64_t linear, unsigned size, bool user) const {
    const TlbEntry& e = tlb_[user][(linear >> 12) & (kTlbSize - 1)];
    if (e.tag_read == (linear & ~0xfffull) && (linear & 0xfff) <= 4096 - size) return e.host + (linear & 0xfff);
    return nullptr;
  }
  uint8_t* write_ptr(uint64_t linear, unsigned size, bool user) const {
    const TlbEntry& e = tlb_[user][(linear >> 12) & (kTlbSize - 1)];
    if (e.tag_write == (linear & ~0xfffull) && (linear & 0xfff) <= 4096 - size) return e.host + (linear & 0xfff);
    return nullptr;
  }
  // As read_ptr/write_ptr, but also looking in the victim TLB (swapping a hit into the main TLB):
  // for bulk copies, whose source and destination may evict each other from the main TLB.
  uint8_t* read_span(uint64_t linear, unsigned size, bool user);
  uint8_t* write_span(uint64_t linear, unsigned size, bool user);
  // Is the page of `linear` mapped, executable at this privilege, to physical page phys_page by a
  // live TLB entry? (The jump cache checks its hits with this instead of being flushed with the TLB.)
  bool code_maps_to(uint64_t linear, bool user, uint64_t phys_page) const {
    const TlbEntry& e = tlb_[user][(linear >> 12) & (kTlbSize - 1)];
    return e.tag_checked == (linear & ~0xfffull) && e.exec_checked && e.phys_page == phys_page;
  }
  // Checks that [linear, linear+size) is writable without writing (for multi-store instructions).
  void probe_write(uint64_t linear, unsigned size, bool user);

  // Instruction fetch: the physical address of `linear`, executable at this privilege.
  uint64_t translate_code(uint64_t linear, bool user);
  // Copies up to `max` code bytes starting at linear; stops early at a page that cannot be
  // fetched and reports that page's fault in `fault` (returns the count fetched).
  unsigned fetch_code(uint64_t linear, uint8_t* out, unsigned max, bool user, bool& faulted, GuestFault& fault);

  // Physical accesses (page-table walker, TSS/descriptor reads go through linear instead).
  uint64_t read_phys(uint64_t gpa, unsigned size);
  void write_phys(uint64_t gpa, unsigned size, uint64_t value);

  void flush_all();
  void flush_non_global();
  void flush_page(uint64_t linear);
  // Removes fast-write tags that point at `phys_page` (it now holds translated code).
  void protect_code_page(uint64_t phys_page);

  // Off while data breakpoints are armed: no fast read/write tags, so every data access (the
  // interpreter's, compiled code's) takes the checked path that reports it.
  void set_fast_data(bool on) {
    if (fast_data_ == on) return;
    fast_data_ = on;
    if (!on) flush_all();
  }

  uint64_t misses() const { return misses_; }
  // Device (MMIO) accesses so far: one may have raised an interrupt (the run loop looks then).
  uint64_t mmio_accesses() const { return mmio_accesses_; }
  const uint64_t* mmio_counter() const { return &mmio_accesses_; }  // compiled code reads it

  // Where compiled code (the LLVM tier) finds the TLB for its inline hit test: byte offsets from
  // the SoftMmu object of each privilege's table, and within an entry.
  struct TlbLayout {
    size_t table[2];
    size_t entry_bytes, tag_read, tag_write, addend;
    size_t tag_checked, exec_checked, phys_page;  // code_maps_to's fields
  };
  TlbLayout tlb_layout() const;

  static uint64_t load_host(const uint8_t* p, unsigned size);
  static void store_host(uint8_t* p, unsigned size, uint64_t v);

 private:
  // Fast tags hit only when the access may go straight to host memory; tag_checked says the
  // page was walked for the *_checked kinds (slow path without another walk: MMIO, ROM, code).
  struct TlbEntry {
    uint64_t tag_read = kNoTag, tag_write = kNoTag, tag_exec = kNoTag;
    uint64_t tag_checked = kNoTag;
    uint8_t* host = nullptr;   // host address of the page (null for MMIO)
    uint64_t phys_page = kNoTag;
    uint64_t addend = 0;       // host - linear page: compiled code adds it to the linear address
    bool global = false, readonly = false;
    bool read_checked = false, write_checked = false, exec_checked = false;
    uint8_t unused_[3] = {};   // 64 bytes: compiled code indexes the table with a shift
  };
  static_assert(sizeof(TlbEntry) == 64);

  TlbEntry& entry(uint64_t linear, bool user) { return tlb_[user][(linear >> 12) & (kTlbSize - 1)]; }
  // The main entry for `linear` after swapping in a victim entry of the same page, if there is one.
  TlbEntry& lookup(uint64_t linear, bool user);
  uint64_t linear_mask() const { return state_.long_mode_active() ? ~0ull : 0xffffffffull; }
  // Walks and fills the TLB for one page and access kind; returns the physical address.
  uint64_t fill(uint64_t linear, AccessKind kind, bool user);
  uint64_t read_slow(uint64_t linear, unsigned size, bool user);
  void write_slow(uint64_t linear, unsigned size, uint64_t value, bool user);
  uint64_t read_page(uint64_t linear, unsigned size, bool user);
  void write_page(uint64_t linear, unsigned size, uint64_t value, bool user);

  const CpuState& state_;
  GuestMemory& memory_;
  GuestMemoryAccess walker_memory_;
  IoHandler& io_;
  bool pse_ = true;
  uint8_t phys_bits_ = 40;
  CodeWriteObserver* observer_ = nullptr;
  std::array<std::array<TlbEntry, kTlbSize>, 2> tlb_{};
  // A small fully associative victim TLB per privilege: entries the direct-mapped TLB evicted, so
  // that pages sharing an index (a copy's source and destination) do not walk again and again.
  static constexpr unsigned kVictims = 8;
  std::array<std::array<TlbEntry, kVictims>, 2> victim_{};
  std::array<unsigned, 2> victim_next_{};
  uint64_t misses_ = 0;
  uint64_t mmio_accesses_ = 0;
  bool has_large_pages_ = false;
  bool fast_data_ = true;
};

}  // namespace janus::tcg
