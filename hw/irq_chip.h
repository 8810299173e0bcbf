// The PC's interrupt controllers, fully in userspace: the 8259 pair, the IOAPIC and the LAPIC of
// the one CPU, wired as a PC whose ACPI MADT declares the standard override (ISA IRQ0 -> IOAPIC
// pin 2). Devices raise lines through IrqSink; a vCPU asks InterruptSource which vector to take.
// The same object serves the software CPU and KVM without an in-kernel irqchip.
#pragma once
#include <cstdint>
#include <functional>

#include "accel/vcpu.h"
#include "hw/clock.h"
#include "hw/io_bus.h"
#include "hw/ioapic.h"
#include "hw/irq.h"
#include "hw/lapic.h"
#include "hw/pic8259.h"

namespace janus {

class IrqChip final : public IrqSink, public InterruptSource {
 public:
  IrqChip(const Clock& clock, TimerQueue& timers, uint64_t tsc_hz);
  IrqChip(const IrqChip&) = delete;
  IrqChip& operator=(const IrqChip&) = delete;

  // Maps the PIC ports (0x20, 0xa0, 0x4d0) on pio and the IOAPIC and LAPIC pages on mmio.
  void attach(IoBus& pio, IoBus& mmio);
  // Machine reset: every controller back to its power-on state.
  void reset();

  // Called whenever an interrupt or NMI may have become deliverable, so the machine loop can
  // wake a halted CPU or kick a running vCPU. Runs on the thread that changed the state.
  void set_interrupt_raised_hook(std::function<void()> hook) { interrupt_raised_ = std::move(hook); }

  // IrqSink. gsi 0-15 are ISA IRQs: each drives PIC input gsi and IOAPIC pin gsi, except IRQ0
  // (the PIT) which drives IOAPIC pin 2. 16-23 reach the IOAPIC only. IRQ 2 is the PIC cascade
  // and, like numbers past 23, a wiring error (std::invalid_argument).
  void set_irq(unsigned gsi, bool level) override;

  // InterruptSource.
  bool interrupt_pending() override;
  int acknowledge_interrupt() override;
  bool nmi_pending() override { return lapic_.nmi_pending(); }
  void acknowledge_nmi() override { lapic_.acknowledge_nmi(); }
  uint64_t cr8() override { return lapic_.cr8(); }
  void set_cr8(uint64_t value) override { lapic_.set_cr8(value); }
  uint64_t tsc_deadline() override { return lapic_.tsc_deadline(); }
  void set_tsc_deadline(uint64_t tsc) override { lapic_.set_tsc_deadline(tsc); }

  // The IOAPIC input a GSI drives (IRQ0 -> 2).
  static unsigned ioapic_pin(unsigned gsi) { return gsi == 0 ? 2 : gsi; }

  Pic8259& pic() { return pic_; }
  IoApic& ioapic() { return ioapic_; }
  Lapic& lapic() { return lapic_; }

 private:
  void notify_if_pending();

  Lapic lapic_;
  Pic8259 pic_;
  IoApic ioapic_;
  std::function<void()> interrupt_raised_;
};

}  // namespace janus
