// Turns guest code at a PC into a Block: fetch through the soft MMU, decode (Janus decoder,
// Capstone for names), lift each instruction to IR. Unimplemented instructions become #UD and are
// reported once per opcode on stderr.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "tcg/block.h"
#include "tcg/capstone_disassembler.h"
#include "tcg/lifter.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

constexpr uint32_t kSingleInstructionMode = 1u << 16;  // BlockKey::mode bit: block of one instruction
constexpr unsigned kMaxBlockInstructions = 64;

BlockMode block_mode_of(const CpuState& s);

class Translator {
 public:
  explicit Translator(TcgCpu& cpu) : cpu_(cpu) {}
  // Throws GuestFault if the first instruction cannot be fetched (#PF, #GP for CS limit).
  std::unique_ptr<Block> translate(const BlockKey& key, uint64_t linear_pc, const BlockMode& mode, unsigned max_insns);

 private:
  void report_unimplemented(const DecodedInsn& d, uint64_t rip, CodeSize size);

  TcgCpu& cpu_;
  CapstoneDisassembler capstone_;
  std::set<std::string> reported_;
};

}  // namespace janus::tcg
