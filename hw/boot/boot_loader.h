// The one entry point the command line uses to put a guest into memory: chooses the loader from
// -bios/-kernel/-initrd/-append the way QEMU does, and returns the CPU state to start from.
#pragma once
#include <string>
#include <vector>

#include "cpu/cpu_state.h"
#include "hw/guest_memory.h"

namespace janus {

struct BootConfig {
  std::string bios;    // -bios FILE
  std::string kernel;  // -kernel FILE: a bzImage or a Multiboot kernel
  std::string initrd;  // -initrd: Linux's initrd, or comma-separated Multiboot modules
  std::string append;  // -append: the kernel command line
};

// With -kernel the kernel starts directly (firmware, if also given, is mapped but unused);
// with only -bios the CPU starts at the reset vector. Throws std::runtime_error with a one-line
// message for a missing or unrecognised guest.
CpuState load_guest(GuestMemory& mem, const BootConfig& config);

// QEMU's Multiboot module list syntax: modules separated by ',', with ",," standing for a comma
// inside one module's string.
std::vector<std::string> split_module_list(const std::string& list);

}  // namespace janus
