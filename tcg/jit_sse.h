// The LLVM tier's inline SSE: the instructions string and memory functions run all the time
// (moves, integer compares and arithmetic, bitwise ops, unpacks, shuffles, PMOVMSKB, MOVD/MOVQ,
// and the scalar compares and integer conversions of floating-point code)
// become vector IR on the XMM registers in TcgCpu, instead of one h_sse call each.
// The inline code is a fast path only: when SSE is not enabled (CR0.EM/TS, CR4.OSFXSR), the
// memory operand misses the TLB, crosses a page or breaks the 16-byte alignment rule, the
// instruction calls h_sse as the interpreter does, which raises the fault.
// Nothing inlined reads or writes MXCSR: scalar conversions and compares are inline only for
// operands that raise no exception (no flag to set); floating-point arithmetic stays with h_sse.
#pragma once
#include <functional>

#include "tcg/helpers_sse.h"
#include "tcg/jit_emitter.h"

namespace janus::tcg {

// Whether lower_sse has inline code for `in` (in code of this kind: 64-bit or not).
bool sse_inlinable(const SseInsn& in, bool code64);

// Emits `in` (operands as h_sse takes them: a = memory offset, b = general-purpose source):
// the fast path, and `call_helper` on the other path. Returns h_sse's result value.
llvm::Value* lower_sse(JitEmitter& e, const SseInsn& in, llvm::Value* a, llvm::Value* b,
                       const std::function<llvm::Value*()>& call_helper);

}  // namespace janus::tcg
