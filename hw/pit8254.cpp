#include "hw/pit8254.h"

#include <algorithm>

namespace janus {

namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;

uint32_t from_bcd(uint32_t value) {
  uint32_t result = 0, scale = 1;
  for (int digit = 0; digit < 4; ++digit, value >>= 4, scale *= 10) result += (value & 0xf) * scale;
  return result;
}

uint16_t to_bcd(uint32_t value) {
  uint16_t result = 0;
  for (int digit = 0; digit < 4; ++digit, value /= 10) result |= uint16_t((value % 10) << (4 * digit));
  return result;
}
}  // namespace

Pit8254::Pit8254(const Clock& clock, TimerQueue& timers, IrqLine irq0)
    : clock_(clock), timers_(timers), irq0_(irq0) {
  timer_id_ = timers_.add([this](uint64_t now) { on_timer(now); });
  channels_ = {};
  channels_[2].gate = false;
}

Pit8254::~Pit8254() { timers_.cancel(timer_id_); }

void Pit8254::reset() {
  channels_ = {};
  channels_[2].gate = false;
  timers_.cancel(timer_id_);
  irq0_.lower();
  irq0_.drop_timer_periods();
}

uint64_t Pit8254::ns_to_ticks(uint64_t ns) {
  return uint64_t((unsigned __int128)ns * kHz / kNsPerSecond);
}

uint64_t Pit8254::ticks_to_ns(uint64_t ticks) {
  return uint64_t(((unsigned __int128)ticks * kNsPerSecond + kHz - 1) / kHz);
}

// --- The counting element, derived from the clock ---

uint64_t Pit8254::elapsed_ticks(const Channel& c) const {
  if (!c.counting) return c.base_ticks;
  uint64_t now = clock_.now_ns();
  return c.base_ticks + (now > c.start_ns ? ns_to_ticks(now - c.start_ns) : 0);
}

uint64_t Pit8254::time_of_tick(const Channel& c, uint64_t tick) const {
  return c.start_ns + ticks_to_ns(tick - c.base_ticks);
}

uint32_t Pit8254::count(const Channel& c) const {
  if (!c.loaded) return 0;
  uint64_t n = c.reload;
  uint64_t d = elapsed_ticks(c);
  uint64_t modulus = c.bcd ? 10000 : 0x10000;
  switch (c.mode) {
    case 2: return uint32_t(n - d % n);
    case 3: return uint32_t((n - (2 * d) % n) & ~1ull);  // counts down by two, twice per period
    default: return uint32_t((n + modulus - d % modulus) % modulus);  // 0, 1, 4, 5 wrap after zero
  }
}

bool Pit8254::output(const Channel& c) const {
  if (!c.loaded) return c.mode != 0;  // a mode 0 control word drives OUT low, the others high
  uint64_t n = c.reload;
  uint64_t d = elapsed_ticks(c);
  switch (c.mode) {
    case 0: return d >= n;
    case 1: return !c.triggered || d >= n;
    case 2: return !c.gate || n < 2 || d % n != n - 1;  // low for the one clock at count 1
    case 3: return !c.gate || d % n < (n + 1) / 2;      // high for the longer half of odd counts
    case 4: return d != n;
    default: return !c.triggered || d != n;  // mode 5
  }
}

uint16_t Pit8254::presented_count(const Channel& c) const {
  uint32_t n = count(c);
  return c.bcd ? to_bcd(n % 10000) : uint16_t(n);
}

uint8_t Pit8254::status(const Channel& c) const {
  return uint8_t((output(c) ? 0x80 : 0) | (c.null_count ? 0x40 : 0) | (c.access << 4) | (c.mode << 1) |
                 (c.bcd ? 1 : 0));
}

bool Pit8254::output(unsigned channel) const { return output(channels_.at(channel)); }
uint32_t Pit8254::current_count(unsigned channel) const { return count(channels_.at(channel)); }

// --- Guest access ---

uint64_t Pit8254::read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t port = offset + i;
    uint64_t byte = port < kChannels ? read_counter(unsigned(port)) : 0xff;  // control word is write-only
    value |= byte << (8 * i);
  }
  return value;
}

void Pit8254::write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t port = offset + i;
    uint8_t byte = uint8_t(value >> (8 * i));
    if (port < kChannels)
      write_counter(unsigned(port), byte);
    else if (port == kChannels)
      write_control(byte);
  }
}

uint8_t Pit8254::read_counter(unsigned channel) {
  Channel& c = channels_[channel];
  if (c.status_latched) {  // read-back status comes before a latched count
    c.status_latched = false;
    return c.latched_status;
  }
  if (c.count_latched) {
    uint16_t v = c.latched_count;
    if (c.access == 3 && !c.latched_msb_next) {
      c.latched_msb_next = true;
      return uint8_t(v);
    }
    c.count_latched = false;
    c.latched_msb_next = false;
    return c.access == 1 ? uint8_t(v) : uint8_t(v >> 8);
  }
  uint16_t v = presented_count(c);
  if (c.access == 1) return uint8_t(v);
  if (c.access == 2) return uint8_t(v >> 8);
  bool msb = c.read_msb_next;
  c.read_msb_next = !msb;
  return msb ? uint8_t(v >> 8) : uint8_t(v);
}

void Pit8254::write_counter(unsigned channel, uint8_t value) {
  Channel& c = channels_[channel];
  switch (c.access) {
    case 1: load_count(channel, value); break;
    case 2: load_count(channel, uint32_t(value) << 8); break;
    default:
      if (!c.write_msb_next) {
        c.pending_lsb = value;
        c.write_msb_next = true;
      } else {
        c.write_msb_next = false;
        load_count(channel, c.pending_lsb | (uint32_t(value) << 8));
      }
      break;
  }
}

void Pit8254::latch_count(Channel& c) {
  if (c.count_latched) return;  // a second latch before the read is ignored
  c.latched_count = presented_count(c);
  c.count_latched = true;
  c.latched_msb_next = false;
}

void Pit8254::write_control(uint8_t value) {
  unsigned select = value >> 6;
  if (select == 3) {  // read-back: bit 5 clear latches counts, bit 4 clear latches status
    for (unsigned ch = 0; ch < kChannels; ++ch) {
      if (!(value & (2u << ch))) continue;
      Channel& c = channels_[ch];
      if (!(value & 0x20)) latch_count(c);
      if (!(value & 0x10) && !c.status_latched) {
        c.latched_status = status(c);
        c.status_latched = true;
      }
    }
    return;
  }
  Channel& c = channels_[select];
  unsigned access = (value >> 4) & 3;
  if (access == 0) {
    latch_count(c);
    return;
  }
  c.access = access;
  c.mode = (value >> 1) & 7;
  if (c.mode >= 6) c.mode -= 4;  // 6 and 7 are aliases of 2 and 3
  c.bcd = value & 1;
  c.loaded = c.counting = c.triggered = false;
  c.null_count = true;
  c.base_ticks = 0;
  c.write_msb_next = c.read_msb_next = false;
  c.count_latched = c.status_latched = false;
  if (select == 0) {
    irq0_.lower();
    irq0_.drop_timer_periods();
    schedule_irq0();
  }
}

void Pit8254::start_counting(Channel& c) {
  c.start_ns = clock_.now_ns();
  c.base_ticks = 0;
  c.counting = true;
}

void Pit8254::load_count(unsigned channel, uint32_t raw) {
  Channel& c = channels_[channel];
  uint32_t n = c.bcd ? from_bcd(raw) : raw;
  if (n == 0) n = c.bcd ? 10000 : 0x10000;
  c.reload = n;
  c.loaded = true;
  c.null_count = false;
  if (c.mode == 1 || c.mode == 5) {
    c.counting = c.triggered = false;  // hardware triggered: waits for a GATE rising edge
    c.base_ticks = 0;
  } else if (c.gate) {
    start_counting(c);  // a new count in modes 2 and 3 restarts the period at once
  } else {
    c.counting = false;
    c.base_ticks = 0;
  }
  if (channel == 0) {
    irq0_.lower();
    irq0_.drop_timer_periods();
    schedule_irq0();
  }
}

void Pit8254::set_gate(unsigned channel, bool level) {
  Channel& c = channels_.at(channel);
  bool rising = level && !c.gate;
  bool falling = !level && c.gate;
  c.gate = level;
  if (!c.loaded) return;
  switch (c.mode) {
    case 0:
    case 4:  // a low gate pauses the count
      if (falling && c.counting) {
        c.base_ticks = elapsed_ticks(c);
        c.counting = false;
      } else if (rising && !c.counting) {
        c.start_ns = clock_.now_ns();
        c.counting = true;
      }
      break;
    case 1:
    case 5:  // a rising gate (re)triggers the count
      if (rising) {
        start_counting(c);
        c.triggered = true;
        if (channel == 0 && c.mode == 1) irq0_.lower();
      }
      break;
    default:  // 2, 3: a low gate stops the count and holds OUT high; rising reloads
      if (falling) {
        c.counting = false;
        c.base_ticks = 0;
      } else if (rising) {
        start_counting(c);
      }
      break;
  }
  if (channel == 0) schedule_irq0();
}

// --- IRQ0 ---

void Pit8254::schedule_irq0() {
  const Channel& c = channels_[0];
  if (!c.loaded || !c.counting) {
    timers_.cancel(timer_id_);
    return;
  }
  uint64_t n = c.reload;
  uint64_t d = elapsed_ticks(c);
  uint64_t target;
  switch (c.mode) {
    case 0:
    case 1: target = n; break;      // OUT rises at terminal count and stays high
    case 4:
    case 5: target = n + 1; break;  // OUT rises again after its one-clock low strobe
    default: target = (d / n + 1) * n; break;  // 2, 3: OUT rises at every period boundary
  }
  if (d >= target) {
    timers_.cancel(timer_id_);
    return;
  }
  irq0_target_tick_ = target;
  timers_.arm(timer_id_, time_of_tick(c, target));
}

void Pit8254::on_timer(uint64_t now) {
  const Channel& c = channels_[0];
  if (!c.loaded || !c.counting) return;
  switch (c.mode) {
    case 0:
    case 1:
      irq0_.raise();
      break;
    case 4:
    case 5:
      irq0_.pulse();
      break;
    default: {
      // Every period boundary the loop ran late past is an IRQ0 of its own (hw/irq.h
      // LateTimerPeriods): a guest whose clock is this tick (Linux's jiffies early in boot)
      // would otherwise fall behind the TSC and the PM timer. Rates above the IRQ0 rate limit
      // are not made up.
      uint64_t n = c.reload;
      uint64_t boundary = elapsed_ticks(c) / n, armed = irq0_target_tick_ / n;
      uint64_t periods = boundary >= armed ? boundary - armed + 1 : 1;
      uint64_t period_ns = ticks_to_ns(n);
      if (period_ns < kMinIrqIntervalNs)
        irq0_.pulse();
      else
        irq0_.timer_periods(periods, period_ns);
      irq0_target_tick_ = (boundary + 1) * n;
      uint64_t deadline = time_of_tick(c, irq0_target_tick_);
      if (period_ns < kMinIrqIntervalNs) deadline = std::max(deadline, now + kMinIrqIntervalNs);
      timers_.arm(timer_id_, deadline);
      break;
    }
  }
}

// --- Port B ---

uint64_t PortB::read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t byte = 0xff;
    if (offset + i == 0) {
      byte = (control_ & 0x0f) | (refresh_toggle_ ? 0x10 : 0) | (pit_.output(2) ? 0x20 : 0);
      refresh_toggle_ = !refresh_toggle_;
    }
    value |= byte << (8 * i);
  }
  return value;
}

void PortB::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset != 0) return;
  control_ = uint8_t(value & 0x0f);
  pit_.set_gate(2, control_ & 0x01);
}

}  // namespace janus
