// The PC's interrupt controllers, fully in userspace: the 8259 pair, the IOAPIC and the LAPIC of
// the one CPU, wired as a PC whose ACPI MADT declares the standard override (ISA IRQ0 -> IOAPIC
// pin 2). Devices raise lines through IrqSink; a vCPU asks InterruptSource which vector to take.
// The same object serves the software CPU and KVM without an in-kernel irqchip.
#pragma once
#include <array>
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
  ~IrqChip() override;
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
  // Periodic timer periods on an edge-triggered GSI (the PIT's IRQ0): the ones the machine
  // loop ran late past become interrupts of their own (LateTimerPeriods). One edge is sent; the
  // others wait, and the next goes out a quarter period after the CPU takes the previous one
  // (through the PIC or the IOAPIC), much as KVM's PIT reinjects lost ticks. A period that
  // finds the last edge untaken for a while merges with it, and while the GSI is masked
  // wherever it could reach the CPU periods are dropped, as on hardware.
  void timer_periods(unsigned gsi, uint64_t periods, uint64_t period_ns) override;
  void drop_timer_periods(unsigned gsi) override;
  uint64_t timer_periods_waiting(unsigned gsi) const { return tick_backlog_.at(gsi).waiting; }

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
  void pulse(unsigned gsi);
  bool reaches_cpu(unsigned gsi) const;   // unmasked on the PIC or IOAPIC path
  bool edge_pending(unsigned gsi) const;  // the last edge still waits in PIC or LAPIC IRR
  void taken(unsigned gsi);               // the CPU took an interrupt that came from gsi
  void taken_through_ioapic(uint8_t vector);
  void send(unsigned gsi, uint64_t now_ns);    // one timer edge
  void send_waiting_periods(uint64_t now_ns);  // the catch-up timer: the periods now due
  void arm_catch_up();

  // Per GSI: timer periods not yet delivered, and whether one edge is out and not yet taken.
  struct TickBacklog {
    uint64_t waiting = 0;
    uint64_t period_ns = 0;
    uint64_t next_due_ns = kNever;  // when the next waiting period goes out
    uint64_t sent_ns = 0;           // when the last edge went out
    bool in_flight = false;         // that edge is not taken yet
  };

  const Clock& clock_;
  TimerQueue& timers_;
  Lapic lapic_;
  Pic8259 pic_;
  IoApic ioapic_;
  std::array<TickBacklog, IoApic::kPins> tick_backlog_{};
  TimerQueue::TimerId catch_up_timer_;
  std::function<void()> interrupt_raised_;
};

}  // namespace janus
