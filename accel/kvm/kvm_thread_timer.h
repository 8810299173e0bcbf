// A one-shot POSIX timer that delivers the kick signal to the thread that created it, so a vCPU
// leaves KVM_RUN when its deadline comes even if the guest never exits on its own.
#pragma once
#include <sys/types.h>
#include <time.h>

#include <cstdint>

namespace janus {

class ThreadTimer {
 public:
  ThreadTimer();  // targets the calling thread
  ~ThreadTimer();
  ThreadTimer(const ThreadTimer&) = delete;
  ThreadTimer& operator=(const ThreadTimer&) = delete;

  void arm(uint64_t ns_from_now);
  void disarm();
  pid_t thread() const { return tid_; }

 private:
  timer_t timer_{};
  pid_t tid_ = 0;
  bool armed_ = false;
};

}  // namespace janus
