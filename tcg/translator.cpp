#include "tcg/translator.h"

#include <cinttypes>
#include <cstdio>

#include "tcg/helpers.h"

namespace janus::tcg {

BlockMode block_mode_of(const CpuState& s) {
  BlockMode m;
  m.long_mode = s.long_mode_active();
  m.protected_mode = s.protected_mode();
  m.v86 = s.v86_mode();
  m.cpl = uint8_t(s.cpl());
  if (s.in_64bit_code()) m.code = CodeSize::k64;
  else m.code = (!m.v86 && s.seg[CS].db()) ? CodeSize::k32 : CodeSize::k16;
  m.stack_size = m.code == CodeSize::k64 ? 8 : (!m.v86 && s.seg[SS].db()) ? 4 : 2;
  return m;
}

void Translator::report_unimplemented(const DecodedInsn& d, uint64_t rip, CodeSize size) {
  std::string opcode;
  char hex[4];
  unsigned end = d.opcode_offset + (d.map == OpcodeMap::kPrimary ? 1 : d.map == OpcodeMap::k0F ? 2 : 3);
  for (unsigned i = d.opcode_offset; i < end && i < d.length; ++i) {
    std::snprintf(hex, sizeof hex, "%s%02x", opcode.empty() ? "" : " ", d.bytes[i]);
    opcode += hex;
  }
  if (d.has_modrm) {
    std::snprintf(hex, sizeof hex, "/%u", (d.modrm >> 3) & 7);
    opcode += hex;
  }
  CapstoneView cs = capstone_.disassemble({d.bytes, d.length}, size, rip);
  std::string name = cs.valid ? cs.mnemonic : "unknown";
  if (!reported_.insert(opcode + name).second) return;
  std::string bytes;
  for (unsigned i = 0; i < d.length; ++i) {
    std::snprintf(hex, sizeof hex, "%s%02x", i ? " " : "", d.bytes[i]);
    bytes += hex;
  }
  std::fprintf(stderr, "janus: tcg: unimplemented instruction %s (%s) at %04x:%016" PRIx64 " [%s] -> #UD\n",
               opcode.c_str(), name.c_str(), cpu_.s.seg[CS].selector, rip, bytes.c_str());
}

std::unique_ptr<Block> Translator::translate(const BlockKey& key, uint64_t linear_pc, const BlockMode& mode,
                                             unsigned max_insns) {
  auto block = std::make_unique<Block>();
  block->key = key;
  block->linear_pc = linear_pc;
  block->pages = {key.phys_pc & ~0xfffull, key.phys_pc & ~0xfffull};
  block->ir.ops.reserve(32);  // most blocks need more: spares a few reallocations each
  IrBuilder b(block->ir);
  const bool user = mode.cpl == 3;
  const bool limit_checked = mode.code != CodeSize::k64;
  const uint32_t cs_limit = cpu_.s.seg[CS].limit;
  const uint64_t ip_mask = mode.code == CodeSize::k64 ? ~0ull : mode.code == CodeSize::k32 ? 0xffffffffull : 0xffffull;
  const uint64_t lin_mask = mode.long_mode ? ~0ull : 0xffffffffull;

  uint64_t rip = key.rip;
  bool ended = false;
  for (unsigned n = 0; n < max_insns && !ended; ++n) {
    uint64_t lin = (key.cs_base + rip) & lin_mask;
    if (mode.code == CodeSize::k64) lin = rip;
    if (n > 0 && (lin >> 12) != (linear_pc >> 12)) break;  // next instruction on another page
    if (limit_checked && rip > cs_limit) {
      if (n == 0) raise_fault(kGP, 0);
      break;
    }
    uint8_t buf[15];
    bool faulted = false;
    GuestFault fault{};
    unsigned got = cpu_.mmu.fetch_code(lin, buf, 15, user, faulted, fault);
    if (limit_checked && rip + got - 1 > cs_limit) got = unsigned(cs_limit - rip + 1);
    DecodedInsn d = decode_x86({buf, got}, mode.code);
    if (d.status == DecodeStatus::kNeedMoreBytes) {
      if (n > 0) break;
      if (faulted) throw fault;
      raise_fault(kGP, 0);  // ran past the CS limit
    }
    unsigned len = d.status == DecodeStatus::kOk ? d.length : 1;
    if (n == 0 || d.status == DecodeStatus::kOk) {
      // The last instruction may reach into the next page: remember it for SMC tracking.
      uint64_t last_lin = (lin + len - 1) & lin_mask;
      if ((last_lin >> 12) != (lin >> 12)) block->pages[1] = cpu_.mmu.translate_code(last_lin, user) & ~0xfffull;
    }
    b.insn_start(rip, len);
    block->length += len;
    ++block->ir.insn_count;
    if (d.status == DecodeStatus::kTooLong) {
      b.call(h_raise, kGP | (1u << 8));
      b.exit();
      break;
    }
    if (d.status == DecodeStatus::kInvalid) {
      b.call(h_raise, kUD);
      b.exit();
      break;
    }
    LiftResult r = lift_instruction(b, d, mode, rip);
    if (r == LiftResult::kUnimplemented) {
      report_unimplemented(d, rip, mode.code);
      b.call(h_undefined, 0);
      b.exit();
      break;
    }
    ended = r == LiftResult::kEndBlock;
    rip = (rip + d.length) & ip_mask;
    if (block->ir.temp_count > 60000) break;
  }
  if (!ended && (block->ir.ops.empty() || block->ir.ops.back().opc != Opc::kExit)) b.jmp(rip);
  ++cpu_.stats.blocks_translated;
  return block;
}

}  // namespace janus::tcg
