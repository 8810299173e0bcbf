#include "tcg/jit_emitter.h"

#include <llvm/IR/MDBuilder.h>

#include "cpu/cpu_state.h"
#include "tcg/soft_mmu.h"
#include "tcg/x86_decoder.h"

namespace janus::tcg {

JitEmitter::JitEmitter(llvm::Module& module, const JitLayout& layout, uint32_t mode)
    : ctx_(module.getContext()), module_(module), layout_(layout), b_(module.getContext()) {
  i1_ = b_.getInt1Ty();
  i8_ = b_.getInt8Ty();
  i32_ = b_.getInt32Ty();
  i64_ = b_.getInt64Ty();
  ptr_ = b_.getPtrTy();
  llvm::MDBuilder md(ctx_);
  llvm::MDNode* root = md.createTBAARoot("janus");
  // Guest memory and the CPU structure never overlap: stores to one keep values of the other.
  llvm::MDNode* cpu_type = md.createTBAAScalarTypeNode("tcg cpu", root);
  llvm::MDNode* mem_type = md.createTBAAScalarTypeNode("guest memory", root);
  tbaa_cpu_ = md.createTBAAStructTagNode(cpu_type, cpu_type, 0);
  tbaa_mem_ = md.createTBAAStructTagNode(mem_type, mem_type, 0);
  likely_ = md.createLikelyBranchWeights();
  unlikely_ = md.createUnlikelyBranchWeights();
  code64_ = (mode & 3) == uint32_t(CodeSize::k64);
  user_ = ((mode >> 6) & 3) == 3;
}

void JitEmitter::branch_likely(llvm::Value* cond, llvm::BasicBlock* yes, llvm::BasicBlock* no) {
  b_.CreateCondBr(cond, yes, no, likely_);
}

void JitEmitter::branch_unlikely(llvm::Value* cond, llvm::BasicBlock* yes, llvm::BasicBlock* no) {
  b_.CreateCondBr(cond, yes, no, unlikely_);
}

void JitEmitter::store_cpu(llvm::Value* v, size_t offset) {
  llvm::StoreInst* s = b_.CreateStore(v, field(offset));
  s->setMetadata(llvm::LLVMContext::MD_tbaa, tbaa_cpu_);
}

llvm::Value* JitEmitter::load_at(llvm::Type* type, llvm::Value* base, size_t offset) {
  llvm::LoadInst* l = b_.CreateLoad(type, b_.CreateConstInBoundsGEP1_64(i8_, base, offset));
  l->setMetadata(llvm::LLVMContext::MD_tbaa, tbaa_cpu_);
  return l;
}

llvm::Value* JitEmitter::load_guest(llvm::Type* type, llvm::Value* host) {
  llvm::LoadInst* l = b_.CreateAlignedLoad(type, host, llvm::MaybeAlign(1));
  l->setMetadata(llvm::LLVMContext::MD_tbaa, tbaa_mem_);
  return l;
}

void JitEmitter::store_guest(llvm::Value* v, llvm::Value* host) {
  llvm::StoreInst* s = b_.CreateAlignedStore(v, host, llvm::MaybeAlign(1));
  s->setMetadata(llvm::LLVMContext::MD_tbaa, tbaa_mem_);
}

JitEmitter::TlbProbe JitEmitter::probe_tlb(llvm::Value* offset, unsigned seg, unsigned size, bool write) {
  TlbProbe p;
  p.linear = offset;
  if (seg == FS || seg == GS) p.linear = b_.CreateAdd(offset, load_cpu(i64_, seg == FS ? layout_.seg_base_fs : layout_.seg_base_gs));
  llvm::Value* page = b_.CreateAnd(p.linear, ~0xfffull);
  llvm::Value* index = b_.CreateAnd(b_.CreateLShr(p.linear, 12), SoftMmu::kTlbSize - 1);
  const size_t table = layout_.mmu + layout_.tlb.table[user_ ? 1 : 0];
  // A shift: the entries are 64 bytes.
  llvm::Value* entry = b_.CreateInBoundsGEP(i8_, field(table), b_.CreateMul(index, b_.getInt64(layout_.tlb.entry_bytes)));
  // The tag is compared with the page of the last byte: an access that crosses into the next
  // page misses. (Armed data breakpoints leave no fast tags: SoftMmu::set_fast_data.)
  llvm::Value* last_page = size > 1 ? b_.CreateAnd(b_.CreateAdd(p.linear, b_.getInt64(size - 1)), ~0xfffull) : page;
  p.hit = b_.CreateICmpEQ(load_at(i64_, entry, write ? layout_.tlb.tag_write : layout_.tlb.tag_read), last_page);
  p.host = b_.CreateIntToPtr(b_.CreateAdd(p.linear, load_at(i64_, entry, layout_.tlb.addend)), ptr_);
  return p;
}

}  // namespace janus::tcg
