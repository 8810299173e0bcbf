#include "app/vcpu_loop.h"

#include "cpu/cpu_state.h"

namespace janus {

namespace {

// A stop request from a device or the host becomes the loop's result, if there is one.
bool take_stop(PcMachine& machine, LoopResult& result) {
  StopRequest stop = machine.stop_request();
  switch (stop.kind) {
    case StopRequest::Kind::kNone: return false;
    case StopRequest::Kind::kReset: result = {LoopResult::Kind::kReset, 0, "guest requested a reset"}; return true;
    case StopRequest::Kind::kDebugExit: result = {LoopResult::Kind::kExit, stop.exit_status, ""}; return true;
    case StopRequest::Kind::kQuit: result = {LoopResult::Kind::kExit, 0, "quit from the terminal"}; return true;
    case StopRequest::Kind::kPowerOff: result = {LoopResult::Kind::kExit, 0, ""}; return true;  // ACPI S5: a normal end
  }
  return false;
}

}  // namespace

LoopResult run_vcpu_loop(PcMachine& machine, Vcpu& vcpu) {
  machine.set_kick([&vcpu] { vcpu.request_exit(); });
  machine.timers().set_earlier_deadline_listener([&vcpu] { vcpu.request_exit(); });
  struct Unkick {
    PcMachine& m;
    ~Unkick() {
      m.set_kick(nullptr);
      m.timers().set_earlier_deadline_listener(nullptr);
    }
  } unkick{machine};

  InterruptSource& interrupts = machine.interrupts();
  LoopResult result;
  for (;;) {
    machine.service(machine.clock().now_ns());
    if (take_stop(machine, result)) return result;

    uint64_t deadline = machine.timers().next_deadline();
    machine.timers().set_run_bound(deadline);
    VcpuExit exit = vcpu.run(deadline);
    machine.timers().set_run_bound(0);  // between runs, arming needs no kick
    switch (exit.reason) {
      case VcpuExit::Reason::kKicked:
      case VcpuExit::Reason::kSingleStep:
        break;
      case VcpuExit::Reason::kShutdown:
        return {LoopResult::Kind::kReset, 0, "guest triple fault (shutdown)"};
      case VcpuExit::Reason::kFailed:
        return {LoopResult::Kind::kError, 1, exit.detail};
      case VcpuExit::Reason::kHalted: {
        // HLT with interrupts disabled and nothing that could raise an NMI: the CPU is stopped
        // for good. Real hardware would sit there; ending the VM is what a user wants.
        if (!(vcpu.get_state().rflags & rflags::IF) && !interrupts.nmi_pending())
          return {LoopResult::Kind::kExit, 0, "guest halted with interrupts disabled"};
        while (!interrupts.interrupt_pending()) {
          machine.wait_for_event(machine.timers().next_deadline());
          machine.service(machine.clock().now_ns());
          if (take_stop(machine, result)) return result;
        }
        break;
      }
    }
  }
}

}  // namespace janus
