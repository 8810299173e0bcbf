// Interrupts in cross-check mode: the leader decides. LeaderInterrupts passes the real
// controllers through to KVM and notes what KVM acknowledged during a step; FollowerInterrupts
// offers the software CPU exactly that (same vector, same step), and nothing else.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>

#include "accel/vcpu.h"

namespace janus::cross {

struct StepEvents {
  std::optional<int> interrupt;  // vector acknowledged by the leader during the step
  bool nmi = false;
  bool operator==(const StepEvents&) const = default;
};

class LeaderInterrupts final : public InterruptSource {
 public:
  explicit LeaderInterrupts(InterruptSource& real) : real_(real) {}
  bool interrupt_pending() override { return open() && real_.interrupt_pending(); }
  int acknowledge_interrupt() override;
  bool nmi_pending() override { return open() && real_.nmi_pending(); }
  void acknowledge_nmi() override;
  uint64_t cr8() override { return real_.cr8(); }
  void set_cr8(uint64_t v) override { real_.set_cr8(v); }
  uint64_t tsc_deadline() override { return real_.tsc_deadline(); }
  void set_tsc_deadline(uint64_t v) override { real_.set_tsc_deadline(v); }

  StepEvents take() { return std::exchange(events_, {}); }
  // For a leader run of many instructions: offer at most one event, and only when `allow` (the
  // CPU can take it at once, before its first instruction), so the follower knows where it went.
  void limit_to_start(bool allow) { limited_ = true; allow_ = allow; }
  void unlimit() { limited_ = false; }

 private:
  bool open() const { return !limited_ || (allow_ && !events_.interrupt && !events_.nmi); }
  InterruptSource& real_;
  StepEvents events_;
  bool limited_ = false, allow_ = false;
};

// CR8 and the TSC deadline are read from the real controller (the leader keeps them current);
// the follower's own writes are only noted, so that a different value can be reported.
class FollowerInterrupts final : public InterruptSource {
 public:
  explicit FollowerInterrupts(InterruptSource& real) : real_(real) {}
  void offer(const StepEvents& e) { offered_ = e; }
  bool interrupt_pending() override { return offered_.interrupt.has_value(); }
  int acknowledge_interrupt() override;
  bool nmi_pending() override { return offered_.nmi; }
  void acknowledge_nmi() override { offered_.nmi = false; }
  uint64_t cr8() override { return real_.cr8(); }
  void set_cr8(uint64_t v) override { cr8_written_ = v; }
  uint64_t tsc_deadline() override { return real_.tsc_deadline(); }
  void set_tsc_deadline(uint64_t v) override { deadline_written_ = v; }

  // What the follower did not take of what was offered this step.
  const StepEvents& untaken() const { return offered_; }
  std::optional<uint64_t> take_cr8_write() { return std::exchange(cr8_written_, std::nullopt); }
  std::optional<uint64_t> take_deadline_write() { return std::exchange(deadline_written_, std::nullopt); }

 private:
  InterruptSource& real_;
  StepEvents offered_;
  std::optional<uint64_t> cr8_written_, deadline_written_;
};

}  // namespace janus::cross
