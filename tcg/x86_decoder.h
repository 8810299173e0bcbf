// Janus's own x86 instruction decoder: prefixes, operand/address size, ModRM/SIB/displacement,
// immediates and the instruction length, all worked out from the bytes with Janus's opcode
// tables. Capstone (capstone_disassembler.h) only names the instruction; where Capstone 4.0.2
// gets prefixes, sizes or lengths wrong, this decoder is the authority (tests pin the errata).
#pragma once
#include <cstdint>
#include <span>

namespace janus::tcg {

// The default operand/address size of the code segment being decoded.
enum class CodeSize : uint8_t { k16, k32, k64 };

enum class OpcodeMap : uint8_t { kPrimary, k0F, k0F38, k0F3A };

enum class DecodeStatus : uint8_t {
  kOk,
  kInvalid,       // #UD: undefined opcode, or LOCK where it is not allowed
  kTooLong,       // #GP(0): more than 15 bytes
  kNeedMoreBytes, // ran out of fetched bytes (the caller raises the fetch fault)
};

constexpr uint8_t kNoSegment = 0xff;

struct DecodedInsn {
  DecodeStatus status = DecodeStatus::kInvalid;
  uint8_t length = 0;
  uint8_t bytes[15] = {};

  // Prefixes.
  bool lock = false;
  bool opsize_prefix = false;     // 66 seen
  bool addrsize_prefix = false;   // 67 seen
  uint8_t rep = 0;                // 0, 0xf3 (REP/REPE) or 0xf2 (REPNE): the last one wins
  uint8_t segment = kNoSegment;   // effective override (SegIndex); ES/CS/SS/DS dropped in 64-bit code
  uint8_t rex = 0;                // 0x40..0x4f when a REX prefix immediately precedes the opcode
  uint8_t mandatory_prefix = 0;   // 0, 0x66, 0xf3 or 0xf2 (F2/F3 win over 66), for SSE opcodes
  uint8_t prefix_count = 0;

  // Opcode.
  OpcodeMap map = OpcodeMap::kPrimary;
  uint8_t opcode = 0;
  uint8_t opcode_offset = 0;      // index of the (first) opcode byte

  // ModRM / SIB / displacement.
  bool has_modrm = false;
  uint8_t modrm = 0;
  uint8_t mod = 0;
  uint8_t reg = 0;                // ModRM.reg extended by REX.R
  uint8_t rm = 0;                 // ModRM.rm extended by REX.B (register operand when mod == 3)
  bool has_sib = false;
  uint8_t sib = 0;
  uint8_t base = 0xff;            // memory operand base register (0xff none)
  uint8_t index = 0xff;           // index register (0xff none)
  uint8_t scale = 0;              // log2
  bool rip_relative = false;
  int64_t disp = 0;
  uint8_t disp_size = 0;

  // Immediates (sign/zero extension is the lifter's business; imm holds the raw value).
  uint64_t imm = 0;
  uint8_t imm_size = 0;
  uint64_t imm2 = 0;              // ENTER's level byte, far pointer's selector
  uint8_t imm2_size = 0;

  // Sizes in bytes.
  uint8_t operand_size = 4;       // 2, 4 or 8
  uint8_t address_size = 4;       // 2, 4 or 8
  CodeSize code_size = CodeSize::k32;

  bool rex_w() const { return rex & 8; }
  bool is_memory() const { return has_modrm && mod != 3; }
  // Register number for an 8-bit operand: without REX, 4..7 are AH, CH, DH, BH.
  bool byte_reg_is_high(uint8_t r) const { return !rex && r >= 4 && r < 8; }
};

// Decodes one instruction from `bytes` (fewer than 15 when the fetch stopped at a faulting page).
DecodedInsn decode_x86(std::span<const uint8_t> bytes, CodeSize code_size);

}  // namespace janus::tcg
