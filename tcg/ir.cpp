#include "tcg/ir.h"

#include <cstdio>

namespace janus::tcg {

namespace {
const char* name(Opc o) {
  static const char* const kNames[] = {"insn", "const", "getreg", "setreg", "add", "sub", "and", "or", "xor",
                                       "shl", "shr", "sar", "mul", "not", "neg", "zext", "sext", "cmp", "select",
                                       "load", "store", "setflags", "setflags_if", "cond", "getcf", "call",
                                       "jmp", "branch", "jmp_indirect", "exit"};
  return kNames[static_cast<int>(o)];
}
}  // namespace

std::string IrBlock::to_string() const {
  std::string out;
  char line[160];
  for (const Op& op : ops) {
    std::snprintf(line, sizeof line, "%-12s size=%u seg=%u d=%d a=%d b=%d c=%d imm=%#llx imm2=%#llx\n", name(op.opc),
                  op.size, op.seg, op.d == kNoTemp ? -1 : op.d, op.a == kNoTemp ? -1 : op.a,
                  op.b == kNoTemp ? -1 : op.b, op.c == kNoTemp ? -1 : op.c, (unsigned long long)op.imm,
                  (unsigned long long)op.imm2);
    out += line;
  }
  return out;
}

}  // namespace janus::tcg
