// Virtual time for devices. Devices never read the host clock directly: they ask Clock, and they
// schedule future events on the TimerQueue, which the vCPU loop runs between guest runs. That
// keeps all device state on one thread and lets cross-check drive time deterministically.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace janus {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() const = 0;  // nanoseconds since the machine was created
  // Host time during which the machine did not run and which the guest must not see pass
  // (the software CPU compiling synchronously in deterministic test runs).
  virtual void skip(uint64_t ns) const {}
};

class HostClock final : public Clock {
 public:
  HostClock() : start_(std::chrono::steady_clock::now()) {}
  uint64_t now_ns() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count() -
           skipped_.load(std::memory_order_relaxed);
  }
  void skip(uint64_t ns) const override { skipped_.fetch_add(ns, std::memory_order_relaxed); }

 private:
  std::chrono::steady_clock::time_point start_;
  mutable std::atomic<uint64_t> skipped_{0};
};

// A clock that only moves when told to (unit tests, deterministic runs).
class ManualClock final : public Clock {
 public:
  uint64_t now_ns() const override { return now_; }
  void advance(uint64_t ns) { now_ += ns; }
  void set(uint64_t ns) { now_ = ns; }

 private:
  uint64_t now_ = 0;
};

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

class TimerQueue {
 public:
  using Callback = std::function<void(uint64_t now_ns)>;
  using TimerId = size_t;

  TimerId add(Callback cb) {
    timers_.push_back({std::move(cb), kNever});
    return timers_.size() - 1;
  }
  void arm(TimerId id, uint64_t deadline_ns) {
    timers_[id].deadline = deadline_ns;
    // A device armed a timer while the vCPU runs with a later deadline (e.g. the guest wrote
    // the LAPIC initial count and now polls): the run must end early to fire it in time.
    if (deadline_ns < run_bound_) {
      run_bound_ = deadline_ns;
      if (on_earlier_deadline_) on_earlier_deadline_();
    }
  }
  // The deadline the running vCPU was given, and who to tell when a timer needs an earlier one.
  void set_run_bound(uint64_t deadline_ns) { run_bound_ = deadline_ns; }
  void set_earlier_deadline_listener(std::function<void()> listener) { on_earlier_deadline_ = std::move(listener); }
  void cancel(TimerId id) { timers_[id].deadline = kNever; }
  bool armed(TimerId id) const { return timers_[id].deadline != kNever; }
  uint64_t deadline(TimerId id) const { return timers_[id].deadline; }

  uint64_t next_deadline() const {
    uint64_t d = kNever;
    for (const auto& t : timers_) d = std::min(d, t.deadline);
    return d;
  }
  // Fires every timer whose deadline has passed (once; a callback may re-arm its timer).
  void run_expired(uint64_t now_ns) {
    for (auto& t : timers_)
      if (t.deadline <= now_ns) {
        t.deadline = kNever;
        t.callback(now_ns);
      }
  }

 private:
  struct Timer {
    Callback callback;
    uint64_t deadline;
  };
  std::vector<Timer> timers_;
  uint64_t run_bound_ = kNever;
  std::function<void()> on_earlier_deadline_;
};

}  // namespace janus
