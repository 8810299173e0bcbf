#include "hw/pci/pci_config_space.h"

#include <stdexcept>

namespace janus {

using namespace pci;  // the header offsets

namespace {
void check_range(unsigned offset, unsigned size) {
  if (size == 0 || size > 4 || offset + size > kConfigSpaceSize)
    throw std::out_of_range("PCI configuration access outside the 256-byte space");
}
}  // namespace

PciConfigSpace::PciConfigSpace(uint16_t vendor_id, uint16_t device_id, uint8_t revision, uint32_t class_code,
                               uint8_t header_type) {
  define(kVendorId, 2, vendor_id, 0);
  define(kDeviceId, 2, device_id, 0);
  define(kRevisionId, 1, revision, 0);
  define(kClassCode, 3, class_code, 0);
  define(kHeaderType, 1, header_type, 0);
}

void PciConfigSpace::define(unsigned offset, unsigned size, uint32_t value, uint32_t writable,
                            uint32_t write_one_to_clear) {
  check_range(offset, size);
  for (unsigned i = 0; i < size; i++) {
    value_[offset + i] = uint8_t(value >> (8 * i));
    writable_[offset + i] = uint8_t(writable >> (8 * i));
    write_one_to_clear_[offset + i] = uint8_t(write_one_to_clear >> (8 * i));
  }
}

uint32_t PciConfigSpace::read(unsigned offset, unsigned size) const {
  check_range(offset, size);
  uint32_t value = 0;
  for (unsigned i = 0; i < size; i++) value |= uint32_t(value_[offset + i]) << (8 * i);
  return value;
}

void PciConfigSpace::write(unsigned offset, unsigned size, uint32_t value) {
  check_range(offset, size);
  for (unsigned i = 0; i < size; i++) {
    const uint8_t byte = uint8_t(value >> (8 * i));
    uint8_t& reg = value_[offset + i];
    const uint8_t writable = writable_[offset + i], clear = write_one_to_clear_[offset + i];
    reg = uint8_t((reg & ~writable) | (byte & writable));
    reg = uint8_t(reg & ~(byte & clear));
  }
}

}  // namespace janus
