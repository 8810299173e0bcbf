#include "accel/cross/extended_state.h"

namespace janus::cross {

namespace {

using tcg::DecodedInsn;
using tcg::OpcodeMap;

constexpr uint64_t kDr7Enables = 0xff;              // L0-L3, G0-G3
constexpr uint64_t kDr7GeneralDetect = 1ull << 13;  // GD: MOV DR raises #DB

// 0F 01 (group 7). Memory forms: SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG (not /5, RSTORSSP).
// Register forms that only read or touch core state: CLAC, STAC, XGETBV, RDTSCP, RDPKRU, XTEST,
// SMSW r, LMSW r. Not: MONITOR/MWAIT (MP state), XSETBV, SWAPGS (KERNEL_GS_BASE), WRPKRU, VMCALL...
bool plain_group7(const DecodedInsn& d) {
  const unsigned op = (d.modrm >> 3) & 7;
  if (d.mod != 3) return op != 5;
  switch (d.modrm) {
    case 0xca: case 0xcb: case 0xd0: case 0xf9: case 0xee: case 0xd6: return true;
    default: return op == 4 || op == 6;
  }
}

// 0F AE (group 15). Memory: only CLFLUSH/CLFLUSHOPT (/7); FXSAVE/FXRSTOR, LDMXCSR/STMXCSR and
// the XSAVE family are x87/SSE state instructions. Register forms: LFENCE, MFENCE, SFENCE, and
// RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (F3; FS/GS bases are core state).
bool plain_group15(const DecodedInsn& d) {
  const unsigned op = (d.modrm >> 3) & 7;
  if (d.mod != 3) return op == 7;
  if (d.mandatory_prefix == 0) return op >= 5;
  return d.mandatory_prefix == 0xf3 && op <= 3;
}

// 0F C7 (group 9): CMPXCHG8B/16B (memory /1), RDRAND/RDSEED/RDPID (register /6, /7); not the
// XSAVE family (XRSTORS, XSAVEC, XSAVES) nor the VMX ones.
bool plain_group9(const DecodedInsn& d) {
  const unsigned op = (d.modrm >> 3) & 7;
  return d.mod != 3 ? op == 1 : op >= 6;
}

// 0F-map integer and system instructions that leave the extended state alone. Everything else
// there - MMX, SSE, 3DNow!, MOV to/from DR, MOV to CR, WRMSR, RSM, GETSEC, unknown - may not.
bool plain_0f(const DecodedInsn& d) {
  const uint8_t op = d.opcode;
  if (op >= 0x40 && op <= 0x4f) return true;  // CMOVcc
  if (op >= 0x80 && op <= 0x9f) return true;  // Jcc, SETcc
  if (op >= 0xc8 && op <= 0xcf) return true;  // BSWAP
  if (op >= 0x18 && op <= 0x1f) return true;  // hint NOPs, ENDBR
  switch (op) {
    case 0x01: return plain_group7(d);
    case 0xae: return plain_group15(d);
    case 0xc7: return plain_group9(d);
    case 0x00:                                  // SLDT, STR, LLDT, LTR, VERR, VERW
    case 0x02: case 0x03:                       // LAR, LSL
    case 0x05: case 0x07: case 0x34: case 0x35: // SYSCALL, SYSRET, SYSENTER, SYSEXIT: read MSRs only
    case 0x06:                                  // CLTS (CR0.TS)
    case 0x08: case 0x09:                       // INVD, WBINVD
    case 0x0b: case 0xb9:                       // UD2, UD1
    case 0x0d:                                  // PREFETCH(W)
    case 0x20:                                  // MOV from CR
    case 0x31: case 0x32: case 0x33:            // RDTSC, RDMSR, RDPMC
    case 0xa0: case 0xa1: case 0xa8: case 0xa9: // PUSH/POP FS, GS
    case 0xa2:                                  // CPUID
    case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba:  // BT, BTS, BTR, BTC
    case 0xa4: case 0xa5: case 0xac: case 0xad: // SHLD, SHRD
    case 0xaf:                                  // IMUL
    case 0xb0: case 0xb1: case 0xc0: case 0xc1: // CMPXCHG, XADD
    case 0xb2: case 0xb4: case 0xb5:            // LSS, LFS, LGS
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: // MOVZX, MOVSX
    case 0xb8: case 0xbc: case 0xbd:            // POPCNT, BSF/TZCNT, BSR/LZCNT
      return true;
    default:
      return false;
  }
}

}  // namespace

bool may_change_extended_state(const DecodedInsn& d, const CpuState& before) {
  if (before.rflags & rflags::TF) return true;
  if (before.dr7 & (kDr7Enables | kDr7GeneralDetect)) return true;
  if (d.status != tcg::DecodeStatus::kOk) return true;
  switch (d.map) {
    case OpcodeMap::kPrimary:
      // x87 (D8-DF), FWAIT, ICEBP (#DB: DR6), HLT (MP state). Task switches (far JMP/CALL, IRET,
      // INT n through a task gate) are recognised afterwards by TR (cross_checker.cpp).
      return (d.opcode >= 0xd8 && d.opcode <= 0xdf) || d.opcode == 0x9b || d.opcode == 0xf1 || d.opcode == 0xf4;
    case OpcodeMap::k0F:
      return !plain_0f(d);
    default:
      return true;  // 0F 38 / 0F 3A: SSE and friends (and a few integer ones, read anyway)
  }
}

bool is_extended_field(std::string_view f) {
  for (std::string_view prefix : {"fx.", "st", "xmm", "dr", "xcr0", "tsc", "halted"})
    if (f.starts_with(prefix)) return true;
  return f.starts_with("msr.") && f != "msr.apic_base";
}

}  // namespace janus::cross
