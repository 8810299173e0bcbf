// Capstone 4 names the instruction Janus decoded: its id and mnemonic feed the lifter's
// diagnostics ("unimplemented instruction ... (pshufb)") and the decoder tests. Janus never takes
// prefixes, sizes or lengths from Capstone (see x86_decoder.h for why).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "tcg/x86_decoder.h"

namespace janus::tcg {

struct CapstoneView {
  bool valid = false;     // Capstone decoded something
  unsigned id = 0;        // x86_insn (X86_INS_*)
  unsigned length = 0;    // Capstone's idea of the length (may be wrong, see the tests)
  std::string mnemonic;   // "rep movsd"
  std::string operands;   // "dword ptr [rdi], dword ptr [rsi]"
  uint8_t prefix[4] = {}; // Capstone's prefix groups (LOCK/REP, segment, 66, 67)
  int operand_size = 0;   // size of Capstone's first operand in bytes (0 if none)
};

// One Capstone handle per code size; not thread-safe (one per vCPU).
class CapstoneDisassembler {
 public:
  CapstoneDisassembler();
  ~CapstoneDisassembler();
  CapstoneDisassembler(const CapstoneDisassembler&) = delete;
  CapstoneDisassembler& operator=(const CapstoneDisassembler&) = delete;

  CapstoneView disassemble(std::span<const uint8_t> bytes, CodeSize code_size, uint64_t address = 0);

 private:
  size_t handles_[3] = {};  // csh per CodeSize
  bool ok_[3] = {};
};

}  // namespace janus::tcg
