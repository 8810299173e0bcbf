// The MC146818 real-time clock and its 128 bytes of CMOS RAM, behind index port 0x70 and data
// port 0x71 (map at 0x70 with length 2). Guest time is the host's UTC time at machine start,
// advanced by the machine Clock, so the guest reads the host's time. Interrupts (periodic, alarm,
// update-ended) go out on IRQ 8; their timers are armed only while the guest enables them.
// Runs on the vCPU thread. Must outlive the TimerQueue's use (its destructor cancels its timers).
#pragma once
#include <array>
#include <cstdint>
#include <ctime>
#include <optional>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/irq.h"

namespace janus {

class CmosRtc final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 2;
  static constexpr uint64_t kUpdateInProgressNs = 244'000;  // UIP is set this long before each update

  // Register indexes.
  enum Reg : uint8_t {
    kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03, kHours = 0x04,
    kHoursAlarm = 0x05, kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09,
    kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c, kRegD = 0x0d, kCentury = 0x32,
  };

  // start_time is the UTC time at construction; without it, the host's current time.
  CmosRtc(const Clock& clock, TimerQueue& timers, IrqLine irq, std::optional<std::time_t> start_time = std::nullopt);
  ~CmosRtc() override;
  CmosRtc(const CmosRtc&) = delete;
  CmosRtc& operator=(const CmosRtc&) = delete;

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: interrupt enables and flags clear, time and RAM stay (battery-backed).
  void reset();

  // Records guest RAM size where PC firmware looks for it (0x15-0x18, 0x30-0x31, 0x34-0x35,
  // 0x5b-0x5d) and updates the 0x2e-0x2f checksum.
  void set_memory_size(uint64_t bytes);

  // Host-side access to plain CMOS bytes (boot order, equipment...); keeps the checksum right.
  void set_ram(uint8_t index, uint8_t value);
  uint8_t ram(uint8_t index) const { return ram_[index & 0x7f]; }

  bool nmi_masked() const { return nmi_masked_; }
  std::time_t current_time() const;  // the guest's UTC time now
  bool irq_level() const { return irq_level_; }

 private:
  uint8_t read_register(uint8_t index);
  void write_register(uint8_t index, uint8_t value);
  void write_time_field(uint8_t index, uint8_t value);
  void write_reg_b(uint8_t value);

  // The divider chain: second boundaries fall where (now + phase_ns_) is a multiple of 1 s.
  uint64_t divider_ns(uint64_t now) const { return now + phase_ns_; }
  uint64_t second_index(uint64_t now) const { return divider_ns(now) / 1'000'000'000; }
  std::time_t time_at(uint64_t now) const { return std::time_t(int64_t(second_index(now)) + seconds_offset_); }

  bool updates_halted() const { return ram_[kRegB] & 0x80; }  // SET stops the update cycle
  unsigned periodic_shift() const;  // period = 2^shift / 32768 s, 0 when off
  uint64_t periodic_tick(uint64_t now) const;
  uint64_t periodic_tick_time(uint64_t tick) const;

  uint8_t encode(unsigned value) const;            // binary -> register format (BCD or binary)
  unsigned decode(uint8_t value) const;
  uint8_t encode_hours(unsigned hours24) const;
  unsigned decode_hours(uint8_t value) const;
  uint8_t time_register(uint8_t index, std::time_t t) const;
  void snapshot_time_registers(std::time_t t);     // fills RAM 0-9 and century from t
  std::optional<std::time_t> time_from_registers() const;
  bool alarm_field_matches(uint8_t alarm, uint8_t value) const;
  std::optional<std::time_t> next_alarm_after(std::time_t t) const;

  void sync_flags(uint64_t now);   // sets PF/AF/UF for everything that happened up to now
  void update_irq();
  void rearm_timers(uint64_t now);
  void on_timer(uint64_t now);

  const Clock& clock_;
  TimerQueue& timers_;
  IrqLine irq_;
  bool irq_level_ = false;
  TimerQueue::TimerId periodic_timer_;
  TimerQueue::TimerId alarm_timer_;
  TimerQueue::TimerId update_timer_;

  std::array<uint8_t, 128> ram_{};
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  uint64_t phase_ns_ = 0;
  int64_t seconds_offset_ = 0;  // UTC seconds = second_index(now) + seconds_offset_
  int day_of_week_offset_ = 0;  // guest writes to register 6 survive
  uint8_t flags_ = 0;           // register C
  uint64_t synced_ns_ = 0;      // flags_ accounts for all events up to this time
};

}  // namespace janus
