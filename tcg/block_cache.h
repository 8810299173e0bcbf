// Translated blocks by (physical PC, RIP, CS base, mode), a per-vCPU jump cache (linear PC ->
// block) in front of the hash table, and the physical pages that hold translated code so that
// guest stores into code invalidate exactly the blocks whose bytes they overwrite.
#pragma once
#include <array>
#include <memory>
#include <unordered_map>
#include <vector>

#include "tcg/block.h"
#include "tcg/soft_mmu.h"

namespace janus::tcg {

class BlockCache final : public CodeWriteObserver {
 public:
  explicit BlockCache(SoftMmu& mmu, bool& stop_running_block) : mmu_(mmu), stop_(stop_running_block) {}

  // Jump cache lookup by linear PC, verified against the key and the TLB's current mapping of
  // the block's first page (so TLB flushes need not flush the jump cache).
  Block* find_fast(uint64_t linear_pc, const BlockKey& key, bool user) {
    Block* b = jump_candidate(linear_pc, key);
    return b && mmu_.code_maps_to(linear_pc, user, b->key.phys_pc & ~0xfffull) ? b : nullptr;
  }
  // The jump cache's entry if it matches all but the physical address (the caller checks that).
  Block* jump_candidate(uint64_t linear_pc, const BlockKey& key) {
    Block* b = jump_cache_[jump_index(linear_pc)];
    if (b && b->key.rip == key.rip && b->key.cs_base == key.cs_base && b->key.mode == key.mode && b->linear_pc == linear_pc)
      return b;
    return nullptr;
  }
  Block* find(const BlockKey& key, uint64_t linear_pc);
  Block* insert(std::unique_ptr<Block> block);

  // Link from -> to for slot (0, 1: direct jumps, 2: the indirect jump's last target; within
  // one mode and CS base), replacing an older link.
  void chain(Block* from, unsigned slot, Block* to);
  // from's link for slot if it is the block for `rip` under the current TLB, else null.
  Block* linked(const Block& from, unsigned slot, uint64_t rip, bool user) const {
    Block* b = from.chain[slot];
    if (!b || b->key.rip != rip) return nullptr;
    if ((b->linear_pc ^ from.linear_pc) >> 12 && !mmu_.code_maps_to(b->linear_pc, user, b->key.phys_pc & ~0xfffull)) return nullptr;
    return b;
  }
  void flush_jump_cache() { jump_cache_.fill(nullptr); }
  // For compiled code's own jump cache probe (JitLayout::jump_cache): the table and its index.
  Block* const* jump_cache() const { return jump_cache_.data(); }
  static size_t jump_index(uint64_t pc) { return (pc ^ (pc >> 12)) & (kJumpCacheSize - 1); }
  static constexpr size_t kJumpCacheSize = 32768;
  void invalidate_all();
  // Frees invalidated blocks (only when no block is executing); true if any were freed.
  bool collect_garbage();
  bool has_garbage() const { return !graveyard_.empty(); }

  // The block the run loop entered (compiled code may have chained on from it), or null.
  void set_running(const Block* b) { running_ = b; }
  uint64_t invalidations() const { return invalidations_; }
  size_t size() const { return blocks_.size(); }
  template <typename F> void for_each(F f) const {
    for (auto& [k, b] : blocks_) f(*b);
  }

  // CodeWriteObserver
  bool is_code_page(uint64_t phys_page) const override {
    uint64_t i = phys_page >> 12;
    if (i / 64 < code_bits_.size()) return (code_bits_[i / 64] >> (i % 64)) & 1;
    return i >= kBitmapPages && pages_.count(phys_page) != 0;
  }
  void code_written(uint64_t phys_addr, unsigned size) override;

 private:
  void invalidate(Block* b);

  SoftMmu& mmu_;
  bool& stop_;
  const Block* running_ = nullptr;
  std::unordered_map<BlockKey, std::unique_ptr<Block>, BlockKeyHash> blocks_;
  std::unordered_map<uint64_t, std::vector<Block*>> pages_;  // physical page -> blocks on it
  // pages_' keys as a bitmap (below kBitmapPages): the soft MMU asks on every fill and slow write.
  static constexpr uint64_t kBitmapPages = 1ull << 24;  // 64 GiB
  std::vector<uint64_t> code_bits_;
  void set_code_bit(uint64_t phys_page, bool on);
  std::array<Block*, kJumpCacheSize> jump_cache_{};
  std::vector<std::unique_ptr<Block>> graveyard_;
  uint64_t invalidations_ = 0;
};

}  // namespace janus::tcg
