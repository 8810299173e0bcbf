#include "tcg/capstone_disassembler.h"

#include <capstone/capstone.h>

namespace janus::tcg {

namespace {
constexpr cs_mode kModes[3] = {CS_MODE_16, CS_MODE_32, CS_MODE_64};
}

CapstoneDisassembler::CapstoneDisassembler() {
  for (int i = 0; i < 3; ++i) {
    csh h = 0;
    ok_[i] = cs_open(CS_ARCH_X86, kModes[i], &h) == CS_ERR_OK;
    if (ok_[i]) cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
    handles_[i] = h;
  }
}

CapstoneDisassembler::~CapstoneDisassembler() {
  for (int i = 0; i < 3; ++i)
    if (ok_[i]) {
      csh h = handles_[i];
      cs_close(&h);
    }
}

CapstoneView CapstoneDisassembler::disassemble(std::span<const uint8_t> bytes, CodeSize code_size, uint64_t address) {
  CapstoneView v;
  int m = static_cast<int>(code_size);
  if (!ok_[m] || bytes.empty()) return v;
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(handles_[m], bytes.data(), bytes.size(), address, 1, &insn);
  if (n < 1) return v;
  v.valid = true;
  v.id = insn->id;
  v.length = insn->size;
  v.mnemonic = insn->mnemonic;
  v.operands = insn->op_str;
  if (insn->detail) {
    const cs_x86& x = insn->detail->x86;
    for (int i = 0; i < 4; ++i) v.prefix[i] = x.prefix[i];
    if (x.op_count) v.operand_size = x.operands[0].size;
  }
  cs_free(insn, n);
  return v;
}

}  // namespace janus::tcg
