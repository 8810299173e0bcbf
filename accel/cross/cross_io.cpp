#include "accel/cross/cross_io.h"

#include <cstdio>

namespace janus::cross {

std::string describe(const IoAccess& a) {
  static const char* const kNames[] = {"port read", "port write", "MMIO read", "MMIO write"};
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s 0x%llx size %u value 0x%llx", kNames[int(a.kind)],
                static_cast<unsigned long long>(a.address), a.size, static_cast<unsigned long long>(a.value));
  return buf;
}

uint64_t RecordingIo::pio_read(uint16_t port, unsigned size) {
  uint64_t v = machine_.pio_read(port, size);
  log_.push_back({IoAccess::Kind::kPioRead, port, size, v});
  if (on_access) on_access();
  return v;
}
void RecordingIo::pio_write(uint16_t port, unsigned size, uint64_t value) {
  log_.push_back({IoAccess::Kind::kPioWrite, port, size, value});
  machine_.pio_write(port, size, value);
  if (on_access) on_access();
}
uint64_t RecordingIo::mmio_read(uint64_t gpa, unsigned size) {
  uint64_t v = machine_.mmio_read(gpa, size);
  log_.push_back({IoAccess::Kind::kMmioRead, gpa, size, v});
  if (on_access) on_access();
  return v;
}
void RecordingIo::mmio_write(uint64_t gpa, unsigned size, uint64_t value) {
  log_.push_back({IoAccess::Kind::kMmioWrite, gpa, size, value});
  machine_.mmio_write(gpa, size, value);
  if (on_access) on_access();
}

// Reads compare kind/address/size; writes also the value. The first mismatch is kept; after it
// the follower gets all-ones, as from an empty bus (the step is reported as diverged anyway).
uint64_t ReplayIo::replay(IoAccess actual) {
  const bool read = actual.kind == IoAccess::Kind::kPioRead || actual.kind == IoAccess::Kind::kMmioRead;
  if (expected_.empty()) {
    if (mismatch_.empty()) mismatch_ = "follower made an access the leader did not: " + describe(actual);
    return ~0ull;
  }
  IoAccess want = expected_.front();
  if (want.kind != actual.kind || want.address != actual.address || want.size != actual.size ||
      (!read && want.value != actual.value)) {
    if (mismatch_.empty()) {
      if (read) actual.value = 0;
      mismatch_ = "leader made " + describe(want) + ", follower made " + describe(actual);
    }
    return ~0ull;
  }
  expected_.pop_front();
  return want.value;
}

uint64_t ReplayIo::pio_read(uint16_t port, unsigned size) { return replay({IoAccess::Kind::kPioRead, port, size, 0}); }
void ReplayIo::pio_write(uint16_t port, unsigned size, uint64_t value) {
  replay({IoAccess::Kind::kPioWrite, port, size, value});
}
uint64_t ReplayIo::mmio_read(uint64_t gpa, unsigned size) { return replay({IoAccess::Kind::kMmioRead, gpa, size, 0}); }
void ReplayIo::mmio_write(uint64_t gpa, unsigned size, uint64_t value) {
  replay({IoAccess::Kind::kMmioWrite, gpa, size, value});
}

}  // namespace janus::cross
