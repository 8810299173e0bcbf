#include "accel/cross/fuzz_case.h"

#include <cstring>
#include <span>

namespace janus::cross {

namespace L = fuzz_layout;

namespace {

// SplitMix64: small, fast, and the same on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return unsigned(next() % n); }
  bool chance(unsigned percent) { return below(100) < percent; }
  // Interesting values more often than uniform ones: 0, 1, -1, sign bits, small numbers.
  uint64_t value() {
    switch (below(8)) {
      case 0: return 0;
      case 1: return below(4) ? 1 : ~0ull;
      case 2: return 1ull << below(64);
      case 3: return (1ull << below(64)) - 1;
      case 4: return below(256);
      case 5: return ~0ull - below(256);
      default: return next();
    }
  }

 private:
  uint64_t s_;
};

uint64_t descriptor(uint32_t base, uint32_t limit, uint16_t attr) {
  if (attr & 0x8000) limit >>= 12;
  return (limit & 0xffffull) | (uint64_t(base & 0xffffff) << 16) | (uint64_t(attr & 0xff) << 40) |
         (uint64_t((limit >> 16) & 0xf) << 48) | (uint64_t((attr >> 12) & 0xf) << 52) | (uint64_t(base >> 24) << 56);
}

// Selectors of the fuzz GDT (every descriptor has its accessed bit set, so that loading one
// writes nothing to memory on either backend).
constexpr uint16_t kCs64 = 0x08, kDs = 0x10, kUserCs32 = 0x18, kUserDs = 0x20, kUserCs64 = 0x28, kTr = 0x30,
                   kUserCs16 = 0x40, kCs32 = 0x48, kUserDs16 = 0x50, kUserSs16 = 0x58;

Segment seg(uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr) { return {sel, base, limit, attr, false}; }

// ---- instruction encoder ----

struct Rm {
  bool mem = false;
  unsigned reg = 0;  // when !mem
  int8_t disp = 0;   // when mem: [rbx/ebx/bx + disp]
};

class Encoder {
 public:
  Encoder(Rng& r, FuzzMode mode, const FuzzFeatures& f) : r_(r), mode_(mode), bits_(code_bits(mode)), f_(f) {}
  std::vector<uint8_t> out;
  unsigned count = 0;

  void one();  // one random instruction (or a short group: setup + instruction)

 private:
  unsigned osize(bool allow8 = true) {
    unsigned n = bits_ == 64 ? 4 : 3;
    unsigned pick = r_.below(allow8 ? n : n - 1) + (allow8 ? 0 : 1);
    static const unsigned kSizes[] = {1, 2, 4, 8};
    return kSizes[pick];
  }
  unsigned dest(unsigned size) {
    static const unsigned k64[] = {0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const unsigned k8[] = {0, 1, 2, 4, 5, 6};  // AL CL DL AH CH DH (not BL/BH: RBX is the data pointer)
    static const unsigned k32[] = {0, 1, 2, 5, 6, 7};
    if (bits_ == 64) return k64[r_.below(14)];
    return size == 1 ? k8[r_.below(6)] : k32[r_.below(6)];
  }
  unsigned src() { return r_.below(bits_ == 64 ? 16 : 8); }
  Rm rm_dest(unsigned size, bool mem_ok = true) {
    if (mem_ok && r_.chance(35)) return mem();
    return Rm{false, dest(size), 0};
  }
  Rm rm_src(bool mem_ok = true) {
    if (mem_ok && r_.chance(35)) return mem();
    return Rm{false, src(), 0};
  }
  Rm mem() { return Rm{true, 0, int8_t(r_.below(256))}; }
  uint64_t imm() { return r_.value(); }

  // [lock][rep][66][67][REX] opcode modrm disp imm
  void emit(std::initializer_list<uint8_t> opcode, unsigned size, unsigned reg, Rm rm, unsigned imm_bytes, uint64_t imm,
            uint8_t rep = 0, bool lock = false, bool no_osize = false) {
    if (lock && rm.mem) out.push_back(0xf0);
    if (rep) out.push_back(rep);
    if (!no_osize && ((bits_ == 16 && size == 4) || (bits_ != 16 && size == 2))) out.push_back(0x66);
    bool addr_override = rm.mem && r_.chance(10);
    if (addr_override) out.push_back(0x67);
    unsigned addr_bits = addr_override ? (bits_ == 32 ? 16 : 32) : (bits_ == 64 ? 64 : bits_);
    if (bits_ == 64) {
      uint8_t rex = 0x40 | (size == 8 ? 8 : 0) | ((reg & 8) ? 4 : 0) | (!rm.mem && (rm.reg & 8) ? 1 : 0);
      if (rex != 0x40 || size == 1) out.push_back(rex);
    }
    out.insert(out.end(), opcode);
    uint8_t modrm_rm = rm.mem ? (addr_bits == 16 ? 7 : 3) : (rm.reg & 7);
    out.push_back(uint8_t((rm.mem ? 0x40 : 0xc0) | ((reg & 7) << 3) | modrm_rm));
    if (rm.mem) out.push_back(uint8_t(rm.disp));
    for (unsigned i = 0; i < imm_bytes; ++i) out.push_back(uint8_t(imm >> (8 * i)));
  }
  // Without ModRM: [66][REX.W/B] opcode(+reg) imm
  void emit_plain(uint8_t opcode, unsigned size, unsigned reg_in_opcode, unsigned imm_bytes, uint64_t imm) {
    if ((bits_ == 16 && size == 4) || (bits_ != 16 && size == 2)) out.push_back(0x66);
    if (bits_ == 64) {
      uint8_t rex = 0x40 | (size == 8 ? 8 : 0) | ((reg_in_opcode & 8) ? 1 : 0);
      if (rex != 0x40) out.push_back(rex);
    }
    out.push_back(uint8_t(opcode + (reg_in_opcode & 7)));
    for (unsigned i = 0; i < imm_bytes; ++i) out.push_back(uint8_t(imm >> (8 * i)));
  }
  unsigned iz(unsigned size) { return size == 1 ? 1 : size == 2 ? 2 : 4; }
  // mov reg32, imm32 (zero-extends in 64-bit code; 66-prefixed in 16-bit code so the full
  // 32-bit register is set).
  void mov_r32(unsigned reg, uint32_t v) { emit_plain(0xb8, 4, reg, 4, v); ++count; }
  uint64_t data_linear(uint32_t off) const { return bits_ == 16 ? off : L::kData + off; }

  void alu();
  void body(bool allow_branches);

  Rng& r_;
  FuzzMode mode_;
  unsigned bits_;
  const FuzzFeatures& f_;
};

void Encoder::alu() {
  unsigned op = r_.below(8);  // ADD OR ADC SBB AND SUB XOR CMP
  unsigned size = osize();
  bool lock = op != 7 && r_.chance(20);
  switch (r_.below(4)) {
    case 0: emit({uint8_t(op * 8 + (size == 1 ? 0 : 1))}, size, src(), rm_dest(size), 0, 0, 0, lock); break;
    case 1: {
      unsigned d = dest(size);
      emit({uint8_t(op * 8 + (size == 1 ? 2 : 3))}, size, d, rm_src(), 0, 0);
      break;
    }
    case 2: {
      bool short_imm = size != 1 && r_.chance(50);
      emit({uint8_t(size == 1 ? 0x80 : short_imm ? 0x83 : 0x81)}, size, op, rm_dest(size), short_imm ? 1 : iz(size), imm(), 0, lock);
      break;
    }
    default: emit_plain(uint8_t(op * 8 + (size == 1 ? 4 : 5)), size, 0, iz(size), imm()); break;
  }
}

// One instruction of the integer ISA (the exclusions are in docs/cross-check.md).
void Encoder::body(bool allow_branches) {
  const bool cpl0 = !is_cpl3(mode_);
  for (;;) {
    unsigned size = osize();
    unsigned wide = osize(false);
    switch (r_.below(34)) {
      case 0: case 1: case 2: alu(); return;
      case 3: emit({uint8_t(size == 1 ? 0x84 : 0x85)}, size, src(), rm_src(), 0, 0); return;  // TEST
      case 4: emit({uint8_t(size == 1 ? 0xf6 : 0xf7)}, size, 0, rm_src(), iz(size), imm()); return;  // TEST imm
      case 5: {  // MOV r/m, r / r, r/m / r/m, imm
        switch (r_.below(3)) {
          case 0: emit({uint8_t(size == 1 ? 0x88 : 0x89)}, size, src(), rm_dest(size), 0, 0); return;
          case 1: { unsigned d = dest(size); emit({uint8_t(size == 1 ? 0x8a : 0x8b)}, size, d, rm_src(), 0, 0); return; }
          default: emit({uint8_t(size == 1 ? 0xc6 : 0xc7)}, size, 0, rm_dest(size), iz(size), imm()); return;
        }
      }
      case 6: {  // MOV r, imm (imm64 with REX.W)
        unsigned d = dest(size);
        emit_plain(uint8_t(size == 1 ? 0xb0 : 0xb8), size, d, size == 8 ? 8 : iz(size), imm());
        return;
      }
      case 7: {  // XCHG r/m, r (both written)
        unsigned a = dest(size);
        emit({uint8_t(size == 1 ? 0x86 : 0x87)}, size, a, rm_dest(size), 0, 0, 0, r_.chance(20));
        return;
      }
      case 8: emit({uint8_t(size == 1 ? 0xfe : 0xff)}, size, r_.below(2), rm_dest(size), 0, 0, 0, r_.chance(20)); return;  // INC/DEC
      case 9: emit({uint8_t(size == 1 ? 0xf6 : 0xf7)}, size, 2 + r_.below(2), rm_dest(size), 0, 0, 0, r_.chance(20)); return;  // NOT/NEG
      case 10: emit({uint8_t(size == 1 ? 0xf6 : 0xf7)}, size, 4 + r_.below(2), rm_src(), 0, 0); return;  // MUL/IMUL
      case 11: if (r_.chance(40)) { emit({uint8_t(size == 1 ? 0xf6 : 0xf7)}, size, 6 + r_.below(2), rm_src(), 0, 0); return; } break;  // DIV/IDIV (#DE likely)
      case 12: {  // IMUL r, r/m [, imm]
        unsigned d = dest(wide);
        switch (r_.below(3)) {
          case 0: emit({0x0f, 0xaf}, wide, d, rm_src(), 0, 0); return;
          case 1: emit({0x6b}, wide, d, rm_src(), 1, imm()); return;
          default: emit({0x69}, wide, d, rm_src(), iz(wide), imm()); return;
        }
      }
      case 13: case 14: {  // shifts and rotates: by 1, CL, imm8
        unsigned kind = r_.below(8);
        switch (r_.below(3)) {
          case 0: emit({uint8_t(size == 1 ? 0xd0 : 0xd1)}, size, kind, rm_dest(size), 0, 0); return;
          case 1: emit({uint8_t(size == 1 ? 0xd2 : 0xd3)}, size, kind, rm_dest(size), 0, 0); return;
          default: emit({uint8_t(size == 1 ? 0xc0 : 0xc1)}, size, kind, rm_dest(size), 1, r_.below(2) ? r_.below(70) : imm()); return;
        }
      }
      case 15: {  // SHLD/SHRD imm8 or CL
        bool right = r_.below(2), cl = r_.below(2);
        uint8_t op = uint8_t((right ? 0xac : 0xa4) + (cl ? 1 : 0));
        emit({0x0f, op}, wide, src(), rm_dest(wide), cl ? 0 : 1, r_.below(2) ? r_.below(70) : imm());
        return;
      }
      case 16: {  // BT/BTS/BTR/BTC: register bit offsets only on registers (a memory bit string
                  // would reach anywhere), immediate offsets on memory too
        unsigned kind = r_.below(4);
        if (r_.below(2)) emit({0x0f, uint8_t(0xa3 + 8 * kind)}, wide, src(), rm_dest(wide, false), 0, 0);
        else emit({0x0f, 0xba}, wide, 4 + kind, rm_dest(wide), 1, imm(), 0, kind && r_.chance(20));
        return;
      }
      case 17: {  // BSF/BSR, and TZCNT/LZCNT/POPCNT where CPUID has them
        unsigned d = dest(wide);
        switch (r_.below(5)) {
          case 0: emit({0x0f, 0xbc}, wide, d, rm_src(), 0, 0); return;
          case 1: emit({0x0f, 0xbd}, wide, d, rm_src(), 0, 0); return;
          case 2: if (f_.tzcnt) { emit({0x0f, 0xbc}, wide, d, rm_src(), 0, 0, 0xf3); return; } break;
          case 3: if (f_.lzcnt) { emit({0x0f, 0xbd}, wide, d, rm_src(), 0, 0, 0xf3); return; } break;
          default: if (f_.popcnt) { emit({0x0f, 0xb8}, wide, d, rm_src(), 0, 0, 0xf3); return; } break;
        }
        break;
      }
      case 18: {  // MOVZX/MOVSX (and MOVSXD in 64-bit code)
        unsigned d = dest(wide);
        unsigned kind = r_.below(bits_ == 64 ? 5 : 4);
        if (kind == 4) { emit({0x63}, 8, d, rm_src(), 0, 0); return; }
        static const uint8_t kOps[] = {0xb6, 0xb7, 0xbe, 0xbf};
        emit({0x0f, kOps[kind]}, wide, d, rm_src(), 0, 0);
        return;
      }
      case 19: { unsigned d = dest(wide); emit({0x0f, uint8_t(0x40 + r_.below(16))}, wide, d, rm_src(), 0, 0); return; }  // CMOVcc
      case 20: emit({0x0f, uint8_t(0x90 + r_.below(16))}, 1, 0, rm_dest(1), 0, 0); return;  // SETcc
      case 21: {  // XADD / CMPXCHG
        unsigned a = dest(size);
        emit({0x0f, uint8_t((r_.below(2) ? 0xc0 : 0xb0) + (size == 1 ? 0 : 1))}, size, a, rm_dest(size), 0, 0, 0, r_.chance(30));
        return;
      }
      case 22: if (bits_ != 16 || r_.below(2)) {  // BSWAP r32/r64
        unsigned s = bits_ == 64 && r_.below(2) ? 8 : 4;
        unsigned d = dest(s);
        if (bits_ == 16) out.push_back(0x66);
        if (bits_ == 64 && (s == 8 || d >= 8)) out.push_back(uint8_t(0x40 | (s == 8 ? 8 : 0) | (d >= 8 ? 1 : 0)));
        out.push_back(0x0f);
        out.push_back(uint8_t(0xc8 + (d & 7)));
        return;
      }
        break;
      case 23: { unsigned d = dest(wide); emit({0x8d}, wide, d, mem(), 0, 0); return; }  // LEA
      case 24: {  // one-byte flag and accumulator instructions
        static const uint8_t kOps[] = {0x98, 0x99, 0x9e, 0x9f, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd, 0x90};
        uint8_t op = kOps[r_.below(10)];
        if (op == 0x98 || op == 0x99) emit_plain(op, wide, 0, 0, 0);
        else out.push_back(op);
        return;
      }
      case 25: {  // PUSH/POP
        switch (r_.below(5)) {
          case 0: emit_plain(0x50, bits_ == 64 ? 8 : wide == 8 ? 4 : wide, src(), 0, 0); return;
          case 1: emit_plain(0x58, bits_ == 64 ? 8 : wide == 8 ? 4 : wide, dest(4), 0, 0); return;
          case 2: out.push_back(0x6a); out.push_back(uint8_t(imm())); return;
          case 3: emit({0xff}, bits_ == 64 ? 4 : wide == 8 ? 4 : wide, 6, rm_src(), 0, 0, 0, false, bits_ == 64); return;
          default: emit({0x8f}, bits_ == 64 ? 4 : wide == 8 ? 4 : wide, 0, rm_dest(4), 0, 0, 0, false, bits_ == 64); return;
        }
      }
      case 26: if (bits_ != 64) {  // BCD adjust (invalid in 64-bit code)
        static const uint8_t kOps[] = {0x27, 0x2f, 0x37, 0x3f};
        if (r_.below(3)) {
          uint8_t op = kOps[r_.below(4)];
          // The paravirtual KVM's emulator (CPL0 and compatibility-mode CPL3 code) lacks DAA, AAA
          // and AAS: an emulation failure at CPL0, #UD at CPL3 (no BCD in 64-bit code at all).
          if (!f_.daa_aaa_aas && op != 0x2f) break;
          out.push_back(op);
        } else {
          out.push_back(uint8_t(r_.below(2) ? 0xd4 : 0xd5));
          out.push_back(uint8_t(r_.below(2) ? 10 : 1 + r_.below(255)));
        }
        return;
      }
        break;
      case 27: {  // string instruction with its setup: SI/DI in the data page, a small count
        mov_r32(6, uint32_t(data_linear(0x300 + r_.below(0x200))));
        mov_r32(7, uint32_t(data_linear(0x300 + r_.below(0x200))));
        mov_r32(1, r_.below(9));
        static const uint8_t kOps[] = {0xa4, 0xa6, 0xaa, 0xac, 0xae};
        uint8_t op = uint8_t(kOps[r_.below(5)] + (size == 1 ? 0 : 1));
        unsigned rep = r_.below(3);
        if (rep) out.push_back(rep == 1 ? 0xf3 : 0xf2);
        emit_plain(op, size, 0, 0, 0);
        return;
      }
      case 28: {  // XLAT, NOP r/m
        if (r_.below(2)) out.push_back(0xd7);
        else emit({0x0f, 0x1f}, wide, 0, rm_src(), 0, 0);
        return;
      }
      case 29: if (allow_branches) {  // Jcc/JMP/LOOPcc/JrCXZ over one instruction
        Encoder inner(r_, mode_, f_);
        inner.body(false);
        static const uint8_t kOps[] = {0xeb, 0xe0, 0xe1, 0xe2, 0xe3};
        uint8_t op = r_.below(3) ? uint8_t(0x70 + r_.below(16)) : kOps[r_.below(5)];
        out.push_back(op);
        out.push_back(uint8_t(inner.out.size()));
        out.insert(out.end(), inner.out.begin(), inner.out.end());
        count += 1 + inner.count;
        return;
      }
        break;
      case 30: if (allow_branches) {  // CALL to the next instruction (pushes the return address)
        out.push_back(0xe8);
        for (unsigned i = 0; i < (bits_ == 16 ? 2u : 4u); ++i) out.push_back(0);
        return;
      }
        break;
      case 31: if (f_.cpuid) {  // CPUID (the follower is given KVM's table), then restore the data pointer
        mov_r32(0, r_.below(3) ? r_.below(8) : 0x80000000u + r_.below(9));
        mov_r32(1, 0);
        out.push_back(0x0f);
        out.push_back(0xa2);
        ++count;
        mov_r32(3, uint32_t(bits_ == 16 ? L::kDataPointer : L::kData + L::kDataPointer));
        return;
      }
        break;
      case 32: if (cpl0) {  // CPL0 only: PUSHF (at CPL3 this host's KVM shows the host's IF), CLI/STI
        static const uint8_t kOps[] = {0x9c, 0xfa, 0xfb};
        out.push_back(kOps[r_.below(3)]);
        return;
      }
        break;
      case 33: if (cpl0) {  // CPL0 only: port I/O (served by a deterministic device)
        out.push_back(uint8_t((r_.below(2) ? 0xe4 : 0xe6) + r_.below(2)));
        out.push_back(uint8_t(0x70 + r_.below(15)));  // 0x7f is the end marker
        return;
      }
        break;
    }
  }
}

void Encoder::one() {
  body(true);
  ++count;
}

}  // namespace

void append_end_marker(std::vector<uint8_t>& code, FuzzMode mode) {
  static const uint8_t kOut[] = {0xe6, uint8_t(L::kMarkerPort)};                            // out 0x7f, al
  static const uint8_t kStore64[] = {0x88, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00};           // mov [0x400000], al
  static const uint8_t kStore32[] = {0xa2, 0x00, 0x00, 0x40, 0x00};                       // mov [0x400000], al
  static const uint8_t kStore16[] = {0x65, 0x67, 0xa2, 0x00, 0x00, 0x40, 0x00};           // mov gs:[dword 0x400000], al
  static_assert(L::kMarkerMmio == 0x400000);
  std::span<const uint8_t> m = !is_cpl3(mode) ? std::span<const uint8_t>(kOut)
                               : mode == FuzzMode::k64Cpl3 ? std::span<const uint8_t>(kStore64)
                               : mode == FuzzMode::k32Cpl3 ? std::span<const uint8_t>(kStore32)
                                                           : std::span<const uint8_t>(kStore16);
  code.insert(code.end(), m.begin(), m.end());
  code.push_back(0xf4);  // HLT: halts at CPL0; #GP at CPL3, whose handler halts
}

const char* mode_name(FuzzMode m) {
  static const char* const kNames[] = {"64-cpl3", "32-cpl3", "16-cpl3", "64-cpl0", "32-cpl0", "16-cpl0"};
  return kNames[int(m)];
}

bool parse_mode(const std::string& name, FuzzMode& out) {
  for (int i = 0; i < kFuzzModes; ++i)
    if (name == mode_name(FuzzMode(i))) { out = FuzzMode(i); return true; }
  return false;
}

FuzzFeatures FuzzFeatures::from(const CpuidTable& cpuid) {
  FuzzFeatures f;
  f.popcnt = cpuid.leaf1_ecx(cpuid_bits::POPCNT);
  f.lzcnt = cpuid.ext1_ecx(cpuid_bits::ABM);
  f.tzcnt = cpuid.query(7, 0).ebx & (1u << 3);  // BMI1
  return f;
}

FuzzCase generate_case(uint64_t seed, uint64_t index, FuzzMode mode, unsigned max_insns, const FuzzFeatures& f) {
  Rng r(seed * 0x9e3779b97f4a7c15ull ^ (index + 1) * 0xd1b54a32d192ed03ull);
  FuzzCase c;
  c.seed = seed;
  c.index = index;
  c.mode = mode;
  for (auto& b : c.data) b = uint8_t(r.next());
  for (auto& b : c.stack) b = uint8_t(r.next());

  CpuState& s = c.initial;
  s = reset_cpu_state();
  const unsigned bits = code_bits(mode);
  for (uint64_t& g : s.gpr) g = bits == 64 ? r.value() : uint32_t(r.value());
  const uint64_t arith = rflags::CF | rflags::PF | rflags::AF | rflags::ZF | rflags::SF | rflags::OF;
  s.rflags = rflags::FIXED1 | (r.next() & arith) | (r.chance(20) ? rflags::DF : 0);
  s.gdtr = {L::kGdt, 0x5f};
  s.ldtr = {0, 0, 0, 0x82, true};
  s.tr = seg(kTr, L::kTss, 0x67, 0x8b);
  s.fx = FxState{};
  if (mode == FuzzMode::k16Cpl0) {  // real mode
    s.cr0 = cr0::ET | cr0::NE;
    s.seg[CS] = seg(uint16_t(L::kCode >> 4), L::kCode, 0xffff, 0x9b);
    for (int i : {DS, ES, FS, GS}) s.seg[i] = seg(uint16_t(L::kData >> 4), L::kData, 0xffff, 0x93);
    s.seg[SS] = seg(uint16_t(L::kStack >> 4), L::kStack, 0xffff, 0x93);
    s.idtr = {0, 0x3ff};
    s.tr = {0, 0, 0xffff, 0x8b, false};
    s.rip = 0;
    s.gpr[RBX] = L::kDataPointer;
    s.gpr[RSP] = L::kStackPointer;
  } else if (mode == FuzzMode::k32Cpl0) {  // protected mode, paging off
    s.cr0 = cr0::PE | cr0::ET | cr0::NE;
    s.cr4 = cr4::OSFXSR;
    s.seg[CS] = seg(kCs32, 0, 0xffffffff, 0xc09b);
    for (int i : {DS, ES, FS, GS, SS}) s.seg[i] = seg(kDs, 0, 0xffffffff, 0xc093);
    s.idtr = {L::kIdt32, 0x7ff};
    s.rip = L::kCode;
    s.gpr[RBX] = L::kData + L::kDataPointer;
    s.gpr[RSP] = L::kStack + L::kStackPointer;
  } else {  // long mode
    s.cr0 = cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::PG;
    s.cr3 = L::kPml4;
    s.cr4 = cr4::PAE | cr4::OSFXSR | cr4::OSXMMEXCPT;
    s.efer = efer::LME | efer::LMA;
    s.idtr = {L::kIdt64, 0xfff};
    s.rip = L::kCode;
    s.gpr[RBX] = L::kData + L::kDataPointer;
    s.gpr[RSP] = L::kStack + L::kStackPointer;
    if (mode == FuzzMode::k64Cpl0) {
      s.seg[CS] = seg(kCs64, 0, 0xffffffff, 0xa09b);
      for (int i : {DS, ES, FS, GS, SS}) s.seg[i] = seg(kDs, 0, 0xffffffff, 0xc093);
    } else {
      s.rflags |= rflags::IF;  // user mode runs with interrupts enabled, as any OS does
      if (mode == FuzzMode::k64Cpl3) s.seg[CS] = seg(kUserCs64 | 3, 0, 0xffffffff, 0xa0fb);
      if (mode == FuzzMode::k32Cpl3) s.seg[CS] = seg(kUserCs32 | 3, 0, 0xffffffff, 0xc0fb);
      if (mode == FuzzMode::k16Cpl3) {
        s.seg[CS] = seg(kUserCs16 | 3, L::kCode, 0xffff, 0x00fb);
        s.rip = 0;
        s.gpr[RBX] = L::kDataPointer;
        s.gpr[RSP] = L::kStackPointer;
        for (int i : {DS, ES, FS}) s.seg[i] = seg(kUserDs16 | 3, L::kData, 0xffff, 0x00f3);
        s.seg[SS] = seg(kUserSs16 | 3, L::kStack, 0xffff, 0x00f3);
        s.seg[GS] = seg(kUserDs | 3, 0, 0xffffffff, 0xc0f3);  // flat: reaches the end marker's MMIO address
      } else {
        for (int i : {DS, ES, FS, GS, SS}) s.seg[i] = seg(kUserDs | 3, 0, 0xffffffff, 0xc0f3);
      }
    }
  }

  Encoder e(r, mode, f);
  while (e.count < max_insns && e.out.size() < 3000) e.one();
  c.code = std::move(e.out);
  c.body_bytes = c.code.size();
  append_end_marker(c.code, mode);
  c.instructions = e.count;
  return c;
}

void install_case(GuestMemory& mem, const FuzzCase& c) {
  // Real-mode IVT: every vector to 0000:kHandler.
  for (unsigned v = 0; v < 256; ++v) mem.store<uint32_t>(v * 4, uint32_t(L::kHandler));
  const uint64_t gdt[] = {0,
                          descriptor(0, 0xffffffff, 0xa09b),         // 0x08 kernel code 64
                          descriptor(0, 0xffffffff, 0xc093),         // 0x10 kernel data
                          descriptor(0, 0xffffffff, 0xc0fb),         // 0x18 user code 32
                          descriptor(0, 0xffffffff, 0xc0f3),         // 0x20 user data
                          descriptor(0, 0xffffffff, 0xa0fb),         // 0x28 user code 64
                          descriptor(uint32_t(L::kTss), 0x67, 0x8b),  // 0x30 TSS (busy), 16 bytes
                          0,
                          descriptor(uint32_t(L::kCode), 0xffff, 0x00fb),   // 0x40 user code 16
                          descriptor(0, 0xffffffff, 0xc09b),                // 0x48 kernel code 32
                          descriptor(uint32_t(L::kData), 0xffff, 0x00f3),   // 0x50 user data 16
                          descriptor(uint32_t(L::kStack), 0xffff, 0x00f3)};  // 0x58 user stack 16
  mem.write_phys(L::kGdt, gdt, sizeof gdt);
  for (unsigned v = 0; v < 256; ++v) {
    const uint64_t h = L::kHandler;
    uint64_t lo = (h & 0xffff) | (uint64_t(kCs64) << 16) | (0x8eull << 40) | ((h >> 16) & 0xffff) << 48;
    mem.store<uint64_t>(L::kIdt64 + 16 * v, lo);
    mem.store<uint64_t>(L::kIdt64 + 16 * v + 8, h >> 32);
    uint64_t g32 = (h & 0xffff) | (uint64_t(kCs32) << 16) | (0x8eull << 40) | ((h >> 16) & 0xffff) << 48;
    mem.store<uint64_t>(L::kIdt32 + 8 * v, g32);
  }
  uint8_t tss[0x68] = {};
  uint64_t rsp0 = L::kKernelStackTop;
  std::memcpy(tss + 4, &rsp0, 8);   // 64-bit TSS: RSP0
  // (The 32-bit guest runs at CPL0 only, so its exceptions never switch stacks through the TSS.)
  tss[0x66] = 0x68;                 // no I/O bitmap: port I/O below IOPL faults
  mem.write_phys(L::kTss, tss, sizeof tss);
  const uint8_t handler[] = {0xf4, 0xeb, 0xfd};  // hlt; jmp back to the hlt
  mem.write_phys(L::kHandler, handler, sizeof handler);
  std::vector<uint8_t> zero(0x1000, 0);
  mem.write_phys(L::kKernelStackTop - 0x1000, zero.data(), zero.size());
  // Page tables with accessed and dirty bits already set, so that neither backend writes them.
  mem.store<uint64_t>(L::kPml4, L::kPdpt | 0x27);
  mem.store<uint64_t>(L::kPdpt, L::kPd | 0x27);
  mem.store<uint64_t>(L::kPd, 0x000000 | 0xe7);
  mem.store<uint64_t>(L::kPd + 8, 0x200000 | 0xe7);
  mem.store<uint64_t>(L::kPd + 16, L::kMarkerMmio | 0xe7);  // no RAM there: the end marker's MMIO
  std::vector<uint8_t> code(4096, 0xf4);
  std::memcpy(code.data(), c.code.data(), std::min<size_t>(c.code.size(), code.size()));
  mem.write_phys(L::kCode, code.data(), code.size());
  mem.write_phys(L::kData, c.data.data(), c.data.size());
  mem.write_phys(L::kStack, c.stack.data(), c.stack.size());
}

}  // namespace janus::cross
