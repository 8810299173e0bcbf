#include "accel/cross/follower_memory.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace janus::cross {

namespace {

constexpr uint64_t kPage = 4096;

std::atomic<WriteTracker*> g_tracker{nullptr};
struct sigaction g_previous {};

void on_sigsegv(int sig, siginfo_t* info, void* ctx) {
  WriteTracker* t = g_tracker.load(std::memory_order_acquire);
  if (t && t->on_fault(reinterpret_cast<uintptr_t>(info->si_addr))) return;
  // Not ours: let the previous handler (or the default action) have it.
  sigaction(SIGSEGV, &g_previous, nullptr);
  (void)sig;
  (void)ctx;
}

bool all_zero(const uint8_t* p, uint64_t n) {
  static const uint8_t kZero[kPage] = {};
  return std::memcmp(p, kZero, n) == 0;
}

std::optional<MemoryDiff> first_difference(uint64_t gpa, const uint8_t* a, const uint8_t* b, uint64_t n) {
  if (std::memcmp(a, b, n) == 0) return std::nullopt;
  uint64_t i = 0;
  while (a[i] == b[i]) ++i;
  uint64_t len = std::min<uint64_t>(16, n - i);
  return MemoryDiff{gpa + i, std::vector<uint8_t>(a + i, a + i + len), std::vector<uint8_t>(b + i, b + i + len)};
}

}  // namespace

std::unique_ptr<GuestMemory> clone_guest_memory(const GuestMemory& leader) {
  auto copy = std::make_unique<GuestMemory>(leader.ram_size());
  for (const MemoryRegion& r : leader.regions())
    if (r.readonly) copy->add_rom(r.gpa, std::span<const uint8_t>(r.host, r.size), r.name);
  if (copy->regions().size() != leader.regions().size())
    throw std::runtime_error("cross-check: the follower's memory layout differs from the leader's");
  for (size_t i = 0; i < leader.regions().size(); ++i) {
    const MemoryRegion &from = leader.regions()[i], &to = copy->regions()[i];
    if (from.gpa != to.gpa || from.size != to.size || from.readonly != to.readonly)
      throw std::runtime_error("cross-check: the follower's memory layout differs from the leader's");
    if (from.readonly) continue;
    // Copy only pages with data: untouched RAM stays unallocated on both sides.
    for (uint64_t off = 0; off < from.size; off += kPage) {
      uint64_t n = std::min(kPage, from.size - off);
      if (!all_zero(from.host + off, n)) std::memcpy(to.host + off, from.host + off, n);
    }
  }
  return copy;
}

WriteTracker::WriteTracker(GuestMemory& follower, unsigned hot_pages)
    : follower_(follower), hot_limit_(std::max(1u, hot_pages)), fresh_(4096) {
  for (const MemoryRegion& r : follower_.regions())
    if (!r.readonly) ram_.push_back(&r);
  WriteTracker* expected = nullptr;
  if (!g_tracker.compare_exchange_strong(expected, this))
    throw std::logic_error("cross-check: only one WriteTracker at a time");
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsegv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_previous);
  reset();
}

WriteTracker::~WriteTracker() {
  for (const MemoryRegion* r : ram_) mprotect(r->host, r->size, PROT_READ | PROT_WRITE);
  sigaction(SIGSEGV, &g_previous, nullptr);
  g_tracker.store(nullptr);
}

void WriteTracker::reset() {
  for (const MemoryRegion* r : ram_)
    if (mprotect(r->host, r->size, PROT_READ) != 0) throw std::runtime_error("cross-check: mprotect of follower RAM failed");
  hot_.clear();
  fresh_count_ = 0;
}

bool WriteTracker::on_fault(uintptr_t addr) {
  for (const MemoryRegion* r : ram_) {
    uintptr_t lo = reinterpret_cast<uintptr_t>(r->host);
    if (addr - lo >= r->size) continue;
    auto* page = reinterpret_cast<uint8_t*>(addr & ~(kPage - 1));
    if (mprotect(page, kPage, PROT_READ | PROT_WRITE) != 0) return false;
    if (fresh_count_ < fresh_.size()) fresh_[fresh_count_++] = page;
    else reset_needed_ = true;
    return true;
  }
  return false;
}

uint64_t WriteTracker::gpa_of(const uint8_t* page) const {
  for (const MemoryRegion* r : ram_)
    if (page >= r->host && page < r->host + r->size) return r->gpa + uint64_t(page - r->host);
  return ~0ull;
}

std::optional<MemoryDiff> WriteTracker::compare_page(const GuestMemory& leader, const uint8_t* page) const {
  uint64_t gpa = gpa_of(page);
  const uint8_t* theirs = leader.host_ptr(gpa, kPage);
  if (!theirs) return MemoryDiff{gpa, {}, {}};
  return first_difference(gpa, theirs, page, kPage);
}

std::optional<MemoryDiff> WriteTracker::check_step(const GuestMemory& leader) {
  for (size_t i = 0; i < fresh_count_; ++i)
    if (std::find(hot_.begin(), hot_.end(), fresh_[i]) == hot_.end()) hot_.push_back(fresh_[i]);
  fresh_count_ = 0;
  if (reset_needed_) {  // more fresh pages than the record holds in one step: compare everything
    reset_needed_ = false;
    auto d = check_all(leader);
    reset();
    return d;
  }
  std::optional<MemoryDiff> diff;
  for (const uint8_t* page : hot_)
    if ((diff = compare_page(leader, page))) break;
  while (hot_.size() > hot_limit_) {
    mprotect(hot_.front(), kPage, PROT_READ);
    hot_.erase(hot_.begin());
  }
  return diff;
}

std::optional<MemoryDiff> WriteTracker::check_all(const GuestMemory& leader) const {
  for (const MemoryRegion* r : ram_) {
    const uint8_t* theirs = leader.host_ptr(r->gpa, r->size);
    if (!theirs) return MemoryDiff{r->gpa, {}, {}};
    for (uint64_t off = 0; off < r->size; off += 1u << 20) {
      uint64_t n = std::min<uint64_t>(1u << 20, r->size - off);
      if (auto d = first_difference(r->gpa + off, theirs + off, r->host + off, n)) return d;
    }
  }
  return std::nullopt;
}

}  // namespace janus::cross
