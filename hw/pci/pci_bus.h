// PCI bus 0 of the Janus PC: 32 device numbers with up to 8 functions each, and the routing
// of configuration cycles to them. A cycle no function claims ends in a master abort, which
// reads as all ones: that is how software tells that a device or function is absent. There
// are no PCI-to-PCI bridges, so every other bus number is empty too.
#pragma once
#include <array>
#include <cstdint>

#include "hw/pci/pci_device.h"

namespace janus {

class PciBus {
 public:
  static constexpr unsigned kDevices = 32;
  static constexpr unsigned kFunctions = 8;

  // Places a function at device.function; throws std::invalid_argument if taken or out of range.
  void attach(unsigned device, unsigned function, PciDevice& pci_device);
  PciDevice* find(unsigned bus, unsigned device, unsigned function) const;

  // A configuration cycle; the access stays inside the dword at offset & ~3.
  uint32_t config_read(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size) const;
  void config_write(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size,
                    uint32_t value);

 private:
  std::array<PciDevice*, kDevices * kFunctions> functions_{};
};

}  // namespace janus
