// Janus's x86 decoder against the known Capstone 4.0.2 errata. Each test runs Capstone on the same
// bytes to show what it reports, and pins what Janus decides (the Intel SDM behaviour).
#include <gtest/gtest.h>

#include <vector>

#include "cpu/cpu_state.h"
#include "tcg/capstone_disassembler.h"
#include "tcg/x86_decoder.h"

using namespace janus;
using namespace janus::tcg;

namespace {
DecodedInsn dec(std::vector<uint8_t> b, CodeSize s) { return decode_x86(b, s); }
CapstoneView cs(std::vector<uint8_t> b, CodeSize s) {
  CapstoneDisassembler d;
  return d.disassemble(b, s);
}
}  // namespace

TEST(TcgDecoder, RepMovswWithOperandSizePrefix) {
  // 66 f3 a5 in 32/64-bit code is REP MOVSW: 66 makes the operand 16-bit.
  auto c = cs({0x66, 0xf3, 0xa5}, CodeSize::k64);
  ASSERT_TRUE(c.valid);
  EXPECT_EQ(c.mnemonic, "rep movsd");  // Capstone's erratum
  for (CodeSize s : {CodeSize::k32, CodeSize::k64}) {
    auto d = dec({0x66, 0xf3, 0xa5}, s);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.length, 3);
    EXPECT_EQ(d.operand_size, 2);
    EXPECT_EQ(d.rep, 0xf3);
    EXPECT_EQ(d.opcode, 0xa5);
  }
}

TEST(TcgDecoder, NearJmpWithOperandSizePrefix) {
  std::vector<uint8_t> bytes = {0x66, 0xe9, 0x10, 0x20, 0x30, 0x40, 0x90, 0x90};
  auto c = cs(bytes, CodeSize::k64);
  ASSERT_TRUE(c.valid);
  EXPECT_EQ(c.length, 4u);  // Capstone takes rel16 in 64-bit code too
  auto d64 = dec(bytes, CodeSize::k64);
  ASSERT_EQ(d64.status, DecodeStatus::kOk);
  EXPECT_EQ(d64.length, 6);  // Intel ignores 66 on near JMP in 64-bit mode: rel32
  EXPECT_EQ(d64.operand_size, 8);
  EXPECT_EQ(d64.imm, 0x40302010u);
  auto d32 = dec(bytes, CodeSize::k32);
  ASSERT_EQ(d32.status, DecodeStatus::kOk);
  EXPECT_EQ(d32.length, 4);  // 32-bit code: rel16
  EXPECT_EQ(d32.operand_size, 2);
  EXPECT_EQ(d32.imm, 0x2010u);
}

TEST(TcgDecoder, XchgAxDiWithSegmentPrefix) {
  auto c = cs({0x66, 0x3e, 0x97}, CodeSize::k64);
  ASSERT_TRUE(c.valid);
  EXPECT_EQ(c.operands, "eax, di");  // Capstone mixes sizes
  auto d = dec({0x66, 0x3e, 0x97}, CodeSize::k64);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.length, 3);
  EXPECT_EQ(d.operand_size, 2);  // xchg ax, di
  EXPECT_EQ(d.opcode, 0x97);
  EXPECT_EQ(d.segment, kNoSegment);  // DS override ignored in 64-bit mode
}

TEST(TcgDecoder, LockWithRegisterDestinationIsUndefined) {
  auto d = dec({0xf0, 0x01, 0xc0}, CodeSize::k64);
  EXPECT_TRUE(d.lock);
  EXPECT_EQ(d.status, DecodeStatus::kInvalid);
  auto m = dec({0xf0, 0x01, 0x03}, CodeSize::k64);  // lock add [rbx], eax: fine
  EXPECT_EQ(m.status, DecodeStatus::kOk);
  auto nl = dec({0xf0, 0x8b, 0x03}, CodeSize::k64);  // lock mov: not lockable
  EXPECT_EQ(nl.status, DecodeStatus::kInvalid);
  auto cmp = dec({0xf0, 0x39, 0x03}, CodeSize::k32);  // lock cmp: not lockable
  EXPECT_EQ(cmp.status, DecodeStatus::kInvalid);
}

TEST(TcgDecoder, RetImm16WithRexW) {
  std::vector<uint8_t> bytes = {0x66, 0x48, 0xc2, 0x10, 0x00};
  EXPECT_FALSE(cs(bytes, CodeSize::k64).valid);  // Capstone rejects it
  auto d = dec(bytes, CodeSize::k64);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.length, 5);
  EXPECT_EQ(d.opcode, 0xc2);
  EXPECT_EQ(d.imm, 0x10u);
  EXPECT_EQ(d.operand_size, 8);
}

TEST(TcgDecoder, LockDetectedFromBytes) {
  // LOCK anywhere among the legacy prefixes counts; Janus reads it from the bytes.
  for (auto bytes : {std::vector<uint8_t>{0x66, 0xf0, 0x01, 0x03}, std::vector<uint8_t>{0x2e, 0xf0, 0x0f, 0xb1, 0x0b},
                     std::vector<uint8_t>{0xf0, 0x48, 0x0f, 0xc1, 0x03}}) {
    auto d = dec(bytes, CodeSize::k64);
    EXPECT_TRUE(d.lock);
    EXPECT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.length, bytes.size());
  }
}

TEST(TcgDecoder, RexOnlyImmediatelyBeforeOpcode) {
  // 48 66 89 c8: the REX is followed by a legacy prefix, so it is ignored: mov ax, cx.
  auto d = dec({0x48, 0x66, 0x89, 0xc8}, CodeSize::k64);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.rex, 0);
  EXPECT_EQ(d.operand_size, 2);
  auto e = dec({0x66, 0x48, 0x89, 0xc8}, CodeSize::k64);
  EXPECT_EQ(e.operand_size, 8);
}

TEST(TcgDecoder, LastSegmentOverrideWinsAndLengthLimit) {
  auto d = dec({0x26, 0x64, 0x8b, 0x03}, CodeSize::k32);
  EXPECT_EQ(d.segment, FS);
  auto e = dec({0x64, 0x26, 0x8b, 0x03}, CodeSize::k32);
  EXPECT_EQ(e.segment, ES);
  std::vector<uint8_t> longer(14, 0x66);
  longer.insert(longer.end(), {0x8b, 0x03});  // 16 bytes
  EXPECT_EQ(decode_x86(longer, CodeSize::k32).status, DecodeStatus::kTooLong);
  std::vector<uint8_t> fifteen(13, 0x66);
  fifteen.insert(fifteen.end(), {0x8b, 0x03});
  EXPECT_EQ(decode_x86(fifteen, CodeSize::k32).status, DecodeStatus::kOk);
}

TEST(TcgDecoder, LengthsOfCommonForms) {
  struct Case { std::vector<uint8_t> b; CodeSize s; unsigned len; };
  std::vector<Case> cases = {
      {{0x8b, 0x44, 0x24, 0x08}, CodeSize::k32, 4},                        // mov eax, [esp+8]
      {{0x8b, 0x05, 1, 2, 3, 4}, CodeSize::k64, 6},                        // mov eax, [rip+disp32]
      {{0x8b, 0x46, 0x02}, CodeSize::k16, 3},                              // mov ax, [bp+2]
      {{0x8b, 0x06, 0x34, 0x12}, CodeSize::k16, 4},                        // mov ax, [0x1234]
      {{0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, CodeSize::k64, 10},           // mov rax, imm64
      {{0xc7, 0x84, 0x24, 1, 0, 0, 0, 2, 0, 0, 0}, CodeSize::k64, 11},     // mov dword [rsp+1], 2
      {{0x0f, 0x22, 0xc0}, CodeSize::k32, 3},                              // mov cr0, eax
      {{0xf6, 0xc1, 0x01}, CodeSize::k32, 3},                              // test cl, 1
      {{0xf7, 0xd1}, CodeSize::k32, 2},                                    // not ecx
      {{0xea, 0x00, 0x10, 0x08, 0x00}, CodeSize::k16, 5},                  // jmp 0008:1000
      {{0x66, 0xea, 0, 0x10, 0, 0, 0x08, 0}, CodeSize::k16, 8},            // jmp dword 0008:00001000
      {{0xc8, 0x10, 0x00, 0x01}, CodeSize::k32, 4},                        // enter 16, 1
      {{0x0f, 0x3a, 0x0f, 0xc1, 0x08}, CodeSize::k64, 5},                  // palignr
  };
  for (const auto& c : cases) {
    auto d = decode_x86(c.b, c.s);
    EXPECT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.length, c.len) << "first byte " << int(c.b[0]);
    CapstoneDisassembler capstone;
    auto v = capstone.disassemble(c.b, c.s);
    if (v.valid) {
      EXPECT_EQ(v.length, c.len);  // agreement where Capstone is right
    }
  }
}
