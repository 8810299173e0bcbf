// A PCI function that is nothing but its configuration space: no BARs, and configuration
// writes have no effect beyond the registers PciConfigSpace defines. The Janus PC's bridges
// (440FX host bridge, PIIX3 ISA bridge) are such functions; each only defines its registers.
#pragma once
#include <cstdint>

#include "hw/pci/pci_config_space.h"
#include "hw/pci/pci_device.h"

namespace janus {

class ConfigSpaceDevice : public PciDevice {
 public:
  uint32_t config_read(unsigned offset, unsigned size) final { return config_.read(offset, size); }
  void config_write(unsigned offset, unsigned size, uint32_t value) final { config_.write(offset, size, value); }

 protected:
  ConfigSpaceDevice(uint16_t vendor_id, uint16_t device_id, uint8_t revision, uint32_t class_code, uint8_t header_type)
      : config_(vendor_id, device_id, revision, class_code, header_type) {}
  PciConfigSpace config_;
};

}  // namespace janus
