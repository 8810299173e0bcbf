// Guest memory by linear address, for tools that look at a guest from outside: cross-check
// reports, KVM error messages, the debugger. Reads never change the guest (no A/D updates).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpu/cpu_state.h"
#include "cpu/paging.h"

namespace janus {

// Copies len bytes at linear address `linear`, translating each page with supervisor read
// rights (SMAP does not stop a tool). False if any byte is unmapped or outside RAM.
bool read_linear(PhysicalMemoryAccess& mem, const CpuState& s, uint64_t linear, void* out, size_t len,
                 uint8_t phys_addr_bits = 40);

// Linear address of the next instruction: CS.base + RIP (just RIP in 64-bit code).
uint64_t linear_rip(const CpuState& s);

// A short name of the CPU's operating mode, e.g. "protected mode (32-bit code)".
std::string describe_mode(const CpuState& s);

}  // namespace janus
