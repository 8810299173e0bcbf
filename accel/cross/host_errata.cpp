#include "accel/cross/host_errata.h"

#include <cpuid.h>

#include <span>

#include "tcg/x86_decoder.h"

namespace janus::cross {

namespace {

const char* const kGpr[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                            "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr uint64_t kArith = rflags::CF | rflags::PF | rflags::AF | rflags::ZF | rflags::SF | rflags::OF;

bool only_field(const StepDifference& d, const char* name) {
  return d.fields->size() == 1 && (*d.fields)[0].field == name;
}

uint64_t mask(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1; }
uint64_t msb(uint64_t v, unsigned bytes) { return (v >> (8 * bytes - 1)) & 1; }

// SF, ZF and PF of a `bytes`-wide result.
uint64_t szp(uint64_t r, unsigned bytes) {
  r &= mask(bytes);
  uint64_t f = (r == 0 ? rflags::ZF : 0) | (msb(r, bytes) ? rflags::SF : 0);
  return f | (__builtin_parity(unsigned(r & 0xff)) ? 0 : rflags::PF);
}

// A register r/m operand's value before the instruction (AH..BH for 8-bit without REX).
uint64_t reg_operand(const tcg::DecodedInsn& i, const CpuState& s, unsigned bytes) {
  if (bytes == 1 && i.byte_reg_is_high(i.rm)) return (s.gpr[i.rm - 4] >> 8) & 0xff;
  return s.gpr[i.rm] & mask(bytes);
}

// 1. CMPXCHG r32, r32 in 64-bit code, comparison fails: hardware loads EAX (zero-extending RAX)
//    and leaves the destination register alone; the emulator writes the destination back as a
//    32-bit register write, clearing its upper half.
bool cmpxchg32_failure(const tcg::DecodedInsn& i, const StepDifference& d) {
  const CpuState &b = *d.before, &l = *d.leader, &f = *d.follower;
  if (!b.in_64bit_code() || i.map != tcg::OpcodeMap::k0F || i.opcode != 0xb1 || i.mod != 3 || i.operand_size != 4)
    return false;
  const unsigned dst = i.rm;
  if (dst == RAX || uint32_t(b.gpr[RAX]) == uint32_t(b.gpr[dst]) || !only_field(d, kGpr[dst])) return false;
  return l.gpr[dst] == (b.gpr[dst] & 0xffffffffull) && f.gpr[dst] == b.gpr[dst];
}

// 2. ROL/ROR r, imm8 with a masked count >= 2: this CPU leaves OF unchanged; the emulator runs the
//    rotate with the count in CL, whose OF is the top two bits (ROL) / top and bottom bit (ROR)
//    of the operand.
bool rotate_imm8_of(const tcg::DecodedInsn& i, const StepDifference& d) {
  const CpuState &b = *d.before, &l = *d.leader, &f = *d.follower;
  if (i.map != tcg::OpcodeMap::kPrimary || (i.opcode != 0xc0 && i.opcode != 0xc1) || i.mod != 3) return false;
  const unsigned kind = (i.modrm >> 3) & 7;  // 0 ROL, 1 ROR
  if (kind > 1 || !only_field(d, "rflags")) return false;
  const unsigned bytes = i.opcode == 0xc0 ? 1 : i.operand_size;
  const unsigned count = unsigned(i.imm) & (bytes == 8 ? 0x3f : 0x1f);
  if (count < 2 || ((l.rflags ^ f.rflags) & ~rflags::RF) != rflags::OF) return false;
  const uint64_t v = reg_operand(i, b, bytes);
  const uint64_t cl_form_of = kind == 0 ? msb(v, bytes) ^ ((v >> (8 * bytes - 2)) & 1) : msb(v, bytes) ^ (v & 1);
  return bool(l.rflags & rflags::OF) == bool(cl_form_of) && (f.rflags & rflags::OF) == (b.rflags & rflags::OF);
}

// 3. AAM/AAD: the emulator sets SF, ZF and PF from AX or EAX (the operand size), not from AL,
//    and clears CF, AF and OF; hardware sets SF/ZF/PF from AL (and AAD's CF/AF/OF from the byte
//    addition AL + AH*imm8).
bool aam_aad_flags(const tcg::DecodedInsn& i, const StepDifference& d) {
  const CpuState &b = *d.before, &l = *d.leader, &f = *d.follower;
  if (b.in_64bit_code() || i.map != tcg::OpcodeMap::kPrimary || (i.opcode != 0xd4 && i.opcode != 0xd5)) return false;
  if (!only_field(d, "rflags") || ((l.rflags ^ f.rflags) & ~(kArith | rflags::RF)) != 0) return false;
  const uint64_t result = f.gpr[RAX];
  const uint64_t emulator = szp(result, i.operand_size);
  const uint64_t defined = rflags::SF | rflags::ZF | rflags::PF;
  return (l.rflags & kArith) == emulator && (f.rflags & defined) == szp(result, 1);
}

// 4. STI with IF already 1: the emulator sets the STI interrupt shadow anyway; hardware blocks
//    interrupts after STI only if IF was 0.
bool sti_shadow(const tcg::DecodedInsn& i, const StepDifference& d) {
  const CpuState &b = *d.before, &l = *d.leader, &f = *d.follower;
  if (i.map != tcg::OpcodeMap::kPrimary || i.opcode != 0xfb || !(b.rflags & rflags::IF) || b.events.interrupt_shadow)
    return false;
  return only_field(d, "events.interrupt_shadow") && l.events.interrupt_shadow == 1 && f.events.interrupt_shadow == 0;
}

// 5. CPUID leaf 1: the paravirtual KVM answers with (a subset of) the host CPU's own leaf 1
//    feature bits in ECX/EDX, not the table Janus gave it with KVM_SET_CPUID2 (EAX/EBX are the
//    table's). The follower shows the table: the CPU model both guests are meant to see. Only
//    RCX/RDX differ, and every feature bit the leader reported is one this CPU has (its CPUID
//    executed natively, here in user mode).
bool cpuid_leaf1_host_features(const tcg::DecodedInsn& i, const StepDifference& d) {
  const CpuState &b = *d.before, &l = *d.leader;
  if (i.map != tcg::OpcodeMap::k0F || i.opcode != 0xa2 || uint32_t(b.gpr[RAX]) != 1) return false;
  for (const FieldDiff& f : *d.fields)
    if (f.field != "rcx" && f.field != "rdx") return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (l.gpr[RCX] >> 32) == 0 && (l.gpr[RDX] >> 32) == 0 && (uint32_t(l.gpr[RCX]) & ~ecx) == 0 &&
         (uint32_t(l.gpr[RDX]) & ~edx) == 0;
}

// CPUID leaf 7 subleaf 0 answered with the host's structured feature bits (as leaf 1 above):
// every register may differ, each leader value a subset of this CPU's (EAX, the highest
// subleaf, at most this CPU's).
bool cpuid_leaf7_host_features(const tcg::DecodedInsn& i, const StepDifference& d) {
  const CpuState &b = *d.before, &l = *d.leader;
  if (i.map != tcg::OpcodeMap::k0F || i.opcode != 0xa2 || uint32_t(b.gpr[RAX]) != 7 || uint32_t(b.gpr[RCX]) != 0)
    return false;
  for (const FieldDiff& f : *d.fields)
    if (f.field != "rax" && f.field != "rbx" && f.field != "rcx" && f.field != "rdx") return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  for (unsigned r : {RAX, RBX, RCX, RDX})
    if (l.gpr[r] >> 32) return false;
  return uint32_t(l.gpr[RAX]) <= eax && (uint32_t(l.gpr[RBX]) & ~ebx) == 0 && (uint32_t(l.gpr[RCX]) & ~ecx) == 0 &&
         (uint32_t(l.gpr[RDX]) & ~edx) == 0;
}

using Matcher = bool (*)(const tcg::DecodedInsn&, const StepDifference&);
const Matcher kMatchers[] = {cmpxchg32_failure, rotate_imm8_of, aam_aad_flags, sti_shadow, cpuid_leaf1_host_features,
                             cpuid_leaf7_host_features};

}  // namespace

const std::vector<HostErratum>& host_errata() {
  static const std::vector<HostErratum> list = {
      {"cmpxchg32-failure-zero-extends-destination",
       "CMPXCHG r32, r32 in 64-bit code whose comparison fails: the destination register's upper 32 bits "
       "are cleared (only that register differs; leader = follower & 0xffffffff, follower unchanged)",
       "native: 44 0f b1 d7 (cmpxchg edi, r10d) with rdi=0xd352e3c459ff55b4, rax=0xffffffff00000000 leaves "
       "rdi unchanged and sets rax=0x59ff55b4; tests/guest/cpu_bits.asm at CPL3 under KVM; "
       "unit test TcgCrossFindings.Cmpxchg32MatchesHost"},
      {"rotate-imm8-of-as-cl-form",
       "ROL/ROR r, imm8 (C0/C1 /0 /1, register operand) with a masked count >= 2: OF is set as the CL form "
       "sets it (ROL: top two bits, ROR: top and bottom bit of the operand); only OF differs, the follower "
       "kept OF",
       "native: 41 c0 c7 35 (rol r15b, 0x35) with r15=0x4d leaves OF=0, 41 d2 c7 (rol r15b, cl) with cl=0x35 "
       "sets OF=1; tests/guest/cpu_shift.asm at CPL3 under KVM; unit test TcgCrossFindings.RotateImm8MatchesHost"},
      {"aam-aad-flags-from-operand-size",
       "AAM/AAD (D4/D5): SF, ZF, PF computed from AX or EAX (operand size) instead of AL, CF/AF/OF cleared; "
       "only RFLAGS' arithmetic bits differ, the follower's SF/ZF/PF are AL's",
       "native (32-bit compatibility mode): d5 0a (aad) with eax=0xffffff10 gives eax=0xffff0006, CF=1 PF=1 "
       "SF=0; d4 32 (aam 0x32) with eax=0xffffff00 gives ZF=1 PF=1 SF=0; unit test "
       "TcgCrossFindings.AamAadMatchHost (all AX values)"},
      {"sti-shadow-with-if-set",
       "STI executed with RFLAGS.IF already 1 (no shadow before): the STI interrupt shadow is reported set "
       "(events.interrupt_shadow leader 1, follower 0)",
       "Intel SDM vol. 2B, STI: \"If IF = 0, maskable hardware interrupts remain inhibited on the instruction "
       "boundary following an execution of STI\"; vol. 3C, guest interruptibility state: blocking by STI "
       "follows STI executed with IF = 0 (not observable from user mode)"},
      {"cpuid-leaf1-host-features",
       "CPUID leaf 1: ECX and EDX are the host CPU's own feature bits (a subset of them), not the table "
       "KVM_SET_CPUID2 was given; only RCX/RDX differ, the follower shows the table (the CPU model both "
       "guests are meant to see). A host KVM limitation rather than an emulator result error",
       "native CPUID leaf 1 on this host: ecx=0xfffa3203 edx=0x1f8bfbff; the leader at the Linux "
       "decompressor's CPUID(1) (CPL0, -accel cross): ecx=0x76d83203 edx=0x1f8bfbff (host bits without "
       "hypervisor, OSXSAVE, TSC-deadline, x2APIC, PCID); the table given to KVM_SET_CPUID2 (the "
       "follower's): ecx=0x2000 edx=0x701ab79. app/main.cpp caps the max leaf under kvm_pvm for the same "
       "reason (host XSAVE bit)"},
      {"cpuid-leaf7-host-features",
       "CPUID leaf 7 subleaf 0: EAX-EDX are the host CPU's own structured feature bits (a subset of them), "
       "not the table KVM_SET_CPUID2 was given (only ARCH_CAPABILITIES); as cpuid-leaf1-host-features, a "
       "host KVM limitation rather than an emulator result error",
       "the Linux boot under -accel cross at instruction 502 (CPL0): leader eax=2 ebx=0xf1bf2bfb "
       "ecx=0x1a005f46 edx=0x20814010; native leaf 7 on this host: eax=2 ebx=0xf1bf2ffb ecx=0x1a415f46 "
       "edx=0x23c14010; the table (the follower's): eax=0 ebx=0 ecx=0 edx=0x20000000"},
  };
  return list;
}

const HostErratum* explain_by_host_erratum(const StepDifference& d, bool leader_emulated) {
  if (!leader_emulated || d.other_differences || !d.fields || d.fields->empty() || !d.before || !d.leader ||
      !d.follower || !d.bytes || d.length == 0)
    return nullptr;
  const CpuState& b = *d.before;
  const tcg::CodeSize cs = b.in_64bit_code() ? tcg::CodeSize::k64
                           : (b.protected_mode() && !b.v86_mode() && b.seg[CS].db()) ? tcg::CodeSize::k32
                                                                                      : tcg::CodeSize::k16;
  const tcg::DecodedInsn i = tcg::decode_x86(std::span<const uint8_t>(d.bytes, d.length), cs);
  if (i.status != tcg::DecodeStatus::kOk) return nullptr;
  // The instruction must have completed on both sides (no exception): RIP moved past it.
  if (d.leader->rip != d.follower->rip || d.leader->rip != b.rip + i.length) return nullptr;
  for (size_t k = 0; k < std::size(kMatchers); ++k)
    if (kMatchers[k](i, d)) return &host_errata()[k];
  return nullptr;
}

}  // namespace janus::cross
