// The DSDT's description of PCI bus 0 (hw/pci): \_SB.PCI0, a PNP0A03 root bridge. With ACPI,
// Linux enumerates PCI only below root bridges the DSDT names (its legacy bus probe is for
// machines without ACPI), so without this device no PCI function is ever found. _CRS gives
// the bus numbers, the configuration ports it decodes, and the I/O and memory windows it
// forwards to the bus. There is no _PRT yet: no function has an interrupt pin to route.
#pragma once

#include "hw/acpi/aml.h"

namespace janus {

aml::Bytes pci_root_bridge_aml();

}  // namespace janus
