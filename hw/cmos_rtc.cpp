#include "hw/cmos_rtc.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "hw/pc_layout.h"

namespace janus {

namespace {
constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr uint64_t kDividerHz = 32768;

// Register A/B/C bits.
constexpr uint8_t kAUpdateInProgress = 0x80;
constexpr uint8_t kBSet = 0x80, kBPeriodic = 0x40, kBAlarm = 0x20, kBUpdateEnded = 0x10;
constexpr uint8_t kBBinary = 0x04, kB24Hour = 0x02;
constexpr uint8_t kCIrq = 0x80, kCPeriodic = 0x40, kCAlarm = 0x20, kCUpdateEnded = 0x10;
constexpr uint8_t kDValidRam = 0x80;

constexpr uint8_t kRegAAtReset = 0x26;  // 32.768 kHz divider running, 1024 Hz periodic rate
constexpr uint8_t kRegBAtReset = 0x02;  // 24-hour BCD, no interrupts

// Memory-size bytes read by PC firmware.
constexpr uint8_t kBaseMemLow = 0x15, kExtMemLow = 0x17, kExtMem2Low = 0x30, kMemAbove16MLow = 0x34;
constexpr uint8_t kMemAbove4GLow = 0x5b;
constexpr uint8_t kChecksumFirst = 0x10, kChecksumLast = 0x2d, kChecksumHigh = 0x2e;

bool is_time_register(uint8_t index) {
  switch (index) {
    case CmosRtc::kSeconds: case CmosRtc::kMinutes: case CmosRtc::kHours: case CmosRtc::kDayOfWeek:
    case CmosRtc::kDayOfMonth: case CmosRtc::kMonth: case CmosRtc::kYear: case CmosRtc::kCentury:
      return true;
    default:
      return false;
  }
}
}  // namespace

CmosRtc::CmosRtc(const Clock& clock, TimerQueue& timers, IrqLine irq, std::optional<std::time_t> start_time)
    : clock_(clock), timers_(timers), irq_(irq) {
  const uint64_t now = clock_.now_ns();
  int64_t start_seconds;
  uint64_t sub_second_ns = 0;
  if (start_time) {
    start_seconds = *start_time;  // exactly on a second boundary: the first update is 1 s away
  } else {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
    start_seconds = ns / int64_t(kSecondNs);
    sub_second_ns = uint64_t(ns % int64_t(kSecondNs));
  }
  // Align the divider so that the guest's seconds tick together with the host's.
  phase_ns_ = (sub_second_ns + kSecondNs - now % kSecondNs) % kSecondNs;
  seconds_offset_ = start_seconds - int64_t(second_index(now));
  synced_ns_ = now;

  ram_[kRegA] = kRegAAtReset;
  ram_[kRegB] = kRegBAtReset;
  snapshot_time_registers(time_at(now));

  auto fire = [this](uint64_t t) { on_timer(t); };
  periodic_timer_ = timers_.add(fire);
  alarm_timer_ = timers_.add(fire);
  update_timer_ = timers_.add(fire);
}

CmosRtc::~CmosRtc() {
  // The queue keeps the callbacks; a cancelled timer never calls them.
  timers_.cancel(periodic_timer_);
  timers_.cancel(alarm_timer_);
  timers_.cancel(update_timer_);
}

void CmosRtc::reset() {
  const uint64_t now = clock_.now_ns();
  sync_flags(now);
  // The chip's reset line clears the interrupt enables, square-wave output and all flags.
  ram_[kRegB] &= uint8_t(~(kBPeriodic | kBAlarm | kBUpdateEnded | 0x08));
  flags_ = 0;
  update_irq();
  rearm_timers(now);
}

uint64_t CmosRtc::read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    // The index port is write-only and reads as an open bus.
    uint8_t byte = offset + i == 1 ? read_register(index_) : 0xff;
    value |= uint64_t(byte) << (8 * i);
  }
  return value;
}

void CmosRtc::write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint8_t byte = uint8_t(value >> (8 * i));
    if (offset + i == 0) {
      index_ = byte & 0x7f;
      nmi_masked_ = byte & 0x80;  // bit 7 of the index write gates NMI on PCs
    } else if (offset + i == 1) {
      write_register(index_, byte);
    }
  }
}

uint8_t CmosRtc::read_register(uint8_t index) {
  const uint64_t now = clock_.now_ns();
  if (is_time_register(index)) return updates_halted() ? ram_[index] : time_register(index, time_at(now));
  switch (index) {
    case kRegA: {
      uint8_t a = ram_[kRegA] & 0x7f;
      // UIP warns that the registers are about to change; SET stops updates and clears it.
      if (!updates_halted() && divider_ns(now) % kSecondNs >= kSecondNs - kUpdateInProgressNs) a |= kAUpdateInProgress;
      return a;
    }
    case kRegC: {
      sync_flags(now);
      uint8_t c = flags_;
      flags_ = 0;  // reading C acknowledges every interrupt
      update_irq();
      rearm_timers(now);
      return c;
    }
    case kRegD:
      return kDValidRam;  // the battery is always good
    default:
      return ram_[index & 0x7f];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value) {
  const uint64_t now = clock_.now_ns();
  if (is_time_register(index)) {
    if (updates_halted())
      ram_[index] = value;  // taken over when SET is cleared
    else
      write_time_field(index, value);
    return;
  }
  switch (index) {
    case kSecondsAlarm:
    case kMinutesAlarm:
    case kHoursAlarm:
      sync_flags(now);
      ram_[index] = value;
      rearm_timers(now);
      break;
    case kRegA:
      sync_flags(now);
      ram_[kRegA] = value & 0x7f;  // UIP is read-only
      rearm_timers(now);
      break;
    case kRegB:
      write_reg_b(value);
      break;
    case kRegC:
    case kRegD:
      break;  // read-only
    default:
      ram_[index & 0x7f] = value;
      break;
  }
}

void CmosRtc::write_time_field(uint8_t index, uint8_t value) {
  // Without SET the clock keeps running: change that one field and keep the second's phase.
  const uint64_t now = clock_.now_ns();
  sync_flags(now);
  const std::time_t before = time_at(now);
  snapshot_time_registers(before);
  ram_[index] = value;
  if (auto after = time_from_registers()) seconds_offset_ += int64_t(*after) - int64_t(before);
  rearm_timers(now);
}

void CmosRtc::write_reg_b(uint8_t value) {
  const uint64_t now = clock_.now_ns();
  sync_flags(now);
  if (value & kBSet) value &= uint8_t(~kBUpdateEnded);  // SET clears UIE, as on the MC146818
  const bool was_halted = updates_halted();
  ram_[kRegB] = value;
  if (!was_halted && updates_halted()) {
    snapshot_time_registers(time_at(now));  // the guest now edits a frozen copy
  } else if (was_halted && !updates_halted()) {
    // The divider kept running, so the next update comes at the next second boundary.
    if (auto t = time_from_registers()) seconds_offset_ = int64_t(*t) - int64_t(second_index(now));
  }
  update_irq();
  rearm_timers(now);
}

std::time_t CmosRtc::current_time() const { return time_at(clock_.now_ns()); }

unsigned CmosRtc::periodic_shift() const {
  const unsigned rate = ram_[kRegA] & 0x0f;
  if (rate == 0) return 0;
  if (rate <= 2) return rate + 6;  // rates 1 and 2 alias 256 Hz and 128 Hz
  return rate - 1;                 // rate n: 32768 >> (n - 1) Hz
}

uint64_t CmosRtc::periodic_tick(uint64_t now) const {
  const unsigned shift = periodic_shift();
  return uint64_t((unsigned __int128)divider_ns(now) * kDividerHz / (kSecondNs << shift));
}

uint64_t CmosRtc::periodic_tick_time(uint64_t tick) const {
  const unsigned __int128 numerator = (unsigned __int128)tick * (kSecondNs << periodic_shift());
  const uint64_t divider_time = uint64_t((numerator + kDividerHz - 1) / kDividerHz);  // first ns in the tick
  return divider_time - phase_ns_;
}

uint8_t CmosRtc::encode(unsigned value) const {
  if (ram_[kRegB] & kBBinary) return uint8_t(value);
  value %= 100;
  return uint8_t(((value / 10) << 4) | (value % 10));
}

unsigned CmosRtc::decode(uint8_t value) const {
  if (ram_[kRegB] & kBBinary) return value;
  return (value >> 4) * 10u + (value & 0x0f);
}

uint8_t CmosRtc::encode_hours(unsigned hours24) const {
  if (ram_[kRegB] & kB24Hour) return encode(hours24);
  unsigned h12 = hours24 % 12 == 0 ? 12 : hours24 % 12;
  return uint8_t(encode(h12) | (hours24 >= 12 ? 0x80 : 0x00));
}

unsigned CmosRtc::decode_hours(uint8_t value) const {
  if (ram_[kRegB] & kB24Hour) return decode(value);
  return decode(value & 0x7f) % 12 + ((value & 0x80) ? 12 : 0);
}

uint8_t CmosRtc::time_register(uint8_t index, std::time_t t) const {
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return 0;
  const unsigned year = unsigned(tm.tm_year + 1900);
  switch (index) {
    case kSeconds: return encode(unsigned(tm.tm_sec));
    case kMinutes: return encode(unsigned(tm.tm_min));
    case kHours: return encode_hours(unsigned(tm.tm_hour));
    case kDayOfWeek: return encode(unsigned(tm.tm_wday) + 1);  // 1 = Sunday
    case kDayOfMonth: return encode(unsigned(tm.tm_mday));
    case kMonth: return encode(unsigned(tm.tm_mon) + 1);
    case kYear: return encode(year % 100);
    case kCentury: return encode(year / 100);
    default: return 0;
  }
}

void CmosRtc::snapshot_time_registers(std::time_t t) {
  for (uint8_t index : {kSeconds, kMinutes, kHours, kDayOfWeek, kDayOfMonth, kMonth, kYear, kCentury})
    ram_[index] = time_register(index, t);
}

std::optional<std::time_t> CmosRtc::time_from_registers() const {
  // Whatever the guest wrote (even invalid BCD) is normalised by timegm, never trusted as is.
  std::tm tm{};
  tm.tm_sec = int(decode(ram_[kSeconds]));
  tm.tm_min = int(decode(ram_[kMinutes]));
  tm.tm_hour = int(decode_hours(ram_[kHours]));
  tm.tm_mday = int(decode(ram_[kDayOfMonth]));
  tm.tm_mon = int(decode(ram_[kMonth])) - 1;
  tm.tm_year = int(decode(ram_[kCentury]) * 100 + decode(ram_[kYear])) - 1900;
  std::time_t t = timegm(&tm);
  if (t == std::time_t(-1)) return std::nullopt;
  return t;
}

bool CmosRtc::alarm_field_matches(uint8_t alarm, uint8_t value) const {
  return (alarm & 0xc0) == 0xc0 || alarm == value;  // 0xC0-0xFF is "don't care"
}

std::optional<std::time_t> CmosRtc::next_alarm_after(std::time_t t) const {
  // The alarm compares hours, minutes and seconds only, so it repeats daily: search one day,
  // skipping whole hours and minutes that cannot match.
  const int64_t start = int64_t(t) + 1;
  for (int64_t c = start; c <= start + 86400;) {
    const int64_t second_of_day = ((c % 86400) + 86400) % 86400;
    const unsigned h = unsigned(second_of_day / 3600), m = unsigned(second_of_day / 60 % 60), s = unsigned(second_of_day % 60);
    if (!alarm_field_matches(ram_[kHoursAlarm], encode_hours(h))) {
      c += 3600 - second_of_day % 3600;
    } else if (!alarm_field_matches(ram_[kMinutesAlarm], encode(m))) {
      c += 60 - s;
    } else if (!alarm_field_matches(ram_[kSecondsAlarm], encode(s))) {
      c += 1;
    } else {
      return std::time_t(c);
    }
  }
  return std::nullopt;
}

void CmosRtc::sync_flags(uint64_t now) {
  if (now <= synced_ns_) return;
  const uint64_t from = synced_ns_;
  synced_ns_ = now;
  // Flags are set whether or not their interrupt is enabled, so they are computed here, lazily,
  // rather than by timers that would have to run all the time.
  if (periodic_shift() && periodic_tick(now) > periodic_tick(from)) flags_ |= kCPeriodic;
  if (!updates_halted() && second_index(now) > second_index(from)) {
    flags_ |= kCUpdateEnded;
    auto alarm = next_alarm_after(time_at(from));
    if (alarm && *alarm <= time_at(now)) flags_ |= kCAlarm;
  }
  update_irq();
}

void CmosRtc::update_irq() {
  const bool irq = flags_ & ram_[kRegB] & (kCPeriodic | kCAlarm | kCUpdateEnded);
  flags_ = irq ? uint8_t(flags_ | kCIrq) : uint8_t(flags_ & ~kCIrq);
  // The chip's IRQ output stays asserted until register C is read; the rising edge is the event.
  if (irq != irq_level_) {
    irq_level_ = irq;
    irq_.set(irq);
  }
}

void CmosRtc::rearm_timers(uint64_t now) {
  // A timer runs only while its interrupt is enabled and its flag is still clear: once the flag
  // is up the line is already asserted, and nothing more can happen until register C is read.
  const uint8_t b = ram_[kRegB];
  if ((b & kBPeriodic) && periodic_shift() && !(flags_ & kCPeriodic))
    timers_.arm(periodic_timer_, periodic_tick_time(periodic_tick(now) + 1));
  else
    timers_.cancel(periodic_timer_);

  if ((b & kBUpdateEnded) && !updates_halted() && !(flags_ & kCUpdateEnded))
    timers_.arm(update_timer_, (second_index(now) + 1) * kSecondNs - phase_ns_);
  else
    timers_.cancel(update_timer_);

  std::optional<std::time_t> alarm;
  if ((b & kBAlarm) && !updates_halted() && !(flags_ & kCAlarm)) alarm = next_alarm_after(time_at(now));
  if (alarm)
    timers_.arm(alarm_timer_, uint64_t(int64_t(*alarm) - seconds_offset_) * kSecondNs - phase_ns_);
  else
    timers_.cancel(alarm_timer_);
}

void CmosRtc::on_timer(uint64_t now) {
  now = std::max(now, clock_.now_ns());
  sync_flags(now);
  rearm_timers(now);
}

void CmosRtc::set_memory_size(uint64_t bytes) {
  auto put16 = [this](uint8_t low_index, uint64_t value) {
    value = std::min<uint64_t>(value, 0xffff);
    ram_[low_index] = uint8_t(value);
    ram_[low_index + 1] = uint8_t(value >> 8);
  };
  const uint64_t low_ram = std::min<uint64_t>(bytes, layout::kPciHoleStart);  // the rest sits above 4 GiB
  put16(kBaseMemLow, std::min<uint64_t>(bytes / 1024, 640));
  const uint64_t above_1m_kib = low_ram > (1u << 20) ? (low_ram - (1u << 20)) / 1024 : 0;
  put16(kExtMemLow, above_1m_kib);
  put16(kExtMem2Low, above_1m_kib);
  put16(kMemAbove16MLow, low_ram > (16u << 20) ? (low_ram - (16u << 20)) / 65536 : 0);
  const uint64_t above_4g_blocks = std::min<uint64_t>(bytes > low_ram ? (bytes - low_ram) / 65536 : 0, 0xffffff);
  ram_[kMemAbove4GLow] = uint8_t(above_4g_blocks);
  ram_[kMemAbove4GLow + 1] = uint8_t(above_4g_blocks >> 8);
  ram_[kMemAbove4GLow + 2] = uint8_t(above_4g_blocks >> 16);
  set_ram(kChecksumFirst, ram_[kChecksumFirst]);  // recompute the checksum
}

void CmosRtc::set_ram(uint8_t index, uint8_t value) {
  if (index < 0x0e || index >= ram_.size())
    throw std::invalid_argument("CMOS byte " + std::to_string(index) + " is a clock register or out of range");
  ram_[index] = value;
  // The standard checksum: sum of 0x10-0x2d, big-endian at 0x2e-0x2f.
  unsigned sum = 0;
  for (unsigned i = kChecksumFirst; i <= kChecksumLast; ++i) sum += ram_[i];
  ram_[kChecksumHigh] = uint8_t(sum >> 8);
  ram_[kChecksumHigh + 1] = uint8_t(sum);
}

}  // namespace janus
