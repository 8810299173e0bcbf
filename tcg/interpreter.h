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
  kUnchained = 2,  // helper exit, fault delivered or SMC stop
  kIndirect = 3,   // indirect jump (the mode is the block's unless it called a helper)
};
inline constexpr int kBlockEnds = 4;  // how many BlockEnd values there are

// Threaded code (tcg/threaded_code.h): on a block's first run its IR is turned into ops that
// jump straight to each other's handlers (GCC computed goto), operands resolved to pointers.
class Interpreter {
 public:
  // Runs the block; guest faults are delivered (via deliver) before it returns.
  BlockEnd execute(TcgCpu& cpu, const Block& block);
};

}  // namespace janus::tcg
