// janus-fuzz's guests: a fixed environment (GDT, IDT, TSS, page tables, exception handlers that
// halt) and, per case, a random sequence of valid integer instructions with random register and
// memory inputs, in one of six modes (16/32/64-bit code at CPL3 or CPL0). Everything derives
// from (seed, case number), so a case can be re-created from those two numbers alone.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"
#include "hw/guest_memory.h"

namespace janus::cross {

enum class FuzzMode : uint8_t {
  k64Cpl3,  // long mode, 64-bit user code            (KVM: native here)
  k32Cpl3,  // long mode, 32-bit compatibility mode   (KVM: host kernel emulator here)
  k16Cpl3,  // long mode, 16-bit compatibility mode   (emulator)
  k64Cpl0,  // long mode, kernel                      (KVM: host kernel emulator here)
  k32Cpl0,  // protected mode without paging          (emulator)
  k16Cpl0,  // real mode                              (emulator)
};
constexpr int kFuzzModes = 6;
const char* mode_name(FuzzMode m);
bool parse_mode(const std::string& name, FuzzMode& out);
inline bool is_cpl3(FuzzMode m) { return m <= FuzzMode::k16Cpl3; }
inline unsigned code_bits(FuzzMode m) {
  return (m == FuzzMode::k64Cpl3 || m == FuzzMode::k64Cpl0) ? 64 : (m == FuzzMode::k32Cpl3 || m == FuzzMode::k32Cpl0) ? 32 : 16;
}

// Guest-physical layout of a fuzz guest (identity-mapped, one 2 MiB page).
namespace fuzz_layout {
constexpr uint64_t kGdt = 0x1000, kIdt64 = 0x2000, kIdt32 = 0x3000, kTss = 0x3800, kHandler = 0x4000;
constexpr uint64_t kKernelStackTop = 0x6000;
constexpr uint64_t kPml4 = 0x8000, kPdpt = 0x9000, kPd = 0xa000;
constexpr uint64_t kCode = 0x10000, kData = 0x20000, kStack = 0x30000;
constexpr uint64_t kDataPointer = 0x400;   // RBX = kData + this: memory operands are [rbx + disp8]
constexpr uint64_t kStackPointer = 0x800;  // RSP = kStack + this
constexpr uint64_t kRamBytes = 4ull << 20;
// Every case ends with a marker access the leader must exit for (so that a leader run without
// single-stepping ends exactly there): OUT to this port at CPL0, a store to this MMIO address
// (mapped by the page tables, no RAM behind it) at CPL3.
constexpr uint16_t kMarkerPort = 0x7f;
constexpr uint64_t kMarkerMmio = 0x400000;
}  // namespace fuzz_layout

struct FuzzCase {
  uint64_t seed = 0, index = 0;
  FuzzMode mode = FuzzMode::k64Cpl3;
  CpuState initial;
  std::vector<uint8_t> code;       // at kCode: the instructions, the end marker, HLT
  size_t body_bytes = 0;           // bytes of the instructions (before the end marker)
  unsigned instructions = 0;       // generated (the final HLT not counted)
  std::array<uint8_t, 4096> data{}, stack{};
};

// Which optional instructions the guest's CPUID allows (POPCNT, LZCNT, TZCNT).
struct FuzzFeatures {
  bool popcnt = false, lzcnt = false, tzcnt = false;
  bool cpuid = false;  // CPUID itself: off by default (KVM's runtime results differ from its table)
  // DAA, AAA, AAS: only where KVM runs kernel and compatibility-mode code on the CPU (VT-x/AMD-V);
  // the paravirtual KVM's emulator lacks them.
  bool daa_aaa_aas = false;
  static FuzzFeatures from(const CpuidTable& cpuid);
};

FuzzCase generate_case(uint64_t seed, uint64_t index, FuzzMode mode, unsigned max_insns, const FuzzFeatures& f);

void append_end_marker(std::vector<uint8_t>& code, FuzzMode mode);

// Writes the environment and the case into `mem` (any earlier case is overwritten).
void install_case(GuestMemory& mem, const FuzzCase& c);

}  // namespace janus::cross
