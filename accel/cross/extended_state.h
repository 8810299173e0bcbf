// The leader's extended state: the parts of a KVM vCPU's state that cost one ioctl each to read
// (x87/SSE through XSAVE, the MSRs Janus models, DR0-3/DR6/DR7, XCR0, the MP state), as opposed to
// its core (GPRs, RIP, RFLAGS, segments, descriptor tables, control registers, EFER, APIC base,
// pending events), which KVM copies into kvm_run at every exit (KVM_CAP_SYNC_REGS). The
// cross-check reads the extended state after an instruction only where it may have changed; the
// whole rule is in docs/cross-check.md ("Reading the leader's state").
#pragma once
#include <string_view>

#include "cpu/cpu_state.h"
#include "tcg/x86_decoder.h"

namespace janus::cross {

// Whether executing `d` from `before` may change the extended state. Errs towards yes: only
// instructions known to leave it alone say no, and undecodable bytes say yes. Also yes for every
// instruction while a #DB can come from anywhere (RFLAGS.TF, DR7 breakpoints or general detect):
// its delivery writes DR6.
bool may_change_extended_state(const tcg::DecodedInsn& d, const CpuState& before);

// Whether a field of diff_states() (state_compare.h) belongs to the extended state.
bool is_extended_field(std::string_view field);

}  // namespace janus::cross
