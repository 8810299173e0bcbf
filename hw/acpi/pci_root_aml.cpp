#include "hw/acpi/pci_root_aml.h"

#include "hw/acpi/aml_resources.h"
#include "hw/pc_layout.h"

namespace janus {

aml::Bytes pci_root_bridge_aml() {
  using namespace aml;
  constexpr uint16_t kConfigFirst = layout::kPortPciConfig;
  constexpr uint16_t kConfigLast = layout::kPortPciConfig + layout::kPciConfigPortCount - 1;
  Bytes resources = resource_template({
      word_bus_number_window(0x00, 0xff),
      io_ports(layout::kPortPciConfig, layout::kPciConfigPortCount),
      // Every other port goes to the bus (the ISA devices sit behind the PIIX3 there).
      word_io_window(0x0000, kConfigFirst - 1),
      word_io_window(kConfigLast + 1, 0xffff),
      dword_memory_window(uint32_t(layout::kPciMmioWindowStart), uint32_t(layout::kPciMmioWindowEnd - 1)),
  });
  Bytes body = name("_HID", eisa_id("PNP0A03"));
  append(body, name("_UID", integer(0)));
  append(body, name("_CRS", resources));
  return scope("\\_SB", device("PCI0", body));
}

}  // namespace janus
