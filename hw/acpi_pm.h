// The ACPI fixed-hardware power-management block of the Janus PC (ACPI spec 4.8 "ACPI Hardware
// Features"), 16 ports at layout::kPortAcpiPm, described to the guest by the FADT:
//   +0x0 PM1a_STS (16 bits, write 1 to clear)   +0x2 PM1a_EN (16 bits)
//   +0x4 PM1a_CNT (16 bits: SCI_EN, SLP_TYP, SLP_EN)
//   +0x8 PM_TMR (32 bits, read-only, 3.579545 MHz from the machine Clock)
//   +0xc RESET_REG (8 bits: writing kResetValue resets the machine)
// There is no SMI command port, so the machine is always in ACPI mode: SCI_EN reads 1.
// The SCI is level-triggered: asserted while any enabled status bit is set.
#pragma once
#include <cstdint>
#include <functional>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/irq.h"

namespace janus {

class AcpiPm final : public IoDevice {
 public:
  static constexpr uint64_t kTimerHz = 3'579'545;
  // The SLP_TYP value the DSDT's \_S5_ package names: SLP_EN with it powers the machine off.
  static constexpr uint8_t kSleepTypeS5 = 5;
  // The FADT RESET_VALUE.
  static constexpr uint8_t kResetValue = 0x06;

  // Register offsets in the block.
  enum Reg : uint64_t { kRegStatus = 0x0, kRegEnable = 0x2, kRegControl = 0x4, kRegTimer = 0x8, kRegReset = 0xc };
  static constexpr uint64_t kPortCount = 0x10;

  // PM1 status and enable bits (the same positions in both registers).
  static constexpr uint16_t kTimerBit = 1u << 0;        // TMR_STS / TMR_EN: PM timer bit 31 toggled
  static constexpr uint16_t kGlobalBit = 1u << 5;       // GBL_STS / GBL_EN (no firmware: never set)
  static constexpr uint16_t kPowerButtonBit = 1u << 8;  // PWRBTN_STS / PWRBTN_EN
  static constexpr uint16_t kWakeStatus = 1u << 15;     // WAK_STS
  // PM1 control bits.
  static constexpr uint16_t kSciEnable = 1u << 0;
  static constexpr uint16_t kBusMasterReload = 1u << 1;
  static constexpr unsigned kSleepTypeShift = 10;
  static constexpr uint16_t kSleepTypeMask = 7u << kSleepTypeShift;
  static constexpr uint16_t kSleepEnable = 1u << 13;    // write-only

  // power_off: the guest entered S5. reset: the guest wrote the reset register.
  AcpiPm(const Clock& clock, TimerQueue& timers, IrqLine sci, std::function<void()> power_off,
         std::function<void()> reset);
  ~AcpiPm() override;
  AcpiPm(const AcpiPm&) = delete;
  AcpiPm& operator=(const AcpiPm&) = delete;

  // Any access size at any offset; bytes outside registers read 0 and ignore writes.
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // The host pressed the (fixed-feature) power button: PWRBTN_STS, and an SCI if enabled.
  void press_power_button();

  uint32_t timer_count() const;  // PM_TMR now
  uint16_t status() const;       // PM1_STS now
  uint16_t enable() const { return enable_; }
  bool sci_asserted() const { return sci_level_; }

 private:
  uint64_t timer_ticks() const;  // PM timer ticks since the machine started (no wrap)
  bool timer_status() const;
  void write_byte(uint64_t offset, uint8_t value);
  void write_control_high(uint8_t value);
  void update();  // SCI line and the timer-overflow event

  const Clock& clock_;
  TimerQueue& timers_;
  TimerQueue::TimerId overflow_timer_;
  IrqLine sci_;
  std::function<void()> power_off_;
  std::function<void()> reset_;

  uint16_t status_ = 0;        // latched status bits other than TMR_STS
  uint16_t enable_ = 0;
  uint16_t control_ = 0;       // SLP_TYP and BM_RLD as last written
  uint64_t timer_toggles_cleared_ = 0;  // bit-31 toggles of the PM timer when TMR_STS was last cleared
  bool sci_level_ = false;
};

}  // namespace janus
