#include "hw/pci/piix3_isa_bridge.h"

namespace janus {

using namespace pci;

Piix3IsaBridge::Piix3IsaBridge()
    : ConfigSpaceDevice(kVendor, kDevice, kRevision, kClass, kHeaderTypeMultiFunction) {
  // The bridge always forwards I/O and memory cycles to ISA and masters the bus for ISA DMA:
  // those enables are read-only 1 (power-on 0007h as on the 82371SB). Special cycles and SERR#
  // enable are plain storage.
  config_.define(kCommand, 2, kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster,
                 kCommandSpecialCycles | kCommandSerrEnable);
  config_.define(kStatus, 2, kStatusDevselMedium, 0, kStatusErrorBits);
  config_.define(kInterruptLine, 1, 0, 0xff);
}

}  // namespace janus
