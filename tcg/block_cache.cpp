#include "tcg/block_cache.h"

#include <algorithm>
#include <utility>

namespace janus::tcg {

Block* BlockCache::find(const BlockKey& key, uint64_t linear_pc) {
  auto it = blocks_.find(key);
  if (it == blocks_.end()) return nullptr;
  Block* b = it->second.get();
  if (b->linear_pc != linear_pc) {
    // A block sits in at most one jump cache slot (its linear PC's), so invalidate() can clear it
    // and freeing dead blocks needs no jump cache flush.
    Block*& old = jump_cache_[jump_index(b->linear_pc)];
    if (old == b) old = nullptr;
    b->linear_pc = linear_pc;
  }
  jump_cache_[jump_index(linear_pc)] = b;
  return b;
}

Block* BlockCache::insert(std::unique_ptr<Block> block) {
  Block* b = block.get();
  if (auto it = blocks_.find(b->key); it != blocks_.end()) invalidate(it->second.get());
  for (int i = 0; i < 2; ++i) {
    if (i == 1 && b->pages[1] == b->pages[0]) break;
    auto& list = pages_[b->pages[i]];
    if (list.empty()) {
      mmu_.protect_code_page(b->pages[i]);  // writes to it now take the slow path
      set_code_bit(b->pages[i], true);
    }
    list.push_back(b);
  }
  blocks_[b->key] = std::move(block);
  jump_cache_[jump_index(b->linear_pc)] = b;
  return b;
}

void BlockCache::chain(Block* from, unsigned slot, Block* to) {
  // Links to other pages are checked against the TLB when followed (linked(), compiled code), so
  // a remapped page cannot make them wrong; the mode and CS base are not checked there.
  if (!from->valid || !to->valid || from->chain[slot] == to) return;
  if (from->key.mode != to->key.mode || from->key.cs_base != to->key.cs_base) return;
  auto links_to = [from](const Block* b) { return std::find(from->chain.begin(), from->chain.end(), b) != from->chain.end(); };
  if (Block* old = std::exchange(from->chain[slot], nullptr); old && !links_to(old)) std::erase(old->chained_from, from);
  if (!links_to(to)) to->chained_from.push_back(from);  // once per (from, to) however many slots
  from->chain[slot] = to;
}

void BlockCache::invalidate(Block* b) {
  if (!b->valid) return;
  b->valid = false;
  ++invalidations_;
  for (Block* from : b->chained_from)
    for (auto& c : from->chain)
      if (c == b) c = nullptr;
  for (Block* to : b->chain)
    if (to) std::erase(to->chained_from, b);
  for (int i = 0; i < 2; ++i) {
    if (i == 1 && b->pages[1] == b->pages[0]) break;
    auto it = pages_.find(b->pages[i]);
    if (it == pages_.end()) continue;
    std::erase(it->second, b);
    if (it->second.empty()) {
      set_code_bit(b->pages[i], false);
      pages_.erase(it);
    }
  }
  auto& slot = jump_cache_[jump_index(b->linear_pc)];
  if (slot == b) slot = nullptr;
  // Finish the storing instruction, then re-translate. Compiled blocks chain to each other
  // without the run loop, so the block executing now need not be running_: stop whatever runs.
  if (running_) stop_ = true;
  auto node = blocks_.extract(b->key);
  if (!node.empty() && node.mapped().get() == b) graveyard_.push_back(std::move(node.mapped()));
}

void BlockCache::code_written(uint64_t phys_addr, unsigned size) {
  auto it = pages_.find(phys_addr & ~0xfffull);
  if (it == pages_.end()) return;
  // Invalidate the blocks whose bytes overlap the store (copy: invalidate() edits the list).
  std::vector<Block*> hit;
  for (Block* b : it->second)
    if (block_overlaps(*b, phys_addr, size)) hit.push_back(b);
  for (Block* b : hit) invalidate(b);
}

void BlockCache::invalidate_all() {
  std::vector<Block*> all;
  for (auto& [k, b] : blocks_) all.push_back(b.get());
  for (Block* b : all) invalidate(b);
  flush_jump_cache();
}

void BlockCache::set_code_bit(uint64_t phys_page, bool on) {
  uint64_t i = phys_page >> 12;
  if (i >= kBitmapPages) return;
  if (i / 64 >= code_bits_.size()) {
    if (!on) return;
    code_bits_.resize(i / 64 + 1, 0);
  }
  if (on) code_bits_[i / 64] |= 1ull << (i % 64);
  else code_bits_[i / 64] &= ~(1ull << (i % 64));
}

bool BlockCache::collect_garbage() {
  if (graveyard_.empty()) return false;
  graveyard_.clear();  // invalidate() took them out of the jump cache
  return true;
}

}  // namespace janus::tcg
