#include "hw/lapic.h"

#include "hw/io_bus.h"

#include <algorithm>
#include <stdexcept>

namespace janus {

namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint32_t kLvtDeliveryModeShift = 8;
constexpr uint32_t kExtIntLint0 = uint32_t(ApicDeliveryMode::kExtInt) << kLvtDeliveryModeShift;
// Bits a guest may write in each LVT entry (delivery status and remote IRR are read-only).
constexpr uint32_t kLvtWritable[] = {
    0x000700ff,  // timer: vector, mask, timer mode
    0x000107ff,  // thermal: vector, delivery mode, mask
    0x000107ff,  // performance counters
    0x0001a7ff,  // LINT0: vector, delivery mode, polarity, trigger mode, mask
    0x0001a7ff,  // LINT1
    0x000100ff,  // error: vector, mask
};
constexpr uint32_t kIcrLowWritable = 0x000ccfff;  // vector, mode, dest mode, level, trigger, shorthand
constexpr uint32_t kSvrWritable = 0x3ff;          // vector, enable, focus (no EOI-broadcast suppression)
}  // namespace

Lapic::Lapic(const Clock& clock, TimerQueue& timers, uint64_t tsc_hz, uint8_t apic_id)
    : clock_(clock), timers_(timers), tsc_hz_(tsc_hz), reset_id_(apic_id) {
  if (tsc_hz == 0) throw std::invalid_argument("lapic: TSC frequency must not be zero");
  timer_id_ = timers_.add([this](uint64_t now) { on_timer(now); });
  catch_up_timer_id_ = timers_.add([this](uint64_t) { deliver_owed_expiry(); });
  reset();
}

// The timer queue outlives the machine's devices; leave no callback pointing at a dead APIC.
Lapic::~Lapic() {
  timers_.cancel(timer_id_);
  timers_.cancel(catch_up_timer_id_);
}

void Lapic::reset() {
  id_ = reset_id_;
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = 0xffffffff;
  svr_ = 0xff;
  esr_ = esr_pending_ = 0;
  icr_low_ = icr_high_ = 0;
  lvt_.fill(kLvtMasked);
  lvt_[kLint0] = kExtIntLint0;  // virtual wire: the PIC reaches the CPU from the first instruction
  irr_ = {};
  isr_ = {};
  tmr_ = {};
  nmi_pending_ = false;
  hw_enabled_ = true;
  timer_initial_ = 0;
  timer_divide_ = 0;
  timer_start_ns_ = 0;
  timer_running_ = false;
  timer_expiries_owed_ = 0;
  tsc_deadline_ = 0;
  timers_.cancel(timer_id_);
  timers_.cancel(catch_up_timer_id_);
}

// --- Interrupt state ---

int Lapic::highest(const Bits256& b) {
  for (int word = 7; word >= 0; --word)
    if (b[word]) return word * 32 + 31 - __builtin_clz(b[word]);
  return -1;
}

uint32_t Lapic::ppr() const {
  int in_service = highest(isr_);
  uint32_t isrv = in_service < 0 ? 0 : uint32_t(in_service);
  return (tpr_ >> 4) >= (isrv >> 4) ? (tpr_ & 0xff) : (isrv & 0xf0);
}

bool Lapic::has_interrupt() const {
  if (!hw_enabled_) return false;
  int vector = highest(irr_);
  return vector >= 0 && (uint32_t(vector) & 0xf0) > (ppr() & 0xf0);
}

int Lapic::acknowledge() {
  if (!has_interrupt()) return -1;
  uint8_t vector = uint8_t(highest(irr_));
  set(irr_, vector, false);
  set(isr_, vector, true);
  if (timer_expiries_owed_ && vector == (lvt_[kTimer] & 0xff)) {
    const uint64_t period = std::max(timer_period_ns(), kMinPeriodicNs);
    timers_.arm(catch_up_timer_id_, clock_.now_ns() + LateTimerPeriods::gap_ns(period));
  }
  return vector;
}

bool Lapic::passes_extint() const {
  if (!hw_enabled_) return true;  // without an APIC, LINT0 is the CPU's INTR pin
  uint32_t lint0 = lvt_[kLint0];
  return !(lint0 & kLvtMasked) && ((lint0 >> kLvtDeliveryModeShift) & 7) == uint32_t(ApicDeliveryMode::kExtInt);
}

void Lapic::accept(uint8_t vector, bool level_triggered) {
  // A disabled APIC drops fixed interrupts (as KVM does); they are not held for later.
  if (!enabled()) return;
  if (vector < 16) {
    raise_error(kEsrReceiveIllegalVector);
    return;
  }
  set(irr_, vector, true);
  set(tmr_, vector, level_triggered);
  changed();
}

void Lapic::deliver_nmi() {
  nmi_pending_ = true;
  changed();
}

bool Lapic::destination_matches(bool logical, uint8_t destination) const {
  if (destination == 0xff) return true;  // broadcast in every model
  if (!logical) return destination == id_;
  uint8_t logical_id = uint8_t(ldr_ >> 24);
  if ((dfr_ >> 28) == 0xf) return (logical_id & destination) != 0;  // flat model
  // Cluster model: high nibble selects the cluster, low nibble the members.
  return (destination >> 4) == (logical_id >> 4) && (destination & logical_id & 0xf) != 0;
}

bool Lapic::receive(const ApicMessage& message) {
  if (!destination_matches(message.logical_destination, message.destination)) return false;
  switch (message.mode) {
    case ApicDeliveryMode::kFixed:
    case ApicDeliveryMode::kLowestPriority:  // one CPU: it is always the lowest
      accept(message.vector, message.level_triggered);
      break;
    case ApicDeliveryMode::kNmi:
      deliver_nmi();
      break;
    // Not modelled for a single CPU without SMM: INIT/SIPI would (re)start other processors,
    // SMI needs SMM, and ExtINT through the IOAPIC duplicates the LINT0 virtual wire.
    case ApicDeliveryMode::kSmi:
    case ApicDeliveryMode::kInit:
    case ApicDeliveryMode::kStartup:
    case ApicDeliveryMode::kExtInt:
      break;
  }
  return true;
}

void Lapic::deliver_local(unsigned index) {
  uint32_t entry = lvt_[index];
  if (entry & kLvtMasked) return;
  auto mode = ApicDeliveryMode((entry >> kLvtDeliveryModeShift) & 7);
  if (index == kTimer || index == kError) mode = ApicDeliveryMode::kFixed;  // no mode field
  if (mode == ApicDeliveryMode::kFixed)
    accept(uint8_t(entry & 0xff), false);
  else if (mode == ApicDeliveryMode::kNmi)
    deliver_nmi();
  // ExtINT is answered by the PIC (passes_extint); SMI and INIT are not modelled.
}

void Lapic::set_lint(unsigned pin, bool level) {
  if (pin > 1) return;
  bool rising = level && !lint_level_[pin];
  bool changed_level = level != lint_level_[pin];
  lint_level_[pin] = level;
  if (!hw_enabled_) {  // LINT0 is INTR, LINT1 is NMI
    if (pin == 1 && rising) deliver_nmi();
    if (pin == 0 && changed_level) changed();
    return;
  }
  uint32_t entry = lvt_[kLint0 + pin];
  if (entry & kLvtMasked) return;
  auto mode = ApicDeliveryMode((entry >> kLvtDeliveryModeShift) & 7);
  if (mode == ApicDeliveryMode::kExtInt) {
    if (changed_level) changed();
  } else if (rising) {
    deliver_local(kLint0 + pin);
  }
}

void Lapic::raise_error(uint32_t esr_bit) {
  bool already = esr_pending_ & esr_bit;
  esr_pending_ |= esr_bit;
  // An error LVT with an illegal vector must not recurse forever.
  if (!already) deliver_local(kError);
}

void Lapic::end_of_interrupt() {
  int vector = highest(isr_);
  if (vector < 0) return;
  set(isr_, uint8_t(vector), false);
  if (test(tmr_, uint8_t(vector)) && level_eoi_hook_) level_eoi_hook_(uint8_t(vector));
  changed();
}

void Lapic::set_cr8(uint64_t value) {
  tpr_ = uint32_t(value & 0xf) << 4;
  changed();
}

void Lapic::set_hardware_enabled(bool enabled) {
  if (enabled == hw_enabled_) return;
  // Clearing IA32_APIC_BASE.EN returns the APIC to its power-up state.
  if (!enabled) reset();
  hw_enabled_ = enabled;
  changed();
}

void Lapic::changed() {
  if (change_hook_) change_hook_();
}

// --- Registers ---

uint64_t Lapic::read(uint64_t offset, unsigned size) {
  if (offset >= kMmioSize) return 0;
  unsigned within = offset & 0xf;
  if (within >= 4) return 0;  // each register is the first 32 bits of a 16-byte slot
  return (read_register(uint32_t(offset & 0xff0)) >> (8 * within)) & size_mask(size);
}

void Lapic::write(uint64_t offset, unsigned size, uint64_t value) {
  // xAPIC registers take aligned 32-bit writes; anything narrower or misaligned is dropped.
  if (offset >= kMmioSize || (offset & 0xf) != 0 || size < 4) return;
  write_register(uint32_t(offset), uint32_t(value));
}

uint32_t Lapic::read_register(uint32_t reg) {
  if (reg >= kRegIsr && reg < kRegIsr + 0x80) return isr_[(reg - kRegIsr) >> 4];
  if (reg >= kRegTmr && reg < kRegTmr + 0x80) return tmr_[(reg - kRegTmr) >> 4];
  if (reg >= kRegIrr && reg < kRegIrr + 0x80) return irr_[(reg - kRegIrr) >> 4];
  if (reg >= kRegLvtTimer && reg <= kRegLvtError) return lvt_[(reg - kRegLvtTimer) >> 4];
  switch (reg) {
    case kRegId: return uint32_t(id_) << 24;
    case kRegVersion: return kVersion;
    case kRegTpr: return tpr_;
    case kRegApr: return 0;  // arbitration only matters between several CPUs
    case kRegPpr: return ppr();
    case kRegEoi: return 0;  // write-only
    case kRegRrd: return 0;
    case kRegLdr: return ldr_;
    case kRegDfr: return dfr_;
    case kRegSvr: return svr_;
    case kRegEsr: return esr_;
    case kRegIcrLow: return icr_low_;  // delivery status always idle: IPIs are instantaneous
    case kRegIcrHigh: return icr_high_;
    case kRegTimerInitial: return timer_initial_;
    case kRegTimerCurrent: return timer_current_count();
    case kRegTimerDivide: return timer_divide_;
    default:
      raise_error(kEsrIllegalRegister);
      return 0;
  }
}

void Lapic::write_register(uint32_t reg, uint32_t value) {
  if (reg >= kRegLvtTimer && reg <= kRegLvtError) {
    write_lvt((reg - kRegLvtTimer) >> 4, value);
    return;
  }
  // Read-only registers ignore writes.
  if ((reg >= kRegIsr && reg < kRegIrr + 0x80) || reg == kRegVersion || reg == kRegApr ||
      reg == kRegPpr || reg == kRegRrd || reg == kRegTimerCurrent)
    return;
  switch (reg) {
    case kRegId: id_ = uint8_t(value >> 24); break;
    case kRegTpr:
      tpr_ = value & 0xff;
      changed();
      break;
    case kRegEoi: end_of_interrupt(); break;
    case kRegLdr: ldr_ = value & 0xff000000; break;
    case kRegDfr: dfr_ = value | 0x0fffffff; break;
    case kRegSvr: write_svr(value); break;
    case kRegEsr:  // a write latches the errors seen since the previous write
      esr_ = esr_pending_;
      esr_pending_ = 0;
      break;
    case kRegIcrLow:
      icr_low_ = value & kIcrLowWritable;
      send_ipi();
      break;
    case kRegIcrHigh: icr_high_ = value & 0xff000000; break;
    case kRegTimerInitial: write_timer_initial(value); break;
    case kRegTimerDivide: write_timer_divide(value & 0xb); break;
    default: raise_error(kEsrIllegalRegister); break;
  }
}

void Lapic::write_svr(uint32_t value) {
  svr_ = value & kSvrWritable;
  // Software-disabling masks every LVT entry; they stay masked until the guest rewrites them.
  if (!software_enabled()) {
    for (auto& entry : lvt_) entry |= kLvtMasked;
    timer_expiries_owed_ = 0;
  }
  changed();
}

void Lapic::write_lvt(unsigned index, uint32_t value) {
  value &= kLvtWritable[index];
  if (!software_enabled()) value |= kLvtMasked;  // cannot unmask while software disabled
  if (index != kTimer) {
    lvt_[index] = value;
    if (index == kLint0) changed();  // ExtINT pass-through may have opened or closed
    return;
  }
  TimerMode old_mode = timer_mode();
  uint32_t count = timer_current_count();
  lvt_[kTimer] = value;
  timer_expiries_owed_ = 0;  // owed to the old vector or mode; masked expiries are not made up
  TimerMode new_mode = timer_mode();
  if (old_mode == new_mode) return;
  if (old_mode == TimerMode::kTscDeadline || new_mode == TimerMode::kTscDeadline) {
    // Entering or leaving TSC-deadline mode disarms the timer.
    timer_initial_ = 0;
    timer_running_ = false;
    tsc_deadline_ = 0;
    timers_.cancel(timer_id_);
  } else {
    retime(count);  // one-shot <-> periodic: keep counting from the current value
  }
}

void Lapic::send_ipi() {
  auto mode = ApicDeliveryMode((icr_low_ >> kLvtDeliveryModeShift) & 7);
  uint8_t vector = uint8_t(icr_low_ & 0xff);
  bool logical = icr_low_ & (1u << 11);
  bool to_self = false;
  switch ((icr_low_ >> 18) & 3) {
    case 0: to_self = destination_matches(logical, uint8_t(icr_high_ >> 24)); break;
    case 1: to_self = true; break;   // self
    case 2: to_self = true; break;   // all including self
    case 3: to_self = false; break;  // all excluding self: there are no other CPUs
  }
  if ((mode == ApicDeliveryMode::kFixed || mode == ApicDeliveryMode::kLowestPriority) && vector < 16) {
    raise_error(kEsrSendIllegalVector);
    return;
  }
  // IPIs to other CPUs go nowhere: Janus has one CPU for now.
  if (!to_self) return;
  if (mode == ApicDeliveryMode::kFixed || mode == ApicDeliveryMode::kLowestPriority)
    accept(vector, false);
  else if (mode == ApicDeliveryMode::kNmi)
    deliver_nmi();
  // INIT, SIPI and SMI to ourselves are not modelled (no CPU reset through the APIC, no SMM).
}

// --- Timer ---

Lapic::TimerMode Lapic::timer_mode() const {
  switch ((lvt_[kTimer] >> 17) & 3) {
    case 1: return TimerMode::kPeriodic;
    case 2: return TimerMode::kTscDeadline;
    default: return TimerMode::kOneShot;  // 3 is reserved
  }
}

uint64_t Lapic::timer_divisor() const {
  // DCR bits 3,1,0: 000 = 2, 001 = 4, ... 110 = 128, 111 = 1.
  unsigned code = (timer_divide_ & 3) | ((timer_divide_ & 8) >> 1);
  return 1ull << ((code + 1) & 7);
}

uint32_t Lapic::timer_current_count() const {
  if (timer_mode() == TimerMode::kTscDeadline || !timer_running_ || timer_initial_ == 0) return 0;
  int64_t elapsed = int64_t(clock_.now_ns()) - timer_start_ns_;
  uint64_t ticks = elapsed < 0 ? 0 : uint64_t(elapsed) / timer_divisor();
  if (timer_mode() == TimerMode::kPeriodic) return uint32_t(timer_initial_ - ticks % timer_initial_);
  return ticks >= timer_initial_ ? 0 : uint32_t(timer_initial_ - ticks);
}

void Lapic::write_timer_initial(uint32_t value) {
  if (timer_mode() == TimerMode::kTscDeadline) return;  // ignored in TSC-deadline mode
  timer_initial_ = value;
  timer_expiries_owed_ = 0;  // a new count starts a new timeline
  if (value == 0) {
    timer_running_ = false;
    timers_.cancel(timer_id_);
    return;
  }
  uint64_t now = clock_.now_ns();
  timer_start_ns_ = int64_t(now);
  timer_running_ = true;
  uint64_t period = timer_period_ns();
  if (timer_mode() == TimerMode::kPeriodic) period = std::max(period, kMinPeriodicNs);
  timer_deadline_ns_ = now + period;
  timers_.arm(timer_id_, timer_deadline_ns_);
}

void Lapic::write_timer_divide(uint32_t value) {
  uint32_t count = timer_current_count();
  timer_divide_ = value;
  retime(count);
}

// Continues a running count at the current value under a new divisor or mode.
void Lapic::retime(uint32_t count) {
  if (!timer_running_ || timer_initial_ == 0) return;
  if (count == 0) return;  // a one-shot that already reached zero fires (or has fired) as armed
  uint64_t now = clock_.now_ns();
  timer_start_ns_ = int64_t(now) - int64_t(uint64_t(timer_initial_ - count) * timer_divisor());
  timer_deadline_ns_ = now + uint64_t(count) * timer_divisor();
  if (timer_mode() == TimerMode::kPeriodic) timer_deadline_ns_ = std::max(timer_deadline_ns_, now + kMinPeriodicNs);
  timers_.arm(timer_id_, timer_deadline_ns_);
}

void Lapic::on_timer(uint64_t now) {
  switch (timer_mode()) {
    case TimerMode::kOneShot:
      if (!timer_running_) return;
      timer_running_ = false;
      deliver_local(kTimer);
      break;
    case TimerMode::kPeriodic: {
      if (!timer_running_) return;
      // Re-arm on the original grid, counting the grid points the loop ran late past.
      uint64_t step = std::max(timer_period_ns(), kMinPeriodicNs);
      uint64_t expiries = 1 + (now > timer_deadline_ns_ ? (now - timer_deadline_ns_) / step : 0);
      timer_deadline_ns_ += expiries * step;
      timers_.arm(timer_id_, timer_deadline_ns_);
      deliver_periodic_expiries(expiries, step);
      break;
    }
    case TimerMode::kTscDeadline:
      if (tsc_deadline_ == 0) return;
      tsc_deadline_ = 0;
      deliver_local(kTimer);
      break;
  }
}

void Lapic::deliver_periodic_expiries(uint64_t expiries, uint64_t period_ns) {
  if ((lvt_[kTimer] & kLvtMasked) || !enabled()) return;  // dropped, as hardware drops them
  const uint64_t now = clock_.now_ns();
  uint64_t late = expiries - 1;
  if (!test(irr_, uint8_t(lvt_[kTimer] & 0xff)))
    deliver_timer(now);
  else if (now - timer_sent_ns_ < LateTimerPeriods::gap_ns(period_ns))
    ++late;  // the pending one was made up just now: the guest had no chance to take it yet
  // Otherwise the expiry merges with the one the guest left pending, as on hardware.
  timer_expiries_owed_ = std::min(timer_expiries_owed_ + late, LateTimerPeriods::max_waiting(period_ns));
}

void Lapic::deliver_owed_expiry() {
  // One still waiting in IRR (a fresh expiry): its acknowledge arms the next catch-up.
  if (!timer_expiries_owed_ || test(irr_, uint8_t(lvt_[kTimer] & 0xff))) return;
  --timer_expiries_owed_;
  deliver_timer(clock_.now_ns());
}

void Lapic::deliver_timer(uint64_t now_ns) {
  timer_sent_ns_ = now_ns;
  deliver_local(kTimer);
}

uint64_t Lapic::tsc_now() const {
  return uint64_t((unsigned __int128)clock_.now_ns() * tsc_hz_ / kNsPerSecond);
}

uint64_t Lapic::tsc_to_ns(uint64_t tsc) const {
  // Round up: the deadline is reached at the first nanosecond whose TSC is >= tsc.
  unsigned __int128 ns = ((unsigned __int128)tsc * kNsPerSecond + tsc_hz_ - 1) / tsc_hz_;
  return ns > kNever - 1 ? kNever - 1 : uint64_t(ns);
}

uint64_t Lapic::tsc_deadline() const {
  return timer_mode() == TimerMode::kTscDeadline ? tsc_deadline_ : 0;
}

void Lapic::set_tsc_deadline(uint64_t tsc) {
  if (timer_mode() != TimerMode::kTscDeadline) return;  // ignored in the other timer modes
  tsc_deadline_ = tsc;
  if (tsc == 0) {
    timers_.cancel(timer_id_);
    return;
  }
  uint64_t now = clock_.now_ns();
  uint64_t deadline = tsc_to_ns(tsc);
  if (deadline <= now) {
    timers_.cancel(timer_id_);
    on_timer(now);  // already passed: the interrupt is due now
  } else {
    timers_.arm(timer_id_, deadline);
  }
}

}  // namespace janus
