// The interpreter tier: executes a block's IR on a TcgCpu.
#pragma once
#include <cstdint>
#include <vector>

#include "tcg/block.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

// How a block ended. RIP is always committed to cpu.s.rip.
enum class BlockEnd : int8_t {
  kChain0 = 0,     // direct jump / taken branch: may chain to block.chain[0]
  kChain1 = 1,     // branch not taken: may chain to block.chain[1]
  kUnchained = 2,  // indirect jump, helper exit, fault delivered or SMC stop
};

class Interpreter {
 public:
  Interpreter() : temps_(65536) {}
  // Runs the block; guest faults are delivered (via deliver) before it returns.
  BlockEnd execute(TcgCpu& cpu, const Block& block);

 private:
  std::vector<uint64_t> temps_;  // indexed by Temp (kNoTemp included: unused operands read junk)
};

}  // namespace janus::tcg
