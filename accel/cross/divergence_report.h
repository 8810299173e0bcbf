// The first divergence, for people (text on stderr) and for tools (-cross-report FILE.json).
#pragma once
#include <string>

#include "accel/cross/cross_checker.h"

namespace janus::cross {

// Fills in the Capstone disassembly of the instruction and its history.
void disassemble(Divergence& d);

std::string format_text(const Divergence& d);
std::string format_json(const Divergence& d);

// Hex bytes of the instruction: "48 01 c8" (only the decoded length when known).
std::string instruction_hex(const ExecutedInsn& e);

}  // namespace janus::cross
