// What every part of a block's lowering to LLVM IR builds with: the IR builder, the compiled
// function and its TcgCpu argument, the field offsets (JitLayout), type shorthands, the TBAA tags
// that keep guest memory apart from the CPU structure, and the inline TLB probe.
// tcg/jit_lowering.cpp lowers the IR; tcg/jit_sse.cpp inlines the common SSE instructions.
#pragma once
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "tcg/jit_lowering.h"

namespace janus::tcg {

struct JitEmitter {
  JitEmitter(llvm::Module& module, const JitLayout& layout, uint32_t mode);

  llvm::BasicBlock* new_block(const char* name) { return llvm::BasicBlock::Create(ctx_, name, fn_); }
  llvm::Value* address_of(void* p) { return llvm::ConstantExpr::getIntToPtr(b_.getInt64(reinterpret_cast<uint64_t>(p)), ptr_); }
  // A conditional branch whose condition is almost always true (likely) or false (unlikely): the
  // code generator lays the rare side (slow paths, faults, exits to the run loop) out of line.
  void branch_likely(llvm::Value* cond, llvm::BasicBlock* yes, llvm::BasicBlock* no);
  void branch_unlikely(llvm::Value* cond, llvm::BasicBlock* yes, llvm::BasicBlock* no);
  llvm::Value* field(size_t offset) { return b_.CreateConstInBoundsGEP1_64(i8_, cpu_, offset); }
  // Loads and stores of TcgCpu fields (the TBAA tag says: not guest memory).
  llvm::Value* load_cpu(llvm::Type* type, size_t offset) { return load_at(type, cpu_, offset); }
  void store_cpu(llvm::Value* v, size_t offset);
  llvm::Value* load_at(llvm::Type* type, llvm::Value* base, size_t offset);
  // A load or store of guest memory at a host address from a TLB probe.
  llvm::Value* load_guest(llvm::Type* type, llvm::Value* host);
  void store_guest(llvm::Value* v, llvm::Value* host);

  // The inline TLB lookup for [seg:offset, +size) in 64-bit code (linear = offset, plus the FS/GS
  // base): `hit` says the access may go straight to `host` (a fast tag for the page, within one
  // page, no data breakpoints). Emits no branch; `host` is meaningless when `hit` is false.
  struct TlbProbe {
    llvm::Value* linear;
    llvm::Value* hit;
    llvm::Value* host;
  };
  TlbProbe probe_tlb(llvm::Value* offset, unsigned seg, unsigned size, bool write);

  llvm::LLVMContext& ctx_;
  llvm::Module& module_;
  const JitLayout& layout_;
  llvm::IRBuilder<> b_;
  llvm::Type *i1_, *i8_, *i32_, *i64_;
  llvm::PointerType* ptr_;
  llvm::MDNode *tbaa_cpu_, *tbaa_mem_;
  llvm::MDNode *likely_, *unlikely_;  // branch weights
  llvm::Function* fn_ = nullptr;
  llvm::Value* cpu_ = nullptr;
  bool code64_ = false;  // 64-bit code (the mode)
  bool user_ = false;    // CPL 3: the user TLB
};

}  // namespace janus::tcg
