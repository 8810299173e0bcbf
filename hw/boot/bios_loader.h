// -bios FILE: firmware mapped read-only just below 4 GiB, so the reset vector (0xFFFFFFF0) is in
// its last 16 bytes, with its last 128 KiB also visible at 0xE0000-0xFFFFF as on a real PC.
#pragma once
#include <cstdint>
#include <string>

#include "cpu/cpu_state.h"
#include "hw/guest_memory.h"

namespace janus {

// Firmware images must be whole 4 KiB pages (the granularity ROM is mapped at; QEMU's 64 KiB
// rule for some ROMs would refuse the small test ROMs) and at most 16 MiB.
constexpr uint64_t kBiosGranularity = 4096;
constexpr uint64_t kBiosMaxBytes = 16ull << 20;

// Maps the firmware at path and returns the CPU state after RESET (reset_cpu_state()).
// Throws std::runtime_error with a one-line message naming the file on any problem.
CpuState load_bios(GuestMemory& mem, const std::string& path);

}  // namespace janus
