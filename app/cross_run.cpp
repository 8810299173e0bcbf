#include "app/cross_run.h"

#include <cstdio>
#include <fstream>

#include "accel/cross/cross_accelerator.h"
#include "accel/cross/divergence_report.h"
#include "cpu/cpuid.h"

namespace janus {

namespace {

void write_report(const std::string& path, const std::string& json) {
  if (path.empty()) return;
  std::ofstream out(path);
  out << json;
  if (!out) std::fprintf(stderr, "janus: cannot write cross-check report %s\n", path.c_str());
}

}  // namespace

std::unique_ptr<Accelerator> make_cross_accelerator(const Options& opts) {
  cross::CrossOptions o;
  o.inject_fault_at = opts.cross_inject_fault;
  o.limit = opts.cross_limit;
  return std::make_unique<cross::CrossAccelerator>(janus_cpuid_template(), o);
}

std::optional<int> finish_cross_run(const Options& opts, Vcpu& vcpu, const LoopResult& result) {
  auto* cv = dynamic_cast<cross::CrossVcpu*>(&vcpu);
  if (!cv) return std::nullopt;
  cross::CrossChecker& checker = cv->checker();
  checker.check_all_memory();  // stores only the leader made show up here
  if (checker.divergence()) {
    cross::Divergence d = *checker.divergence();
    cross::disassemble(d);
    std::fputs(cross::format_text(d).c_str(), stderr);
    write_report(opts.cross_report, cross::format_json(d));
    return kCrossDivergenceStatus;
  }
  const double secs = cv->seconds_running();
  const uint64_t n = checker.instructions();
  const double rate = secs > 0 ? double(n) / secs : 0;
  // -cross-limit ends the run like an error would (the vCPU loop has no other way out); it is not one.
  const bool limited = cv->limit_reached();
  std::fprintf(stderr, "cross-check: %llu instructions compared in %.2f s (%.0f instructions/s), no divergence%s\n",
               static_cast<unsigned long long>(n), secs, rate,
               limited ? " (-cross-limit reached)"
               : result.kind == LoopResult::Kind::kError ? " before the error below" : "");
  // Steps a listed host erratum explained (accel/cross/host_errata.h): not divergences, but shown.
  for (const auto& [name, count] : checker.explained()) {
    const cross::ExecutedInsn& first = checker.first_explained().at(name);
    std::fprintf(stderr, "  explained (host erratum: %s): %llu, first at instruction %llu (rip 0x%llx)\n", name.c_str(),
                 static_cast<unsigned long long>(count), static_cast<unsigned long long>(first.step),
                 static_cast<unsigned long long>(first.rip));
  }
  char json[256];
  std::snprintf(json, sizeof json, "{\n  \"result\": \"agree\",\n  \"instructions\": %llu,\n  \"seconds\": %.3f,\n  \"rate\": %.0f,\n  \"limit_reached\": %s\n}\n",
                static_cast<unsigned long long>(n), secs, rate, limited ? "true" : "false");
  write_report(opts.cross_report, json);
  if (limited) return 0;
  return std::nullopt;
}

}  // namespace janus
