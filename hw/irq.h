// Interrupt wiring between devices and the interrupt controllers.
// Devices drive GSI lines; the IrqChip (PIC pair + IOAPIC + LAPIC) turns them into vectors.
#pragma once
#include <algorithm>
#include <cstdint>

namespace janus {

// Periodic timers whose periods the machine loop ran late past (the emulated CPU is slower
// than hardware, and its thread can be descheduled) deliver each period as its own interrupt
// instead of merging them, because a guest whose clock is a tick count (Linux's jiffies before
// its tick goes one-shot) would fall behind the TSC. The periods waiting come one at a time,
// the next a quarter period after the CPU took the previous one: four times the programmed
// rate at most, and the guest runs in between, so a loop counting ticks sees each one. At most
// one second's worth waits; after a longer host stall the rest is dropped. A period that finds
// the previous interrupt left untaken by the guest still merges with it, as on hardware.
struct LateTimerPeriods {
  static constexpr uint64_t kMaxBacklogNs = 1'000'000'000;
  static constexpr uint64_t kSpeedup = 4;
  static uint64_t max_waiting(uint64_t period_ns) { return std::max<uint64_t>(1, kMaxBacklogNs / period_ns); }
  static uint64_t gap_ns(uint64_t period_ns) { return std::max<uint64_t>(1, period_ns / kSpeedup); }
};

class IrqSink {
 public:
  virtual ~IrqSink() = default;
  virtual void set_irq(unsigned gsi, bool level) = 0;
  // A periodic timer of period_ns on an edge-triggered line: `periods` more periods have ended
  // since its last call (more than one when the machine loop ran it late). A sink that can,
  // delivers each as its own interrupt (LateTimerPeriods). By default they merge into one edge,
  // as on a bare wire.
  virtual void timer_periods(unsigned gsi, uint64_t periods, uint64_t period_ns) {
    set_irq(gsi, true);
    set_irq(gsi, false);
  }
  // The timer was reprogrammed: periods still waiting from timer_periods() are dropped.
  virtual void drop_timer_periods(unsigned gsi) {}
};

// One interrupt line as a device holds it.
class IrqLine {
 public:
  IrqLine() = default;
  IrqLine(IrqSink* sink, unsigned gsi) : sink_(sink), gsi_(gsi) {}
  void set(bool level) { if (sink_) sink_->set_irq(gsi_, level); }
  void raise() { set(true); }
  void lower() { set(false); }
  void pulse() { set(true); set(false); }  // edge-triggered ISA devices (PIT, RTC)
  void timer_periods(uint64_t periods, uint64_t period_ns) {
    if (sink_) sink_->timer_periods(gsi_, periods, period_ns);
  }
  void drop_timer_periods() { if (sink_) sink_->drop_timer_periods(gsi_); }
  unsigned gsi() const { return gsi_; }

 private:
  IrqSink* sink_ = nullptr;
  unsigned gsi_ = 0;
};

}  // namespace janus
