#include "tcg/x86_decoder.h"

#include <cstring>

#include "cpu/cpu_state.h"

namespace janus::tcg {

namespace {

// Operand layout of each opcode, one character per opcode (row = high nibble):
//   m ModRM        M ModRM+imm8    Z ModRM+imm16/32   b imm8     w imm16      z imm16/32
//   v imm16/32/64  o moffs (address size)             j rel8     J rel16/32 (rel32 in 64-bit)
//   e ENTER (imm16+imm8)  f far pointer (imm16/32 + selector)  g F6/F7 (imm only for /0 /1)
//   n nothing      P prefix        2 0F escape        x invalid
constexpr char kPrimary[257] =
    "mmmmbznnmmmmbzn2"  // 0x
    "mmmmbznnmmmmbznn"  // 1x
    "mmmmbzPnmmmmbzPn"  // 2x
    "mmmmbzPnmmmmbzPn"  // 3x
    "nnnnnnnnnnnnnnnn"  // 4x (REX in 64-bit code)
    "nnnnnnnnnnnnnnnn"  // 5x
    "nnmmPPPPzZbMnnnn"  // 6x
    "jjjjjjjjjjjjjjjj"  // 7x
    "MZMMmmmmmmmmmmmm"  // 8x
    "nnnnnnnnnnfnnnnn"  // 9x
    "oooonnnnbznnnnnn"  // Ax
    "bbbbbbbbvvvvvvvv"  // Bx
    "MMwnmmMZenwnnbnn"  // Cx
    "mmmmbbnnmmmmmmmm"  // Dx
    "jjjjbbbbJJfjnnnn"  // Ex
    "PnPPnnggnnnnnnmm"; // Fx

constexpr char k0F[257] =
    "mmmmxnnnnnxnxmxx"  // 0x
    "mmmmmmmmmmmmmmmm"  // 1x
    "mmmmxxxxmmmmmmmm"  // 2x
    "nnnnnnxxxxxxxxxx"  // 3x (38/3A are escapes, handled before the table)
    "mmmmmmmmmmmmmmmm"  // 4x
    "mmmmmmmmmmmmmmmm"  // 5x
    "mmmmmmmmmmmmmmmm"  // 6x
    "MMMMmmmnmmxxmmmm"  // 7x
    "JJJJJJJJJJJJJJJJ"  // 8x
    "mmmmmmmmmmmmmmmm"  // 9x
    "nnnmMmxxnnnmMmmm"  // Ax
    "mmmmmmmmmmMmmmmm"  // Bx
    "mmMmMMMmnnnnnnnn"  // Cx
    "mmmmmmmmmmmmmmmm"  // Dx
    "mmmmmmmmmmmmmmmm"  // Ex
    "mmmmmmmmmmmmmmmm"; // Fx

bool invalid_in_64bit(uint8_t op) {
  switch (op) {
    case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f: case 0x27:
    case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61: case 0x62: case 0x82: case 0x9a:
    case 0xc4: case 0xc5: case 0xce: case 0xd4: case 0xd5: case 0xd6: case 0xea:
      return true;
    default:
      return false;
  }
}

// Long mode: near branches always use 64-bit operands on Intel (66 is ignored).
bool forced_64(OpcodeMap map, uint8_t op, uint8_t reg) {
  if (map == OpcodeMap::k0F) return op >= 0x80 && op <= 0x8f;
  if (map != OpcodeMap::kPrimary) return false;
  if (op >= 0x70 && op <= 0x7f) return true;
  switch (op) {
    case 0xc2: case 0xc3: case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe8: case 0xe9: case 0xeb:
      return true;
    case 0xff:
      return reg == 2 || reg == 4;
    default:
      return false;
  }
}

// Long mode: stack operations default to 64-bit operands but 66 still selects 16 bits.
bool default_64(OpcodeMap map, uint8_t op, uint8_t reg) {
  if (map == OpcodeMap::k0F) return op == 0xa0 || op == 0xa1 || op == 0xa8 || op == 0xa9;
  if (map != OpcodeMap::kPrimary) return false;
  if (op >= 0x50 && op <= 0x5f) return true;
  switch (op) {
    case 0x68: case 0x6a: case 0x8f: case 0x9c: case 0x9d: case 0xc8: case 0xc9:
      return true;
    case 0xff:
      return reg == 6;
    default:
      return false;
  }
}

// LOCK is legal only on these read-modify-write instructions, and only with a memory destination.
bool lockable(const DecodedInsn& d) {
  if (!d.is_memory()) return false;
  uint8_t op = d.opcode, r = d.reg & 7;
  if (d.map == OpcodeMap::kPrimary) {
    if (op < 0x40 && (op & 7) <= 1 && (op & 0x38) != 0x38) return true;  // ADD..XOR r/m, r (not CMP)
    switch (op) {
      case 0x80: case 0x81: case 0x82: case 0x83: return r != 7;
      case 0x86: case 0x87: return true;
      case 0xf6: case 0xf7: return r == 2 || r == 3;
      case 0xfe: return r <= 1;
      case 0xff: return r <= 1;
      default: return false;
    }
  }
  if (d.map == OpcodeMap::k0F) {
    switch (op) {
      case 0xab: case 0xb3: case 0xbb: case 0xb0: case 0xb1: case 0xc0: case 0xc1: return true;
      case 0xba: return r >= 5;
      case 0xc7: return r == 1;
      default: return false;
    }
  }
  return false;
}

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> b, DecodedInsn& d) : bytes_(b), d_(d) {}
  // Returns false when out of bytes or past the 15-byte limit (status set accordingly).
  bool next(uint8_t& out) {
    if (pos_ >= 15) { d_.status = DecodeStatus::kTooLong; return false; }
    if (pos_ >= bytes_.size()) { d_.status = DecodeStatus::kNeedMoreBytes; return false; }
    out = bytes_[pos_];
    d_.bytes[pos_] = out;
    ++pos_;
    return true;
  }
  bool value(unsigned size, uint64_t& out) {
    out = 0;
    for (unsigned i = 0; i < size; ++i) {
      uint8_t b;
      if (!next(b)) return false;
      out |= uint64_t(b) << (8 * i);
    }
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  std::span<const uint8_t> bytes_;
  DecodedInsn& d_;
  size_t pos_ = 0;
};

int64_t sign_extend(uint64_t v, unsigned size) {
  switch (size) {
    case 1: return int8_t(v);
    case 2: return int16_t(v);
    case 4: return int32_t(v);
    default: return int64_t(v);
  }
}

bool decode_modrm(ByteReader& r, DecodedInsn& d, bool force_register) {
  if (!r.next(d.modrm)) return false;
  d.has_modrm = true;
  d.mod = d.modrm >> 6;
  d.reg = ((d.modrm >> 3) & 7) | ((d.rex & 4) ? 8 : 0);
  d.rm = (d.modrm & 7) | ((d.rex & 1) ? 8 : 0);
  if (force_register) d.mod = 3;  // MOV CR/DR: the mod field is ignored
  if (d.mod == 3) return true;

  if (d.address_size == 2) {
    static constexpr uint8_t kBase[8] = {RBX, RBX, RBP, RBP, 0xff, 0xff, RBP, RBX};
    static constexpr uint8_t kIndex[8] = {RSI, RDI, RSI, RDI, RSI, RDI, 0xff, 0xff};
    unsigned rm = d.modrm & 7;
    d.base = kBase[rm];
    d.index = kIndex[rm];
    if (d.mod == 0 && rm == 6) { d.base = 0xff; d.disp_size = 2; }
    if (d.mod == 1) d.disp_size = 1;
    if (d.mod == 2) d.disp_size = 2;
  } else {
    unsigned rm = d.modrm & 7;
    if (rm == 4) {
      if (!r.next(d.sib)) return false;
      d.has_sib = true;
      d.scale = d.sib >> 6;
      uint8_t idx = ((d.sib >> 3) & 7) | ((d.rex & 2) ? 8 : 0);
      d.index = idx == 4 ? 0xff : idx;
      uint8_t base = (d.sib & 7) | ((d.rex & 1) ? 8 : 0);
      if ((d.sib & 7) == 5 && d.mod == 0) { d.base = 0xff; d.disp_size = 4; }
      else d.base = base;
    } else if (rm == 5 && d.mod == 0) {
      d.disp_size = 4;
      d.base = 0xff;
      d.rip_relative = d.code_size == CodeSize::k64;
    } else {
      d.base = d.rm;
    }
    if (d.mod == 1) d.disp_size = 1;
    if (d.mod == 2) d.disp_size = 4;
  }
  if (d.disp_size) {
    uint64_t v;
    if (!r.value(d.disp_size, v)) return false;
    d.disp = sign_extend(v, d.disp_size);
  }
  return true;
}

}  // namespace

DecodedInsn decode_x86(std::span<const uint8_t> bytes, CodeSize code_size) {
  DecodedInsn d;
  d.code_size = code_size;
  ByteReader r(bytes, d);
  const bool long64 = code_size == CodeSize::k64;

  // Legacy prefixes and REX. A REX followed by anything but the opcode is ignored.
  uint8_t b;
  uint8_t last_sse_prefix = 0;
  for (;;) {
    if (!r.next(b)) return d;
    bool is_rex = long64 && (b & 0xf0) == 0x40;
    if (is_rex) { d.rex = b; continue; }
    bool legacy = true;
    switch (b) {
      case 0xf0: d.lock = true; break;
      case 0xf2: case 0xf3: d.rep = b; last_sse_prefix = b; break;
      case 0x66: d.opsize_prefix = true; break;
      case 0x67: d.addrsize_prefix = true; break;
      case 0x26: d.segment = ES; break;
      case 0x2e: d.segment = CS; break;
      case 0x36: d.segment = SS; break;
      case 0x3e: d.segment = DS; break;
      case 0x64: d.segment = FS; break;
      case 0x65: d.segment = GS; break;
      default: legacy = false;
    }
    if (!legacy) break;
    d.rex = 0;  // a REX before a legacy prefix does not count
    ++d.prefix_count;
  }
  d.mandatory_prefix = last_sse_prefix ? last_sse_prefix : (d.opsize_prefix ? 0x66 : 0);
  if (long64 && d.segment != kNoSegment && d.segment < FS) d.segment = kNoSegment;

  // Opcode.
  d.opcode_offset = uint8_t(r.pos() - 1);
  char kind;
  if (b == 0x0f) {
    if (!r.next(b)) return d;
    if (b == 0x38 || b == 0x3a) {
      d.map = b == 0x38 ? OpcodeMap::k0F38 : OpcodeMap::k0F3A;
      if (!r.next(b)) return d;
      kind = d.map == OpcodeMap::k0F38 ? 'm' : 'M';
    } else {
      d.map = OpcodeMap::k0F;
      kind = k0F[b];
    }
  } else {
    d.map = OpcodeMap::kPrimary;
    kind = kPrimary[b];
    if (long64 && invalid_in_64bit(b)) kind = 'x';
  }
  d.opcode = b;

  // Sizes. The ModRM reg field may matter (FF /2), so peek at it before deciding.
  bool has_modrm = kind == 'm' || kind == 'M' || kind == 'Z' || kind == 'g';
  uint8_t peek_reg = 0;
  if (has_modrm && r.pos() < bytes.size()) peek_reg = (bytes[r.pos()] >> 3) & 7;
  if (long64) {
    d.address_size = d.addrsize_prefix ? 4 : 8;
    if (d.rex_w() || forced_64(d.map, d.opcode, peek_reg)) d.operand_size = 8;
    else if (default_64(d.map, d.opcode, peek_reg)) d.operand_size = d.opsize_prefix ? 2 : 8;
    else d.operand_size = d.opsize_prefix ? 2 : 4;
  } else {
    bool big = code_size == CodeSize::k32;
    d.operand_size = (big != d.opsize_prefix) ? 4 : 2;
    d.address_size = (big != d.addrsize_prefix) ? 4 : 2;
  }

  if (has_modrm) {
    bool force_register = d.map == OpcodeMap::k0F && d.opcode >= 0x20 && d.opcode <= 0x23;
    if (!decode_modrm(r, d, force_register)) return d;
  }

  // Immediates.
  unsigned z = d.operand_size == 2 ? 2 : 4;
  unsigned imm = 0;
  switch (kind) {
    case 'M': case 'b': case 'j': imm = 1; break;
    case 'Z': case 'z': imm = z; break;
    case 'w': imm = 2; break;
    case 'v': imm = d.operand_size; break;
    case 'o': imm = d.address_size; break;
    case 'J': imm = long64 ? 4 : z; break;
    case 'g': imm = (d.reg & 7) <= 1 ? (d.opcode == 0xf6 ? 1 : z) : 0; break;
    case 'e': imm = 2; d.imm2_size = 1; break;
    case 'f': imm = z; d.imm2_size = 2; break;
    default: break;
  }
  if (imm) {
    d.imm_size = uint8_t(imm);
    if (!r.value(imm, d.imm)) return d;
  }
  if (d.imm2_size && !r.value(d.imm2_size, d.imm2)) return d;

  d.length = uint8_t(r.pos());
  d.status = DecodeStatus::kOk;
  if (kind == 'x' || kind == 'P') d.status = DecodeStatus::kInvalid;
  // VEX/EVEX (C4/C5/62 with mod == 3 outside 64-bit code) are not supported: #UD.
  if (!long64 && d.map == OpcodeMap::kPrimary && (d.opcode == 0xc4 || d.opcode == 0xc5 || d.opcode == 0x62) &&
      d.mod == 3)
    d.status = DecodeStatus::kInvalid;
  if (d.lock && !lockable(d)) d.status = DecodeStatus::kInvalid;
  return d;
}

}  // namespace janus::tcg
