// The backend boundary. A backend (KVM or the software CPU) executes guest instructions on the
// shared machine and returns only for what the machine loop must decide: a halt, a kick, a
// deadline, a shutdown, a finished single step, or an error. Port I/O and MMIO go straight to
// IoHandler, whichever backend executes them, so cross-check can interpose a recorder/replayer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"

namespace janus {

class GuestMemory;
class Clock;

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual uint64_t pio_read(uint16_t port, unsigned size) = 0;
  virtual void pio_write(uint16_t port, unsigned size, uint64_t value) = 0;
  virtual uint64_t mmio_read(uint64_t gpa, unsigned size) = 0;
  virtual void mmio_write(uint64_t gpa, unsigned size, uint64_t value) = 0;
};

// What a CPU asks of the interrupt controllers (for now: one CPU, its LAPIC and the PICs).
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  // An external interrupt (LAPIC or PIC via LINT0) is waiting, to be taken when RFLAGS.IF allows.
  virtual bool interrupt_pending() = 0;
  // The CPU accepts it: returns the vector (INTA cycle / LAPIC IRR->ISR), or -1 if it vanished.
  virtual int acknowledge_interrupt() = 0;
  virtual bool nmi_pending() { return false; }
  virtual void acknowledge_nmi() {}
  // CR8 is the LAPIC task priority (TPR[7:4]).
  virtual uint64_t cr8() = 0;
  virtual void set_cr8(uint64_t value) = 0;
  // IA32_TSC_DEADLINE lives in the LAPIC.
  virtual uint64_t tsc_deadline() { return 0; }
  virtual void set_tsc_deadline(uint64_t) {}
};

// Everything of the machine a vCPU needs, by reference.
struct VcpuContext {
  GuestMemory& memory;
  IoHandler& io;
  InterruptSource& interrupts;
  const CpuidTable& cpuid;
  const Clock& clock;
};

struct VcpuExit {
  enum class Reason {
    kHalted,      // HLT with nothing pending: the loop waits for an interrupt or a deadline
    kKicked,      // request_exit() or the deadline passed: the loop runs timers/events and re-enters
    kShutdown,    // triple fault: the machine resets (or exits with -no-reboot)
    kSingleStep,  // one instruction done with single-stepping on
    kFailed,      // the backend cannot continue: detail says why (with RIP, mode and bytes)
  };
  Reason reason = Reason::kKicked;
  std::string detail;
};

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  // Runs guest code until an exit; returns no later than shortly after deadline_ns on the
  // machine clock (kNever for none).
  virtual VcpuExit run(uint64_t deadline_ns) = 0;
  virtual CpuState get_state() = 0;
  virtual void set_state(const CpuState& state) = 0;
  // Thread-safe: makes a running or about-to-run run() return kKicked promptly.
  virtual void request_exit() = 0;
  virtual void set_single_step(bool on) = 0;
};

class Accelerator {
 public:
  virtual ~Accelerator() = default;
  virtual std::string name() const = 0;
  // Called once, after firmware and kernel are loaded and before the first vCPU is created.
  virtual void map_memory(GuestMemory& memory) = 0;
  virtual std::unique_ptr<Vcpu> create_vcpu(unsigned index, VcpuContext context) = 0;
  // The CPUID table guests of this backend see (the template, possibly intersected).
  virtual const CpuidTable& cpuid() const = 0;
  // The guest TSC frequency (Hz), so the LAPIC's TSC-deadline timer agrees with RDTSC.
  virtual uint64_t tsc_hz() const { return 0; }
};

}  // namespace janus
