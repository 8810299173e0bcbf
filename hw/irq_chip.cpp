#include "hw/irq_chip.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "hw/pc_layout.h"

namespace janus {

namespace {
constexpr unsigned kIsaIrqs = 16;
constexpr unsigned kPicCascadeIrq = 2;
}  // namespace

IrqChip::IrqChip(const Clock& clock, TimerQueue& timers, uint64_t tsc_hz)
    : clock_(clock),
      timers_(timers),
      lapic_(clock, timers, tsc_hz),
      ioapic_([this](const ApicMessage& m) { lapic_.receive(m); }) {
  catch_up_timer_ = timers_.add([this](uint64_t now) { send_waiting_periods(now); });
  pic_.set_output_hook([this](bool intr) { lapic_.set_lint(0, intr); });
  lapic_.set_change_hook([this] { notify_if_pending(); });
  lapic_.set_level_eoi_hook([this](uint8_t vector) { ioapic_.end_of_interrupt(vector); });
}

// The timer queue outlives the machine's devices; leave no callback pointing at a dead chip.
IrqChip::~IrqChip() { timers_.cancel(catch_up_timer_); }

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
  tick_backlog_ = {};
  timers_.cancel(catch_up_timer_);
}

void IrqChip::set_irq(unsigned gsi, bool level) {
  if (gsi >= layout::kIoApicPins || gsi == kPicCascadeIrq)
    throw std::invalid_argument("irqchip: GSI " + std::to_string(gsi) + " cannot be driven by a device");
  if (gsi < kIsaIrqs) pic_.set_irq(gsi, level);
  ioapic_.set_pin(ioapic_pin(gsi), level);
}

void IrqChip::pulse(unsigned gsi) {
  set_irq(gsi, true);
  set_irq(gsi, false);
}

bool IrqChip::reaches_cpu(unsigned gsi) const {
  if (!(ioapic_.redirection(ioapic_pin(gsi)) & IoApic::kMasked)) return true;
  if (gsi >= kIsaIrqs || !lapic_.passes_extint()) return false;
  const bool slave = gsi >= 8;
  if (pic_.imr(slave) >> (gsi & 7) & 1) return false;
  return !slave || !(pic_.imr(false) >> kPicCascadeIrq & 1);
}

bool IrqChip::edge_pending(unsigned gsi) const {
  const uint64_t entry = ioapic_.redirection(ioapic_pin(gsi));
  if (!(entry & IoApic::kMasked) && lapic_.irr_bit(uint8_t(entry & 0xff))) return true;
  return gsi < kIsaIrqs && (pic_.irr(gsi >= 8) >> (gsi & 7) & 1);
}

void IrqChip::timer_periods(unsigned gsi, uint64_t periods, uint64_t period_ns) {
  TickBacklog& backlog = tick_backlog_.at(gsi);
  // An edge that is neither waiting nor was taken got lost on the way (e.g. an APIC that was
  // software-disabled): nothing will report it taken, so stop waiting for that.
  if (backlog.in_flight && !edge_pending(gsi)) backlog.in_flight = false;
  if (!reaches_cpu(gsi)) {
    backlog = {};
    pulse(gsi);  // still latched in the PIC's IRR, as on hardware
    return;
  }
  if (periods == 0) return;
  const uint64_t now = clock_.now_ns();
  uint64_t late = periods - 1;
  if (!backlog.in_flight)
    send(gsi, now);
  else if (now - backlog.sent_ns < LateTimerPeriods::gap_ns(period_ns))
    ++late;  // the edge out was made up just now: the CPU had no chance to take it yet
  // Otherwise the period merges with the edge the guest left untaken, as on hardware.
  backlog.period_ns = period_ns;
  backlog.waiting = std::min(backlog.waiting + late, LateTimerPeriods::max_waiting(period_ns));
}

void IrqChip::drop_timer_periods(unsigned gsi) {
  tick_backlog_.at(gsi).waiting = 0;
  tick_backlog_[gsi].next_due_ns = kNever;
  arm_catch_up();
}

void IrqChip::taken(unsigned gsi) {
  TickBacklog& backlog = tick_backlog_[gsi];
  if (!backlog.in_flight) return;
  backlog.in_flight = false;
  if (!backlog.waiting) return;
  backlog.next_due_ns = clock_.now_ns() + LateTimerPeriods::gap_ns(backlog.period_ns);
  arm_catch_up();
}

void IrqChip::send_waiting_periods(uint64_t now_ns) {
  for (unsigned gsi = 0; gsi < tick_backlog_.size(); gsi++) {
    TickBacklog& backlog = tick_backlog_[gsi];
    if (backlog.next_due_ns > now_ns) continue;
    backlog.next_due_ns = kNever;  // taking this one schedules the next
    if (!backlog.waiting || backlog.in_flight) continue;
    --backlog.waiting;
    send(gsi, now_ns);
  }
  arm_catch_up();
}

void IrqChip::send(unsigned gsi, uint64_t now_ns) {
  tick_backlog_[gsi].in_flight = true;
  tick_backlog_[gsi].sent_ns = now_ns;
  pulse(gsi);
}

void IrqChip::arm_catch_up() {
  uint64_t due = kNever;
  for (const TickBacklog& backlog : tick_backlog_) due = std::min(due, backlog.next_due_ns);
  if (due == kNever)
    timers_.cancel(catch_up_timer_);
  else
    timers_.arm(catch_up_timer_, due);
}

void IrqChip::taken_through_ioapic(uint8_t vector) {
  for (unsigned gsi = 0; gsi < tick_backlog_.size(); gsi++) {
    if (!tick_backlog_[gsi].in_flight) continue;
    const uint64_t entry = ioapic_.redirection(ioapic_pin(gsi));
    if (!(entry & IoApic::kMasked) && uint8_t(entry & 0xff) == vector) taken(gsi);
  }
}

bool IrqChip::interrupt_pending() {
  return lapic_.has_interrupt() || (pic_.output() && lapic_.passes_extint());
}

int IrqChip::acknowledge_interrupt() {
  // The APIC's own vectors go first; the PIC answers through the ExtINT virtual wire.
  if (lapic_.has_interrupt()) {
    int vector = lapic_.acknowledge();
    if (vector >= 0) taken_through_ioapic(uint8_t(vector));
    return vector;
  }
  if (pic_.output() && lapic_.passes_extint()) {
    uint8_t vector = pic_.acknowledge();
    if (int irq = pic_.last_acknowledged_irq(); irq >= 0) taken(unsigned(irq));
    return vector;
  }
  return -1;
}

void IrqChip::notify_if_pending() {
  if (interrupt_raised_ && (interrupt_pending() || nmi_pending())) interrupt_raised_();
}

}  // namespace janus
