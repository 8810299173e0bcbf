// The follower's own guest RAM: both CPUs execute the same stores, so each needs its copy.
// clone_guest_memory() builds a GuestMemory with the same regions, ROMs and contents.
// WriteTracker finds the pages the follower wrote during a step without any hook in the
// software CPU: RAM is write-protected in the host, the first store to a page faults
// (SIGSEGV), the page is recorded and unprotected. Recently written pages stay writable in a
// small "hot" set that is compared every step; older ones are protected again.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "hw/guest_memory.h"

namespace janus::cross {

std::unique_ptr<GuestMemory> clone_guest_memory(const GuestMemory& leader);

struct MemoryDiff {
  uint64_t gpa = 0;                       // first differing byte
  std::vector<uint8_t> leader, follower;  // up to 16 bytes from there
};

class WriteTracker {
 public:
  // Protects every RAM region of `follower`. One tracker per process at a time.
  explicit WriteTracker(GuestMemory& follower, unsigned hot_pages = 8);
  ~WriteTracker();
  WriteTracker(const WriteTracker&) = delete;
  WriteTracker& operator=(const WriteTracker&) = delete;

  // Compares every page written since it was last protected (the hot set) with the leader's
  // page at the same guest-physical address; then ages the hot set. First difference, if any.
  std::optional<MemoryDiff> check_step(const GuestMemory& leader);
  // Compares all RAM (pages only the leader wrote are caught here). First difference, if any.
  std::optional<MemoryDiff> check_all(const GuestMemory& leader) const;
  // Protects everything again (after the caller wrote both memories itself).
  void reset();

  // Called from the SIGSEGV handler: true if addr is tracked RAM (now writable).
  bool on_fault(uintptr_t addr);

 private:
  uint64_t gpa_of(const uint8_t* page) const;
  std::optional<MemoryDiff> compare_page(const GuestMemory& leader, const uint8_t* page) const;

  GuestMemory& follower_;
  unsigned hot_limit_;
  std::vector<const MemoryRegion*> ram_;
  std::vector<uint8_t*> fresh_;  // faulted in the current step (preallocated: filled in a signal handler)
  size_t fresh_count_ = 0;
  std::vector<uint8_t*> hot_;    // writable pages, most recent last
  bool reset_needed_ = false;
};

}  // namespace janus::cross
