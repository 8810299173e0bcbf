#include "hw/pci/pci_bus.h"

#include <stdexcept>
#include <string>

#include "hw/io_bus.h"  // size_mask

namespace janus {

void PciBus::attach(unsigned device, unsigned function, PciDevice& pci_device) {
  const std::string where = std::to_string(device) + "." + std::to_string(function);
  if (device >= kDevices || function >= kFunctions) throw std::invalid_argument("PCI: no slot " + where);
  PciDevice*& slot = functions_[device * kFunctions + function];
  if (slot) throw std::invalid_argument("PCI: slot " + where + " is taken");
  slot = &pci_device;
}

PciDevice* PciBus::find(unsigned bus, unsigned device, unsigned function) const {
  if (bus != 0 || device >= kDevices || function >= kFunctions) return nullptr;
  return functions_[device * kFunctions + function];
}

uint32_t PciBus::config_read(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size) const {
  PciDevice* target = find(bus, device, function);
  return target ? target->config_read(offset, size) : uint32_t(size_mask(size));
}

void PciBus::config_write(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size,
                          uint32_t value) {
  if (PciDevice* target = find(bus, device, function)) target->config_write(offset, size, value);
}

}  // namespace janus
