// The Intel 8254 programmable interval timer (ports 0x40-0x43): three 16-bit down counters
// clocked at 1.193182 MHz. Channel 0 drives IRQ0 (the system tick), channel 1 is the old DRAM
// refresh timer, channel 2 feeds the speaker and is gated through port 0x61 (PortB below).
// Counts are computed from the machine Clock when read, never decremented in a loop; only
// channel 0 schedules events (on the TimerQueue) to pulse IRQ0.
#pragma once
#include <array>
#include <cstdint>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/irq.h"

namespace janus {

class Pit8254 final : public IoDevice {
 public:
  static constexpr uint64_t kHz = 1'193'182;
  static constexpr unsigned kChannels = 3;
  static constexpr uint64_t kPortCount = 4;  // counters 0-2 and the control word at offset 3
  // Periodic IRQ0 never comes more often than this, so a guest programming a tiny count cannot
  // flood the machine loop. Counter reads still follow the programmed rate.
  static constexpr uint64_t kMinIrqIntervalNs = 50'000;

  Pit8254(const Clock& clock, TimerQueue& timers, IrqLine irq0);
  ~Pit8254() override;
  Pit8254(const Pit8254&) = delete;
  Pit8254& operator=(const Pit8254&) = delete;

  // Power-on state: no channel programmed (firmware or the kernel programs them), gates 0 and 1
  // tied high, gate 2 low.
  void reset();

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // The GATE input of a channel (only channel 2's is wired to anything: port 0x61 bit 0).
  void set_gate(unsigned channel, bool level);
  bool gate(unsigned channel) const { return channels_.at(channel).gate; }
  // The OUT pin of a channel now.
  bool output(unsigned channel) const;
  // The counting element now, in binary (what a latch would capture before BCD encoding).
  uint32_t current_count(unsigned channel) const;

  // Converts PIT input clocks to nanoseconds, rounding up (the first ns at which they elapsed).
  static uint64_t ticks_to_ns(uint64_t ticks);
  static uint64_t ns_to_ticks(uint64_t ns);

 private:
  struct Channel {
    unsigned mode = 0;        // 0-5 (6 and 7 are stored as 2 and 3)
    unsigned access = 3;      // 1 = LSB only, 2 = MSB only, 3 = LSB then MSB
    bool bcd = false;
    uint32_t reload = 0x10000;  // the programmed count; 0 stands for 65536 (10000 in BCD)
    bool loaded = false;      // a count was written since the control word
    bool counting = false;    // the counting element is running
    bool triggered = false;   // modes 1 and 5: a gate edge started the count
    bool null_count = true;   // status bit 6: count written but not yet in the counter
    bool gate = true;
    uint64_t start_ns = 0;    // when counting (re)started
    uint64_t base_ticks = 0;  // ticks counted before start_ns (gate pauses in modes 0 and 4)
    bool write_msb_next = false;
    uint8_t pending_lsb = 0;
    bool read_msb_next = false;
    bool count_latched = false;
    uint16_t latched_count = 0;
    bool latched_msb_next = false;
    bool status_latched = false;
    uint8_t latched_status = 0;
  };

  uint64_t elapsed_ticks(const Channel& c) const;
  bool output(const Channel& c) const;
  uint32_t count(const Channel& c) const;
  uint16_t presented_count(const Channel& c) const;  // 16 bits as the guest reads them (BCD if set)
  uint8_t status(const Channel& c) const;
  uint8_t read_counter(unsigned channel);
  void write_counter(unsigned channel, uint8_t value);
  void write_control(uint8_t value);
  void load_count(unsigned channel, uint32_t raw);
  void start_counting(Channel& c);
  void latch_count(Channel& c);
  void schedule_irq0();
  void on_timer(uint64_t now_ns);
  uint64_t time_of_tick(const Channel& c, uint64_t tick) const;

  const Clock& clock_;
  TimerQueue& timers_;
  TimerQueue::TimerId timer_id_;
  IrqLine irq0_;
  uint64_t irq0_target_tick_ = 0;  // the channel 0 tick the IRQ0 timer is armed for
  std::array<Channel, kChannels> channels_{};
};

// System control port B (0x61): bit 0 gates PIT channel 2, bit 1 enables the speaker, bit 4
// toggles on every read (firmware delay loops wait for it to flip), bit 5 shows channel 2's OUT.
class PortB final : public IoDevice {
 public:
  explicit PortB(Pit8254& pit) : pit_(pit) {}
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;
  bool speaker_enabled() const { return control_ & 0x02; }

 private:
  Pit8254& pit_;
  uint8_t control_ = 0;  // bits 0-3 as written
  bool refresh_toggle_ = false;
};

}  // namespace janus
