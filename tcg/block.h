// A translated block: IR for a straight run of guest instructions, with the key it was
// translated under and its links to the blocks it jumps to (chaining).
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "tcg/ir.h"
#include "tcg/threaded_code.h"

namespace janus::tcg {

struct BlockKey {
  uint64_t phys_pc = 0;   // physical address of the first byte
  uint64_t rip = 0;       // the IR embeds RIP values, so the virtual PC is part of the key
  uint64_t cs_base = 0;
  uint32_t mode = 0;      // BlockMode::key() plus the single-instruction bit
  bool user() const { return ((mode >> 6) & 3) == 3; }  // CPL 3 (BlockMode::key)
  bool operator==(const BlockKey&) const = default;
};

struct BlockKeyHash {
  size_t operator()(const BlockKey& k) const {
    uint64_t h = k.phys_pc * 0x9e3779b97f4a7c15ull ^ (k.rip + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
    h ^= (k.cs_base + k.mode) * 0x94d049bb133111ebull;
    return size_t(h ^ (h >> 31));
  }
};

// Machine code of the LLVM tier (tcg/jit_tier.h); destroying it frees the code.
struct JitCode {
  virtual ~JitCode() = default;
};
// A compiled block: same contract as Interpreter::execute (returns a BlockEnd), except that guest
// faults propagate as GuestFault with RIP and TcgCpu::jit_insn naming the faulting instruction.
// Its calling convention is LLVM's preserve_none: only compiled code and JitTier's entry
// trampoline call it, never C++ directly.
using JitEntry = int (*)(TcgCpu* cpu);
// Where the LLVM tier's compile thread leaves a block's code: `code` is set before `entry` is
// published. Shared by the block and the compile job, so either may go first.
// Quick code counts its runs here and, once hot, has the block compiled again optimised; the
// new entry then replaces it (the quick code is kept: it may still be running).
struct JitSlot {
  std::atomic<JitEntry> entry{nullptr};
  std::atomic<bool> optimised{false};       // entry is the optimised code: quick code goes there
  std::shared_ptr<JitCode> code;            // quick code (or the only code)
  std::shared_ptr<JitCode> optimised_code;  // after the tier-up
  uint32_t runs = 0;                        // runs of LLVM's quick code (vCPU thread only)
  // Baseline code counts down instead; at zero it asks for optimised code once (asked), then
  // looks every kTierUpRecheck runs whether that code is in (vCPU thread only).
  uint32_t countdown = 0;
  bool asked = false;
  // Interpreted runs while waiting to be compiled (written by the vCPU, read by the compile
  // thread to take the hottest waiting blocks first).
  std::atomic<uint32_t> waiting_runs{0};
};
static_assert(std::atomic<JitEntry>::is_always_lock_free && sizeof(std::atomic<JitEntry>) == sizeof(JitEntry),
              "compiled code reads JitSlot::entry as a plain pointer");

// The first cache line holds what every block lookup and chained jump reads (the key, the
// linear PC, the compiled entry, the chain links): the rest is only for translation and the
// interpreter.
struct alignas(64) Block {
  BlockKey key;
  uint64_t linear_pc = 0;            // CS.base + RIP when translated
  JitEntry jit = nullptr;            // compiled code, once installed from jit_slot
  // Successor for kJmp / kBranch slot 0, kBranch slot 1, and the last two targets of the
  // block's indirect jump (slots 2 and 3: a RET from a function called from two places). A link
  // to another page holds only while the TLB still maps that page to the block's physical page
  // (BlockCache::linked).
  std::array<Block*, 4> chain{};
  bool valid = true;
  uint8_t next_indirect_slot = 2;    // which of slots 2, 3 the next indirect target replaces
  uint32_t runs = 0;                 // interpreted runs (the LLVM tier compiles hot blocks)
  unsigned length = 0;               // bytes of guest code, from key.phys_pc (may run into pages[1])
  std::array<uint64_t, 2> pages{};   // physical pages the code lies on (pages[1] = pages[0] if one)
  IrBlock ir;
  ThreadedCode code;                 // the interpreter's form of ir, built on first run
  std::vector<Block*> chained_from;  // blocks whose chain[] points here (to unlink)
  std::shared_ptr<JitSlot> jit_slot; // set when the block was queued for compilation
};

}  // namespace janus::tcg

namespace janus::tcg {
// True if the physical range [addr, addr+size) overlaps the block's code bytes.
inline bool block_overlaps(const Block& b, uint64_t addr, unsigned size) {
  uint64_t off = b.key.phys_pc & 0xfff;
  uint64_t first_len = std::min<uint64_t>(b.length, 4096 - off);
  if (addr < b.key.phys_pc + first_len && b.key.phys_pc < addr + size) return true;
  uint64_t second_len = b.length - first_len;
  return second_len && addr < b.pages[1] + second_len && b.pages[1] < addr + size;
}
}  // namespace janus::tcg
