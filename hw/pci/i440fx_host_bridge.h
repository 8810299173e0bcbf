// 00:00.0: the host bridge of the Janus PC, presented as the Intel 82441FX (440FX) that QEMU's
// `-M pc` shows, so guests and tools see the familiar 8086:1237 class 06 00 00. Only the
// standard header is there; the chipset registers behind it (PAM shadowing, SMRAM, DRAM rows)
// have nothing to control in Janus and read 0. Linux finds configuration mechanism #1 through
// this function: its sanity check looks for a host-bridge class or an Intel vendor ID.
#pragma once
#include <cstdint>

#include "hw/pci/config_space_device.h"

namespace janus {

class I440fxHostBridge final : public ConfigSpaceDevice {
 public:
  static constexpr uint16_t kVendor = 0x8086;
  static constexpr uint16_t kDevice = 0x1237;
  static constexpr uint8_t kRevision = 0x02;
  static constexpr uint32_t kClass = 0x060000;  // bridge, host bridge

  I440fxHostBridge();
};

}  // namespace janus
