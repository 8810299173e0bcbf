// How a vCPU thread is pulled out of KVM_RUN: a signal whose handler (installed without
// SA_RESTART) sets the running vCPU's kvm_run::immediate_exit. KVM_RUN then returns EINTR if it
// is inside the guest, and also if the signal lands just before the thread enters KVM_RUN; the
// KVM API documentation recommends this over KVM_SET_SIGNAL_MASK.
#pragma once
#include <linux/kvm.h>
#include <signal.h>

namespace janus {

// SIGUSR1 is the kick signal. Nothing else in Janus may use it.
constexpr int kKickSignal = SIGUSR1;

// While alive on a thread: the kick signal is handled and unblocked there, and a kick sets
// run->immediate_exit. One per thread at a time (a vCPU's run() holds it).
class KickSignalScope {
 public:
  explicit KickSignalScope(kvm_run* run);
  ~KickSignalScope();
  KickSignalScope(const KickSignalScope&) = delete;
  KickSignalScope& operator=(const KickSignalScope&) = delete;
};

}  // namespace janus
