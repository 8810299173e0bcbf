// The architectural state of one x86 CPU, as both backends see it.
// KVM converts it to and from kvm_regs/sregs/fpu/msrs/vcpu_events (accel/kvm/kvm_state.cpp);
// the software CPU executes on it directly. Cross-check compares two of these.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>

namespace janus {

enum Gpr : int { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
// Segment register numbers in x86 encoding order (the ModRM reg field of MOV Sreg).
enum SegIndex : int { ES, CS, SS, DS, FS, GS };

namespace rflags {
constexpr uint64_t CF = 1u << 0, FIXED1 = 1u << 1, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6,
                   SF = 1u << 7, TF = 1u << 8, IF = 1u << 9, DF = 1u << 10, OF = 1u << 11,
                   IOPL = 3u << 12, NT = 1u << 14, RF = 1u << 16, VM = 1u << 17, AC = 1u << 18,
                   VIF = 1u << 19, VIP = 1u << 20, ID = 1u << 21;
}
namespace cr0 {
constexpr uint64_t PE = 1u << 0, MP = 1u << 1, EM = 1u << 2, TS = 1u << 3, ET = 1u << 4,
                   NE = 1u << 5, WP = 1u << 16, AM = 1u << 18, NW = 1u << 29, CD = 1u << 30,
                   PG = 1u << 31;
}
namespace cr4 {
constexpr uint64_t VME = 1u << 0, PVI = 1u << 1, TSD = 1u << 2, DE = 1u << 3, PSE = 1u << 4,
                   PAE = 1u << 5, MCE = 1u << 6, PGE = 1u << 7, PCE = 1u << 8, OSFXSR = 1u << 9,
                   OSXMMEXCPT = 1u << 10, UMIP = 1u << 11, FSGSBASE = 1u << 16, PCIDE = 1u << 17,
                   OSXSAVE = 1u << 18, SMEP = 1u << 20, SMAP = 1u << 21;
}
namespace efer {
constexpr uint64_t SCE = 1u << 0, LME = 1u << 8, LMA = 1u << 10, NXE = 1u << 11;
}

// A segment register with its hidden (descriptor cache) part.
// attr uses the VMX access-rights layout, which is the descriptor's bits 40..55 shifted down by 8:
// type[3:0] S[4] DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15].
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0xffff;  // effective byte limit (granularity already applied)
  uint16_t attr = 0x93;     // present, writable data, accessed
  bool unusable = false;    // a null selector loaded in protected mode

  unsigned type() const { return attr & 0xf; }
  bool s() const { return attr & 0x10; }
  unsigned dpl() const { return (attr >> 5) & 3; }
  bool present() const { return attr & 0x80; }
  bool avl() const { return attr & 0x1000; }
  bool l() const { return attr & 0x2000; }
  bool db() const { return attr & 0x4000; }
  bool g() const { return attr & 0x8000; }
  bool operator==(const Segment&) const = default;
};

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0xffff;
  bool operator==(const DescriptorTable&) const = default;
};

// x87, MMX and SSE state in the FXSAVE memory layout (Intel SDM Vol. 1, 10.5.1), so that it
// converts to kvm_fpu and to a guest FXSAVE image without reinterpretation.
struct FxState {
  uint16_t fcw = 0x037f;
  uint16_t fsw = 0;
  uint8_t ftw = 0;  // abridged tag word: bit i set = physical register R<i> is valid
  uint16_t fop = 0;
  uint64_t fip = 0;  // last instruction pointer (64-bit format)
  uint64_t fdp = 0;  // last data pointer
  uint32_t mxcsr = 0x1f80;
  std::array<std::array<uint8_t, 16>, 8> st{};    // 80-bit values in 16-byte slots, stack order ST0..ST7 (as FXSAVE)
  std::array<std::array<uint8_t, 16>, 16> xmm{};  // XMM0..XMM15
  bool operator==(const FxState&) const = default;
};

// Model-specific registers Janus models on both backends.
struct Msrs {
  uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t pat = 0x0007040600070406ull;
  uint64_t tsc_aux = 0;
  uint64_t tsc_adjust = 0;  // IA32_TSC_ADJUST: what guest writes have added to the TSC
  uint64_t apic_base = 0xfee00000ull | (1u << 11) | (1u << 8);  // enabled, BSP
  uint64_t misc_enable = 1;  // fast strings
  bool operator==(const Msrs&) const = default;
};

// Events between instructions: a pending or injected exception/interrupt, NMI state and the
// one-instruction interrupt shadow after STI or MOV SS.
struct PendingEvents {
  bool exception_pending = false;
  uint8_t exception_vector = 0;
  bool exception_has_error = false;
  uint32_t exception_error = 0;
  bool interrupt_injected = false;
  uint8_t interrupt_vector = 0;
  bool nmi_pending = false;
  bool nmi_masked = false;
  uint8_t interrupt_shadow = 0;  // bit 0: after STI, bit 1: after MOV SS/POP SS
  bool operator==(const PendingEvents&) const = default;
};

struct CpuState {
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0xfff0;
  uint64_t rflags = rflags::FIXED1;
  std::array<Segment, 6> seg{};  // indexed by SegIndex
  Segment ldtr{}, tr{};
  DescriptorTable gdtr{}, idtr{};
  uint64_t cr0 = cr0::ET | cr0::CD | cr0::NW;
  uint64_t cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  std::array<uint64_t, 4> dr{};
  uint64_t dr6 = 0xffff0ff0, dr7 = 0x400;
  uint64_t efer = 0;
  uint64_t tsc = 0;
  uint64_t xcr0 = 1;
  Msrs msr{};
  FxState fx{};
  PendingEvents events{};
  bool halted = false;

  bool operator==(const CpuState&) const = default;

  // Mode queries shared by both backends and the tools.
  bool protected_mode() const { return cr0 & cr0::PE; }
  bool long_mode_active() const { return efer & efer::LMA; }
  bool in_64bit_code() const { return long_mode_active() && seg[CS].l(); }
  bool v86_mode() const { return (rflags & rflags::VM) && !long_mode_active(); }
  unsigned cpl() const {
    if (!protected_mode()) return 0;
    if (v86_mode()) return 3;
    return seg[SS].dpl();  // SS.DPL equals CPL in protected mode
  }
};

// The state of a CPU after RESET (Intel SDM Vol. 3, 9.1.1): real mode at F000:FFF0.
CpuState reset_cpu_state();

}  // namespace janus
