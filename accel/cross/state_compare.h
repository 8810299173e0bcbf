// Comparing the leader's and the follower's CpuState after a step, field by field.
#pragma once
#include <string>
#include <vector>

#include "cpu/cpu_state.h"

namespace janus::cross {

struct FieldDiff {
  std::string field;     // "rax", "rflags", "cs.base", "xmm3", "events.interrupt_shadow"...
  std::string leader;    // both values as text (hex for numbers, hex bytes for vectors)
  std::string follower;
};

// The one place where fields KVM reports differently by design are made comparable. Every rule
// is listed here and in docs/cross-check.md; anything not listed is compared exactly.
//  1. tsc: each side has its own clock; RDTSC results are replayed instead (cross_checker.cpp).
//  2. Segment 'accessed' bit (type bit 0 of code/data segments): VMX requires it set in a usable
//     segment's cached attributes, so KVM reports it set whether or not the descriptor had it.
//  3. Unusable segments: base, limit and attributes are undefined; only the selector and the
//     unusable flag are compared. In protected mode a data segment register holding a null
//     selector counts as unusable whatever the backend says (KVM reports the null SS that a
//     64-bit interrupt from CPL3 loads as usable, with attributes 0).
//  4. RFLAGS.RF: KVM's single-step machinery may leave it set in the reported RFLAGS (resume
//     flag after a debug exit); the guest cannot observe it before the next fault.
//  5. DR6 bits KVM's single-step exit records (BS, bit 14) and DR7: guest debugging belongs to
//     the host while single-stepping.
//  6. PendingEvents.exception_*: between instructions the software CPU never holds an
//     exception (it delivers it at once); KVM can report an exception still 'injected'. The
//     delivery itself is compared on the next step (RIP, stack, CS).
CpuState normalise_for_compare(const CpuState& s);

// Differences between two normalised states (empty if equal).
std::vector<FieldDiff> diff_states(const CpuState& leader, const CpuState& follower);

}  // namespace janus::cross
