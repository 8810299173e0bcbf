// -accel cross from the command line: build the cross-check backend, and when the VM loop ends,
// report the first divergence (exit status 3) or how many instructions agreed.
#pragma once
#include <memory>
#include <optional>

#include "accel/vcpu.h"
#include "app/options.h"
#include "app/vcpu_loop.h"

namespace janus {

constexpr int kCrossDivergenceStatus = 3;

std::unique_ptr<Accelerator> make_cross_accelerator(const Options& opts);

// For a cross-check vCPU: prints the report (and writes -cross-report). Returns the exit status
// when the run must end here (3 on a divergence, 0 at the -cross-limit), nullopt to let the
// caller finish as usual.
std::optional<int> finish_cross_run(const Options& opts, Vcpu& vcpu, const LoopResult& result);

}  // namespace janus
