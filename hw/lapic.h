// The local APIC of the (single) CPU, in xAPIC mode: the 4 KiB register page at 0xfee00000.
// It holds the 256-bit IRR/ISR/TMR, task priority (CR8), end-of-interrupt, the six local
// vector table entries (timer, thermal, performance, LINT0, LINT1, error), self-IPIs and the
// APIC timer (one-shot, periodic, TSC-deadline). Fixed interrupts arrive from the IOAPIC as
// ApicMessage; the PIC's INTR arrives on LINT0, which passes it through in ExtINT mode.
#pragma once
#include <array>
#include <cstdint>
#include <functional>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/irq.h"

namespace janus {

// Delivery modes shared by the LVT, the ICR and IOAPIC redirection entries.
enum class ApicDeliveryMode : uint8_t {
  kFixed = 0, kLowestPriority = 1, kSmi = 2, kNmi = 4, kInit = 5, kStartup = 6, kExtInt = 7,
};

// One interrupt message on the APIC bus (from an IOAPIC redirection entry or an IPI).
struct ApicMessage {
  uint8_t vector = 0;
  ApicDeliveryMode mode = ApicDeliveryMode::kFixed;
  bool logical_destination = false;
  uint8_t destination = 0;  // APIC ID (physical) or logical mask (flat model)
  bool level_triggered = false;
};

class Lapic final : public IoDevice {
 public:
  // The timer counts bus clocks before the divide configuration. 1 GHz makes one bus clock one
  // nanosecond of Clock time, so counts convert to time without rounding.
  static constexpr uint64_t kBusHz = 1'000'000'000;
  // Version 0x14 (integrated APIC) with max LVT entry 5: six LVT entries.
  static constexpr uint32_t kVersion = 0x00050014;
  static constexpr uint64_t kMmioSize = 0x1000;
  // A periodic timer never fires more often than this, so a guest cannot flood the machine
  // loop with a 1-count period. Reading the current count still follows the programmed rate.
  static constexpr uint64_t kMinPeriodicNs = 50'000;

  // Register offsets in the MMIO page.
  enum Reg : uint32_t {
    kRegId = 0x20, kRegVersion = 0x30, kRegTpr = 0x80, kRegApr = 0x90, kRegPpr = 0xa0,
    kRegEoi = 0xb0, kRegRrd = 0xc0, kRegLdr = 0xd0, kRegDfr = 0xe0, kRegSvr = 0xf0,
    kRegIsr = 0x100, kRegTmr = 0x180, kRegIrr = 0x200, kRegEsr = 0x280,
    kRegIcrLow = 0x300, kRegIcrHigh = 0x310,
    kRegLvtTimer = 0x320, kRegLvtThermal = 0x330, kRegLvtPerf = 0x340, kRegLvtLint0 = 0x350,
    kRegLvtLint1 = 0x360, kRegLvtError = 0x370,
    kRegTimerInitial = 0x380, kRegTimerCurrent = 0x390, kRegTimerDivide = 0x3e0,
  };
  // LVT bits.
  static constexpr uint32_t kLvtMasked = 1u << 16;
  static constexpr uint32_t kLvtLevel = 1u << 15;
  static constexpr uint32_t kTimerPeriodic = 1u << 17;
  static constexpr uint32_t kTimerTscDeadline = 2u << 17;
  static constexpr uint32_t kSvrEnable = 1u << 8;
  // ESR bits.
  static constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
  static constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
  static constexpr uint32_t kEsrIllegalRegister = 1u << 7;

  // tsc_hz: the guest TSC rate; the guest TSC is Clock ns * tsc_hz / 1e9 (see tsc_now()).
  Lapic(const Clock& clock, TimerQueue& timers, uint64_t tsc_hz, uint8_t apic_id = 0);
  ~Lapic() override;
  Lapic(const Lapic&) = delete;
  Lapic& operator=(const Lapic&) = delete;

  // RESET state for the bootstrap processor: software disabled (SVR 0xff), every LVT masked
  // except LINT0 = ExtINT unmasked (virtual wire, so the PIC works before any APIC programming,
  // as PC firmware leaves it and KVM resets it).
  void reset();

  // MMIO register page (offset within the 4 KiB page).
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // An interrupt message for this APIC; returns false when the destination is not us.
  bool receive(const ApicMessage& message);
  // Sets IRR (and TMR for level-triggered) for a fixed interrupt. Vectors 0-15 are illegal.
  void accept(uint8_t vector, bool level_triggered);
  // The local interrupt pins: pin 0 = LINT0 (the PIC's INTR), pin 1 = LINT1.
  void set_lint(unsigned pin, bool level);

  // The highest pending vector outranks the processor priority.
  bool has_interrupt() const;
  // The CPU takes the interrupt: IRR -> ISR. Returns the vector, or -1 if nothing deliverable.
  int acknowledge();
  // LINT0 is programmed to pass the PIC through (ExtINT, unmasked) or the APIC is hardware
  // disabled (then LINT0 is the plain INTR pin).
  bool passes_extint() const;

  bool nmi_pending() const { return nmi_pending_; }
  void acknowledge_nmi() { nmi_pending_ = false; }

  // CR8 is TPR[7:4].
  uint64_t cr8() const { return tpr_ >> 4; }
  void set_cr8(uint64_t value);

  // IA32_TSC_DEADLINE: reads 0 and ignores writes unless the timer is in TSC-deadline mode.
  uint64_t tsc_deadline() const;
  void set_tsc_deadline(uint64_t tsc);
  uint64_t tsc_now() const;

  // IA32_APIC_BASE bit 11 (global enable). The base address is fixed at 0xfee00000.
  void set_hardware_enabled(bool enabled);
  bool hardware_enabled() const { return hw_enabled_; }
  bool software_enabled() const { return svr_ & kSvrEnable; }

  uint8_t id() const { return id_; }
  uint32_t tpr() const { return tpr_; }
  uint32_t ppr() const;
  uint32_t lvt(unsigned index) const { return lvt_.at(index); }
  uint32_t timer_current_count() const;
  uint64_t timer_expiries_owed() const { return timer_expiries_owed_; }
  bool irr_bit(uint8_t vector) const { return test(irr_, vector); }
  bool isr_bit(uint8_t vector) const { return test(isr_, vector); }
  bool tmr_bit(uint8_t vector) const { return test(tmr_, vector); }

  // Called when something may have become deliverable (new IRR bit, EOI, lower TPR, NMI).
  void set_change_hook(std::function<void()> hook) { change_hook_ = std::move(hook); }
  // Called on EOI of a level-triggered vector (the IOAPIC clears its remote IRR).
  void set_level_eoi_hook(std::function<void(uint8_t vector)> hook) { level_eoi_hook_ = std::move(hook); }

 private:
  using Bits256 = std::array<uint32_t, 8>;
  enum LvtIndex : unsigned { kTimer, kThermal, kPerf, kLint0, kLint1, kError, kLvtCount };
  enum class TimerMode { kOneShot, kPeriodic, kTscDeadline };

  static bool test(const Bits256& b, uint8_t v) { return b[v >> 5] >> (v & 31) & 1; }
  static void set(Bits256& b, uint8_t v, bool on) {
    if (on) b[v >> 5] |= 1u << (v & 31); else b[v >> 5] &= ~(1u << (v & 31));
  }
  static int highest(const Bits256& b);

  bool enabled() const { return hw_enabled_ && software_enabled(); }
  uint32_t read_register(uint32_t reg);
  void write_register(uint32_t reg, uint32_t value);
  void write_lvt(unsigned index, uint32_t value);
  void write_svr(uint32_t value);
  void end_of_interrupt();
  void send_ipi();
  void raise_error(uint32_t esr_bit);
  void deliver_local(unsigned lvt_index);
  void deliver_nmi();
  bool destination_matches(bool logical, uint8_t destination) const;
  void changed();

  TimerMode timer_mode() const;
  uint64_t timer_divisor() const;
  uint64_t timer_period_ns() const { return uint64_t(timer_initial_) * timer_divisor(); }
  void write_timer_initial(uint32_t value);
  void write_timer_divide(uint32_t value);
  void retime(uint32_t count);
  void on_timer(uint64_t now_ns);
  void deliver_periodic_expiries(uint64_t expiries, uint64_t period_ns);
  void deliver_owed_expiry();
  void deliver_timer(uint64_t now_ns);  // a periodic expiry into IRR
  uint64_t tsc_to_ns(uint64_t tsc) const;

  const Clock& clock_;
  TimerQueue& timers_;
  TimerQueue::TimerId timer_id_;
  TimerQueue::TimerId catch_up_timer_id_;  // the next owed periodic expiry
  uint64_t tsc_hz_;
  uint8_t reset_id_;

  uint8_t id_ = 0;
  uint32_t tpr_ = 0;
  uint32_t ldr_ = 0;
  uint32_t dfr_ = 0xffffffff;
  uint32_t svr_ = 0xff;
  uint32_t esr_ = 0;          // what ESR reads (latched by the last ESR write)
  uint32_t esr_pending_ = 0;  // errors since the last ESR write
  uint32_t icr_low_ = 0, icr_high_ = 0;
  std::array<uint32_t, kLvtCount> lvt_{};
  Bits256 irr_{}, isr_{}, tmr_{};
  std::array<bool, 2> lint_level_{};
  bool nmi_pending_ = false;
  bool hw_enabled_ = true;

  uint32_t timer_initial_ = 0;
  uint32_t timer_divide_ = 0;    // the DCR as written
  int64_t timer_start_ns_ = 0;   // when the count was timer_initial_ (may predate a DCR change)
  uint64_t timer_deadline_ns_ = 0;  // the next expiry armed on the timer queue
  bool timer_running_ = false;      // counting (a one-shot stops at zero)
  // Periodic expiries the machine loop ran late past (the emulated CPU is slower than hardware,
  // and its host thread can be descheduled), not delivered yet. A guest whose clock is a
  // periodic tick counts interrupts (Linux's jiffies before it switches to one-shot mode), so
  // each one lost would make its time fall behind the TSC. They come one at a time (hw/irq.h
  // LateTimerPeriods).
  uint64_t timer_expiries_owed_ = 0;
  uint64_t timer_sent_ns_ = 0;  // when the last periodic expiry went into IRR
  uint64_t tsc_deadline_ = 0;

  std::function<void()> change_hook_;
  std::function<void(uint8_t)> level_eoi_hook_;
};

}  // namespace janus
