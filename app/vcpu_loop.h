// The loop that runs one vCPU on the machine: enter the guest, then service timers, host input,
// halts and stop requests between runs. Backend-independent.
#pragma once
#include <string>

#include "accel/vcpu.h"
#include "hw/pc_machine.h"

namespace janus {

struct LoopResult {
  enum class Kind { kExit, kReset, kError } kind = Kind::kExit;
  int exit_status = 0;
  std::string message;  // why, for kError and for notable exits
};

LoopResult run_vcpu_loop(PcMachine& machine, Vcpu& vcpu);

}  // namespace janus
