// 00:01.0: the PCI-to-ISA bridge of the Janus PC, presented as function 0 of the Intel 82371SB
// (PIIX3), 8086:7000 class 06 01 00, as in QEMU's `-M pc`. The ISA devices (PIC, PIT, RTC,
// UART, i8042) sit behind it at their fixed ports. The header type has the multi-function bit,
// as on the real chip (and QEMU) whose IDE and USB controllers are functions 1 and 2: Janus
// has neither yet, so those functions read as absent. The ISA configuration registers (PIRQ
// routing, top of memory, APIC chip select) are not modelled and read 0.
#pragma once
#include <cstdint>

#include "hw/pci/config_space_device.h"

namespace janus {

class Piix3IsaBridge final : public ConfigSpaceDevice {
 public:
  static constexpr uint16_t kVendor = 0x8086;
  static constexpr uint16_t kDevice = 0x7000;
  static constexpr uint8_t kRevision = 0x00;
  static constexpr uint32_t kClass = 0x060100;  // bridge, ISA bridge

  Piix3IsaBridge();
};

}  // namespace janus
