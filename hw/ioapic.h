// The I/O APIC (82093AA style) at 0xfec00000: 24 input pins, each with a 64-bit redirection
// entry that turns the pin into an APIC message (vector, delivery mode, destination). Guests
// reach its registers indirectly: select one with IOREGSEL (offset 0x00), then read or write it
// through IOWIN (offset 0x10).
#pragma once
#include <array>
#include <cstdint>
#include <functional>

#include "hw/io_device.h"
#include "hw/lapic.h"

namespace janus {

class IoApic final : public IoDevice {
 public:
  static constexpr unsigned kPins = 24;
  static constexpr uint64_t kMmioSize = 0x1000;  // one page; only IOREGSEL and IOWIN respond
  // Version 0x11 with maximum redirection entry 23 in bits 23:16.
  static constexpr uint32_t kVersion = 0x11 | ((kPins - 1) << 16);
  // MMIO offsets and indirect register indices.
  static constexpr uint64_t kRegSelect = 0x00;
  static constexpr uint64_t kRegWindow = 0x10;
  static constexpr uint32_t kIndexId = 0x00;
  static constexpr uint32_t kIndexVersion = 0x01;
  static constexpr uint32_t kIndexArbitration = 0x02;
  static constexpr uint32_t kIndexRedirection = 0x10;  // entry n: low at 0x10+2n, high at 0x11+2n
  // Redirection entry bits.
  static constexpr uint64_t kDeliveryStatus = 1ull << 12;
  static constexpr uint64_t kActiveLow = 1ull << 13;
  static constexpr uint64_t kRemoteIrr = 1ull << 14;
  static constexpr uint64_t kLevelTriggered = 1ull << 15;
  static constexpr uint64_t kMasked = 1ull << 16;

  // deliver: where messages go (the IrqChip routes them to the LAPIC).
  explicit IoApic(std::function<void(const ApicMessage&)> deliver);

  // Power-on state: ID 0, every entry masked.
  void reset();

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Drives pin (0-23) to level. level means "asserted": Janus devices signal assertion, not the
  // electrical level, so the polarity bit is kept for the guest but never inverts (as in QEMU
  // and KVM, whose ACPI tables match). Pins past 23 are ignored.
  void set_pin(unsigned pin, bool level);

  // The LAPIC's EOI for a level-triggered vector: clears remote IRR on every pin using it and
  // delivers again if the line is still asserted.
  void end_of_interrupt(uint8_t vector);

  uint64_t redirection(unsigned pin) const { return redirection_.at(pin); }
  bool pin_level(unsigned pin) const { return levels_ >> pin & 1; }
  uint8_t id() const { return id_; }

 private:
  uint32_t read_indirect(uint32_t index) const;
  void write_indirect(uint32_t index, uint32_t value);
  // Sends the pin's message if it is asserted, unmasked and (level) not awaiting EOI.
  void service(unsigned pin);
  void send(unsigned pin);

  std::function<void(const ApicMessage&)> deliver_;
  uint8_t id_ = 0;
  uint32_t select_ = 0;
  uint32_t levels_ = 0;  // current pin levels
  std::array<uint64_t, kPins> redirection_{};
};

}  // namespace janus
