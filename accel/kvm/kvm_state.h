// Pure conversion between Janus's CpuState and the structures KVM splits a vCPU's state into
// (kvm_regs, kvm_sregs, kvm_fpu, MSR entries, kvm_vcpu_events, kvm_debugregs, XCR0, MP state).
// No ioctls here: KvmVcpu moves these to and from the kernel, tests check them without /dev/kvm.
//
// Where the two models differ, the rule is:
//  - Segment::attr (VMX access-rights layout) <-> kvm_segment's type/s/dpl/present/avl/l/db/g;
//    limits are byte-granular on both sides.
//  - Interrupt shadow: Janus bit 0 = after STI, bit 1 = after MOV SS; KVM has them the other way.
//  - Without KVM_CAP_EXCEPTION_PAYLOAD, KVM reports a pending exception as "injected"; Janus has one
//    flag (exception_pending) for both. A soft (INT n) injected interrupt and an NMI that KVM is
//    mid-way delivering (nmi.injected) are folded into interrupt_injected / nmi_pending: re-entering
//    delivers them again, which is what the guest sees.
//  - x87/SSE state goes through kvm_fpu or, where KVM has XSAVE, through the legacy (FXSAVE)
//    region of the XSAVE image, whose XSTATE_BV then marks x87 and SSE as in use (otherwise the
//    CPU would load their init values and ignore what was written).
//  - sregs.interrupt_bitmap carries the injected external interrupt, mirroring events.interrupt.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "cpu/cpu_state.h"

namespace janus {

namespace msr_index {
constexpr uint32_t kTsc = 0x10, kTscAdjust = 0x3b, kSysenterCs = 0x174, kSysenterEsp = 0x175, kSysenterEip = 0x176,
                   kMiscEnable = 0x1a0, kPat = 0x277, kStar = 0xc0000081, kLstar = 0xc0000082,
                   kCstar = 0xc0000083, kSfmask = 0xc0000084, kKernelGsBase = 0xc0000102,
                   kTscAux = 0xc0000103;
}

// Everything KvmVcpu reads or writes to capture one CpuState, each in its ioctl's layout.
struct KvmVcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm_fpu fpu{};
  std::vector<kvm_msr_entry> msrs;  // in kvm_state_msr_indices() order
  kvm_vcpu_events events{};
  kvm_debugregs debugregs{};
  uint64_t xcr0 = 1;
  bool halted = false;  // KVM_MP_STATE_HALTED
};

// The MSRs Janus moves through KVM_GET/SET_MSRS (IA32_APIC_BASE travels in kvm_sregs, EFER too).
std::span<const uint32_t> kvm_state_msr_indices();

kvm_segment segment_to_kvm(const Segment& seg);
Segment segment_from_kvm(const kvm_segment& seg);

kvm_regs regs_to_kvm(const CpuState& s);
void regs_from_kvm(const kvm_regs& regs, CpuState& s);

kvm_sregs sregs_to_kvm(const CpuState& s);
void sregs_from_kvm(const kvm_sregs& sregs, CpuState& s);

kvm_fpu fpu_to_kvm(const FxState& fx);
FxState fpu_from_kvm(const kvm_fpu& fpu);

// The first 512 bytes of an XSAVE image (the FXSAVE layout) and its XSTATE_BV at byte 512.
constexpr size_t kXsaveLegacyBytes = 512, kXsaveHeaderBytes = 64;
void fx_to_xsave(const FxState& fx, std::span<uint8_t> xsave);  // leaves other components alone
FxState fx_from_xsave(std::span<const uint8_t> xsave);

std::vector<kvm_msr_entry> msrs_to_kvm(const CpuState& s);
// Entries with indices Janus does not model are ignored.
void msrs_from_kvm(std::span<const kvm_msr_entry> entries, CpuState& s);

kvm_vcpu_events events_to_kvm(const PendingEvents& ev);
PendingEvents events_from_kvm(const kvm_vcpu_events& ev);

kvm_debugregs debugregs_to_kvm(const CpuState& s);
void debugregs_from_kvm(const kvm_debugregs& dr, CpuState& s);

KvmVcpuState to_kvm_state(const CpuState& s);
CpuState from_kvm_state(const KvmVcpuState& k);

}  // namespace janus
