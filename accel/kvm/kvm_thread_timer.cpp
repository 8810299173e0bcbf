#include "accel/kvm/kvm_thread_timer.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "accel/kvm/kvm_kick_signal.h"

namespace janus {

ThreadTimer::ThreadTimer() : tid_(gettid()) {
  sigevent ev;
  std::memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = kKickSignal;
  ev._sigev_un._tid = tid_;  // sigev_notify_thread_id; older glibc headers lack the macro
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer_) != 0)
    throw std::runtime_error(std::string("timer_create for the vCPU deadline failed: ") + std::strerror(errno));
}

ThreadTimer::~ThreadTimer() { timer_delete(timer_); }

void ThreadTimer::arm(uint64_t ns_from_now) {
  if (ns_from_now == 0) ns_from_now = 1;  // zero would disarm
  itimerspec spec{};
  spec.it_value.tv_sec = time_t(ns_from_now / 1000000000ull);
  spec.it_value.tv_nsec = long(ns_from_now % 1000000000ull);
  if (timer_settime(timer_, 0, &spec, nullptr) != 0)
    throw std::runtime_error(std::string("timer_settime for the vCPU deadline failed: ") + std::strerror(errno));
  armed_ = true;
}

void ThreadTimer::disarm() {
  if (!armed_) return;
  itimerspec spec{};
  timer_settime(timer_, 0, &spec, nullptr);
  armed_ = false;
}

}  // namespace janus
