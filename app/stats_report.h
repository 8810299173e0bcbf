// -stats: one line on stderr with the backend's execution counters when the VM ends.
#pragma once
#include <string>

#include "accel/vcpu.h"

namespace janus {

// The line for a vCPU that ran guest code for `seconds` of wall time, e.g.
// "janus: stats: tcg 1234567890 instructions in 2.345 s (526.5 M/s), 1234 blocks translated, ..."
// Backends without counters (KVM) say so; the line always ends with a newline.
std::string vcpu_stats_line(const Vcpu& vcpu, double seconds);

// Writes vcpu_stats_line() to stderr.
void print_vcpu_stats(const Vcpu& vcpu, double seconds);

}  // namespace janus
