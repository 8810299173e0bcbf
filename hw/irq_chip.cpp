#include "hw/irq_chip.h"

#include <stdexcept>
#include <string>

#include "hw/pc_layout.h"

namespace janus {

namespace {
constexpr unsigned kIsaIrqs = 16;
constexpr unsigned kPicCascadeIrq = 2;
}  // namespace

IrqChip::IrqChip(const Clock& clock, TimerQueue& timers, uint64_t tsc_hz)
    : lapic_(clock, timers, tsc_hz), ioapic_([this](const ApicMessage& m) { lapic_.receive(m); }) {
  pic_.set_output_hook([this](bool intr) { lapic_.set_lint(0, intr); });
  lapic_.set_change_hook([this] { notify_if_pending(); });
  lapic_.set_level_eoi_hook([this](uint8_t vector) { ioapic_.end_of_interrupt(vector); });
}

void IrqChip::attach(IoBus& pio, IoBus& mmio) {
  pio.map(layout::kPortPicMaster, 2, pic_.master_ports(), "pic-master");
  pio.map(layout::kPortPicSlave, 2, pic_.slave_ports(), "pic-slave");
  pio.map(layout::kPortPicElcr, 2, pic_.elcr_ports(), "pic-elcr");
  mmio.map(layout::kIoApicBase, IoApic::kMmioSize, ioapic_, "ioapic");
  mmio.map(layout::kLapicBase, Lapic::kMmioSize, lapic_, "lapic");
}

void IrqChip::reset() {
  pic_.reset();
  ioapic_.reset();
  lapic_.reset();
}

void IrqChip::set_irq(unsigned gsi, bool level) {
  if (gsi >= layout::kIoApicPins || gsi == kPicCascadeIrq)
    throw std::invalid_argument("irqchip: GSI " + std::to_string(gsi) + " cannot be driven by a device");
  if (gsi < kIsaIrqs) pic_.set_irq(gsi, level);
  ioapic_.set_pin(ioapic_pin(gsi), level);
}

bool IrqChip::interrupt_pending() {
  return lapic_.has_interrupt() || (pic_.output() && lapic_.passes_extint());
}

int IrqChip::acknowledge_interrupt() {
  // The APIC's own vectors go first; the PIC answers through the ExtINT virtual wire.
  if (lapic_.has_interrupt()) return lapic_.acknowledge();
  if (pic_.output() && lapic_.passes_extint()) return pic_.acknowledge();
  return -1;
}

void IrqChip::notify_if_pending() {
  if (interrupt_raised_ && (interrupt_pending() || nmi_pending())) interrupt_raised_();
}

}  // namespace janus
