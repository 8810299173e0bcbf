// The baseline compiler's x86-64 encoder: each form, with the operands whose encodings are
// special (RSP/R12 bases need a SIB byte, RBP/R13 a displacement, SPL..DIL a REX prefix, 16-bit
// operands a 66 prefix), checked against Capstone's reading of the bytes.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "tcg/capstone_disassembler.h"
#include "tcg/x64_assembler.h"

namespace janus::tcg {
namespace {

using namespace x64;

struct Case {
  std::function<void(Assembler&)> emit;
  std::string text;  // Capstone's "mnemonic operands"
};

TEST(X64Assembler, EncodesWhatCapstoneReads) {
  const Case cases[] = {
      {[](Assembler& a) { a.load(8, RAX, Mem{R12, 0x10}); }, "mov rax, qword ptr [r12 + 0x10]"},
      {[](Assembler& a) { a.load(8, R9, Mem{RSP, 0}); }, "mov r9, qword ptr [rsp]"},
      {[](Assembler& a) { a.load(8, RCX, Mem{R13, 0}); }, "mov rcx, qword ptr [r13]"},
      {[](Assembler& a) { a.load(8, RCX, Mem{RBP, -8}); }, "mov rcx, qword ptr [rbp - 8]"},
      {[](Assembler& a) { a.load(8, RDX, Mem{RBX, 0x12345}); }, "mov rdx, qword ptr [rbx + 0x12345]"},
      {[](Assembler& a) { a.load(4, RAX, Mem{RBX, 8}); }, "mov eax, dword ptr [rbx + 8]"},
      {[](Assembler& a) { a.load(2, RSI, Mem{R12, 0x80}); }, "movzx esi, word ptr [r12 + 0x80]"},
      {[](Assembler& a) { a.load(1, R8, Mem{RSI, 0}); }, "movzx r8d, byte ptr [rsi]"},
      {[](Assembler& a) { a.load_sx(1, RAX, Mem{RBX, 1}); }, "movsx rax, byte ptr [rbx + 1]"},
      {[](Assembler& a) { a.load_sx(2, RAX, Mem{RBX, 2}); }, "movsx rax, word ptr [rbx + 2]"},
      {[](Assembler& a) { a.load_sx(4, RAX, Mem{RBX, 4}); }, "movsxd rax, dword ptr [rbx + 4]"},
      {[](Assembler& a) { a.load(8, RAX, Mem{R12, 0x1000, RCX, 1}); }, "mov rax, qword ptr [r12 + rcx + 0x1000]"},
      {[](Assembler& a) { a.load(8, RAX, Mem{RBX, 0, R11, 8}); }, "mov rax, qword ptr [rbx + r11*8]"},
      {[](Assembler& a) { a.store(8, Mem{R12, 0x40}, RAX); }, "mov qword ptr [r12 + 0x40], rax"},
      {[](Assembler& a) { a.store(4, Mem{RBX, 0}, R10); }, "mov dword ptr [rbx], r10d"},
      {[](Assembler& a) { a.store(2, Mem{RSI, 0}, RAX); }, "mov word ptr [rsi], ax"},
      {[](Assembler& a) { a.store(1, Mem{RSI, 0}, RAX); }, "mov byte ptr [rsi], al"},
      {[](Assembler& a) { a.store(1, Mem{RBX, 9}, RSI); }, "mov byte ptr [rbx + 9], sil"},
      {[](Assembler& a) { a.store_imm(8, Mem{R12, 0x20}, -2); }, "mov qword ptr [r12 + 0x20], -2"},
      {[](Assembler& a) { a.store_imm(4, Mem{R12, 0x20}, 7); }, "mov dword ptr [r12 + 0x20], 7"},
      {[](Assembler& a) { a.store_imm(2, Mem{RBX, 0}, 0x1234); }, "mov word ptr [rbx], 0x1234"},
      {[](Assembler& a) { a.store_imm(1, Mem{RSP, 0}, 1); }, "mov byte ptr [rsp], 1"},
      {[](Assembler& a) { a.mov_imm(RAX, 5); }, "mov eax, 5"},
      {[](Assembler& a) { a.mov_imm(R9, 0xffffffffull); }, "mov r9d, 0xffffffff"},
      {[](Assembler& a) { a.mov_imm(RCX, ~0ull); }, "mov rcx, -1"},
      {[](Assembler& a) { a.mov_imm(RBX, 0x123456789abcull); }, "movabs rbx, 0x123456789abc"},
      {[](Assembler& a) { a.mov_imm(R12, 0x8000000000000000ull); }, "movabs r12, 0x8000000000000000"},
      {[](Assembler& a) { a.mov(RDI, R12); }, "mov rdi, r12"},
      {[](Assembler& a) { a.alu(Alu::kAdd, 8, RAX, Mem{RBX, 16}); }, "add rax, qword ptr [rbx + 0x10]"},
      {[](Assembler& a) { a.alu(Alu::kSub, 8, RAX, Mem{R12, 8}); }, "sub rax, qword ptr [r12 + 8]"},
      {[](Assembler& a) { a.alu(Alu::kAnd, 8, RAX, Mem{RBX, 0}); }, "and rax, qword ptr [rbx]"},
      {[](Assembler& a) { a.alu(Alu::kOr, 8, RAX, Mem{RBX, 0}); }, "or rax, qword ptr [rbx]"},
      {[](Assembler& a) { a.alu(Alu::kXor, 8, RAX, Mem{RBX, 0}); }, "xor rax, qword ptr [rbx]"},
      {[](Assembler& a) { a.alu(Alu::kCmp, 4, RAX, Mem{RBX, 0}); }, "cmp eax, dword ptr [rbx]"},
      {[](Assembler& a) { a.alu(Alu::kCmp, 2, RAX, Mem{RBX, 0}); }, "cmp ax, word ptr [rbx]"},
      {[](Assembler& a) { a.alu(Alu::kCmp, 1, RAX, Mem{RBX, 0}); }, "cmp al, byte ptr [rbx]"},
      {[](Assembler& a) { a.alu(Alu::kCmp, 8, RDX, Mem{R12, 0x10000, RCX, 1}); }, "cmp rdx, qword ptr [r12 + rcx + 0x10000]"},
      {[](Assembler& a) { a.alu(Alu::kAnd, 8, RAX, RDX); }, "and rax, rdx"},
      {[](Assembler& a) { a.alu(Alu::kAdd, 8, R8, R15); }, "add r8, r15"},
      {[](Assembler& a) { a.alu_imm(Alu::kAdd, 8, RSP, 24); }, "add rsp, 0x18"},
      {[](Assembler& a) { a.alu_imm(Alu::kSub, 8, RSP, 24); }, "sub rsp, 0x18"},
      {[](Assembler& a) { a.alu_imm(Alu::kAnd, 8, RDX, -4096); }, "and rdx, 0xfffffffffffff000"},
      {[](Assembler& a) { a.alu_imm(Alu::kAnd, 4, RCX, 1023); }, "and ecx, 0x3ff"},
      {[](Assembler& a) { a.alu_imm(Alu::kCmp, 4, RAX, 100000); }, "cmp eax, 0x186a0"},
      {[](Assembler& a) { a.alu_imm(Alu::kXor, 4, RAX, 1); }, "xor eax, 1"},
      {[](Assembler& a) { a.alu_imm(Alu::kCmp, 1, Mem{R12, 0x30}, 0); }, "cmp byte ptr [r12 + 0x30], 0"},
      {[](Assembler& a) { a.alu_imm(Alu::kCmp, 8, Mem{RBX, 8}, 0); }, "cmp qword ptr [rbx + 8], 0"},
      {[](Assembler& a) { a.alu_imm(Alu::kSub, 4, Mem{R12, 0x200}, 300); }, "sub dword ptr [r12 + 0x200], 0x12c"},
      {[](Assembler& a) { a.imul(RAX, Mem{RBX, 8}); }, "imul rax, qword ptr [rbx + 8]"},
      {[](Assembler& a) { a.shift(Shift::kShl, RAX, 56); }, "shl rax, 0x38"},
      {[](Assembler& a) { a.shift(Shift::kShr, RCX, 12); }, "shr rcx, 0xc"},
      {[](Assembler& a) { a.shift(Shift::kSar, RAX, 3); }, "sar rax, 3"},
      {[](Assembler& a) { a.shift_cl(Shift::kShl, RAX); }, "shl rax, cl"},
      {[](Assembler& a) { a.shift_cl(Shift::kSar, R10); }, "sar r10, cl"},
      {[](Assembler& a) { a.not_(RAX); }, "not rax"},
      {[](Assembler& a) { a.neg(R11); }, "neg r11"},
      {[](Assembler& a) { a.test(8, RAX, RAX); }, "test rax, rax"},
      {[](Assembler& a) { a.test(4, RDX, RDX); }, "test edx, edx"},
      {[](Assembler& a) { a.test(2, RAX, RAX); }, "test ax, ax"},
      {[](Assembler& a) { a.test(1, RSI, RSI); }, "test sil, sil"},
      {[](Assembler& a) { a.test_imm(4, RAX, 0x100); }, "test eax, 0x100"},
      {[](Assembler& a) { a.bt_imm(RAX, 31); }, "bt rax, 0x1f"},
      {[](Assembler& a) { a.setcc(kB, RAX); }, "setb al"},
      {[](Assembler& a) { a.setcc(kLE, RDI); }, "setle dil"},
      {[](Assembler& a) { a.movzx8(RAX, RAX); }, "movzx eax, al"},
      {[](Assembler& a) { a.zext(2, RAX); }, "movzx eax, ax"},
      {[](Assembler& a) { a.zext(4, RAX); }, "mov eax, eax"},
      {[](Assembler& a) { a.cmov(kNE, RAX, Mem{RBX, 8}); }, "cmovne rax, qword ptr [rbx + 8]"},
      {[](Assembler& a) { a.lea(RDX, Mem{RSI, 7}); }, "lea rdx, [rsi + 7]"},
      {[](Assembler& a) { a.call(RAX); }, "call rax"},
      {[](Assembler& a) { a.jmp(RCX); }, "jmp rcx"},
      {[](Assembler& a) { a.jmp(R11); }, "jmp r11"},
      {[](Assembler& a) { a.ret(); }, "ret "},
  };
  CapstoneDisassembler capstone;
  for (const Case& c : cases) {
    Assembler a;
    c.emit(a);
    const std::vector<uint8_t>& bytes = a.code();
    CapstoneView v = capstone.disassemble(bytes, CodeSize::k64);
    ASSERT_TRUE(v.valid) << c.text;
    EXPECT_EQ(v.mnemonic + " " + v.operands, c.text);
    EXPECT_EQ(v.length, bytes.size()) << c.text << ": one instruction, all of the bytes";
  }
}

// Forward labels are patched when bound; backward ones are known at the jump.
TEST(X64Assembler, LabelsResolveForwardAndBackward) {
  Assembler a;
  Label back, ahead;
  a.bind(back);
  a.ret();                 // 0: ret
  a.jcc(kNE, ahead);       // 1: jne +rel32 (6 bytes)
  a.jmp(back);             // 7: jmp rel32 (5 bytes) back to 0
  a.ret();                 // 12
  a.bind(ahead);           // 13
  const std::vector<uint8_t>& c = a.code();
  ASSERT_EQ(c.size(), 13u);
  CapstoneDisassembler capstone;
  CapstoneView jne = capstone.disassemble(std::span<const uint8_t>(c).subspan(1), CodeSize::k64, 1);
  EXPECT_EQ(jne.mnemonic + " " + jne.operands, "jne 0xd");
  CapstoneView jmp = capstone.disassemble(std::span<const uint8_t>(c).subspan(7), CodeSize::k64, 7);
  EXPECT_EQ(jmp.mnemonic + " " + jmp.operands, "jmp 0");
}

}  // namespace
}  // namespace janus::tcg
