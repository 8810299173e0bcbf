#include "hw/ioapic.h"

#include "hw/io_bus.h"

#include <stdexcept>

namespace janus {

namespace {
// Delivery status and remote IRR are the chip's own; the guest writes the rest.
constexpr uint64_t kReadOnlyBits = IoApic::kDeliveryStatus | IoApic::kRemoteIrr;
constexpr uint64_t kWritableBits = 0xff000000'0001ffffull & ~kReadOnlyBits;
}  // namespace

IoApic::IoApic(std::function<void(const ApicMessage&)> deliver) : deliver_(std::move(deliver)) {
  if (!deliver_) throw std::invalid_argument("ioapic: no delivery target");
  reset();
}

void IoApic::reset() {
  id_ = 0;
  select_ = 0;
  redirection_.fill(kMasked);
}

uint64_t IoApic::read(uint64_t offset, unsigned size) {
  uint64_t reg = offset & ~3ull;
  unsigned shift = 8 * unsigned(offset & 3);
  if (reg == kRegSelect) return (select_ >> shift) & size_mask(size);
  if (reg == kRegWindow) return (read_indirect(select_) >> shift) & size_mask(size);
  return 0;
}

void IoApic::write(uint64_t offset, unsigned size, uint64_t value) {
  // The registers are 32 bits wide; narrower writes are not meaningful and are dropped.
  if (size < 4 || (offset & 3)) return;
  if (offset == kRegSelect)
    select_ = uint32_t(value) & 0xff;
  else if (offset == kRegWindow)
    write_indirect(select_, uint32_t(value));
}

uint32_t IoApic::read_indirect(uint32_t index) const {
  switch (index) {
    case kIndexId: return uint32_t(id_) << 24;
    case kIndexVersion: return kVersion;
    case kIndexArbitration: return uint32_t(id_) << 24;
  }
  if (index >= kIndexRedirection && index < kIndexRedirection + 2 * kPins) {
    uint64_t entry = redirection_[(index - kIndexRedirection) / 2];
    return (index & 1) ? uint32_t(entry >> 32) : uint32_t(entry);
  }
  return 0;
}

void IoApic::write_indirect(uint32_t index, uint32_t value) {
  if (index == kIndexId) {
    id_ = (value >> 24) & 0xf;
    return;
  }
  if (index < kIndexRedirection || index >= kIndexRedirection + 2 * kPins) return;  // read-only or absent
  unsigned pin = (index - kIndexRedirection) / 2;
  uint64_t& entry = redirection_[pin];
  uint64_t written = (index & 1) ? (uint64_t(value) << 32) | (entry & 0xffffffffull)
                                 : (entry & 0xffffffff'00000000ull) | value;
  entry = (written & kWritableBits) | (entry & kReadOnlyBits);
  // Remote IRR only means something for level-triggered entries.
  if (!(entry & kLevelTriggered)) entry &= ~kRemoteIrr;
  service(pin);  // an unmasked, still-asserted level line delivers now
}

void IoApic::set_pin(unsigned pin, bool level) {
  if (pin >= kPins) return;
  uint32_t bit = 1u << pin;
  bool was = levels_ & bit;
  levels_ = level ? (levels_ | bit) : (levels_ & ~bit);
  uint64_t entry = redirection_[pin];
  if (entry & kLevelTriggered) {
    if (level) service(pin);
  } else if (level && !was && !(entry & kMasked)) {
    send(pin);  // an edge arriving while masked is lost, as on the real chip
  }
}

void IoApic::service(unsigned pin) {
  uint64_t entry = redirection_[pin];
  if (!(levels_ >> pin & 1) || (entry & kMasked)) return;
  if (!(entry & kLevelTriggered)) return;  // edges are sent when they happen, not on unmask
  if (entry & kRemoteIrr) return;          // the CPU has not yet EOI'd the previous one
  send(pin);
}

void IoApic::send(unsigned pin) {
  uint64_t& entry = redirection_[pin];
  ApicMessage message;
  message.vector = uint8_t(entry & 0xff);
  message.mode = ApicDeliveryMode((entry >> 8) & 7);
  message.logical_destination = entry & (1ull << 11);
  message.destination = uint8_t(entry >> 56);
  message.level_triggered = entry & kLevelTriggered;
  if (message.level_triggered) entry |= kRemoteIrr;
  deliver_(message);
}

void IoApic::end_of_interrupt(uint8_t vector) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t& entry = redirection_[pin];
    if ((entry & 0xff) != vector || !(entry & kRemoteIrr)) continue;
    entry &= ~kRemoteIrr;
    service(pin);
  }
}

}  // namespace janus
