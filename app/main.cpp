// janus: parse the command line, build the PC, load the guest, run it on the chosen backend.
#include <csignal>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/accel_select.h"
#include "app/options.h"
#include "app/terminal.h"
#include "app/vcpu_loop.h"
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
  for (;;) {
    std::unique_ptr<Accelerator> accel = make_accelerator(sel.choice, janus_cpuid_template());
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
    LoopResult result = run_vcpu_loop(machine, *vcpu);
    input.attach(nullptr);

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
