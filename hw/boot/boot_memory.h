// Guest-memory helpers shared by the loaders: placing bytes with a clear error when the guest
// is too small, and asking whether a range is plain RAM (not ROM, not a hole).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hw/guest_memory.h"

namespace janus {

// Copies data to guest physical gpa; throws "cannot place <what> at 0x...: outside guest RAM".
void write_guest(GuestMemory& mem, uint64_t gpa, std::span<const uint8_t> data, std::string_view what);
// Fills [gpa, gpa+length) with zeros (bss, cleared tables); same error as write_guest.
void zero_guest(GuestMemory& mem, uint64_t gpa, uint64_t length, std::string_view what);
template <typename T> void write_guest_value(GuestMemory& mem, uint64_t gpa, const T& value, std::string_view what) {
  write_guest(mem, gpa, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof value), what);
}

// True when every byte of [gpa, gpa+length) is writable RAM. Regions may abut (RAM split by a
// ROM), so this walks them rather than asking for one region.
bool range_is_ram(const GuestMemory& mem, uint64_t gpa, uint64_t length);

// "0x1000..0x2fff" for messages about guest ranges (inclusive end, as people read ranges).
std::string range_text(uint64_t gpa, uint64_t length);

}  // namespace janus
