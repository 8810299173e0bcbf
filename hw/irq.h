// Interrupt wiring between devices and the interrupt controllers.
// Devices drive GSI lines; the IrqChip (PIC pair + IOAPIC + LAPIC) turns them into vectors.
#pragma once
#include <cstdint>

namespace janus {

class IrqSink {
 public:
  virtual ~IrqSink() = default;
  virtual void set_irq(unsigned gsi, bool level) = 0;
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
  unsigned gsi() const { return gsi_; }

 private:
  IrqSink* sink_ = nullptr;
  unsigned gsi_ = 0;
};

}  // namespace janus
