#include "hw/acpi_pm.h"

namespace janus {

namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr unsigned kTimerMsb = 31;  // TMR_VAL_EXT: the timer is 32 bits wide
// The status bits Janus can set; the others read 0 (and so never assert the SCI).
constexpr uint16_t kStatusBits = AcpiPm::kPowerButtonBit | AcpiPm::kWakeStatus;
constexpr uint16_t kEnableBits = AcpiPm::kTimerBit | AcpiPm::kGlobalBit | AcpiPm::kPowerButtonBit | (1u << 9) | (1u << 10);
}  // namespace

AcpiPm::AcpiPm(const Clock& clock, TimerQueue& timers, IrqLine sci, std::function<void()> power_off,
               std::function<void()> reset)
    : clock_(clock), timers_(timers), sci_(sci), power_off_(std::move(power_off)), reset_(std::move(reset)) {
  overflow_timer_ = timers_.add([this](uint64_t) { update(); });
}

AcpiPm::~AcpiPm() { timers_.cancel(overflow_timer_); }

uint64_t AcpiPm::timer_ticks() const {
  return uint64_t((unsigned __int128)clock_.now_ns() * kTimerHz / kNsPerSecond);
}

uint32_t AcpiPm::timer_count() const { return uint32_t(timer_ticks()); }

bool AcpiPm::timer_status() const { return (timer_ticks() >> kTimerMsb) > timer_toggles_cleared_; }

uint16_t AcpiPm::status() const { return status_ | (timer_status() ? kTimerBit : 0); }

uint64_t AcpiPm::read(uint64_t offset, unsigned size) {
  // One snapshot per access, so a 32-bit timer read is coherent.
  uint8_t regs[kPortCount] = {};
  uint16_t sts = status(), ctl = control_ | kSciEnable;
  uint32_t tmr = timer_count();
  regs[kRegStatus] = uint8_t(sts);
  regs[kRegStatus + 1] = uint8_t(sts >> 8);
  regs[kRegEnable] = uint8_t(enable_);
  regs[kRegEnable + 1] = uint8_t(enable_ >> 8);
  regs[kRegControl] = uint8_t(ctl);
  regs[kRegControl + 1] = uint8_t(ctl >> 8);
  for (unsigned i = 0; i < 4; i++) regs[kRegTimer + i] = uint8_t(tmr >> (8 * i));
  uint64_t value = 0;
  for (unsigned i = 0; i < size; i++)
    if (offset + i < kPortCount) value |= uint64_t(regs[offset + i]) << (8 * i);
  return value;
}

void AcpiPm::write(uint64_t offset, unsigned size, uint64_t value) {
  // Registers are at most 16 bits wide apart from the read-only timer, and every multi-bit
  // field (SLP_TYP with SLP_EN) sits within one byte, so bytewise handling is exact.
  for (unsigned i = 0; i < size; i++)
    if (offset + i < kPortCount) write_byte(offset + i, uint8_t(value >> (8 * i)));
  update();
}

void AcpiPm::write_byte(uint64_t offset, uint8_t value) {
  switch (offset) {
    case kRegStatus:
      if (value & kTimerBit) timer_toggles_cleared_ = timer_ticks() >> kTimerMsb;
      status_ &= ~uint16_t(value);
      break;
    case kRegStatus + 1: status_ &= ~uint16_t(value << 8); break;
    case kRegEnable: enable_ = (enable_ & 0xff00) | (value & kEnableBits); break;
    case kRegEnable + 1: enable_ = (enable_ & 0x00ff) | (uint16_t(value << 8) & kEnableBits); break;
    case kRegControl: control_ = (control_ & 0xff00) | (value & kBusMasterReload); break;  // GBL_RLS: no firmware to tell
    case kRegControl + 1: write_control_high(value); break;
    case kRegReset:
      if (value == kResetValue && reset_) reset_();
      break;
    default: break;  // the timer is read-only; the rest is reserved
  }
}

void AcpiPm::write_control_high(uint8_t value) {
  uint16_t high = uint16_t(value) << 8;
  control_ = (control_ & 0x00ff) | (high & kSleepTypeMask);
  if (!(high & kSleepEnable)) return;
  // Only S5 is offered (the DSDT names no other sleep package); other types do nothing.
  if (((high & kSleepTypeMask) >> kSleepTypeShift) == kSleepTypeS5 && power_off_) power_off_();
}

void AcpiPm::press_power_button() {
  status_ |= kPowerButtonBit;
  update();
}

void AcpiPm::update() {
  bool level = (status() & enable_ & (kStatusBits | kTimerBit)) != 0;
  if (level != sci_level_) {
    sci_level_ = level;
    sci_.set(level);
  }
  // With TMR_EN, the next bit-31 toggle must raise the SCI without a guest access.
  if ((enable_ & kTimerBit) && !timer_status()) {
    unsigned __int128 tick = (unsigned __int128)(timer_toggles_cleared_ + 1) << kTimerMsb;
    timers_.arm(overflow_timer_, uint64_t((tick * kNsPerSecond + kTimerHz - 1) / kTimerHz));
  } else {
    timers_.cancel(overflow_timer_);
  }
}

}  // namespace janus
