// Known errata of this host's KVM instruction emulator (kvm_pvm runs guest CPL0 and real-mode
// code in the host kernel's x86 emulator, not on the CPU). A divergence that one of them fully
// explains is counted as "explained (host erratum: <name>)" instead of a failure; the software
// CPU's value is then the correct one and the leader is brought in line with it.
//
// Rules for an entry (docs/cross-check.md lists them all):
//  - one instruction class, the exact fields it changes, and the condition under which it
//    happens; the leader's wrong value must equal what the erratum predicts, computed from the
//    state before the instruction, and the follower's must be the hardware's;
//  - evidence: the same instruction with the same inputs executed natively on this host's CPU
//    (user mode), or the Intel SDM where native execution cannot show it;
//  - one entry is a host limitation of that kind rather than a wrong result: CPUID leaf 1 shows
//    the host's features, not the configured CPU model (the follower's value is then the table's);
//  - applies only when the leader executed the instruction in the host's emulator: never to
//    natively executed code (64-bit CPL3 under kvm_pvm; its compatibility-mode CPL3 code is
//    emulated and counts as emulated), never on hosts whose KVM runs kernel mode natively.
#pragma once
#include <string>
#include <vector>

#include "accel/cross/state_compare.h"
#include "cpu/cpu_state.h"

namespace janus::cross {

struct HostErratum {
  const char* name;      // short, stable: reports and docs use it
  const char* what;      // the instruction class, the field and the condition
  const char* evidence;  // the native check (or SDM text) that shows the follower is right
};

// Every listed erratum, in the order explain_by_host_erratum tries them.
const std::vector<HostErratum>& host_errata();

// What one diverging step looked like. `fields` are the differences of the normalised states;
// any memory, I/O or exit difference rules every erratum out.
struct StepDifference {
  const uint8_t* bytes = nullptr;  // the instruction the leader executed (up to 15 bytes)
  size_t length = 0;
  const CpuState* before = nullptr;
  const CpuState* leader = nullptr;
  const CpuState* follower = nullptr;
  const std::vector<FieldDiff>* fields = nullptr;
  bool other_differences = false;  // memory, I/O, interrupts or exits differ too
};

// The erratum that explains `d` completely, or nullptr. `leader_emulated`: the leader ran this
// instruction in the host's instruction emulator (the caller decides; false rules out all).
const HostErratum* explain_by_host_erratum(const StepDifference& d, bool leader_emulated);

}  // namespace janus::cross
