#include "hw/pci/i440fx_host_bridge.h"

namespace janus {

using namespace pci;

I440fxHostBridge::I440fxHostBridge() : ConfigSpaceDevice(kVendor, kDevice, kRevision, kClass, 0x00) {
  // The CPU reaches memory through this bridge and it masters the bus for it, so memory space
  // and bus master are always on (read-only 1, power-on 0006h as on the 82441FX). The error
  // reporting enables are plain storage: Janus never signals parity errors or SERR#.
  config_.define(kCommand, 2, kCommandMemorySpace | kCommandBusMaster,
                 kCommandParityErrorResponse | kCommandSerrEnable);
  config_.define(kStatus, 2, kStatusDevselMedium | kStatusFastBackToBack, 0, kStatusErrorBits);
  // Software's scratch byte for interrupt routing; there is no interrupt pin.
  config_.define(kInterruptLine, 1, 0, 0xff);
}

}  // namespace janus
