// Port I/O and MMIO in cross-check mode: the leader (KVM) performs every access once, on the real
// machine, through RecordingIo; the follower (software CPU) gets the same values back from
// ReplayIo, which also checks that it makes the same access (kind, address, size, written value).
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "accel/vcpu.h"

namespace janus::cross {

struct IoAccess {
  enum class Kind : uint8_t { kPioRead, kPioWrite, kMmioRead, kMmioWrite } kind;
  uint64_t address = 0;
  unsigned size = 0;
  uint64_t value = 0;  // written, or what the read returned
  bool operator==(const IoAccess&) const = default;
};

std::string describe(const IoAccess& a);

// Interposed between the leader and the machine: performs and logs each access.
class RecordingIo final : public IoHandler {
 public:
  explicit RecordingIo(IoHandler& machine) : machine_(machine) {}
  uint64_t pio_read(uint16_t port, unsigned size) override;
  void pio_write(uint16_t port, unsigned size, uint64_t value) override;
  uint64_t mmio_read(uint64_t gpa, unsigned size) override;
  void mmio_write(uint64_t gpa, unsigned size, uint64_t value) override;

  // Accesses since the last take(), oldest first.
  std::deque<IoAccess> take() { return std::exchange(log_, {}); }
  // Called after each access (cross-check ends a leader run at its first access with it).
  std::function<void()> on_access;

 private:
  IoHandler& machine_;
  std::deque<IoAccess> log_;
};

// Given to the follower: answers from the leader's log, never touches a device.
class ReplayIo final : public IoHandler {
 public:
  void load(std::deque<IoAccess> accesses) { expected_ = std::move(accesses); mismatch_.clear(); }
  uint64_t pio_read(uint16_t port, unsigned size) override;
  void pio_write(uint16_t port, unsigned size, uint64_t value) override;
  uint64_t mmio_read(uint64_t gpa, unsigned size) override;
  void mmio_write(uint64_t gpa, unsigned size, uint64_t value) override;

  // Empty if the follower made exactly the leader's accesses so far; else what went wrong.
  const std::string& mismatch() const { return mismatch_; }
  // Accesses the leader made that the follower has not (yet) made.
  const std::deque<IoAccess>& remaining() const { return expected_; }

 private:
  uint64_t replay(IoAccess actual);
  std::deque<IoAccess> expected_;
  std::string mismatch_;
};

}  // namespace janus::cross
