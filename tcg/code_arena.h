// Executable memory for the baseline compiler's code: chunks mapped read-write-execute, handed out
// by a bump pointer. A chunk is unmapped when the arena has moved on from it and the last code in
// it is gone (each piece of code holds its chunk).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace janus::tcg {

class CodeChunk {
 public:
  explicit CodeChunk(size_t size);
  ~CodeChunk();
  CodeChunk(const CodeChunk&) = delete;
  CodeChunk& operator=(const CodeChunk&) = delete;
  bool ok() const { return base_ != nullptr; }
  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

// Where one piece of code lives; keeps its chunk mapped.
struct CodePlace {
  std::shared_ptr<CodeChunk> chunk;
  uint8_t* at = nullptr;  // null: no memory
};

class CodeArena {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;
  // `bytes` of executable memory (at most kChunkBytes), 16-aligned.
  CodePlace allocate(size_t bytes);

 private:
  std::shared_ptr<CodeChunk> current_;
  size_t used_ = 0;
};

}  // namespace janus::tcg
