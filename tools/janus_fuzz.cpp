// janus-fuzz: random integer-instruction guests run in cross mode (KVM leads, the software CPU
// follows); every divergence is shrunk to one instruction and its inputs. Reproducible:
// (--seed, case number) determines a case completely. See docs/cross-check.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "accel/cross/divergence_report.h"
#include "accel/cross/fuzz_runner.h"
#include "accel/cross/host_errata.h"
#include "accel/kvm/kvm_host_probe.h"
#include "cpu/guest_virtual_memory.h"

using namespace janus;
using namespace janus::cross;

namespace {

constexpr int kExitDivergence = 3, kExitTooFew = 4, kExitSkip = 77;

struct Args {
  uint64_t seed = 1, cases = 100, max_insns = 24, cpl0_max_insns = 6, min_instructions = 0;
  uint64_t inject_fault = 0;  // hidden, test only: see FuzzRunner::set_test_fault
  std::optional<uint64_t> only_case;
  std::vector<FuzzMode> modes;
  bool keep_going = false, quiet = false, stop_at_marker = true, cpuid = false, errata = true;
  std::string report;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "janus-fuzz: %s\n"
               "usage: janus-fuzz [--seed N] [--cases N] [--max-insns N] [--cpl0-max-insns N]\n"
               "                  [--modes 64-cpl3,32-cpl3,16-cpl3,64-cpl0,32-cpl0,16-cpl0] [--case I]\n"
               "                  [--keep-going] [--min-instructions N] [--report FILE.json] [--quiet]\n"
               "                  [--run-past-end]   (also run the final HLT: at CPL3 a #GP delivery)\n"
               "                  [--cpuid]          (also generate CPUID)\n"
               "                  [--no-errata]      (count divergences host errata explain as failures too)\n"
               "                  [--list-errata]    (print the host errata list with its evidence)\n",
               why.c_str());
  std::exit(1);
}

uint64_t number(const std::string& flag, const char* text) {
  char* end = nullptr;
  uint64_t v = std::strtoull(text, &end, 0);
  if (!*text || *end) usage(flag + ": '" + text + "' is not a number");
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(f + ": missing value");
      return argv[++i];
    };
    if (f == "--seed") a.seed = number(f, val());
    else if (f == "--cases") a.cases = number(f, val());
    else if (f == "--max-insns") a.max_insns = number(f, val());
    else if (f == "--cpl0-max-insns") a.cpl0_max_insns = number(f, val());
    else if (f == "--case") a.only_case = number(f, val());
    else if (f == "--min-instructions") a.min_instructions = number(f, val());
    else if (f == "--report") a.report = val();
    else if (f == "--inject-fault") a.inject_fault = number(f, val());
    else if (f == "--keep-going") a.keep_going = true;
    else if (f == "--quiet") a.quiet = true;
    else if (f == "--run-past-end") a.stop_at_marker = false;
    else if (f == "--cpuid") a.cpuid = true;
    else if (f == "--no-errata") a.errata = false;
    else if (f == "--list-errata") {
      for (const HostErratum& e : host_errata())
        std::printf("%s\n  what: %s\n  evidence: %s\n", e.name, e.what, e.evidence);
      std::exit(0);
    }
    else if (f == "--modes") {
      std::string list = val();
      size_t from = 0;
      while (from <= list.size()) {
        size_t comma = list.find(',', from);
        std::string name = list.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        FuzzMode m;
        if (!parse_mode(name, m)) usage("--modes: unknown mode '" + name + "'");
        a.modes.push_back(m);
        if (comma == std::string::npos) break;
        from = comma + 1;
      }
    } else if (f == "-h" || f == "--help") usage("help");
    else usage("unknown option '" + f + "'");
  }
  if (a.modes.empty())
    for (int m = 0; m < kFuzzModes; ++m) a.modes.push_back(FuzzMode(m));
  if (a.max_insns == 0 || a.max_insns > 200) usage("--max-insns: 1..200");
  return a;
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// The inputs of a one-instruction case: registers, flags, and the bytes a memory operand reads.
std::string describe_inputs(const FuzzCase& c) {
  static const char* const kGpr[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                     "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  std::string s = "  inputs:";
  int n = 0;
  for (int r = 0; r < (code_bits(c.mode) == 64 ? 16 : 8); ++r) {
    s += std::string(n++ % 4 == 0 ? "\n    " : "  ") + kGpr[r] + "=" + hex(c.initial.gpr[r]);
  }
  s += "\n    rflags=" + hex(c.initial.rflags) + "\n    data at [rbx-0x80 .. rbx+0x87] (guest-physical " +
       hex(fuzz_layout::kData + fuzz_layout::kDataPointer - 0x80) + "):";
  for (int i = 0; i < 0x108; ++i) {
    if (i % 32 == 0) s += "\n     ";
    char b[4];
    std::snprintf(b, sizeof b, " %02x", c.data[fuzz_layout::kDataPointer - 0x80 + i]);
    s += b;
  }
  return s + "\n";
}

std::string signature(const Divergence& d) {
  std::string s = d.insn.disassembly.substr(0, d.insn.disassembly.find(' ')) + "|" + std::to_string(d.cpl) + "|" +
                  std::to_string(d.insn.code_bits);
  for (const FieldDiff& f : d.fields) s += "|" + f.field;
  if (d.memory) s += "|memory";
  if (!d.io.empty()) s += "|io";
  if (!d.exits.empty()) s += "|exits";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  KvmHostInfo host = probe_kvm_host();
  if (!host.usable) {
    std::fprintf(stderr, "KVM NOT AVAILABLE: %s -- janus-fuzz needs KVM as the oracle; SKIPPING\n", host.reason.c_str());
    return kExitSkip;
  }
  try {
    FuzzRunner runner;
    FuzzFeatures features = FuzzFeatures::from(runner.cpuid());
    features.cpuid = a.cpuid;
    features.daa_aaa_aas = host.runs_kernel_mode_natively;
    runner.set_test_fault(a.inject_fault);
    runner.set_explain_host_errata(a.errata);
    std::set<std::string> seen;
    std::map<std::string, uint64_t> explained, per_signature;
    uint64_t compared = 0, divergences = 0, leader_failures = 0, cases_run = 0;
    std::map<std::string, uint64_t> per_mode;
    bool report_written = false;
    const auto start = std::chrono::steady_clock::now();
    const uint64_t first = a.only_case.value_or(0), last = a.only_case ? *a.only_case + 1 : a.cases;
    for (uint64_t i = first; i < last; ++i) {
      FuzzMode mode = a.modes[i % a.modes.size()];
      unsigned n = unsigned(is_cpl3(mode) ? a.max_insns : std::min(a.max_insns, a.cpl0_max_insns));
      FuzzCase c = generate_case(a.seed, i, mode, n, features);
      FuzzOutcome o = runner.run(c, a.stop_at_marker);
      ++cases_run;
      compared += o.instructions;
      per_mode[mode_name(mode)] += o.instructions;
      for (auto& [name, n] : o.explained) explained[name] += n;
      if (o.kind == FuzzOutcome::Kind::kLeaderFailed) {
        // The host's KVM could not run it (e.g. its CPL0 emulator lacks an instruction): not a
        // software-CPU bug, and nothing to compare against.
        if (leader_failures++ < 3 && !a.quiet)
          std::fprintf(stderr, "janus-fuzz: case %llu (%s): KVM failed, skipped: %s\n",
                       static_cast<unsigned long long>(i), mode_name(mode), o.detail.c_str());
        continue;
      }
      if (o.kind != FuzzOutcome::Kind::kDiverged) continue;
      ++divergences;
      ShrunkCase small = runner.shrink(c, *o.divergence);
      Divergence d = *small.outcome.divergence;
      disassemble(d);
      std::string sig = signature(d);
      ++per_signature[sig];
      if (seen.insert(sig).second || !a.keep_going) {
        std::fprintf(stderr, "\n=== case %llu (%s), seed %llu: divergence at instruction %llu of %u%s\n",
                     static_cast<unsigned long long>(i), mode_name(mode), static_cast<unsigned long long>(a.seed),
                     static_cast<unsigned long long>(o.divergence->step), c.instructions,
                     small.single_instruction ? "; shrunk to one instruction:" : " (did not shrink to one instruction):");
        if (!small.culprit.empty()) {
          ExecutedInsn e;
          e.rip = small.culprit_rip;
          e.code_bits = uint8_t(code_bits(mode));
          e.cpl = is_cpl3(mode) ? 3 : 0;
          e.length = uint8_t(std::min<size_t>(15, small.culprit.size()));
          std::copy(small.culprit.begin(), small.culprit.begin() + e.length, e.bytes.begin());
          Divergence tmp;
          tmp.insn = e;
          disassemble(tmp);
          std::fprintf(stderr, "  CULPRIT (the shortest diverging prefix ends with it): rip %s  %s  %s\n",
                       hex(e.rip).c_str(), instruction_hex(e).c_str(), tmp.insn.disassembly.c_str());
        }
        std::fputs(format_text(d).c_str(), stderr);
        if (small.single_instruction) std::fputs(describe_inputs(small.c).c_str(), stderr);
        std::fprintf(stderr, "  reproduce: janus-fuzz --seed %llu --case %llu --modes %s --max-insns %llu --cpl0-max-insns %llu\n",
                     static_cast<unsigned long long>(a.seed), static_cast<unsigned long long>(i),
                     [&] { std::string m; for (FuzzMode x : a.modes) m += std::string(m.empty() ? "" : ",") + mode_name(x); return m; }().c_str(),
                     static_cast<unsigned long long>(a.max_insns), static_cast<unsigned long long>(a.cpl0_max_insns));
        if (!a.report.empty() && !report_written) {
          std::ofstream(a.report) << format_json(d);
          report_written = true;
        }
      }
      if (!a.keep_going) break;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "janus-fuzz: seed %llu, %llu cases, %llu instructions compared in %.1f s (%.0f/s); ",
                 static_cast<unsigned long long>(a.seed), static_cast<unsigned long long>(cases_run),
                 static_cast<unsigned long long>(compared), secs, compared / std::max(secs, 1e-9));
    uint64_t explained_total = 0;
    for (auto& [name, n] : explained) explained_total += n;
    std::fprintf(stderr, "%llu unexplained diverging cases (%zu distinct), %llu explained by host errata, %llu skipped (host KVM limitations)\n",
                 static_cast<unsigned long long>(divergences), seen.size(), static_cast<unsigned long long>(explained_total),
                 static_cast<unsigned long long>(leader_failures));
    for (auto& [name, n] : explained)
      std::fprintf(stderr, "  explained (host erratum: %s): %llu\n", name.c_str(), static_cast<unsigned long long>(n));
    for (auto& [sig, n] : per_signature)
      std::fprintf(stderr, "  DIVERGENCE %-60s %llu cases\n", sig.c_str(), static_cast<unsigned long long>(n));
    if (!a.quiet)
      for (auto& [m, n] : per_mode) std::fprintf(stderr, "  %-8s %llu instructions\n", m.c_str(), static_cast<unsigned long long>(n));
    if (divergences) return kExitDivergence;
    if (compared < a.min_instructions) {
      std::fprintf(stderr, "janus-fuzz: only %llu instructions compared, fewer than --min-instructions %llu\n",
                   static_cast<unsigned long long>(compared), static_cast<unsigned long long>(a.min_instructions));
      return kExitTooFew;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "janus-fuzz: %s\n", e.what());
    return 1;
  }
}
