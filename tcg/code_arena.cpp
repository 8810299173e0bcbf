#include "tcg/code_arena.h"

#include <sys/mman.h>

namespace janus::tcg {

CodeChunk::CodeChunk(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  base_ = static_cast<uint8_t*>(p);
  size_ = size;
}

CodeChunk::~CodeChunk() {
  if (base_) munmap(base_, size_);
}

CodePlace CodeArena::allocate(size_t bytes) {
  bytes = (bytes + 15) & ~size_t(15);
  if (bytes > kChunkBytes) return {};
  if (!current_ || used_ + bytes > current_->size()) {
    auto chunk = std::make_shared<CodeChunk>(kChunkBytes);
    if (!chunk->ok()) return {};
    current_ = std::move(chunk);
    used_ = 0;
  }
  CodePlace place{current_, current_->base() + used_};
  used_ += bytes;
  return place;
}

}  // namespace janus::tcg
