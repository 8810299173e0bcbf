#include "accel/cross/cross_interrupts.h"

namespace janus::cross {

int LeaderInterrupts::acknowledge_interrupt() {
  int v = real_.acknowledge_interrupt();
  if (v >= 0) events_.interrupt = v;
  return v;
}

void LeaderInterrupts::acknowledge_nmi() {
  real_.acknowledge_nmi();
  events_.nmi = true;
}

int FollowerInterrupts::acknowledge_interrupt() {
  if (!offered_.interrupt) return -1;
  int v = *offered_.interrupt;
  offered_.interrupt.reset();
  return v;
}

}  // namespace janus::cross
