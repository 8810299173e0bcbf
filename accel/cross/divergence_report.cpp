#include "accel/cross/divergence_report.h"

#include <cstdio>

#include "tcg/capstone_disassembler.h"
#include "tcg/x86_decoder.h"

namespace janus::cross {

namespace {

tcg::CodeSize code_size(const ExecutedInsn& e) {
  return e.code_bits == 64 ? tcg::CodeSize::k64 : e.code_bits == 32 ? tcg::CodeSize::k32 : tcg::CodeSize::k16;
}

unsigned insn_length(const ExecutedInsn& e) {
  tcg::DecodedInsn d = tcg::decode_x86(std::span<const uint8_t>(e.bytes.data(), e.length), code_size(e));
  return d.status == tcg::DecodeStatus::kOk ? d.length : e.length;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string bytes_hex(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%s%02x", s.empty() ? "" : " ", x);
    s += buf;
  }
  return s;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += c;
  }
  return out + "\"";
}

std::string insn_line(const ExecutedInsn& e) {
  char head[96];
  std::snprintf(head, sizeof head, "#%-10llu %04x:%016llx (linear 0x%llx) CPL%u %2u-bit  ",
                static_cast<unsigned long long>(e.step), e.cs, static_cast<unsigned long long>(e.rip),
                static_cast<unsigned long long>(e.linear_rip), e.cpl, e.code_bits);
  std::string hexs = instruction_hex(e);
  hexs.resize(std::max<size_t>(hexs.size(), 30), ' ');
  return head + hexs + "  " + e.disassembly;
}

std::string insn_json(const ExecutedInsn& e) {
  return "{\"step\": " + std::to_string(e.step) + ", \"cs\": " + json_string(hex(e.cs)) + ", \"rip\": " +
         json_string(hex(e.rip)) + ", \"linear\": " + json_string(hex(e.linear_rip)) + ", \"cpl\": " +
         std::to_string(e.cpl) + ", \"bits\": " + std::to_string(e.code_bits) + ", \"bytes\": " +
         json_string(instruction_hex(e)) + ", \"disassembly\": " + json_string(e.disassembly) + "}";
}

}  // namespace

std::string instruction_hex(const ExecutedInsn& e) {
  return bytes_hex(std::vector<uint8_t>(e.bytes.begin(), e.bytes.begin() + insn_length(e)));
}

void disassemble(Divergence& d) {
  tcg::CapstoneDisassembler cs;
  auto one = [&](ExecutedInsn& e) {
    tcg::CapstoneView v = cs.disassemble(std::span<const uint8_t>(e.bytes.data(), insn_length(e)), code_size(e), e.rip);
    e.disassembly = !v.valid ? "(not decodable)" : v.operands.empty() ? v.mnemonic : v.mnemonic + " " + v.operands;
  };
  one(d.insn);
  for (ExecutedInsn& e : d.history) one(e);
}

std::string format_text(const Divergence& d) {
  std::string s = "cross-check: DIVERGENCE at instruction " + std::to_string(d.step) + "\n";
  s += "  instruction: " + insn_line(d.insn) + "\n";
  s += "  mode: " + d.mode + ", CPL " + std::to_string(d.cpl) + "\n";
  s += "  leader (KVM) executed it " + d.leader_execution + "\n";
  if (!d.stretch.empty()) s += "  note: " + d.stretch + "\n";
  if (!d.state_note.empty()) s += "  note: " + d.state_note + "\n";
  if (!d.fields.empty()) {
    s += "  differing fields (leader = KVM, follower = software CPU):\n";
    for (const FieldDiff& f : d.fields) {
      char line[256];
      std::snprintf(line, sizeof line, "    %-26s leader %-20s follower %s\n", f.field.c_str(), f.leader.c_str(), f.follower.c_str());
      s += line;
    }
  }
  if (d.memory) {
    s += "  guest memory differs at physical " + hex(d.memory->gpa) + " (" + d.memory_note + ")\n";
    s += "    leader:   " + bytes_hex(d.memory->leader) + "\n";
    s += "    follower: " + bytes_hex(d.memory->follower) + "\n";
  }
  if (!d.io.empty()) s += "  I/O or interrupts: " + d.io + "\n";
  if (!d.exits.empty()) s += "  exits: " + d.exits + "\n";
  s += "  last " + std::to_string(d.history.size()) + " instructions (oldest first):\n";
  for (const ExecutedInsn& e : d.history) s += "    " + insn_line(e) + "\n";
  return s;
}

std::string format_json(const Divergence& d) {
  std::string s = "{\n  \"result\": \"divergence\",\n  \"step\": " + std::to_string(d.step) + ",\n";
  s += "  \"instruction\": " + insn_json(d.insn) + ",\n";
  s += "  \"mode\": " + json_string(d.mode) + ",\n  \"cpl\": " + std::to_string(d.cpl) + ",\n";
  s += "  \"leader_execution\": " + json_string(d.leader_execution) + ",\n";
  s += "  \"stretch\": " + json_string(d.stretch) + ",\n";
  s += "  \"state_note\": " + json_string(d.state_note) + ",\n";
  s += "  \"fields\": [";
  for (size_t i = 0; i < d.fields.size(); ++i)
    s += std::string(i ? ",\n    " : "\n    ") + "{\"field\": " + json_string(d.fields[i].field) + ", \"leader\": " +
         json_string(d.fields[i].leader) + ", \"follower\": " + json_string(d.fields[i].follower) + "}";
  s += d.fields.empty() ? "],\n" : "\n  ],\n";
  if (d.memory)
    s += "  \"memory\": {\"gpa\": " + json_string(hex(d.memory->gpa)) + ", \"leader\": " + json_string(bytes_hex(d.memory->leader)) +
         ", \"follower\": " + json_string(bytes_hex(d.memory->follower)) + ", \"note\": " + json_string(d.memory_note) + "},\n";
  else
    s += "  \"memory\": null,\n";
  s += "  \"io\": " + json_string(d.io) + ",\n  \"exits\": " + json_string(d.exits) + ",\n";
  s += "  \"history\": [";
  for (size_t i = 0; i < d.history.size(); ++i) s += std::string(i ? ",\n    " : "\n    ") + insn_json(d.history[i]);
  s += "\n  ]\n}\n";
  return s;
}

}  // namespace janus::cross
