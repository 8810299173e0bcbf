// janus: parse the command line, build the PC, load the guest, run it on the chosen backend.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/accel_select.h"
#include "app/cross_run.h"
#include "app/options.h"
#include "app/stats_report.h"
#include "app/terminal.h"
#include "app/vcpu_loop.h"
#include "accel/kvm/kvm_host_probe.h"
#include "cpu/cpuid.h"
#include "hw/boot/boot_loader.h"
#include "hw/clock.h"
#include "hw/pc_machine.h"

using namespace janus;

namespace {

// Routes terminal input to whichever machine is current (a reset builds a new one).
class InputRouter {
 public:
  void attach(PcMachine* m) { std::lock_guard lock(mutex_); machine_ = m; }
  void deliver(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    if (machine_) machine_->post_serial_input(bytes);
  }
  void quit() {
    std::lock_guard lock(mutex_);
    if (machine_) machine_->request_stop({StopRequest::Kind::kQuit, 0});
  }

 private:
  std::mutex mutex_;
  PcMachine* machine_ = nullptr;
};

int run(const Options& opts) {
  AccelSelection sel = select_accelerator(opts.accel);
  if (opts.accel == AccelChoice::kAuto)
    std::fprintf(stderr, "janus: using %s: %s\n", sel.choice == AccelChoice::kKvm ? "kvm" : "tcg", sel.reason.c_str());

  BootConfig boot{opts.bios, opts.kernel, opts.initrd, opts.append};
  std::unique_ptr<Terminal> terminal;
  InputRouter input;
  uint64_t guest_tsc_hz = kDefaultGuestTscHz;  // what the CPUID template says; see below
  // kvm_pvm shows guests the host's CPUID leaf 1 (XSAVE) and leaf 0xD whatever KVM_SET_CPUID2
  // says, and its emulator cannot run XRSTOR at CPL0. A max basic leaf of 0xD or more makes Linux
  // use XSAVE, so there the CPU model stops at leaf 0xC (no TSC leaves: Linux then calibrates
  // the TSC against the ACPI PM timer).
  const bool kvm_pvm = sel.choice == AccelChoice::kKvm && !probe_kvm_host().runs_kernel_mode_natively;
  auto cpu_model = [kvm_pvm](uint64_t tsc_hz) {
    CpuidTable t = janus_cpuid_template(tsc_hz);
    if (kvm_pvm) cap_max_basic_leaf(t, 0xc);
    return t;
  };
  for (;;) {
    std::unique_ptr<Accelerator> accel = sel.choice == AccelChoice::kCross ? make_cross_accelerator(opts)
                                                                           : make_accelerator(sel.choice, cpu_model(guest_tsc_hz));
    // CPUID leaves 0x15/0x16 tell the guest its TSC rate, which only the backend knows (software
    // CPU: 2 GHz, the template's default; KVM: the host's). If the first backend's rate differs
    // from the template's, build it again from a template that states it (once per run).
    if (sel.choice != AccelChoice::kCross && !kvm_pvm && accel->tsc_hz() && accel->tsc_hz() != guest_tsc_hz) {
      guest_tsc_hz = accel->tsc_hz();
      accel.reset();
      accel = make_accelerator(sel.choice, cpu_model(guest_tsc_hz));
    }
    HostClock clock;
    PcMachineConfig cfg;
    cfg.ram_bytes = opts.ram_bytes;
    cfg.tsc_hz = accel->tsc_hz();
    if (opts.serial == SerialTarget::kStdio)
      cfg.serial_output = [&terminal](uint8_t byte) { if (terminal) terminal->write(byte); };
    if (opts.debug_exit) cfg.debug_exit = std::make_pair(opts.debug_exit->iobase, opts.debug_exit->iosize);
    PcMachine machine(cfg, clock);
    CpuState initial = load_guest(machine.memory(), boot);
    if (opts.boot_timer)
      machine.set_boot_timer_callback([](uint64_t ns) {
        std::fprintf(stderr, "janus: guest boot time %.1f ms\n", double(ns) / 1e6);
      });
    accel->map_memory(machine.memory());
    VcpuContext ctx{machine.memory(), machine, machine.interrupts(), accel->cpuid(), clock};
    std::unique_ptr<Vcpu> vcpu = accel->create_vcpu(0, ctx);
    vcpu->set_state(initial);

    // Everything that can fail on bad input has been checked: now take over the terminal.
    if (!terminal && opts.serial == SerialTarget::kStdio)
      terminal = std::make_unique<Terminal>([&input](std::span<const uint8_t> b) { input.deliver(b); },
                                            [&input] { input.quit(); });
    input.attach(&machine);
    const auto started = std::chrono::steady_clock::now();
    LoopResult result = run_vcpu_loop(machine, *vcpu);
    const std::chrono::duration<double> ran = std::chrono::steady_clock::now() - started;
    input.attach(nullptr);
    if (std::optional<int> status = finish_cross_run(opts, *vcpu, result)) {
      terminal.reset();
      return *status;
    }
    if (opts.stats && (result.kind != LoopResult::Kind::kReset || opts.no_reboot)) {  // the VM ends
      terminal.reset();
      print_vcpu_stats(*vcpu, ran.count());
    }

    switch (result.kind) {
      case LoopResult::Kind::kReset:
        if (opts.no_reboot) return 0;
        continue;
      case LoopResult::Kind::kError:
        terminal.reset();
        std::fprintf(stderr, "janus: %s\n", result.message.c_str());
        return 1;
      case LoopResult::Kind::kExit:
        if (!result.message.empty()) {
          terminal.reset();
          std::fprintf(stderr, "janus: %s\n", result.message.c_str());
        }
        return result.exit_status;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill the VM mid-write
  try {
    Options opts = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (opts.show_help) {
      std::fputs(usage_text().c_str(), stdout);
      return 0;
    }
    if (opts.show_version) {
      std::printf("janus %s\n", JANUS_VERSION);
      return 0;
    }
    if (opts.display == DisplayKind::kSdl)
      throw std::invalid_argument("-display sdl: the SDL window is not built yet (use -display none or -nographic)");
    return run(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "janus: %s\n", e.what());
    return 1;
  }
}
