#include "accel/kvm/kvm_kick_signal.h"

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace janus {

namespace {

// The kvm_run of the vCPU executing on this thread, for the signal handler. thread_local in the
// executable is plain TLS access, which is async-signal-safe.
thread_local kvm_run* t_current_run = nullptr;

void on_kick_signal(int) {
  if (kvm_run* run = t_current_run) __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

void install_handler_once() {
  static std::once_flag once;  // the process has one handler per signal; install it once
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_kick_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    if (sigaction(kKickSignal, &sa, nullptr) != 0)
      throw std::runtime_error(std::string("sigaction for the vCPU kick signal failed: ") + std::strerror(errno));
  });
}

}  // namespace

KickSignalScope::KickSignalScope(kvm_run* run) {
  install_handler_once();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kKickSignal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  t_current_run = run;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

KickSignalScope::~KickSignalScope() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_current_run = nullptr;
}

}  // namespace janus
