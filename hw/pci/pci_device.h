// One PCI function as the bus sees it: a 256-byte configuration space read and written in 1, 2
// or 4 bytes at a time. Devices implement this; PciBus routes configuration cycles to them.
#pragma once
#include <cstdint>

namespace janus {

class PciDevice {
 public:
  virtual ~PciDevice() = default;
  // offset < 256 and the access stays inside one aligned dword (what a configuration cycle
  // carries: one dword address and byte enables), so offset + size <= (offset | 3) + 1.
  virtual uint32_t config_read(unsigned offset, unsigned size) = 0;
  virtual void config_write(unsigned offset, unsigned size, uint32_t value) = 0;
};

}  // namespace janus
