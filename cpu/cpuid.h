// The CPUID template: the one CPU model guests see on both backends.
// The software CPU advertises exactly what it implements; KVM intersects the same table with
// KVM_GET_SUPPORTED_CPUID (accel/kvm), so a guest sees the same CPU whichever backend runs it.
#pragma once
#include <cstdint>
#include <vector>

namespace janus {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool operator==(const CpuidResult&) const = default;
};

struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  bool indexed = false;  // the result depends on ECX (leaf 4, 7, 0xb, 0xd...)
  CpuidResult regs;
};

namespace cpuid_bits {
// Leaf 1 EDX
constexpr uint32_t FPU = 1u << 0, VME = 1u << 1, DE = 1u << 2, PSE = 1u << 3, TSC = 1u << 4,
                   MSR = 1u << 5, PAE = 1u << 6, MCE = 1u << 7, CX8 = 1u << 8, APIC = 1u << 9,
                   SEP = 1u << 11, MTRR = 1u << 12, PGE = 1u << 13, MCA = 1u << 14,
                   CMOV = 1u << 15, PAT = 1u << 16, PSE36 = 1u << 17, CLFSH = 1u << 19,
                   MMX = 1u << 23, FXSR = 1u << 24, SSE = 1u << 25, SSE2 = 1u << 26;
// Leaf 1 ECX
constexpr uint32_t SSE3 = 1u << 0, SSSE3 = 1u << 9, CX16 = 1u << 13, SSE41 = 1u << 19,
                   SSE42 = 1u << 20, X2APIC = 1u << 21, MOVBE = 1u << 22, POPCNT = 1u << 23,
                   TSC_DEADLINE = 1u << 24, XSAVE = 1u << 26, OSXSAVE = 1u << 27,
                   HYPERVISOR = 1u << 31;
// Leaf 0x80000001 EDX / ECX
constexpr uint32_t SYSCALL = 1u << 11, NX = 1u << 20, PDPE1GB = 1u << 26, RDTSCP = 1u << 27,
                   LM = 1u << 29;
constexpr uint32_t LAHF_LM = 1u << 0, ABM = 1u << 5;
// Leaf 7 subleaf 0 EBX / EDX
constexpr uint32_t TSC_ADJUST = 1u << 1;
constexpr uint32_t ARCH_CAPABILITIES = 1u << 29;
// Leaf 0x80000007 EDX
constexpr uint32_t INVARIANT_TSC = 1u << 8;
}  // namespace cpuid_bits

// IA32_ARCH_CAPABILITIES (MSR 0x10A) of the software CPU, which executes nothing speculatively:
// not affected by Meltdown (RDCL_NO), L1TF at VM entry, speculative store bypass, MDS, iTLB
// multihit, TAA, the MMIO stale-data family, BHI, post-barrier RSB, GDS or RFDS. (Linux then
// needs no page-table isolation or buffer clearing.)
constexpr uint64_t kSoftwareCpuArchCapabilities =
    (1ull << 0) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) | (1ull << 8) | (1ull << 13) |
    (1ull << 14) | (1ull << 15) | (1ull << 20) | (1ull << 24) | (1ull << 26) | (1ull << 27);

class CpuidTable {
 public:
  CpuidTable() = default;
  explicit CpuidTable(std::vector<CpuidEntry> entries) : entries_(std::move(entries)) {}

  // What CPUID returns for EAX=function, ECX=index, following Intel's rule that a leaf above
  // the maximum basic leaf returns the highest basic leaf.
  CpuidResult query(uint32_t function, uint32_t index) const;
  const CpuidEntry* find(uint32_t function, uint32_t index) const;
  CpuidEntry* find(uint32_t function, uint32_t index);
  const std::vector<CpuidEntry>& entries() const { return entries_; }
  std::vector<CpuidEntry>& entries() { return entries_; }

  // Bit queries for the features the software CPU gates behaviour on.
  bool leaf1_edx(uint32_t bit) const { return query(1, 0).edx & bit; }
  bool leaf1_ecx(uint32_t bit) const { return query(1, 0).ecx & bit; }
  bool ext1_edx(uint32_t bit) const { return query(0x80000001, 0).edx & bit; }
  bool ext1_ecx(uint32_t bit) const { return query(0x80000001, 0).ecx & bit; }

 private:
  std::vector<CpuidEntry> entries_;
};

// The TSC rate the template describes when not told otherwise: the software CPU's (tcg::kTscHz).
constexpr uint64_t kDefaultGuestTscHz = 2'000'000'000;
// The core crystal clock leaf 0x15 reports. Linux 6.1 takes it as the LAPIC timer's input clock
// (lapic_timer_period = crystal Hz / HZ, no calibration), so it must equal hw's Lapic::kBusHz.
constexpr uint64_t kCpuidCrystalHz = 1'000'000'000;

// The Janus CPU model: GenuineIntel, family 6, one core, with the features the software CPU
// implements. Change this table and the software CPU together.
// tsc_hz is the guest TSC rate, reported in leaf 0x15 (TSC/crystal ratio and crystal Hz) and
// leaf 0x16 (base MHz) so that guests need no TSC or LAPIC timer calibration. It depends on the
// backend (software CPU: 2 GHz; KVM: the host's), so app/main.cpp builds the template with the
// rate of the backend it runs.
CpuidTable janus_cpuid_template(uint64_t tsc_hz = kDefaultGuestTscHz);

// Lowers the maximum basic leaf to max_leaf (if higher) and drops the leaves above it, which then
// answer as max_leaf does (query()'s rule). For backends that cannot show the template's lower
// leaves faithfully (see app/main.cpp: kvm_pvm and leaf 0xD).
void cap_max_basic_leaf(CpuidTable& table, uint32_t max_leaf);

// Leaf 0x15 for a TSC of tsc_hz over kCpuidCrystalHz: EAX = denominator, EBX = numerator, ECX =
// crystal Hz. The ratio is exact when it can be, else the nearest fraction whose numerator keeps
// crystal kHz * numerator within 32 bits (Linux multiplies them as unsigned int). 0 Hz: all zero.
CpuidResult cpuid_tsc_leaf(uint64_t tsc_hz);

}  // namespace janus
