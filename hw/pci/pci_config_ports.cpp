#include "hw/pci/pci_config_ports.h"

#include <algorithm>

#include "hw/io_bus.h"

namespace janus {

// The bytes of a port access that land on CONFIG_DATA, as one configuration access: the
// function and dword CONFIG_ADDRESS selects, the lanes [offset & 3, + size) of that dword, and
// where those bytes sit in the port access (`shift` bits up).
struct PciConfigPorts::Window {
  unsigned bus, device, function, offset, size, shift;
};

bool PciConfigPorts::data_window(uint64_t offset, unsigned size, Window& window) const {
  if (!(address_ & kEnable)) return false;
  uint64_t begin = std::max(offset, kDataOffset), end = std::min(offset + size, kPortCount);
  if (begin >= end) return false;
  window.bus = (address_ >> 16) & 0xff;
  window.device = (address_ >> 11) & 0x1f;
  window.function = (address_ >> 8) & 7;
  window.offset = (address_ & 0xfc) + unsigned(begin - kDataOffset);
  window.size = unsigned(end - begin);
  window.shift = unsigned(8 * (begin - offset));
  return true;
}

uint64_t PciConfigPorts::read(uint64_t offset, unsigned size) {
  if (offset == 0 && size == 4) return address_;
  if (offset == kResetControlOffset && size == 1 && reset_control_) return reset_control_->read(0, 1);
  uint64_t value = size_mask(size);  // bytes off CONFIG_DATA float high
  Window w;
  if (!data_window(offset, size, w)) return value;
  uint64_t data = bus_.config_read(w.bus, w.device, w.function, w.offset, w.size);
  return (value & ~(size_mask(w.size) << w.shift)) | (data << w.shift);
}

void PciConfigPorts::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == 0 && size == 4) {
    address_ = uint32_t(value) & kAddressBits;
    return;
  }
  if (offset == kResetControlOffset && size == 1 && reset_control_) return reset_control_->write(0, 1, value);
  Window w;
  if (data_window(offset, size, w))
    bus_.config_write(w.bus, w.device, w.function, w.offset, w.size, uint32_t((value >> w.shift) & size_mask(w.size)));
}

}  // namespace janus
